// JSON text exactly as the original plugin writes it (nlohmann::json dump() without indent): compact, object keys
// in byte order, doubles with Grisu2's digits and a decimal point or an exponent so they stay doubles (936.0, 1e+15,
// 1e-05), NaN and infinities as null, integers of any size as plain decimals.

import type { VeValue } from '../dbus/values';
import { UNKNOWN_TYPE } from '../dbus/values';
import { grisu2 } from './grisu2';

// Venus values repeat a lot (a setting, a state, a reading that holds still), and formatting one takes Grisu2 some
// 0.4 µs: the last text of each of a few slots is kept, chosen by the value's bits. A fixed table: no growth, no
// allocation on a hit, at most one string per slot.
const SLOTS = 1024;
const slotValues = new Float64Array(SLOTS).fill(NaN);
const slotTexts = new Array<string>(SLOTS).fill('');
const bits = new Float64Array(1);
const words = new Uint32Array(bits.buffer);

export function formatDouble(x: number): string {
    if (!Number.isFinite(x))
        return 'null';
    if (x === 0)
        return Object.is(x, -0) ? '-0.0' : '0.0';
    bits[0] = x;
    const slot = (Math.imul(words[0]! ^ words[1]!, 0x9e3779b1) >>> 22) & (SLOTS - 1);
    if (slotValues[slot] === x)
        return slotTexts[slot]!;
    const text = formatNonZeroDouble(x);
    slotValues[slot] = x;
    slotTexts[slot] = text;
    return text;
}

function formatNonZeroDouble(x: number): string {
    const sign = x < 0 ? '-' : '';
    const g = grisu2(Math.abs(x));
    const digits = g.digits;
    // |x| = 0.<digits> × 10^n
    const n = digits.length + g.exponent;
    const k = digits.length;
    if (k <= n && n <= 15)
        return `${sign}${digits}${'0'.repeat(n - k)}.0`;
    if (n > 0 && n <= 15)
        return `${sign}${digits.slice(0, n)}.${digits.slice(n)}`;
    if (n > -4 && n <= 0)
        return `${sign}0.${'0'.repeat(-n)}${digits}`;
    const e = n - 1;
    const exp = `${e < 0 ? '-' : '+'}${String(Math.abs(e)).padStart(2, '0')}`;
    return `${sign}${digits[0]}${k > 1 ? `.${digits.slice(1)}` : ''}e${exp}`;
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
