// The digits the original plugin prints for a double. Its JSON library uses Florian Loitsch's Grisu2 algorithm,
// which yields digits that round-trip but are not always the shortest and closest ones JavaScript picks: when the
// exact value lies halfway, JavaScript rounds to even (523.7000122070312) and Grisu2 may not (523.7000122070313).
// Such halfway values are common on Venus, where many doubles are float32 readings.
//
// This is our implementation of Grisu2 from the paper's description. Its 64-bit quantities are pairs of doubles,
// hi · 2^32 + lo with lo in [0, 2^32), kept in local variables (objects would put every word in a heap box): every
// operation stays exact (products of 32-bit halves are split in 16-bit parts, shifts are multiplications by powers
// of two, and no intermediate exceeds 2^53). A BigInt version reads more like the paper but costs a
// runtime call per operation, a few µs per double on every published change; it is kept in
// test/reference/grisu2-bigint.ts, and the tests check this one against it digit for digit.

import { cachedPowerIndex, cachedPowers } from './grisu2-powers';

const TWO16 = 65536;
const TWO32 = 4294967296;

// The 64-bit helpers return their result in R (hi, lo): a typed array, so neither a result object nor a boxed
// number (a closure variable holding a double would be one) is allocated on the hot path.
const R = new Float64Array(2);
const HI = 0;
const LO = 1;
// 2^n for n in [0, 64], without a call to Math.pow.
const POW2 = Float64Array.from({ length: 65 }, (_, n) => 2 ** n);

function less(aHi: number, aLo: number, bHi: number, bLo: number): boolean {
    return aHi < bHi || (aHi === bHi && aLo < bLo);
}

function add(aHi: number, aLo: number, bHi: number, bLo: number): void {
    const lo = aLo + bLo;
    if (lo >= TWO32) {
        R[HI] = aHi + bHi + 1;
        R[LO] = lo - TWO32;
    } else {
        R[HI] = aHi + bHi;
        R[LO] = lo;
    }
}

/** a - b, for a >= b. */
function sub(aHi: number, aLo: number, bHi: number, bLo: number): void {
    const lo = aLo - bLo;
    if (lo < 0) {
        R[HI] = aHi - bHi - 1;
        R[LO] = lo + TWO32;
    } else {
        R[HI] = aHi - bHi;
        R[LO] = lo;
    }
}

/** a · 2^n for a result below 2^64 (exact: scaling by a power of two only moves the exponent). */
function shiftLeft(aHi: number, aLo: number, n: number): void {
    const scale = POW2[n]!;
    const lo = aLo * scale;
    const carry = Math.floor(lo / TWO32);
    R[HI] = aHi * scale + carry;
    R[LO] = lo - carry * TWO32;
}

/** a · 10; the high word may outgrow 32 bits (Grisu2's scaled deltas do), it stays far below 2^53. */
function times10(aHi: number, aLo: number): void {
    const lo = aLo * 10;
    const carry = Math.floor(lo / TWO32);
    R[HI] = aHi * 10 + carry;
    R[LO] = lo - carry * TWO32;
}

/** The exact 64-bit product of two 32-bit numbers. */
function mul32(a: number, b: number): void {
    const low = a * (b & 0xffff); // < 2^48
    const high = a * (b >>> 16); // < 2^48, weight 2^16
    const highTop = Math.floor(high / TWO16);
    const lo = low + (high - highTop * TWO16) * TWO16; // < 2^49
    const carry = Math.floor(lo / TWO32);
    R[HI] = highTop + carry;
    R[LO] = lo - carry * TWO32;
}

/** The upper 64 bits of the 128-bit product of two 64-bit significands, rounded (the lower half's top bit rounds up). */
function mulUpper(aHi: number, aLo: number, bHi: number, bLo: number): void {
    mul32(aLo, bLo);
    const p0Hi = R[HI]!;
    mul32(aLo, bHi);
    const p1Hi = R[HI]!;
    const p1Lo = R[LO]!;
    mul32(aHi, bLo);
    const p2Hi = R[HI]!;
    const p2Lo = R[LO]!;
    mul32(aHi, bHi);
    const middle = p0Hi + p1Lo + p2Lo + 2 ** 31; // < 2^34
    const low = R[LO]! + p1Hi + p2Hi + Math.floor(middle / TWO32); // < 2^34
    const carry = Math.floor(low / TWO32);
    R[HI] = R[HI]! + carry;
    R[LO] = low - carry * TWO32;
}

/** Leading zero bits of a nonzero 64-bit value. */
function leadingZeros(hi: number, lo: number): number {
    return hi !== 0 ? Math.clz32(hi) : 32 + Math.clz32(lo);
}

// The cached powers with their significands split in words, once.
const powers = cachedPowers.map((p) => ({ hi: Number(p.f >> 32n), lo: Number(p.f & 0xffffffffn), e: p.e, k: p.k }));

function cachedPowerFor(e: number): { hi: number; lo: number; e: number; k: number } {
    return powers[cachedPowerIndex(e)]!;
}

/**
 * Moves the last digit down while that brings the number closer to the exact value and keeps it within the
 * interval (Grisu2's round_weed): rest is the distance below the upper bound, dist that of the exact value, delta
 * the interval's width, tenK one unit of the last digit, all scaled alike.
 */
