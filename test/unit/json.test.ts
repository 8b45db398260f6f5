import { strict as assert } from 'node:assert';

import type { VeValue } from '../../ts/dbus/values';
import { grisu2 } from '../../ts/util/grisu2';
import { doubleValuePayload, formatDouble, formatDoubleLikeIostream, formatJson, integerValuePayload } from '../../ts/util/json-format';
import type { JsonNode } from '../../ts/util/json-parse';
import { JsonParseError, parseJson } from '../../ts/util/json-parse';
import { grisu2BigInt } from '../reference/grisu2-bigint';

describe('JSON text as the original writes it (spec §4.4)', () => {
    const doubles: Array<[number, string]> = [
        [0, '0.0'], [-0, '-0.0'], [936, '936.0'], [-936, '-936.0'], [20.43000030517578, '20.43000030517578'],
        [Math.fround(4.35), '4.349999904632568'], [1e15, '1e+15'], [1e16, '1e+16'], [1e14, '100000000000000.0'],
        [999999900000000, '999999900000000.0'], [1.234567890123456e15, '1.234567890123456e+15'], [1e-5, '1e-05'],
        [1e-7, '1e-07'], [1e-4, '0.0001'], [0.1, '0.1'], [12345.678, '12345.678'], [2 / 3, '0.6666666666666666'],
        [1.5e300, '1.5e+300'], [5e-324, '5e-324'], [1.7976931348623157e308, '1.7976931348623157e+308'],
        [NaN, 'null'], [Infinity, 'null'], [-Infinity, 'null'], [100, '100.0'], [0.5, '0.5'], [-1.5e-10, '-1.5e-10'],
        // Halfway values, where Grisu2 (the original's digits) and JavaScript's shortest-round-to-even disagree:
        [523.70001220703125, '523.7000122070313'], [73.47000122070312, '73.47000122070313'], [-72.33999633789062, '-72.33999633789063'],
    ];
    for (const [x, text] of doubles)
        it(`formats the double ${x} as ${text}`, () => assert.equal(formatDouble(x), text));

    const values: Array<[string, VeValue, string]> = [
        ['uint64 max', 18446744073709551615n, '18446744073709551615'],
        ['a string with escapes', 'a"b\\c/d\n\t\u0001\u001f é €\u007f', '"a\\"b\\\\c/d\\n\\t\\u0001\\u001f é €\u007f"'],
        ['an empty dict', new Map(), '{}'],
        ['keys in byte order', new Map<string, VeValue>([['b', 1n], ['a', 2n], ['B', 3n], ['_', 4n], ['aa', 5n]]), '{"B":3,"_":4,"a":2,"aa":5,"b":1}'],
        ['keys beyond the BMP in UTF-8 order', new Map<string, VeValue>([['\u{1F600}', 1n], ['\uFFFD', 2n]]), '{"\uFFFD":2,"\u{1F600}":1}'],
        ['a nested array', [1n, [2.5, null], 'x'], '[1,[2.5,null],"x"]'],
        ['booleans', [true, false], '[true,false]'],
    ];
    for (const [name, value, text] of values)
        it(`formats ${name}`, () => assert.equal(formatJson(value), text));
});

describe('Grisu2 digits', () => {
    // The fast implementation (64-bit values as pairs of doubles) against the BigInt one, which cannot lose a bit.
    it('are the BigInt reference implementation\'s, digit for digit', () => {
        const bits = new Float64Array(1);
        const words = new Uint32Array(bits.buffer); // little-endian: words[1] holds sign, exponent, top of fraction
        let seed = 987654321;
        const random = (): number => (seed = (seed * 1103515245 + 12345) >>> 0);
        const samples: number[] = [
            Number.MIN_VALUE, 2 * Number.MIN_VALUE, 2.2250738585072014e-308, 2.225073858507201e-308, Number.MAX_VALUE,
            Number.EPSILON, 1, 0.1, 0.2, 0.3, 1 / 3, 2 / 3, 9007199254740991, 9007199254740992, 1e21, 1e22, 1e23,
        ];
        for (let e = -1074; e <= 1023; e++)
            samples.push(2 ** e, 2 ** e * 1.5, 2 ** e * (2 - Number.EPSILON));
        for (let k = -323; k <= 308; k++)
            samples.push(Number(`1e${k}`), Number(`5e${k}`), Number(`9.999999999999999e${k}`));
        for (let i = 0; i < 60_000; i++) { // any bit pattern of a positive finite double, subnormals included
            words[0] = random();
            words[1] = random() % 0x7ff00000;
            samples.push(bits[0]!);
        }
        const f32 = new Float32Array(1);
        for (let i = 0; i < 60_000; i++) { // float32 readings, the common case on Venus
            f32[0] = (random() / 2 ** 32) * 10 ** ((random() % 12) - 4);
            samples.push(f32[0]);
        }
        for (let i = 0; i < 10_000; i++) // integers and short decimals
            samples.push(random() % 100_000, (random() % 1_000_000) / 100);
        let checked = 0;
        for (const x of samples) {
            if (!(x > 0) || !Number.isFinite(x))
                continue;
            assert.deepEqual(grisu2(x), grisu2BigInt(x), `${x}`);
            checked++;
        }
        assert.ok(checked > 130_000, `${checked} values checked`);
    });

    it('round-trip for random doubles and float32 readings, and match the known halfway cases', () => {
        const bits = new Float64Array(1);
        const words = new Uint32Array(bits.buffer);
        let seed = 12345;
        const random = (): number => (seed = (seed * 1103515245 + 12345) >>> 0);
        for (let i = 0; i < 20000; i++) {
            words[0] = random();
            words[1] = random() % 0x7fefffff;
            const x = bits[0]!;
            if (!Number.isFinite(x) || x === 0)
                continue;
            assert.equal(Number(formatDouble(x)), x, `${x}`);
        }
        const f32 = new Float32Array(1);
        for (let i = 0; i < 20000; i++) {
            f32[0] = (random() / 2 ** 32) * 1000;
            assert.equal(Number(formatDouble(f32[0])), f32[0]);
        }
    });
});

