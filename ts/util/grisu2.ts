// The digits the original plugin prints for a double. Its JSON library uses Florian Loitsch's Grisu2 algorithm,
// which yields digits that round-trip but are not always the shortest and closest ones JavaScript picks: when the
// exact value lies halfway, JavaScript rounds to even (523.7000122070312) and Grisu2 may not (523.7000122070313).
// Such halfway values are common on Venus, where many doubles are float32 readings.
//
// This is our implementation of Grisu2 from the paper's description. Its 64-bit quantities are pairs of doubles,
// hi · 2^32 + lo with lo in [0, 2^32): every operation stays exact (products of 32-bit halves are split in 16-bit
// parts, shifts are multiplications by powers of two, and no intermediate exceeds 2^53). A BigInt version reads
// more like the paper but costs a runtime call per operation, a few µs per double on every published change; it is
// kept in test/reference/grisu2-bigint.ts, and the tests check this one against it digit for digit.
//
// Every published change of a double comes through here, so it allocates nothing: the 64-bit quantities live in
// one Float64Array (registers, below) and the helpers are given register numbers, small integers. A double passed
// to a function V8 does not inline is boxed, a heap number per argument and call; with doubles as arguments this
// printer allocated some 700 bytes per value. The digits go into DIGITS, not into a string.

import { cachedPowerIndex, cachedPowers } from './grisu2-powers';

const TWO16 = 65536;
const TWO32 = 4294967296;

/** The registers: register r is the pair S[r] (high word), S[r + 1] (low word). */
const S = new Float64Array(40);
const V = 0;
const PLUS = 2;
const MINUS = 4;
const W0 = 6;
const W = 8;
const LOW = 10;
const HIGH = 12;
const DELTA = 14;
const DIST = 16;
const P2 = 18;
const REST = 20;
const TEN_K = 22;
const NEXT = 24;
const T1 = 26;
const T2 = 28;
const POWER = 30;
const PRODUCT = 32;
const ONE = 34;
S[ONE] = 0;
S[ONE + 1] = 1;

// 2^n for n in [0, 64], without a call to Math.pow.
const POW2 = Float64Array.from({ length: 65 }, (_, n) => 2 ** n);

// The cached powers with their significands split in words, once, in typed arrays (no object per power).
const POWER_HI = Float64Array.from(cachedPowers, (p) => Number(p.f >> 32n));
const POWER_LO = Float64Array.from(cachedPowers, (p) => Number(p.f & 0xffffffffn));
const POWER_E = Int32Array.from(cachedPowers, (p) => p.e);
const POWER_K = Int32Array.from(cachedPowers, (p) => p.k);

function less(a: number, b: number): boolean {
    return S[a]! < S[b]! || (S[a] === S[b] && S[a + 1]! < S[b + 1]!);
}

/** d = a + b (any of them may be the same register). */
function add(d: number, a: number, b: number): void {
    let hi = S[a]! + S[b]!;
    let lo = S[a + 1]! + S[b + 1]!;
    if (lo >= TWO32) {
        hi += 1;
        lo -= TWO32;
    }
    S[d] = hi;
    S[d + 1] = lo;
}

/** d = a - b, for a >= b. */
function sub(d: number, a: number, b: number): void {
    let hi = S[a]! - S[b]!;
    let lo = S[a + 1]! - S[b + 1]!;
    if (lo < 0) {
        hi -= 1;
        lo += TWO32;
    }
    S[d] = hi;
    S[d + 1] = lo;
}

/** d = a · 2^n for a result below 2^64 (exact: scaling by a power of two only moves the exponent). */
function shiftLeft(d: number, a: number, n: number): void {
    const scale = POW2[n]!;
    const lo = S[a + 1]! * scale;
    const carry = Math.floor(lo / TWO32);
    S[d] = S[a]! * scale + carry;
    S[d + 1] = lo - carry * TWO32;
}

