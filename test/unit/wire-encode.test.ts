import { strict as assert } from 'node:assert';

import { Message, Variant } from 'dbus-next';

import {
    encodeBody, encodeEntry, encodeMessage, entryArrayBody, isObjectPath, MessageKind, MethodCallEncoder, parseSignature, variantEntryArrayBody, WireError,
} from '../../ts/dbus/wire/encode';
import { SignatureError } from '../../ts/dbus/signature';

// dbus-next's own marshaller and parser, as references.
// eslint-disable-next-line @typescript-eslint/no-require-imports
const compat = require('dbus-next/lib/marshall-compat') as { marshallMessage(m: Message): [Buffer, unknown[]] };
// eslint-disable-next-line @typescript-eslint/no-require-imports
const parser = require('dbus-next/lib/message') as { unmarshall(b: Buffer): { signature: string; body: unknown[] } };

function reference(signature: string, body: unknown[]): Buffer {
    const m = new Message({ type: 4, path: '/Ac/Power', interface: 'com.victronenergy.BusItem', member: 'X', signature, body, serial: 7 });
    return compat.marshallMessage(m)[0];
}

function ours(signature: string, body: unknown[]): Buffer {
    return encodeMessage({
        kind: MessageKind.Signal, serial: 7, path: '/Ac/Power', iface: 'com.victronenergy.BusItem', member: 'X',
        signature, body: encodeBody(signature, body),
    });
}

