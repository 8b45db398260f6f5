import { strict as assert } from 'node:assert';

import { parseSignature, SignatureError } from '../../ts/dbus/signature';
import type { DbusTypedValue } from '../../ts/dbus/to-dbus';
import { jsonToDbus, WriteValueError } from '../../ts/dbus/to-dbus';
import type { VeValue } from '../../ts/dbus/values';
import { readVariant, sameValue, UNKNOWN_TYPE } from '../../ts/dbus/values';
import { body } from '../fakes/body';
import { fromVariant } from '../reference/from-variant';
import { formatJson } from '../../ts/util/json-format';
import { parseJson } from '../../ts/util/json-parse';

const v = (signature: string, value: unknown): { signature: string; value: unknown } => ({ signature, value });

describe('D-Bus signatures', () => {
    const leaf = (code: string): unknown => ({ code, children: [] });
    const table: Array<[string, unknown[]]> = [
        ['i', [leaf('i')]],
        ['a{sv}', [{ code: 'a', children: [{ code: '{', children: [leaf('s'), leaf('v')] }] }]],
        ['(is)ad', [{ code: '(', children: [leaf('i'), leaf('s')] }, { code: 'a', children: [leaf('d')] }]],
        ['aai', [{ code: 'a', children: [{ code: 'a', children: [leaf('i')] }] }]],
    ];
    for (const [sig, tree] of table)
        it(`parses '${sig}'`, () => assert.deepEqual(parseSignature(sig), tree));

    for (const bad of ['a', 'a{vs}', 'a{s}', '(', '()', 'z', 'a{sii}', 'a'.repeat(70) + 'i'])
        it(`refuses '${bad.length > 20 ? `${bad.slice(0, 10)}…` : bad}'`, () => assert.throws(() => parseSignature(bad), SignatureError));
});

describe('D-Bus values -> JSON values (spec §2.9)', () => {
    const table: Array<[string, { signature: string; value: unknown }, VeValue, string]> = [
        ['byte', v('y', 200), 200n, '200'],
        ['boolean', v('b', true), true, 'true'],
        ['int16', v('n', -5), -5n, '-5'],
        ['uint16', v('q', 65535), 65535n, '65535'],
        ['int32', v('i', 936), 936n, '936'],
        ['uint32', v('u', 4294967295), 4294967295n, '4294967295'],
        ['int64 beyond 2^53', v('x', 9007199254740993n), 9007199254740993n, '9007199254740993'],
        ['uint64 max', v('t', 18446744073709551615n), 18446744073709551615n, '18446744073709551615'],
        ['whole double', v('d', 936), 936, '936.0'],
        ['double', v('d', 20.43000030517578), 20.43000030517578, '20.43000030517578'],
        ['NaN', v('d', NaN), NaN, 'null'],
        ['string', v('s', 'é"\\'), 'é"\\', '"é\\"\\\\"'],
        ['invalid (empty ai)', v('ai', []), null, 'null'],
        ['empty au', v('au', []), null, 'null'],
        ['empty as', v('as', []), null, 'null'],
        ['empty ay (a Buffer)', v('ay', Buffer.alloc(0)), null, 'null'],
        ['byte array', v('ay', Buffer.from([1, 2])), [1n, 2n], '[1,2]'],
        ['uint32 array', v('au', [1, 2]), [1n, 2n], '[1,2]'],
        ['array of variants', v('av', [v('i', 1), v('s', 'a'), v('d', 2)]), [1n, 'a', 2], '[1,"a",2.0]'],
        ['nested arrays', v('aai', [[1], []]), [[1n], null], '[[1],null]'],
        ['dict', v('a{sv}', { b: v('i', 1), a: v('d', 0.5) }), new Map<string, VeValue>([['b', 1n], ['a', 0.5]]), '{"a":0.5,"b":1}'],
        ['empty dict', v('a{sv}', {}), new Map(), '{}'],
        ['object path', v('o', '/x'), UNKNOWN_TYPE, '"unknown_type"'],
        ['signature', v('g', 'i'), UNKNOWN_TYPE, '"unknown_type"'],
        ['struct', v('(is)', [1, 'a']), UNKNOWN_TYPE, '"unknown_type"'],
        ['variant in a variant', v('v', v('i', 1)), UNKNOWN_TYPE, '"unknown_type"'],
        ['variant in a dict in a variant', v('a{sv}', { a: v('v', v('i', 1)) }), new Map([['a', UNKNOWN_TYPE]]), '{"a":"unknown_type"}'],
    ];
    for (const [name, input, expected, json] of table) {
        it(`reads ${name} from the bytes as the reference converts it`, () => {
            const out = readVariant(body('v', [input]).reader(), () => undefined);
            assert.ok(sameValue(out, expected), `got ${formatJson(out)}`);
            assert.equal(formatJson(out), json);
            const reference = fromVariant(input, () => undefined);
            assert.ok(sameValue(reference, expected), `the reference gives ${formatJson(reference)}`);
        });
    }

    it('reads past what it cannot take, so the values after it are read right', () => {
        const problems: string[] = [];
        const r = body('vvvv', [v('(is)', [1, 'a']), v('o', '/x'), v('v', v('ai', [1, 2])), v('d', 2.5)]).reader();
        assert.deepEqual([0, 1, 2, 3].map(() => readVariant(r, (p) => problems.push(p))), [UNKNOWN_TYPE, UNKNOWN_TYPE, UNKNOWN_TYPE, 2.5]);
        assert.equal(r.pos, r.end);
        assert.deepEqual(problems, ['a struct, which has no JSON form', "a value of type 'o', which has no JSON form", 'a variant inside a variant']);
    });

    it('reports the causes it cannot take as they are, and still converts', () => {
        const problems: string[] = [];
        const out = readVariant(body('v', [v('a{iv}', new Map([[1, v('s', 'x')]]))]).reader(), (p) => problems.push(p));
        assert.equal(formatJson(out), '{"1":"x"}');
        assert.match(problems[0]!, /keys are 'i', not strings/);
        assert.equal(problems.length, 1);
    });
});