/** The text of a double put together from grisu2()'s digits with strings, as the printer did before it wrote bytes. */
function referenceDouble(x: number): string {
    if (!Number.isFinite(x))
        return 'null';
    if (x === 0)
        return Object.is(x, -0) ? '-0.0' : '0.0';
    const sign = x < 0 ? '-' : '';
    const { digits, exponent } = grisu2(Math.abs(x));
    const n = digits.length + exponent;
    const k = digits.length;
    if (k <= n && n <= 15)
        return `${sign}${digits}${'0'.repeat(n - k)}.0`;
    if (n > 0 && n <= 15)
        return `${sign}${digits.slice(0, n)}.${digits.slice(n)}`;
    if (n > -4 && n <= 0)
        return `${sign}0.${'0'.repeat(-n)}${digits}`;
    const e = n - 1;
    return `${sign}${digits[0]}${k > 1 ? `.${digits.slice(1)}` : ''}e${e < 0 ? '-' : '+'}${String(Math.abs(e)).padStart(2, '0')}`;
}

describe('doubles and {"value":...} payloads written as bytes', () => {
    const bits = new Float64Array(1);
    const words = new Uint32Array(bits.buffer);
    let seed = 4711;
    const random = (): number => (seed = (seed * 1103515245 + 12345) >>> 0);
    const samples: number[] = [0, -0, NaN, Infinity, -Infinity, 1e15, 1e16, 1e-5, 1e-4, 123.5, -0.001, 1e100, -1e-100, 5e-324, 1e21, 99e20];
    for (let i = 0; i < 20_000; i++) {
        words[0] = random();
        words[1] = random();
        samples.push(bits[0]!);
        samples.push((random() % 2_000_000) / 100 - 10_000, random() * 10 ** ((random() % 40) - 20));
    }

    it('print every double as the string-built text did', () => {
        for (const x of samples) {
            assert.equal(formatDouble(x), referenceDouble(x), `${x}`);
            assert.equal(formatDouble(x), referenceDouble(x), `${x}, from the cache`);
        }
    });

    it('print doubles without a fraction below 10^15 by their integer digits, as Grisu2 does', () => {
        const integral: number[] = [1, 2, 9, 10, 11, 99, 100, 101, 1000, 4096, 65535, 65536, 2 ** 31, 2 ** 32 - 1, 2 ** 32, 2 ** 32 + 1,
            2 ** 49, 2 ** 49 + 1, 2 ** 49 - 1, 999999999999999, 1e15 - 10, 1e15 - 1000, 123456789012345, 100000000000000, 5 * 2 ** 48];
        for (let i = 1; i <= 100_000; i++)
            integral.push(i);
        for (let e = 0; e < 15; e++) {
            integral.push(10 ** e, 10 ** e - 1, 10 ** e + 1, 7 * 10 ** e);
            for (let i = 0; i < 2000; i++)
                integral.push(Math.floor((random() / 2 ** 32) * 10 ** (e + 1)) * 10 ** (random() % (e + 1)) % 1e15);
        }
        for (const n of integral.filter((v) => v > 0 && v < 1e15)) {
            for (const x of [n, -n]) {
                assert.equal(formatDouble(x), referenceDouble(x), `${x}`);
                assert.equal(doubleValuePayload(x), `{"value":${referenceDouble(x)}}`, `${x}`);
            }
        }
    });

    it('make {"value":<double>} as formatJson does, cached or not', () => {
        for (const x of samples) {
            assert.equal(doubleValuePayload(x), `{"value":${formatJson(x)}}`, `${x}`);
            assert.equal(doubleValuePayload(x), `{"value":${formatJson(x)}}`, `${x}, from the cache`);
        }
    });

    it('make {"value":<integer>} as formatJson does, beyond the safe integers too', () => {
        const integers = [0n, 1n, -1n, 9n, 10n, -10n, 99n, 100n, 2147483647n, -2147483648n, 4294967295n, 9007199254740991n, -9007199254740991n,
            9007199254740992n, -9007199254740993n, 18446744073709551615n, -9223372036854775808n];
        for (let i = 0; i < 5000; i++)
            integers.push(BigInt(random()) * BigInt(random() % 2_000_000) - 1_000_000_000n);
        for (const n of integers)
            assert.equal(integerValuePayload(n), `{"value":${formatJson(n)}}`, `${n}`);
    });
});

