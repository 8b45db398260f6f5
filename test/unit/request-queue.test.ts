// The bounded request queue and the per-client log limits.
import { strict as assert } from 'node:assert';

import { Logger } from '../../ts/log';
import { RequestQueue } from '../../ts/mqtt/request-queue';
import { ClientLog } from '../../ts/util/client-log';
import { FakeTimers } from '../fakes/fake-timers';

interface Gate {
    promise: Promise<void>;
    open(): void;
    fail(): void;
}

function gate(): Gate {
    let open = (): void => undefined;
    let fail = (): void => undefined;
    const promise = new Promise<void>((resolve, reject) => { open = resolve; fail = () => reject(new Error('x')); });
    return { promise, open, fail };
}

const flush = async (): Promise<void> => {
    for (let i = 0; i < 5; i++)
        await Promise.resolve();
};

describe('the request queue', () => {
    it('runs up to its concurrency at once and starts the next when one settles, failed or not', async () => {
        const q = new RequestQueue({ concurrency: 2, perClient: 10, total: 100 });
        const gates = [gate(), gate(), gate(), gate()];
        const started: number[] = [];
        gates.forEach((g, i) => assert.ok(q.submit('a', () => { started.push(i); return g.promise; })));
        assert.deepEqual(started, [0, 1]);
        assert.equal(q.queued, 2);
        gates[0]!.fail();
        await flush();
        assert.deepEqual(started, [0, 1, 2]);
        gates[1]!.open();
        await flush();
        assert.deepEqual(started, [0, 1, 2, 3]);
        assert.equal(q.queued, 0);
    });

    it('serves waiting clients in turn, so a flooding client waits behind itself', async () => {
        const q = new RequestQueue({ concurrency: 1, perClient: 100, total: 1000 });
        const order: string[] = [];
        const blocker = gate();
        q.submit('x', () => blocker.promise);
        for (let i = 0; i < 5; i++)
            q.submit('flood', () => { order.push(`flood${i}`); return Promise.resolve(); });
        q.submit('polite', () => { order.push('polite'); return Promise.resolve(); });
        blocker.open();
        for (let i = 0; i < 20; i++)
            await flush();
        assert.deepEqual(order, ['flood0', 'polite', 'flood1', 'flood2', 'flood3', 'flood4']);
    });

    it('refuses beyond the per-client and the total limits, and counts it', () => {
        const q = new RequestQueue({ concurrency: 1, perClient: 2, total: 3 });
        const never = (): Promise<void> => new Promise(() => undefined);
        assert.ok(q.submit('a', never)); // runs
        assert.ok(q.submit('a', never));
        assert.ok(q.submit('a', never));
        assert.equal(q.submit('a', never), false, 'a has 2 waiting');
        assert.ok(q.submit('b', never));
        assert.equal(q.submit('c', never), false, '3 waiting in all');
        assert.equal(q.stats.refused, 2);
    });

    it('survives a task that throws instead of returning a promise', async () => {
        const q = new RequestQueue({ concurrency: 1, perClient: 5, total: 5 });
        let ran = false;
        q.submit('a', () => { throw new Error('sync'); });
        q.submit('a', () => { ran = true; return Promise.resolve(); });
        await flush();
        assert.ok(ran);
        assert.equal(q.active, 0);
    });

    it('runs tasks that call done instead of returning a promise, each done once however often it is called', () => {
        const q = new RequestQueue({ concurrency: 1, perClient: 5, total: 5 });
        const dones: Array<() => void> = [];
        const started: string[] = [];
        for (const name of ['a', 'b', 'c'])
            q.submit('x', (done) => { started.push(name); dones.push(done); });
        assert.deepEqual(started, ['a']);
        dones[0]!();
        dones[0]!(); // a second call frees no second slot
        assert.deepEqual(started, ['a', 'b']);
        assert.equal(q.active, 1);
        dones[1]!();
        dones[2]!();
        assert.equal(q.active, 0);
        assert.equal(q.queued, 0);
    });

    it('holds back a client whose reads spent its budget of items until it refills, serving the others meanwhile', async () => {
        const timers = new FakeTimers();
        const q = new RequestQueue({ concurrency: 4, perClient: 10, total: 100, itemsPerSecond: 1000, itemsBurst: 2000 }, timers);
        const order: string[] = [];
        const read = (client: string, items: number) => (): Promise<void> => {
            order.push(client);
            q.charge(client, items);
            return Promise.resolve();
        };
        // A big read within the burst: the next one goes at once.
        assert.ok(q.submit('greedy', read('greedy', 1500)));
        await flush();
        assert.ok(q.submit('greedy', read('greedy', 1500)));
        await flush();
        assert.deepEqual(order, ['greedy', 'greedy']);
        // Now 1000 items in debt: its next read waits (1001 items at 1000/s: 1001 ms); another client's does not.
        assert.ok(q.submit('greedy', read('greedy', 10)));
        assert.ok(q.submit('polite', read('polite', 10)));
        await flush();
        assert.deepEqual(order, ['greedy', 'greedy', 'polite']);
        assert.equal(q.queued, 1);
        timers.advance(1000);
        await flush();
        assert.equal(q.queued, 1, 'still in debt after 1000 ms');
        timers.advance(1);
        await flush();
        assert.deepEqual(order, ['greedy', 'greedy', 'polite', 'greedy']);
        assert.equal(q.queued, 0);
        assert.ok(q.stats.heldBack > 0);
    });

    it('takes a reload\'s budgets: every budget starts again, full, at the new rates', async () => {
        const timers = new FakeTimers();
        const q = new RequestQueue({ concurrency: 4, perClient: 10, total: 100, itemsPerSecond: 1000, itemsBurst: 1000 }, timers);
        const order: string[] = [];
        const read = (client: string, items: number) => (): Promise<void> => {
            order.push(client);
            q.charge(client, items);
            return Promise.resolve();
        };
        q.submit('a', read('a', 3000)); // 2000 in debt: 2001 ms to wait at 1000/s
        await flush();
        q.submit('a', read('a', 10));
        await flush();
        assert.equal(q.queued, 1);
        q.setItemBudgets({ itemsPerSecond: 100, itemsBurst: 500 });
        await flush();
        assert.deepEqual(order, ['a', 'a'], 'a full budget at once');
        q.submit('a', read('a', 700)); // 500 - 10 - 700: 210 in debt, 2.11 s at the new rate
        await flush();
        q.submit('a', read('a', 1));
        await flush();
        timers.advance(2100);
        await flush();
        assert.equal(q.queued, 1, 'the new, slower rate');
        timers.advance(20);
        await flush();
        assert.equal(q.queued, 0);
    });

    it('holds back everyone while the common budget is spent, still serving clients in turn', async () => {
        const timers = new FakeTimers();
        const q = new RequestQueue({ concurrency: 4, perClient: 10, total: 100, itemsPerSecond: 1000, itemsBurst: 2000,
            totalItemsPerSecond: 1000, totalItemsBurst: 3000 }, timers);
        const order: string[] = [];
        const read = (client: string, items: number) => (): Promise<void> => {
            order.push(client);
            q.charge(client, items);
            return Promise.resolve();
        };
        q.submit('a', read('a', 1900));
        q.submit('b', read('b', 1900)); // each within its own budget, together 800 over the common one
        await flush();
        q.submit('c', read('c', 10));
        q.submit('a', read('a', 10));
        await flush();
        assert.deepEqual(order, ['a', 'b'], 'a fresh client waits too');
        timers.advance(801); // the common budget is positive again; a and b are still within their own
        await flush();
        assert.deepEqual(order, ['a', 'b', 'c']);
        timers.advance(5); // c's 10 items put the common budget 9 in debt again
        await flush();
        assert.deepEqual(order, ['a', 'b', 'c']);
        timers.advance(5);
        await flush();
        assert.deepEqual(order, ['a', 'b', 'c', 'a']);
    });

    it('wakes up for the client that may go first, not only for the one that was held back first', async () => {
        const timers = new FakeTimers();
        const q = new RequestQueue({ concurrency: 2, itemsPerSecond: 1000, itemsBurst: 1000 }, timers);
        const order: string[] = [];
        q.charge('deep', 5999); // 5 s to go
        q.submit('deep', () => { order.push('deep'); return Promise.resolve(); });
        q.charge('shallow', 1009); // 10 ms to go
        q.submit('shallow', () => { order.push('shallow'); return Promise.resolve(); });
        timers.advance(10);
        await flush();
        assert.deepEqual(order, ['shallow']);
        timers.advance(5000);
        await flush();
        assert.deepEqual(order, ['shallow', 'deep']);
    });

    it('forgets the budget of a client once it has refilled', () => {
        const timers = new FakeTimers();
        const q = new RequestQueue({ itemsPerSecond: 1000, itemsBurst: 2000 }, timers);
        q.charge('a', 2500);
        assert.equal(q.submit('a', () => Promise.resolve()), true);
        assert.equal(q.queued, 1, 'waits while in debt');
        timers.advance(3000);
        assert.equal(q.queued, 0);
        assert.equal(q.submit('a', () => Promise.resolve()), true);
        assert.equal(q.queued, 0);
    });

    it('drops what waits on clear()', () => {
        const q = new RequestQueue({ concurrency: 1, perClient: 5, total: 5 });
        q.submit('a', () => new Promise(() => undefined));
        q.submit('a', () => Promise.resolve());
        q.clear();
        assert.equal(q.queued, 0);
    });
});

describe('the per-client log limits', () => {
    it('logs a client\'s first lines, then counts, and reports the count in the next window; other clients are apart', () => {
        const lines: string[] = [];
        let now = 0;
        const log = new ClientLog(new Logger({ write: (_l, line) => lines.push(line) }, 't'), () => now, { perWindow: 3, windowMs: 1000, maxClients: 10 });
        for (let i = 0; i < 10; i++)
            log.line('error', 'flood', `bad ${i}`);
        log.line('error', 'polite', 'polite bad');
        assert.deepEqual(lines.map((l) => l.replace(/^t: /, '')), ['bad 0', 'bad 1', 'bad 2', "client 'flood': 3 lines about its requests in 1 s; counting the rest", 'polite bad']);
        now = 1500;
        log.line('error', 'flood', 'bad again');
        assert.match(lines.at(-2)!, /client 'flood': 7 more lines about its requests were left out in 1 s/);
        assert.match(lines.at(-1)!, /bad again/);
    });
});
