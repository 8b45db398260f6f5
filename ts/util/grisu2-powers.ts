// Grisu2's cached powers of ten (data, shared by the plugin's Grisu2 and the BigInt reference in the tests): 10^k as
// normalised 64-bit significands rounded to nearest, for k = -300, -292, ..., 340, computed once at load.

export interface CachedPower {
    /** The 64-bit significand. */
    f: bigint;
    /** Its binary exponent: 10^k ≈ f × 2^e. */
    e: number;
    k: number;
}

const ALPHA = -60; // the target range of binary exponents is [-60, -32]
const MIN_DEC_EXP = -300;
const DEC_STEP = 8;

const bitLength = (n: bigint): number => n.toString(2).length;
const roundedDiv = (a: bigint, b: bigint): bigint => (2n * a + b) / (2n * b);

export const cachedPowers: readonly CachedPower[] = (() => {
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
            const s = 63 + bitLength(d); // f = 2^s / 10^-k with 64 significant bits
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

/** The index of the power whose binary exponent brings e + c.e + 64 into [ALPHA, GAMMA]. */
export function cachedPowerIndex(e: number): number {
    const f = ALPHA - e - 1;
    const k = Math.trunc((f * 78913) / (1 << 18)) + (f > 0 ? 1 : 0); // C integer division truncates
    return Math.floor((-MIN_DEC_EXP + k + (DEC_STEP - 1)) / DEC_STEP);
}
