import { strict as assert } from 'node:assert';

import { Variant } from 'dbus-next';

import type { PyValue } from '../../ts/sim/values';
import {
    CoercionError, coerce, invalidVariant, isInvalid, pyEquals, pyFloatRepr, pyStr, unwrap, variantDepth, velibText, wrap,
} from '../../ts/sim/values';

const int = (n: number | bigint): PyValue => ({ kind: 'int', value: BigInt(n) });
const float = (n: number): PyValue => ({ kind: 'float', value: n });
const str = (s: string): PyValue => ({ kind: 'str', value: s });
const bool = (b: boolean): PyValue => ({ kind: 'bool', value: b });

describe('sim values (velib view)', () => {
    describe('unwrap', () => {
        const table: Array<[string, Variant, PyValue]> = [
            ['y', new Variant('y', 7), int(7)],
            ['n', new Variant('n', -7), int(-7)],
            ['q', new Variant('q', 7), int(7)],
            ['u', new Variant('u', 4294967295), int(4294967295)],
            ['x', new Variant('x', 5000000000n), int(5000000000n)],
            ['t', new Variant('t', 5n), int(5)],
            ['d', new Variant('d', 936), float(936)],
            ['b', new Variant('b', true), bool(true)],
            ['s', new Variant('s', 'x'), str('x')],
            ['ai []', new Variant('ai', []), { kind: 'none' }],
            ['au []', new Variant('au', []), { kind: 'none' }],
            ['ay empty Buffer', new Variant('ay', Buffer.alloc(0)), { kind: 'none' }],
            ['ay', new Variant('ay', Buffer.from([1, 2])), { kind: 'list', value: [int(1), int(2)] }],
            ['av', new Variant('av', [new Variant('i', 1), new Variant('s', 'a')]), { kind: 'list', value: [int(1), str('a')] }],
            ['a{sv}', new Variant('a{sv}', { a: new Variant('d', 1.5) }), { kind: 'dict', value: [['a', float(1.5)]] }],
            ['a{sv} empty', new Variant('a{sv}', {}), { kind: 'dict', value: [] }],
            ['v(v(i))', new Variant('v', new Variant('i', 3)), int(3)],
            ['(is)', new Variant('(is)', [1, 'a']), { kind: 'list', value: [int(1), str('a')] }],
        ];
        for (const [name, variant, expected] of table) {
            it(name, () => assert.deepEqual(unwrap(variant), expected));
        }
    });

    describe('wrap', () => {
        const table: Array<[string, PyValue, string, unknown]> = [
            ['None', { kind: 'none' }, 'ai', []],
            ['float', float(100), 'd', 100],
            ['bool', bool(false), 'b', false],
            ['int32', int(-201), 'i', -201],
            ['int64', int(5000000000n), 'x', 5000000000n],
            ['str', str('-202'), 's', '-202'],
            ['[]', { kind: 'list', value: [] }, 'au', []],
        ];
        for (const [name, value, signature, wire] of table) {
            it(`${name} goes out as '${signature}'`, () => {
                const v = wrap(value);
                assert.equal(v.signature, signature);
                assert.deepEqual(v.value, wire);
            });
        }

        it('lists as av and dicts as a{sv}', () => {
            const list = wrap({ kind: 'list', value: [int(1), str('a')] });
            assert.equal(list.signature, 'av');
            assert.deepEqual((list.value as Variant[]).map((v) => v.signature), ['i', 's']);
            const dict = wrap({ kind: 'dict', value: [['k', float(1)]] });
            assert.equal(dict.signature, 'a{sv}');
            assert.equal((dict.value as Record<string, Variant>).k?.signature, 'd');
        });
    });

    describe('Python str()', () => {
        const floats: Array<[number, string]> = [
            [936, '936.0'], [52.41999816894531, '52.41999816894531'], [0.1, '0.1'], [-0.5, '-0.5'], [0, '0.0'],
            [1e16, '1e+16'], [1.5e16, '1.5e+16'], [1e15, '1000000000000000.0'], [0.0001, '0.0001'], [0.00001, '1e-05'],
            [1.234e-7, '1.234e-07'], [NaN, 'nan'], [Infinity, 'inf'], [-Infinity, '-inf'], [1e22, '1e+22'],
        ];
        for (const [x, text] of floats) {
            it(`repr(${x}) is '${text}'`, () => assert.equal(pyFloatRepr(x), text));
        }

        const values: Array<[PyValue, string]> = [
            [int(5000000000n), '5000000000'], [bool(true), 'True'], [str('x'), 'x'], [{ kind: 'none' }, 'None'],
            [{ kind: 'list', value: [int(1), int(2)] }, '[1, 2]'],
            [{ kind: 'list', value: [str('a'), str('it\'s')] }, '[\'a\', "it\'s"]'],
            [{ kind: 'dict', value: [['a', int(1)]] }, '{\'a\': 1}'],
        ];
        for (const [value, text] of values) {
            it(`str() gives '${text}'`, () => assert.equal(pyStr(value), text));
        }

        it('velib texts: --- for invalid, 0x%X for /ProductId', () => {
            assert.equal(velibText('/Soc', { kind: 'none' }), '---');
            assert.equal(velibText('/ProductId', int(45058)), '0xB002');
            assert.equal(velibText('/Other', int(45058)), '45058');
        });
    });

    describe('Python ==', () => {
        const table: Array<[PyValue, PyValue, boolean]> = [
            [int(100), float(100), true],
            [bool(true), int(1), true],
            [bool(true), float(1), true],
            [int(1), str('1'), false],
            [{ kind: 'none' }, { kind: 'none' }, true],
            [{ kind: 'none' }, int(0), false],
            [float(NaN), float(NaN), false],
            [{ kind: 'list', value: [int(1)] }, { kind: 'list', value: [float(1)] }, true],
            [{ kind: 'list', value: [int(1)] }, { kind: 'list', value: [int(1), int(2)] }, false],
            [{ kind: 'dict', value: [['a', int(1)], ['b', int(2)]] }, { kind: 'dict', value: [['b', int(2)], ['a', int(1)]] }, true],
            [{ kind: 'dict', value: [['a', int(1)]] }, { kind: 'dict', value: [['a', int(2)]] }, false],
        ];
        table.forEach(([a, b, equal], i) => {
            it(`case ${i}: ${pyStr(a)} == ${pyStr(b)} is ${String(equal)}`, () => {
                assert.equal(pyEquals(a, b), equal);
                assert.equal(pyEquals(b, a), equal);
            });
        });
    });

    describe('coercion (valuetype)', () => {
        it('int() truncates floats and parses strings', () => {
            assert.deepEqual(coerce(float(4.7), 'int'), int(4));
            assert.deepEqual(coerce(float(-4.7), 'int'), int(-4));
            assert.deepEqual(coerce(str(' 5 '), 'int'), int(5));
            assert.deepEqual(coerce(bool(true), 'int'), int(1));
            assert.throws(() => coerce(str('4.7'), 'int'), CoercionError);
            assert.throws(() => coerce(float(NaN), 'int'), CoercionError);
        });

        it('float() and str()', () => {
            assert.deepEqual(coerce(str('1e3'), 'float'), float(1000));
            assert.deepEqual(coerce(int(3), 'float'), float(3));
            assert.throws(() => coerce(str('abc'), 'float'), CoercionError);
            assert.deepEqual(coerce(float(1), 'str'), str('1.0'));
        });

        it('None passes through', () => {
            assert.deepEqual(coerce({ kind: 'none' }, 'int'), { kind: 'none' });
        });
    });

    it('knows the invalid value and variant depths', () => {
        assert.ok(isInvalid(invalidVariant()));
        assert.ok(isInvalid(new Variant('au', [])));
        assert.ok(!isInvalid(new Variant('a{sv}', {})));
        assert.ok(!isInvalid(new Variant('ai', [1])));
        assert.equal(variantDepth(new Variant('i', 1)), 1);
        assert.equal(variantDepth(new Variant('v', new Variant('v', new Variant('i', 1)))), 3);
    });
});
