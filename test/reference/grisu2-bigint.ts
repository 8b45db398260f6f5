// The first implementation of the original's double digits (Grisu2, see ts/util/grisu2.ts), kept as the reference
// the fast one is tested against: the same algorithm with every 64-bit quantity a BigInt, which cannot overflow or
// lose a bit, so it reads like the paper. Too slow for the plugin (BigInt arithmetic costs a runtime call per
// operation: a few µs per double), fine for tests and the benchmark.

import { cachedPowerIndex, cachedPowers } from '../../ts/util/grisu2-powers';

const MASK64 = (1n << 64n) - 1n;

interface DiyFp {
    f: bigint;
    e: number;
}

function mul(x: DiyFp, y: DiyFp): DiyFp {
    // The upper 64 bits of the 128-bit product, rounded (the lower half's top bit rounds up).
    const p = x.f * y.f;
    return { f: ((p >> 64n) + ((p >> 63n) & 1n)) & MASK64, e: x.e + y.e + 64 };
}

function normalize(x: DiyFp): DiyFp {
    let { f, e } = x;
    while ((f >> 63n) === 0n) {
        f <<= 1n;
        e--;
    }
    return { f, e };
}

function normalizeTo(x: DiyFp, e: number): DiyFp {
    return { f: (x.f << BigInt(x.e - e)) & MASK64, e };
}

function cachedPowerFor(e: number): { f: bigint; e: number; k: number } {
    return cachedPowers[cachedPowerIndex(e)]!;
}

const view = new DataView(new ArrayBuffer(8));

function boundaries(value: number): { w: DiyFp; minus: DiyFp; plus: DiyFp } {
    view.setFloat64(0, value);
    const bits = view.getBigUint64(0);
    const biasedE = Number((bits >> 52n) & 0x7ffn);
    const fraction = bits & ((1n << 52n) - 1n);
    const v: DiyFp = biasedE === 0 ? { f: fraction, e: 1 - 1075 } : { f: fraction + (1n << 52n), e: biasedE - 1075 };
    const lowerCloser = fraction === 0n && biasedE > 1;
    const mPlus: DiyFp = { f: 2n * v.f + 1n, e: v.e - 1 };
    const mMinus: DiyFp = lowerCloser ? { f: 4n * v.f - 1n, e: v.e - 2 } : { f: 2n * v.f - 1n, e: v.e - 1 };
    const plus = normalize(mPlus);
    return { w: normalize(v), minus: normalizeTo(mMinus, plus.e), plus };
}

function round(digits: number[], dist: bigint, delta: bigint, rest: bigint, tenK: bigint): void {
    while (rest < dist && delta - rest >= tenK && (rest + tenK < dist || dist - rest > rest + tenK - dist)) {
        digits[digits.length - 1]!--;
        rest += tenK;
    }
}

/** Grisu2's digits of a positive finite double, and the exponent: value = digits × 10^exponent. */
export function grisu2BigInt(value: number): { digits: string; exponent: number } {
    const { w: v, minus: mMinus, plus: mPlus } = boundaries(value);
    const cached = cachedPowerFor(mPlus.e);
    const c: DiyFp = { f: cached.f, e: cached.e };
    const w = mul(v, c);
    const wMinus = mul(mMinus, c);
    const wPlus = mul(mPlus, c);
    const lo: DiyFp = { f: wMinus.f + 1n, e: wMinus.e };
    const hi: DiyFp = { f: wPlus.f - 1n, e: wPlus.e };
    let exponent = -cached.k;

    let delta = hi.f - lo.f;
    let dist = hi.f - w.f;
    const shift = BigInt(-hi.e);
    const one = 1n << shift;
    let p1 = Number(hi.f >> shift); // fits in 32 bits
    let p2 = hi.f & (one - 1n);

    let pow10 = 1;
    let n = 1;
    while (pow10 * 10 <= p1) {
        pow10 *= 10;
        n++;
    }
    const digits: number[] = [];
    while (n > 0) {
        const d = Math.floor(p1 / pow10);
        p1 %= pow10;
        digits.push(d);
        n--;
        const rest = (BigInt(p1) << shift) + p2;
        if (rest <= delta) {
            exponent += n;
            round(digits, dist, delta, rest, BigInt(pow10) << shift);
            return { digits: digits.join(''), exponent };
        }
        pow10 = Math.floor(pow10 / 10);
    }
    let m = 0;
    for (;;) {
        p2 *= 10n;
        const d = p2 >> shift;
        p2 &= one - 1n;
        digits.push(Number(d));
        m++;
        delta *= 10n;
        dist *= 10n;
        if (p2 <= delta)
            break;
    }
    exponent -= m;
    round(digits, dist, delta, p2, one);
    return { digits: digits.join(''), exponent };
}
