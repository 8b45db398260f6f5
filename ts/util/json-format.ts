// JSON text exactly as the original plugin writes it (nlohmann::json dump() without indent): compact, object keys
// in byte order, doubles with Grisu2's digits and a decimal point or an exponent so they stay doubles (936.0, 1e+15,
// 1e-05), NaN and infinities as null, integers of any size as plain decimals.

import type { VeValue } from '../dbus/values';
import { UNKNOWN_TYPE } from '../dbus/values';
import { DIGITS, GRISU2_EXPONENT, grisu2Into } from './grisu2';

// Venus values repeat a lot (a setting, a state, a reading that holds still), and formatting one takes Grisu2 some
// 0.4 µs: the last text of each of a few slots is kept, chosen by the value's bits. A fixed table: no growth, no
// allocation on a hit, at most one string per slot. On a miss the text is written into a scratch buffer and made a
// string once: the text is the only thing allocated.
const SLOTS = 1024;
const slotValues = new Float64Array(SLOTS).fill(NaN);
const slotTexts = new Array<string>(SLOTS).fill('');
const bits = new Float64Array(1);
const words = new Uint32Array(bits.buffer);
/** Where a double's text is put together before it becomes a string. */
const scratch = Buffer.allocUnsafeSlow(64);

function slotOf(x: number): number {
    bits[0] = x;
    return (Math.imul(words[0]! ^ words[1]!, 0x9e3779b1) >>> 22) & (SLOTS - 1);
}

export function formatDouble(x: number): string {
    if (!Number.isFinite(x))
        return 'null';
    if (x === 0)
        return Object.is(x, -0) ? '-0.0' : '0.0';
    const slot = slotOf(x);
    if (slotValues[slot] === x)
        return slotTexts[slot]!;
    const text = scratch.toString('latin1', 0, writeDouble(scratch, 0, x));
    slotValues[slot] = x;
    slotTexts[slot] = text;
    return text;
}

// The payload {"value":<double>} of an item with neither min nor max, the most common change on Venus, cached the
// same way (a table of its own).
const payloadValues = new Float64Array(SLOTS).fill(NaN);
const payloadTexts = new Array<string>(SLOTS).fill('');
const VALUE_PREFIX = Buffer.from('{"value":');
/** Where payloads are put together: it starts with VALUE_PREFIX for good, so that no payload copies it in. */
const payloadScratch = Buffer.allocUnsafeSlow(64);
VALUE_PREFIX.copy(payloadScratch, 0);

/** {"value":<x>}, formatted as formatJson does, in one string (nothing else is allocated). */
export function doubleValuePayload(x: number): string {
    if (!Number.isFinite(x))
        return '{"value":null}';
    const slot = slotOf(x);
    if (payloadValues[slot] === x && x !== 0)
        return payloadTexts[slot]!;
    let at = VALUE_PREFIX.length;
    at = x === 0 ? writeAscii(payloadScratch, at, Object.is(x, -0) ? '-0.0' : '0.0') : writeDouble(payloadScratch, at, x);
    payloadScratch[at++] = 0x7d; // }
    const text = payloadScratch.toString('latin1', 0, at);
    payloadValues[slot] = x;
    payloadTexts[slot] = text;
    return text;
}

/** {"value":<n>} for an integer value, in one string. */
export function integerValuePayload(n: bigint): string {
    if (n > 9007199254740991n || n < -9007199254740991n)
        return `{"value":${n.toString()}}`;
    let at = writeInteger(payloadScratch, VALUE_PREFIX.length, Number(n));
    payloadScratch[at++] = 0x7d; // }
    return payloadScratch.toString('latin1', 0, at);
}

function writeAscii(out: Uint8Array, at: number, text: string): number {
    for (let i = 0; i < text.length; i++)
        out[at++] = text.charCodeAt(i);
    return at;
}

/** Writes a safe integer's decimal digits at `at`; returns where they end. */
function writeInteger(out: Uint8Array, at: number, n: number): number {
    if (n < 0) {
        out[at++] = 0x2d; // -
        n = -n;
    }
    let end = at;
    for (let rest = n; rest >= 10; rest = Math.floor(rest / 10))
        end++;
    for (let i = end; i >= at; i--) {
        const q = Math.floor(n / 10);
        out[i] = 48 + (n - q * 10);
        n = q;
    }
    return end + 1;
}

function writeZeros(out: Uint8Array, at: number, count: number): number {
    for (let i = 0; i < count; i++)
        out[at++] = 48;
    return at;
}

function writeDigits(out: Uint8Array, at: number, from: number, to: number): number {
    for (let i = from; i < to; i++)
        out[at++] = DIGITS[i]!;
    return at;
}