/** r = r · 10; the high word may outgrow 32 bits (Grisu2's scaled deltas do), it stays far below 2^53. */
function times10(r: number): void {
    const lo = S[r + 1]! * 10;
    const carry = Math.floor(lo / TWO32);
    S[r] = S[r]! * 10 + carry;
    S[r + 1] = lo - carry * TWO32;
}

/** PRODUCT = the exact 64-bit product of the 32-bit words S[i] and S[j]. */
function mul32(i: number, j: number): void {
    const a = S[i]!;
    const b = S[j]!;
    const low = a * (b & 0xffff); // < 2^48
    const high = a * (b >>> 16); // < 2^48, weight 2^16
    const highTop = Math.floor(high / TWO16);
    const lo = low + (high - highTop * TWO16) * TWO16; // < 2^49
    const carry = Math.floor(lo / TWO32);
    S[PRODUCT] = highTop + carry;
    S[PRODUCT + 1] = lo - carry * TWO32;
}

/** d = the upper 64 bits of the 128-bit product of two 64-bit significands, rounded (the lower half's top bit rounds up). */
function mulUpper(d: number, a: number, b: number): void {
    mul32(a + 1, b + 1);
    const p0Hi = S[PRODUCT]!;
    mul32(a + 1, b);
    const p1Hi = S[PRODUCT]!;
    const p1Lo = S[PRODUCT + 1]!;
    mul32(a, b + 1);
    const p2Hi = S[PRODUCT]!;
    const p2Lo = S[PRODUCT + 1]!;
    mul32(a, b);
    const middle = p0Hi + p1Lo + p2Lo + 2 ** 31; // < 2^34
    const low = S[PRODUCT + 1]! + p1Hi + p2Hi + Math.floor(middle / TWO32); // < 2^34
    const carry = Math.floor(low / TWO32);
    S[d] = S[PRODUCT]! + carry;
    S[d + 1] = low - carry * TWO32;
}

/** Leading zero bits of a nonzero 64-bit register. */
function leadingZeros(r: number): number {
    return S[r] !== 0 ? Math.clz32(S[r]!) : 32 + Math.clz32(S[r + 1]!);
}

/**
 * Moves the last of `count` digits down while that brings the number closer to the exact value and keeps it within
 * the interval (Grisu2's round_weed): REST is the distance below the upper bound, DIST that of the exact value,
 * DELTA the interval's width, TEN_K one unit of the last digit, all scaled alike.
 */
function round(count: number): void {
    for (;;) {
        if (!less(REST, DIST))
            return;
        sub(T1, DELTA, REST);
        if (less(T1, TEN_K))
            return;
        add(NEXT, REST, TEN_K);
        if (!less(NEXT, DIST)) {
            // Past the exact value: only if it ends up closer than before.
            sub(T1, NEXT, DIST);
            sub(T2, DIST, REST);
            if (!less(T1, T2))
                return;
        }
        DIGITS[count - 1]!--;
        S[REST] = S[NEXT]!;
        S[REST + 1] = S[NEXT + 1]!;
    }
}

const view = new DataView(new ArrayBuffer(8));

/** Where grisu2Into() leaves the digits (ASCII codes; at most 17 of them) of the double it was given. */
export const DIGITS = new Uint8Array(24);
/** And the decimal exponent: value = digits × 10^GRISU2_EXPONENT[0]. */
export const GRISU2_EXPONENT = new Int32Array(1);

/** Grisu2's digits of a positive finite double, and the exponent: value = digits × 10^exponent. */
export function grisu2(value: number): { digits: string; exponent: number } {
    const count = grisu2Into(value);
    return { digits: String.fromCharCode(...DIGITS.subarray(0, count)), exponent: GRISU2_EXPONENT[0]! };
}

/**
 * grisu2() without allocating: the digits go into DIGITS, the exponent into GRISU2_EXPONENT; returns how many
 * digits there are.
 */
