// The value of the most common write payload, {"value":<number>} written without spaces, read straight from its
// bytes: no text decoded, no tree of JSON nodes, and up to 15 digits in all no text at all (the digits as an integer,
// divided by a power of ten: both exact, so the one rounding is the one reading the text makes). Anything else (spaces, an exponent, more than 15 digits on either
// side of the point, an integer beyond int32, other keys, another type) is left to the full way (parseJson and
// jsonToDbus), whose result this equals wherever it answers.

import type { DbusTypedValue } from '../dbus/to-dbus';

/** `{"value":` */
const PREFIX = [0x7b, 0x22, 0x76, 0x61, 0x6c, 0x75, 0x65, 0x22, 0x3a];
const CLOSE = 0x7d;
const MINUS = 0x2d;
const POINT = 0x2e;
const ZERO = 0x30;
const NINE = 0x39;
/** Digits that a double holds exactly, on either side of the point. */
const MAX_DIGITS = 15;

const INT32_MIN = -2147483648;
const INT32_MAX = 2147483647;

function digitsFrom(bytes: Uint8Array, start: number, end: number): number {
    let i = start;
    while (i < end && bytes[i]! >= ZERO && bytes[i]! <= NINE)
        i++;
    return i - start;
}

/** Powers of ten a double holds exactly. */
const POW10 = Array.from({ length: MAX_DIGITS + 1 }, (_, i) => 10 ** i);

/** The decimal digits from `start` to `end`, skipping a '.', as an integer (exact: at most 15 digits). */
function digitValue(bytes: Uint8Array, start: number, end: number): number {
    let m = 0;
    for (let i = start; i < end; i++)
        if (bytes[i] !== POINT)
            m = m * 10 + (bytes[i]! - ZERO);
    return m;
}

/** The D-Bus value of a {"value":<number>} payload, or undefined: the full way decides. */
export function quickWriteValue(payload: Buffer): DbusTypedValue | undefined {
    const n = payload.length;
    if (n < PREFIX.length + 2 || n > PREFIX.length + 1 + MAX_DIGITS + 1 + MAX_DIGITS + 1 || payload[n - 1] !== CLOSE)
        return undefined;
    for (let i = 0; i < PREFIX.length; i++)
        if (payload[i] !== PREFIX[i])
            return undefined;
    const end = n - 1;
    const start = PREFIX.length;
    let i = payload[start] === MINUS ? start + 1 : start;
    const whole = digitsFrom(payload, i, end);
    if (whole === 0 || whole > MAX_DIGITS || (whole > 1 && payload[i] === ZERO))
        return undefined;
    i += whole;
    const negative = payload[start] === MINUS;
    if (i === end) {
        const m = digitValue(payload, start + (negative ? 1 : 0), end);
        const value = negative ? -m : m;
        if (value < INT32_MIN || value > INT32_MAX)
            return undefined;
        return { signature: 'i', value: value === 0 ? 0 : value }; // -0 is the integer 0
    }
    if (payload[i] !== POINT)
        return undefined;
    const fraction = digitsFrom(payload, i + 1, end);
    if (fraction === 0 || fraction > MAX_DIGITS || i + 1 + fraction !== end)
        return undefined;
    if (whole + fraction > MAX_DIGITS)
        return { signature: 'd', value: Number(payload.toString('latin1', start, end)) };
    // Both the digits and the power of ten are exact doubles: one division rounds as reading the text would.
    const m = digitValue(payload, start + (negative ? 1 : 0), end) / POW10[fraction]!;
    return { signature: 'd', value: negative ? -m : m };
}