describe('D-Bus wire encoding', () => {
    const table: Array<[string, string, unknown[]]> = [
        ['PropertiesChanged', 'a{sv}', [{ Value: new Variant('d', 1.5), Text: new Variant('s', '1.5W') }]],
        ['ItemsChanged', 'a{sa{sv}}', [{ '/A': { Value: new Variant('ai', []), Text: new Variant('s', '---') }, '/B/C': { Value: new Variant('x', 5000000000n), Text: new Variant('s', '') } }]],
        ['every basic type', 'ynqiuxtdsogb', [1, -2, 3, -4, 5, -6n, 7n, 8.5, 'ü', '/o', 'a{sv}', true]],
        ['variants of every container', 'vvvv', [new Variant('ay', Buffer.from([1, 2, 3])), new Variant('av', [new Variant('i', 1)]), new Variant('(is)', [1, 's']), new Variant('a{sv}', {})]],
        ['struct and string array', '(ia{sv})as', [[1, { a: new Variant('av', [new Variant('i', 1), new Variant('s', 'x')]) }], ['a', 'bb']]],
        ['empty dict', 'a{sa{sv}}', [{}]],
        ['empty array of doubles', 'ad', [[]]],
        ['doubles after a byte', 'yad', [1, [1.5, 2.5]]],
        ['no body', '', []],
    ];
    for (const [name, signature, body] of table) {
        it(`writes ${name} exactly as dbus-next does`, () => {
            assert.equal(ours(signature, body).toString('hex'), reference(signature, body).toString('hex'));
        });
    }

    it('writes NaN, infinities and integer dict keys, which dbus-next refuses', () => {
        const buf = ours('ada{ia{sv}}', [[NaN, -Infinity], new Map([[1, { Value: new Variant('d', Infinity) }]])]);
        const parsed = parser.unmarshall(buf);
        assert.equal(parsed.signature, 'ada{ia{sv}}');
        const [doubles, dict] = parsed.body as [number[], Array<[number, unknown]>];
        assert.ok(Number.isNaN(doubles[0]));
        assert.equal(doubles[1], -Infinity);
        assert.equal(dict[0]?.[0], 1);
    });

    it('converts the keys of a plain object to the key type', () => {
        const a = encodeBody('a{iy}', [{ 5: 1, '-1': 2 }]);
        const b = encodeBody('a{iy}', [[[5, 1], [-1, 2]]]);
        assert.deepEqual(a, b);
    });

    it('builds arrays from entries encoded one by one', () => {
        const entries = [encodeEntry('s', '/A', 'a{sv}', { Value: new Variant('i', 1) }), encodeEntry('s', '/Bee', 'a{sv}', { Value: new Variant('d', 2) })];
        assert.deepEqual(entryArrayBody(entries), encodeBody('a{sa{sv}}', [{ '/A': { Value: new Variant('i', 1) }, '/Bee': { Value: new Variant('d', 2) } }]));
        const rel = [encodeEntry('s', 'A', 'v', new Variant('i', 1)), encodeEntry('s', 'B/C', 'v', new Variant('s', 'x'))];
        assert.deepEqual(variantEntryArrayBody('a{sv}', rel), encodeBody('v', [new Variant('a{sv}', { A: new Variant('i', 1), 'B/C': new Variant('s', 'x') })]));
    });

    const invalid: Array<[string, string, unknown[]]> = [
        ['an int32 out of range', 'i', [2 ** 31]],
        ['a fraction as an integer', 'u', [1.5]],
        ['a NUL in a string', 's', ['a\0b']],
        ['a bad object path', 'o', ['/a/']],
        ['a variant without a signature', 'v', [5]],
        ['a body of the wrong length', 'ii', [1]],
        ['a number as a string', 's', [5]],
        ['a unix fd', 'h', [0]],
    ];
    for (const [name, signature, body] of invalid) {
        it(`refuses ${name}`, () => assert.throws(() => encodeBody(signature, body), WireError));
    }

    const signatures = ['a{vs}', 'a{s}', '(', '()', 'a', 'a{sv', 'z'];
    for (const signature of signatures) {
        it(`refuses the signature '${signature}'`, () => assert.throws(() => parseSignature(signature), SignatureError));
    }

    it('refuses header fields the daemon would disconnect us for', () => {
        assert.throws(() => encodeMessage({ kind: MessageKind.Signal, serial: 1, path: 'no-slash', iface: 'a.b', member: 'M' }), WireError);
        assert.throws(() => encodeMessage({ kind: MessageKind.Signal, serial: 1, path: '/', iface: 'nodots', member: 'M' }), WireError);
        assert.throws(() => encodeMessage({ kind: MessageKind.Signal, serial: 1, path: '/', iface: 'a.b', member: 'Bad-Member' }), WireError);
    });

    describe('method calls with kept headers', () => {
        // destination, path, interface, member, signature, body values
        const calls: Array<[string, string, string, string, string, unknown[]]> = [
            [':1.5', '/Bench/Value0', 'com.victronenergy.BusItem', 'SetValue', 'v', [{ signature: 'd', value: 100.5 }]],
            [':1.5', '/Bench/Value0', 'com.victronenergy.BusItem', 'SetValue', 'v', [{ signature: 'd', value: 101.5 }]],
            [':1.5', '/Bench/Value0', 'com.victronenergy.BusItem', 'SetValue', 'v', [{ signature: 's', value: 'a longer text value' }]],
            [':1.5', '/Bench/Value0', 'com.victronenergy.BusItem', 'GetValue', '', []],
            [':1.6', '/Bench/Value0', 'com.victronenergy.BusItem', 'SetValue', 'v', [{ signature: 'd', value: 102.5 }]],
            [':1.6', '/Bench/Value0', 'com.victronenergy.Settings', 'SetValue', 'v', [{ signature: 'd', value: 102.5 }]],
            [':1.5', '/Bench/Value1', 'com.victronenergy.BusItem', 'SetValue', 'v', [{ signature: 'ai', value: [] }]],
            ['com.victronenergy.settings', '/Settings/A', 'com.victronenergy.BusItem', 'GetValue', '', []],
            ['org.freedesktop.DBus', '/org/freedesktop/DBus', 'org.freedesktop.DBus', 'AddMatch', 's', ["type='signal'"]],
            [':1.5', '/', 'com.victronenergy.BusItem', 'SetValue', 'v', [{ signature: 'x', value: 2n ** 40n }]],
        ];

        it('encodes every call as encodeMessage does, keeping the last header per object path', () => {
            const encoder = new MethodCallEncoder();
            calls.forEach(([destination, path, iface, member, signature, values], i) => {
                for (const serial of [1, 2 ** 32 - 1, 1000 + i]) {
                    const body = encodeBody(signature, values);
                    const expected = encodeMessage({ kind: MessageKind.MethodCall, serial, destination, path, iface, member, signature, body });
                    assert.deepEqual(encoder.encode(serial, destination, path, iface, member, signature, body), expected, `${member} ${path} serial ${serial}`);
                }
            });
            assert.equal(encoder.size, 5, 'one per path');
        });

        // variants of a write -> encoded as encodeMessage and encodeBody do (or refused as they refuse it)
        const variants: Array<{ signature: string; value: unknown }> = [
            { signature: 'd', value: 100.5 }, { signature: 'd', value: -0 }, { signature: 'd', value: NaN }, { signature: 'd', value: -Infinity },
            { signature: 'd', value: 1e300 }, { signature: 'i', value: 0 }, { signature: 'i', value: -0 }, { signature: 'i', value: -1 },
            { signature: 'i', value: 2147483647 }, { signature: 'i', value: -2147483648 }, { signature: 'i', value: 2147483648 },
            { signature: 'i', value: 1.5 }, { signature: 'i', value: 7n }, { signature: 'd', value: '1' }, { signature: 's', value: 'text' },
            { signature: 'x', value: 2n ** 40n }, { signature: 'ai', value: [] }, { signature: 'b', value: true }, { signature: 'u', value: 3 },
        ];
        for (const variant of variants) {
            it(`writes a call with the variant ${variant.signature} ${String(variant.value)} as the general way does`, () => {
                const encoder = new MethodCallEncoder();
                const general = (): Buffer => encodeMessage({
                    kind: MessageKind.MethodCall, serial: 9, destination: ':1.5', path: '/A', iface: 'com.victronenergy.BusItem', member: 'SetValue',
                    signature: 'v', body: encodeBody('v', [variant]),
                });
                let expected: Buffer | Error;
                try {
                    expected = general();
                } catch (err) {
                    expected = err as Error;
                }
                for (let round = 0; round < 2; round++) { // the header made, then kept
                    if (expected instanceof Error)
                        assert.throws(() => encoder.encodeVariantCall(9, ':1.5', '/A', 'com.victronenergy.BusItem', 'SetValue', variant), { message: expected.message });
                    else
                        assert.deepEqual(encoder.encodeVariantCall(9, ':1.5', '/A', 'com.victronenergy.BusItem', 'SetValue', variant), expected);
                }
            });
        }

        it('keeps at most as many headers as it is told, and refuses what encodeMessage refuses', () => {
            const encoder = new MethodCallEncoder(3);
            for (let i = 0; i < 10; i++)
                encoder.encode(i + 1, ':1.5', `/Item${i}`, 'com.victronenergy.BusItem', 'GetValue', '', Buffer.alloc(0));
            assert.ok(encoder.size <= 3);
            assert.throws(() => encoder.encode(1, ':1.5', 'no-slash', 'com.victronenergy.BusItem', 'SetValue', '', Buffer.alloc(0)), WireError);
            assert.throws(() => encoder.encode(1, ':1.5', '/', 'nodots', 'SetValue', '', Buffer.alloc(0)), WireError);
            assert.throws(() => encoder.encode(1, ':1.5', '/', 'com.victronenergy.BusItem', 'Bad-Member', '', Buffer.alloc(0)), WireError);
        });
    });

    describe('object paths', () => {
        /** The definition, as a regular expression (what isObjectPath was). */
        const reference = /^\/$|^(\/[A-Za-z0-9_]+)+$/;
        const table: Array<[string, boolean]> = [
            ['/', true], ['/a', true], ['/Ac/Power', true], ['/a_b/C9/_', true], ['', false], ['a', false], ['//', false], ['/a/', false],
            ['/a//b', false], ['/a-b', false], ['/a.b', false], ['/a b', false], ['/\u00e9', false], ['/a\n', false], ['\n/a', false], ['/a/b/', false],
        ];
        for (const [path, valid] of table) {
            it(`${valid ? 'takes' : 'refuses'} ${JSON.stringify(path)}`, () => {
                assert.equal(isObjectPath(path), valid);
                assert.equal(reference.test(path), valid);
            });
        }

        it('agrees with the definition on random strings of the characters that matter', () => {
            const chars = ['/', 'a', 'Z', '0', '_', '-', '.', ' ', '\n'];
            let seed = 7;
            const next = (): number => (seed = (seed * 1103515245 + 12345) % 2147483648);
            for (let k = 0; k < 5000; k++) {
                const s = Array.from({ length: next() % 8 }, () => chars[next() % chars.length]!).join('');
                assert.equal(isObjectPath(s), reference.test(s), JSON.stringify(s));
            }
        });
    });
});