/**
 * Below this, a double with no fraction prints as its integer digits and ".0". Grisu2 gives those digits too: its
 * interval around such a double is under 1 wide (half an ulp each side, and an ulp is at most 1 below 2^53), so no
 * other number with as few digits lies in it, by a margin of about 2^10 of its 64-bit units against an error of a
 * few. From 10^15 on the text has an exponent.
 */
const INTEGRAL_BELOW = 1e15;

/** Writes the text of a finite nonzero double at `at` (at most 25 bytes); returns where it ends. */
function writeDouble(out: Uint8Array, at: number, x: number): number {
    if (x < 0) {
        out[at++] = 0x2d; // -
        x = -x;
    }
    if (x < INTEGRAL_BELOW && Math.floor(x) === x) {
        // Half of Venus's doubles (a power in W, a count, a setting): no Grisu2, whose 64-bit arithmetic in 32-bit
        // parts is most of a cold full publish's formatting.
        at = writeInteger(out, at, x);
        out[at++] = 0x2e; // .
        out[at++] = 48;
        return at;
    }
    const k = grisu2Into(x);
    // x = 0.<digits> × 10^n
    const n = k + GRISU2_EXPONENT[0]!;
    if (k <= n && n <= 15) {
        at = writeZeros(out, writeDigits(out, at, 0, k), n - k);
        out[at++] = 0x2e; // .
        out[at++] = 48;
        return at;
    }
    if (n > 0 && n <= 15) {
        at = writeDigits(out, at, 0, n);
        out[at++] = 0x2e;
        return writeDigits(out, at, n, k);
    }
    if (n > -4 && n <= 0) {
        out[at++] = 48;
        out[at++] = 0x2e;
        return writeDigits(out, writeZeros(out, at, -n), 0, k);
    }
    const e = n - 1;
    out[at++] = DIGITS[0]!;
    if (k > 1) {
        out[at++] = 0x2e;
        at = writeDigits(out, at, 1, k);
    }
    out[at++] = 0x65; // e
    out[at++] = e < 0 ? 0x2d : 0x2b;
    if (Math.abs(e) < 10)
        out[at++] = 48;
    return writeInteger(out, at, Math.abs(e));
}

function compareUtf8(a: string, b: string): number {
    // Fast path for the usual ASCII keys; UTF-16 order differs from UTF-8 byte order only beyond the BMP.
    if (/^[\x00-\x7f]*$/.test(a) && /^[\x00-\x7f]*$/.test(b))
        return a < b ? -1 : a > b ? 1 : 0;
    return Buffer.compare(Buffer.from(a, 'utf8'), Buffer.from(b, 'utf8'));
}

/** A JSON string literal; same escapes as nlohmann (and as JSON.stringify for strings D-Bus can carry). */
export function formatString(s: string): string {
    return JSON.stringify(s);
}

export function formatJson(value: VeValue): string {
    if (value === null)
        return 'null';
    switch (typeof value) {
        case 'boolean':
            return value ? 'true' : 'false';
        case 'string':
            return formatString(value);
        case 'bigint':
            return value.toString();
        case 'number':
            return formatDouble(value);
        case 'symbol':
            return value === UNKNOWN_TYPE ? '"unknown_type"' : 'null';
        default:
            break;
    }
    if (Array.isArray(value))
        return `[${value.map(formatJson).join(',')}]`;
    const keys = [...value.keys()].sort(compareUtf8);
    return `{${keys.map((k) => `${formatString(k)}:${formatJson(value.get(k)!)}`).join(',')}}`;
}

/** A double as C++ iostreams print it by default (6 significant digits, %g style): 3.5, 100, 1e+06. */
export function formatDoubleLikeIostream(x: number): string {
    if (Number.isNaN(x))
        return x < 0 ? '-nan' : 'nan';
    if (!Number.isFinite(x))
        return x < 0 ? '-inf' : 'inf';
    if (x === 0)
        return Object.is(x, -0) ? '-0' : '0';
    const [mantissa, exponent] = x.toExponential(5).split('e') as [string, string];
    const e = Number(exponent);
    if (e < -4 || e >= 6) {
        const m = mantissa.includes('.') ? mantissa.replace(/0+$/, '').replace(/\.$/, '') : mantissa;
        return `${m}e${e < 0 ? '-' : '+'}${String(Math.abs(e)).padStart(2, '0')}`;
    }
    const fixed = x.toFixed(Math.max(0, 5 - e));
    return fixed.includes('.') ? fixed.replace(/0+$/, '').replace(/\.$/, '') : fixed;
}
