import { strict as assert } from 'node:assert';

import { jsonToDbus } from '../../ts/dbus/to-dbus';
import { quickWriteValue } from '../../ts/mqtt/write-value';
import { parseJson } from '../../ts/util/json-parse';

/** The full way: what the write path did before the quick one, and still does where that one does not answer. */
function fullWay(payload: string): unknown {
    try {
        const doc = parseJson(Buffer.from(payload, 'latin1'));
        const member = doc.kind === 'object' ? doc.members.get('value') : undefined;
        return member === undefined ? 'no value' : jsonToDbus(member);
    } catch (err) {
        return `refused: ${(err as Error).message}`;
    }
}

describe('the quick way to a written value', () => {
    // payload -> whether the quick way answers (it must then equal the full way)
    const table: Array<[string, boolean]> = [
        ['{"value":1}', true], ['{"value":0}', true], ['{"value":-0}', true], ['{"value":-1}', true],
        ['{"value":2147483647}', true], ['{"value":-2147483648}', true], ['{"value":2147483648}', false], ['{"value":-2147483649}', false],
        ['{"value":123456789012345}', false], ['{"value":1234567890123456}', false],
        ['{"value":100.5}', true], ['{"value":-0.0}', true], ['{"value":0.1}', true], ['{"value":1.0}', true],
        ['{"value":123456789012345.123456789012345}', true], ['{"value":1234567890123456.5}', false], ['{"value":1.1234567890123456}', false],
        ['{"value":1e3}', false], ['{"value":1.5E-3}', false], ['{"value": 1}', false], ['{ "value":1}', false], ['{"value":1 }', false],
        ['{"value":01}', false], ['{"value":00.5}', false], ['{"value":.5}', false], ['{"value":5.}', false], ['{"value":-}', false],
        ['{"value":+1}', false], ['{"value":1.2.3}', false], ['{"value":1-2}', false], ['{"value":}', false], ['{"value":"1"}', false],
        ['{"value":null}', false], ['{"value":[1]}', false], ['{"value":true}', false], ['{"value":1,"x":2}', false], ['{"Value":1}', false],
        ['{"value":1}}', false], ['x{"value":1}', false], ['\ufeff{"value":1}', false], ['{"value":1', false], ['', false], ['}', false],
    ];
    for (const [payload, quick] of table) {
        it(`${quick ? 'reads' : 'leaves to the full way'} ${JSON.stringify(payload)}`, () => {
            const got = quickWriteValue(Buffer.from(payload, 'latin1'));
            if (!quick) {
                assert.equal(got, undefined);
                return;
            }
            assert.ok(got);
            const expected = fullWay(payload) as { signature: string; value: unknown };
            assert.equal(got.signature, expected.signature);
            assert.ok(Object.is(got.value, expected.value), `${String(got.value)} is ${String(expected.value)}`);
        });
    }

    it('reads random numbers of up to 30 digits as the full way does', () => {
        let seed = 11;
        const next = (n: number): number => (seed = (seed * 1103515245 + 12345) % 2147483648) % n;
        const digits = (count: number): string => Array.from({ length: count }, () => String(next(10))).join('');
        for (let k = 0; k < 20_000; k++) {
            const whole = String(Number(digits(1 + next(15)))); // no leading zeros
            const token = `${next(2) ? '-' : ''}${next(3) ? `${whole}.${digits(1 + next(15))}` : whole}`;
            const payload = `{"value":${token}}`;
            const got = quickWriteValue(Buffer.from(payload, 'latin1'));
            const expected = fullWay(payload) as { signature: string; value: unknown };
            if (got === undefined) { // only an integer beyond int32 is left to the full way here
                assert.ok(!token.includes('.') && Math.abs(Number(token)) > 2147483647, payload);
                continue;
            }
            assert.equal(got.signature, expected.signature, payload);
            assert.ok(Object.is(got.value, expected.value), `${payload}: ${String(got.value)} is not ${String(expected.value)}`);
        }
    });
});