describe('doubles as C++ iostreams print them', () => {
    const table: Array<[number, string]> = [
        [3.5, '3.5'], [100, '100'], [1e6, '1e+06'], [123456, '123456'], [1234567, '1.23457e+06'], [0.0001, '0.0001'],
        [0.00001, '1e-05'], [-2.25, '-2.25'], [0, '0'], [1 / 3, '0.333333'], [NaN, 'nan'], [Infinity, 'inf'],
    ];
    for (const [x, text] of table)
        it(`prints ${x} as ${text}`, () => assert.equal(formatDoubleLikeIostream(x), text));
});

describe('JSON parsing that keeps integer and double apart', () => {
    const table: Array<[string, JsonNode]> = [
        ['1', { kind: 'integer', value: 1n }],
        ['-0', { kind: 'integer', value: 0n }],
        ['1.0', { kind: 'double', value: 1 }],
        ['1e2', { kind: 'double', value: 100 }],
        ['123456789012345678901234567890', { kind: 'integer', value: 123456789012345678901234567890n }],
        [' \t\n"x" \r', { kind: 'string', value: 'x' }],
        ['\uFEFFnull', { kind: 'null' }],
        ['"\\u00e9\\ud83d\\ude00\\/\\b"', { kind: 'string', value: 'é\u{1F600}/\b' }],
        ['{"a":1,"a":2}', { kind: 'object', members: new Map([['a', { kind: 'integer', value: 2n }]]) }],
        ['[true,false,null]', { kind: 'array', items: [{ kind: 'bool', value: true }, { kind: 'bool', value: false }, { kind: 'null' }] }],
        ['{"value":[]}', { kind: 'object', members: new Map([['value', { kind: 'array', items: [] }]]) }],
    ];
    for (const [text, node] of table)
        it(`parses ${JSON.stringify(text)}`, () => assert.deepEqual(parseJson(text), node));

    it('parses bytes, BOM included', () => {
        assert.deepEqual(parseJson(Buffer.from('\uFEFF{"value":1.5}')), { kind: 'object', members: new Map([['value', { kind: 'double', value: 1.5 }]]) });
    });

    const errors: Array<[string | Buffer, RegExp]> = [
        ['', /unexpected end/], ['1 2', /after the value/], ['NaN', /unexpected character/], ['Infinity', /unexpected character/],
        ['1E400', /range of a double/], ['01', /invalid number/], ['1.', /invalid number/], ['-', /invalid number/], ['.5', /unexpected character/],
        ['"a', /unterminated/], ['"\t"', /control character/], ['"\\x"', /invalid escape/], ['"\\ud800"', /high surrogate/],
        ['"\\udc00"', /lone low surrogate/], ['[1,]', /unexpected character/], ['{"a" 1}', /expected ':'/], ['{1:2}', /string key/],
        ['tru', /invalid literal/], [Buffer.from([0x22, 0xff, 0x22]), /invalid UTF-8/], ['"\ud800x"', /unpaired surrogate/],
    ];
    for (const [text, message] of errors)
        it(`refuses ${JSON.stringify(text.toString())}`, () => assert.throws(() => parseJson(text), (e: Error) => e instanceof JsonParseError && message.test(e.message)));

    it('refuses input over its size limit and nesting over its depth limit, without recursing further', () => {
        assert.throws(() => parseJson('"' + 'x'.repeat(100) + '"', { maxBytes: 50, maxDepth: 64 }), /larger than 50 bytes/);
        assert.throws(() => parseJson('['.repeat(100_000), { maxBytes: 1e6, maxDepth: 64 }), /nesting deeper than 64/);
        assert.doesNotThrow(() => parseJson(`${'['.repeat(64)}${']'.repeat(64)}`));
    });
});
