// The first implementation of the original's double digits (Grisu2, see ts/util/grisu2.ts), kept as the reference
// the fast one is tested against: the same algorithm with every 64-bit quantity a BigInt, which cannot overflow or
// lose a bit, so it reads like the paper. Too slow for the plugin (BigInt arithmetic costs a runtime call per
// operation: a few µs per double), fine for tests and the benchmark.

const MASK64 = (1n << 64n) - 1n;
const ALPHA = -60; // the target range of binary exponents is [-60, -32]

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

// 10^k as normalised 64-bit significands (rounded to nearest), for k = -300, -292, ..., 340.
interface CachedPower {
    f: bigint;
    e: number;
    k: number;
}

const MIN_DEC_EXP = -300;
const DEC_STEP = 8;

function bitLength(n: bigint): number {
    return n.toString(2).length;
}

function roundedDiv(a: bigint, b: bigint): bigint {
    return (2n * a + b) / (2n * b);
}

const cachedPowers: CachedPower[] = (() => {
    const out: CachedPower[] = [];
    for (let k = MIN_DEC_EXP; k <= 340; k += DEC_STEP) {
        let f: bigint;
        let e: number;
        if (k >= 0) {
            const p = 10n ** BigInt(k);
            const shift = bitLength(p) - 64;
            f = shift > 0 ? roundedDiv(p, 1n << BigInt(shift)) : p << BigInt(-shift);
            e = shift;
        } else {
            const d = 10n ** BigInt(-k);
            // f = 2^s / 10^-k with 64 significant bits
            const s = 63 + bitLength(d);
            f = roundedDiv(1n << BigInt(s), d);
            e = -s;
        }
        if (bitLength(f) > 64) { // rounding carried into a 65th bit
            f >>= 1n;
            e++;
        }
        out.push({ f, e, k });
    }
    return out;
})();

function cachedPowerFor(e: number): CachedPower {
    // The power whose binary exponent brings e + c.e + 64 into [ALPHA, GAMMA].
    const f = ALPHA - e - 1;
    const k = Math.trunc((f * 78913) / (1 << 18)) + (f > 0 ? 1 : 0); // C integer division truncates
    const index = Math.floor((-MIN_DEC_EXP + k + (DEC_STEP - 1)) / DEC_STEP);
    return cachedPowers[index]!;
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