export function grisu2Into(value: number): number {
    view.setFloat64(0, value);
    const high = view.getUint32(0);
    const low = view.getUint32(4);
    const biasedE = (high >>> 20) & 0x7ff;
    const fractionHigh = high & 0xfffff;
    // value = v · 2^vE
    S[V] = biasedE === 0 ? fractionHigh : fractionHigh + 0x100000;
    S[V + 1] = low;
    const vE = biasedE === 0 ? 1 - 1075 : biasedE - 1075;

    // The upper boundary m+ = (2v + 1) · 2^(vE - 1), normalised.
    shiftLeft(T1, V, 1);
    S[T1 + 1] = S[T1 + 1]! + 1; // the low word of 2v is even: no carry
    let n = leadingZeros(T1);
    shiftLeft(PLUS, T1, n);
    const plusE = vE - 1 - n;
    // The lower boundary m- = (2v - 1) · 2^(vE - 1), or (4v - 1) · 2^(vE - 2) when the lower neighbour is closer,
    // brought to m+'s exponent.
    const lowerCloser = fractionHigh === 0 && low === 0 && biasedE > 1;
    shiftLeft(T1, V, lowerCloser ? 2 : 1);
    sub(T1, T1, ONE);
    shiftLeft(MINUS, T1, (lowerCloser ? vE - 2 : vE - 1) - plusE);
    // v, normalised.
    n = leadingZeros(V);
    shiftLeft(W0, V, n);

    const power = cachedPowerIndex(plusE);
    S[POWER] = POWER_HI[power]!;
    S[POWER + 1] = POWER_LO[power]!;
    mulUpper(W, W0, POWER);
    mulUpper(LOW, MINUS, POWER);
    add(LOW, LOW, ONE);
    mulUpper(HIGH, PLUS, POWER);
    sub(HIGH, HIGH, ONE);
    let exponent = -POWER_K[power]!;

    sub(DELTA, HIGH, LOW);
    sub(DIST, HIGH, W);
    // one = 2^s with s = -(plusE + e + 64) in [32, 60]: its upper word is 2^(s - 32), its lower word 0.
    const oneHigh = POW2[-(plusE + POWER_E[power]! + 64) - 32]!;
    let p1 = Math.floor(S[HIGH]! / oneHigh); // hi >> s, below 2^32
    S[P2] = S[HIGH]! - p1 * oneHigh; // hi & (one - 1)
    S[P2 + 1] = S[HIGH + 1]!;

    let pow10 = 1;
    let kappa = 1;
    while (pow10 * 10 <= p1) {
        pow10 *= 10;
        kappa++;
    }
    let count = 0; // digits in DIGITS
    while (kappa > 0) {
        const d = Math.floor(p1 / pow10);
        p1 -= d * pow10;
        DIGITS[count++] = 48 + d;
        kappa--;
        S[REST] = p1 * oneHigh + S[P2]; // (p1 << s) + p2
        S[REST + 1] = S[P2 + 1]!;
        if (!less(DELTA, REST)) {
            exponent += kappa;
            S[TEN_K] = pow10 * oneHigh;
            S[TEN_K + 1] = 0;
            round(count);
            GRISU2_EXPONENT[0] = exponent;
            return count;
        }
        pow10 = Math.floor(pow10 / 10);
    }
    let m = 0;
    for (;;) {
        times10(P2);
        const d = Math.floor(S[P2] / oneHigh); // p2 >> s
        S[P2] = S[P2] - d * oneHigh; // p2 & (one - 1)
        DIGITS[count++] = 48 + d;
        m++;
        times10(DELTA);
        times10(DIST);
        if (!less(DELTA, P2))
            break;
    }
    exponent -= m;
    S[REST] = S[P2]!;
    S[REST + 1] = S[P2 + 1]!;
    S[TEN_K] = oneHigh;
    S[TEN_K + 1] = 0;
    round(count);
    GRISU2_EXPONENT[0] = exponent;
    return count;
}