function round(digits: number[], distHi: number, distLo: number, deltaHi: number, deltaLo: number,
    restHi: number, restLo: number, tenKHi: number, tenKLo: number): void {
    for (;;) {
        if (!less(restHi, restLo, distHi, distLo))
            return;
        sub(deltaHi, deltaLo, restHi, restLo);
        if (less(R[HI]!, R[LO]!, tenKHi, tenKLo))
            return;
        add(restHi, restLo, tenKHi, tenKLo);
        const nextHi = R[HI]!;
        const nextLo = R[LO]!;
        if (!less(nextHi, nextLo, distHi, distLo)) {
            // Past the exact value: only if it ends up closer than before.
            sub(nextHi, nextLo, distHi, distLo);
            const overHi = R[HI]!;
            const overLo = R[LO]!;
            sub(distHi, distLo, restHi, restLo);
            if (!less(overHi, overLo, R[HI]!, R[LO]!))
                return;
        }
        digits[digits.length - 1]!--;
        restHi = nextHi;
        restLo = nextLo;
    }
}

const view = new DataView(new ArrayBuffer(8));

/** Grisu2's digits of a positive finite double, and the exponent: value = digits × 10^exponent. */
export function grisu2(value: number): { digits: string; exponent: number } {
    view.setFloat64(0, value);
    const high = view.getUint32(0);
    const low = view.getUint32(4);
    const biasedE = (high >>> 20) & 0x7ff;
    const fractionHigh = high & 0xfffff;
    // value = v · 2^vE
    const vHi = biasedE === 0 ? fractionHigh : fractionHigh + 0x100000;
    const vLo = low;
    const vE = biasedE === 0 ? 1 - 1075 : biasedE - 1075;

    // The upper boundary m+ = (2v + 1) · 2^(vE - 1), normalised.
    shiftLeft(vHi, vLo, 1);
    let n = leadingZeros(R[HI]!, R[LO]! + 1);
    shiftLeft(R[HI]!, R[LO]! + 1, n);
    const plusHi = R[HI]!;
    const plusLo = R[LO]!;
    const plusE = vE - 1 - n;
    // The lower boundary m- = (2v - 1) · 2^(vE - 1), or (4v - 1) · 2^(vE - 2) when the lower neighbour is closer,
    // brought to m+'s exponent.
    const lowerCloser = fractionHigh === 0 && low === 0 && biasedE > 1;
    shiftLeft(vHi, vLo, lowerCloser ? 2 : 1);
    sub(R[HI]!, R[LO]!, 0, 1);
    shiftLeft(R[HI]!, R[LO]!, (lowerCloser ? vE - 2 : vE - 1) - plusE);
    const minusHi = R[HI]!;
    const minusLo = R[LO]!;
    // v, normalised.
    n = leadingZeros(vHi, vLo);
    shiftLeft(vHi, vLo, n);
    const wHi0 = R[HI]!;
    const wLo0 = R[LO]!;

    const cached = cachedPowerFor(plusE);
    mulUpper(wHi0, wLo0, cached.hi, cached.lo);
    const wHi = R[HI]!;
    const wLo = R[LO]!;
    mulUpper(minusHi, minusLo, cached.hi, cached.lo);
    add(R[HI]!, R[LO]!, 0, 1);
    const loHi = R[HI]!;
    const loLo = R[LO]!;
    mulUpper(plusHi, plusLo, cached.hi, cached.lo);
    sub(R[HI]!, R[LO]!, 0, 1);
    const hiHi = R[HI]!;
    const hiLo = R[LO]!;
    let exponent = -cached.k;

    sub(hiHi, hiLo, loHi, loLo);
    let deltaHi = R[HI]!;
    let deltaLo = R[LO]!;
    sub(hiHi, hiLo, wHi, wLo);
    let distHi = R[HI]!;
    let distLo = R[LO]!;
    // one = 2^s with s = -(plusE + cached.e + 64) in [32, 60]: its upper word is 2^(s - 32), its lower word 0.
    const oneHigh = POW2[-(plusE + cached.e + 64) - 32]!;
    let p1 = Math.floor(hiHi / oneHigh); // hi >> s, below 2^32
    let p2Hi = hiHi - p1 * oneHigh; // hi & (one - 1)
    let p2Lo = hiLo;

    let pow10 = 1;
    let kappa = 1;
    while (pow10 * 10 <= p1) {
        pow10 *= 10;
        kappa++;
    }
    const digits: number[] = []; // char codes of the digits
    let done = false;
    while (kappa > 0) {
        const d = Math.floor(p1 / pow10);
        p1 -= d * pow10;
        digits.push(48 + d);
        kappa--;
        const restHi = p1 * oneHigh + p2Hi; // (p1 << s) + p2
        if (!less(deltaHi, deltaLo, restHi, p2Lo)) {
            exponent += kappa;
            round(digits, distHi, distLo, deltaHi, deltaLo, restHi, p2Lo, pow10 * oneHigh, 0);
            done = true;
            break;
        }
        pow10 = Math.floor(pow10 / 10);
    }
    if (!done) {
        let m = 0;
        for (;;) {
            times10(p2Hi, p2Lo);
            const d = Math.floor(R[HI]! / oneHigh); // p2 >> s
            p2Hi = R[HI]! - d * oneHigh; // p2 & (one - 1)
            p2Lo = R[LO]!;
            digits.push(48 + d);
            m++;
            times10(deltaHi, deltaLo);
            deltaHi = R[HI]!;
            deltaLo = R[LO]!;
            times10(distHi, distLo);
            distHi = R[HI]!;
            distLo = R[LO]!;
            if (!less(deltaHi, deltaLo, p2Hi, p2Lo))
                break;
        }
        exponent -= m;
        round(digits, distHi, distLo, deltaHi, deltaLo, p2Hi, p2Lo, oneHigh, 0);
    }
    return { digits: String.fromCharCode(...digits), exponent };
}