describe('JSON -> D-Bus values for writes (spec §2.10)', () => {
    const table: Array<[string, DbusTypedValue]> = [
        ['1', { signature: 'i', value: 1 }],
        ['-2147483648', { signature: 'i', value: -2147483648 }],
        ['2147483647', { signature: 'i', value: 2147483647 }],
        ['2147483648', { signature: 'x', value: 2147483648n }],
        ['-2147483649', { signature: 'x', value: -2147483649n }],
        ['9223372036854775807', { signature: 'x', value: 9223372036854775807n }],
        ['1.0', { signature: 'd', value: 1 }],
        ['1e2', { signature: 'd', value: 100 }],
        ['-0.0', { signature: 'd', value: -0 }],
        ['1E-3', { signature: 'd', value: 0.001 }],
        ['"abc"', { signature: 's', value: 'abc' }],
        ['"\\ud83d\\ude00 é"', { signature: 's', value: '\u{1F600} é' }],
        ['true', { signature: 'b', value: true }],
        ['null', { signature: 'ai', value: [] }],
        ['[]', { signature: 'au', value: [] }],
        ['[1,2]', { signature: 'ai', value: [1, 2] }],
        ['["a"]', { signature: 'as', value: ['a'] }],
        ['[1.5]', { signature: 'ad', value: [1.5] }],
        ['[[1],[2]]', { signature: 'aai', value: [[1], [2]] }],
        ['[null]', { signature: 'aai', value: [[]] }],
        ['[[],[]]', { signature: 'aau', value: [[], []] }],
        ['[true,false]', { signature: 'ab', value: [true, false] }],
    ];
    for (const [json, expected] of table) {
        it(`writes ${json} as '${expected.signature}'`, () => {
            const out = jsonToDbus(parseJson(json));
            assert.equal(out.signature, expected.signature);
            assert.deepEqual(out.value, expected.value);
            if (Object.is(expected.value, -0))
                assert.ok(Object.is(out.value, -0));
        });
    }

    const refused: Array<[string, RegExp]> = [
        ['{"a":1}', /object cannot be written/],
        ['[1,2.5]', /mixes 'i' and 'd'/],
        ['[1,3000000000]', /mixes 'i' and 'x'/],
        ['[[1],["a"]]', /mixes 'ai' and 'as'/],
        ['[[1],[]]', /mixes 'ai' and 'au'/],
        ['[{"a":1}]', /object cannot be written/],
        ['9223372036854775808', /does not fit in 64 bits/],
        ['18446744073709551615', /does not fit in 64 bits/],
        ['"a\\u0000b"', /NUL/],
        ['[[[1]],[[]]]', /mixes 'aai' and 'aau'/],
        ['[[[1]],[["x"]]]', /mixes 'aai' and 'aas'/],
        [`${'['.repeat(33)}1${']'.repeat(33)}`, /deeper than D-Bus allows \(32\)/],
        [`${'['.repeat(32)}null${']'.repeat(32)}`, /deeper than D-Bus allows/],
    ];
    for (const [json, message] of refused)
        it(`refuses ${json.length > 30 ? `${json.slice(0, 12)}…` : json}`, () => assert.throws(() => jsonToDbus(parseJson(json)), (e: Error) => e instanceof WriteValueError && message.test(e.message)));

    it('refuses unpaired surrogates, which the JSON parser refuses already, also on their own', () => {
        assert.throws(() => parseJson('"a\\ud800b"'), /surrogate/);
        for (const value of ['a\ud800b', '\udc00', 'x\ud83d'])
            assert.throws(() => jsonToDbus({ kind: 'string', value }), /unpaired surrogate/);
        assert.throws(() => jsonToDbus({ kind: 'array', items: [{ kind: 'string', value: 'ok' }, { kind: 'string', value: '\ud83d' }] }), /unpaired surrogate/);
    });

    it('accepts 32 levels of arrays', () => {
        assert.equal(jsonToDbus(parseJson(`${'['.repeat(32)}1${']'.repeat(32)}`)).signature, `${'a'.repeat(32)}i`);
    });
});
