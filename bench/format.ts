// Benchmark of payload formatting (not a test: it prints numbers): the cost of printing a double as the original
// does (Grisu2 digits), which every published change of a double value pays once per distinct value.
//
//   npm run bench:format [-- --values 200000]
//
// Prints ns per value for the plugin's Grisu2 (64-bit arithmetic in pairs of doubles), the BigInt reference it
// replaced, and JavaScript's own String(x), on float32 readings and on arbitrary doubles.
import { grisu2Into } from '../ts/util/grisu2';
import { grisu2BigInt } from '../test/reference/grisu2-bigint';
import { numberOption } from './args';

const VALUES = numberOption('values', 200_000);

function samples(kind: 'float32' | 'double'): number[] {
    let seed = 4242;
    const random = (): number => (seed = (seed * 1103515245 + 12345) >>> 0);
    const out: number[] = [];
    const f32 = new Float32Array(1);
    const bits = new Float64Array(1);
    const words = new Uint32Array(bits.buffer);
    while (out.length < VALUES) {
        if (kind === 'float32') {
            f32[0] = (random() / 2 ** 32) * 10 ** ((random() % 6) - 1);
            out.push(f32[0]);
        } else {
            words[0] = random();
            words[1] = random() % 0x7ff00000;
            out.push(bits[0]!);
        }
    }
    return out.filter((x) => x > 0);
}

function nsPerValue(values: number[], fn: (x: number) => unknown): number {
    let sink = 0;
    for (let round = 0; round < 2; round++) { // the first round warms the JIT up
        const t0 = process.hrtime.bigint();
        for (const x of values)
            sink += fn(x) === undefined ? 1 : 0;
        const ns = Number(process.hrtime.bigint() - t0);
        if (round === 1)
            return ns / values.length + sink * 0;
    }
    return NaN;
}

console.log(`# Double formatting, ${VALUES} distinct values per row, ns per value (one run)\n`);
console.log('| values | grisu2 (plugin, digits into a buffer) | grisu2 (BigInt reference) | String(x) |');
console.log('|---|---|---|---|');
for (const kind of ['float32', 'double'] as const) {
    const values = samples(kind);
    const fast = nsPerValue(values, grisu2Into);
    const reference = nsPerValue(values, grisu2BigInt);
    const native = nsPerValue(values, String);
    console.log(`| ${kind} | ${fast.toFixed(0)} | ${reference.toFixed(0)} | ${native.toFixed(0)} |`);
}
