import { strict as assert } from 'node:assert';

import { PendingCalls } from '../../ts/dbus/pending-calls';
import { FakeTimers } from '../fakes/fake-timers';

interface Call {
    deadline: number;
    name: string;
}

function fixture(): { timers: FakeTimers; calls: PendingCalls<Call>; expired: string[]; add(serial: number, name: string, timeoutMs: number): void } {
    const timers = new FakeTimers();
    const expired: string[] = [];
    const calls = new PendingCalls<Call>(timers, (serial, c) => expired.push(`${serial}:${c.name}@${timers.now()}`));
    return { timers, calls, expired, add: (serial, name, timeoutMs) => calls.add(serial, { deadline: timers.now() + timeoutMs, name }) };
}

describe('the calls in flight (one timer for all)', () => {
    // steps: [at ms, 'add serial name timeout' | 'take serial'], then what expired (serial:name@time) and the timers left
    const table: Array<[string, Array<[number, string]>, string[], number]> = [
        ['expires a call at its deadline', [[0, 'add 1 a 100']], ['1:a@100'], 0],
        ['expires nothing that was answered', [[0, 'add 1 a 100'], [50, 'take 1']], [], 0],
        ['expires calls in the order they were made, each at its own deadline',
            [[0, 'add 1 a 100'], [10, 'add 2 b 100'], [20, 'add 3 c 100']], ['1:a@100', '2:b@110', '3:c@120'], 0],
        ['expires a shorter call made later first', [[0, 'add 1 a 1000'], [10, 'add 2 b 5']], ['2:b@15', '1:a@1000'], 0],
        ['keeps one timer while calls come and go in time',
            [[0, 'add 1 a 100'], [1, 'take 1'], [2, 'add 2 b 100'], [3, 'take 2'], [4, 'add 3 c 100']], ['3:c@104'], 0],
    ];
    for (const [name, steps, expected, timersLeft] of table) {
        it(name, () => {
            const f = fixture();
            let maxTimers = 0;
            for (const [at, step] of steps) {
                f.timers.advance(at - f.timers.now());
                const [op, serial, callName, timeout] = step.split(' ');
                if (op === 'add')
                    f.add(Number(serial), callName!, Number(timeout));
                else
                    f.calls.take(Number(serial));
                maxTimers = Math.max(maxTimers, f.timers.pendingCount);
            }
            f.timers.advance(10_000);
            assert.deepEqual(f.expired, expected);
            assert.equal(f.timers.pendingCount, timersLeft);
            assert.equal(maxTimers, 1, 'one timer at most');
            assert.equal(f.calls.size, 0);
        });
    }

    it('takes a call once, and knows what is in flight', () => {
        const f = fixture();
        f.add(7, 'a', 100);
        assert.ok(f.calls.has(7));
        assert.equal(f.calls.get(7)?.name, 'a');
        assert.equal(f.calls.take(7)?.name, 'a');
        assert.equal(f.calls.take(7), undefined);
        assert.equal(f.calls.has(7), false);
    });

    it('has no call under serial 0, and refuses one', () => {
        const f = fixture();
        assert.equal(f.calls.size, 0);
        assert.equal(f.calls.has(0), false);
        assert.equal(f.calls.get(0), undefined);
        assert.equal(f.calls.take(0), undefined);
        assert.throws(() => f.add(0, 'zero', 100), RangeError);
        f.add(1, 'a', 100);
        f.calls.take(1);
        assert.equal(f.calls.size, 0);
        assert.deepEqual(f.calls.clear(), []);
        assert.equal(f.calls.size, 0);
    });

    it('clears every call in the order made and stops its timer', () => {
        const f = fixture();
        f.add(2, 'b', 100);
        f.add(1, 'a', 50);
        assert.deepEqual(f.calls.clear().map((c) => c.name), ['b', 'a']);
        assert.equal(f.timers.pendingCount, 0);
        f.timers.advance(1000);
        assert.deepEqual(f.expired, []);
    });

    it('lets an expiring call make another one', () => {
        const timers = new FakeTimers();
        const expired: string[] = [];
        const calls: PendingCalls<Call> = new PendingCalls<Call>(timers, (serial, c) => {
            expired.push(`${c.name}@${timers.now()}`);
            if (serial === 1)
                calls.add(2, { deadline: timers.now() + 10, name: 'retry' });
        });
        calls.add(1, { deadline: 100, name: 'first' });
        timers.advance(1000);
        assert.deepEqual(expired, ['first@100', 'retry@110']);
    });
});
