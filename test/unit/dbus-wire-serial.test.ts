import { strict as assert } from 'node:assert';

import { MAX_SERIAL, serialAfter, Serials } from '../../ts/dbus/wire/serial';

describe('D-Bus message serials', () => {
    const after: Array<[number, number]> = [[1, 2], [41, 42], [MAX_SERIAL - 1, MAX_SERIAL], [MAX_SERIAL, 1]];
    for (const [serial, next] of after)
        it(`follows ${serial} with ${next}`, () => assert.equal(serialAfter(serial), next));

    // first serial, serials still pending, how many taken -> the serials handed out
    const table: Array<[string, number, number[], number, number[]]> = [
        ['counts up from 1', 1, [], 3, [1, 2, 3]],
        ['wraps after 2^32 - 1 to 1, never 0', MAX_SERIAL - 1, [], 4, [MAX_SERIAL - 1, MAX_SERIAL, 1, 2]],
        ['skips a serial still pending', 5, [6], 3, [5, 7, 8]],
        ['skips pending serials across the wrap', MAX_SERIAL, [MAX_SERIAL, 1, 2], 2, [3, 4]],
        ['skips a run of pending serials at the top', MAX_SERIAL - 2, [MAX_SERIAL - 1, MAX_SERIAL], 2, [MAX_SERIAL - 2, 1]],
    ];
    for (const [name, first, pending, count, want] of table) {
        it(name, () => {
            const serials = new Serials(first);
            const inUse = new Set(pending);
            const got: number[] = [];
            for (let i = 0; i < count; i++) {
                const s = serials.take((x) => inUse.has(x));
                got.push(s);
                inUse.add(s); // a call waits for its reply: the next take must not hand it out again
            }
            assert.deepEqual(got, want);
        });
    }

    for (const bad of [0, -1, MAX_SERIAL + 1, 1.5])
        it(`refuses ${bad} as the first serial`, () => assert.throws(() => new Serials(bad), RangeError));
});
