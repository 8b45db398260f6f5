import { strict as assert } from 'node:assert';

import { CheckQueue } from '../../ts/security/check-queue';

/** A check that ends when the test says so. */
class Checks {
    readonly started: string[] = [];
    private readonly ends: Array<() => void> = [];
    check(name: string): () => Promise<string> {
        return () => new Promise<string>((resolve) => {
            this.started.push(name);
            this.ends.push(() => resolve(name));
        });
    }
    async endOldest(): Promise<void> {
        this.ends.shift()!();
        for (let i = 0; i < 5; i++)
            await Promise.resolve();
    }
}

const settle = async (): Promise<void> => {
    for (let i = 0; i < 5; i++)
        await Promise.resolve();
};

describe('the password check queue', () => {
    it('runs as many checks at once as it may, and the rest in turn by source', async () => {
        const q = new CheckQueue({ concurrency: 2, perSource: 100, total: 1000 });
        const c = new Checks();
        const results: Array<Promise<string>> = [];
        for (let i = 0; i < 50; i++)
            results.push(q.run('10.0.0.66', c.check(`guess${i}`)));
        const right = q.run('10.0.0.7', c.check('right'));
        await settle();
        assert.deepEqual(c.started, ['guess0', 'guess1']);
        await c.endOldest();
        assert.deepEqual(c.started, ['guess0', 'guess1', 'guess2'], 'the guessing address was first in the turn');
        await c.endOldest();
        assert.equal(c.started.at(-1), 'right', 'the other address next, not after 48 guesses');
        await c.endOldest();
        await c.endOldest();
        assert.equal(await right, 'right');
        assert.deepEqual(q.sizes(), { checking: 2, waiting: 45, sources: 1 });
    });

    it('never runs more than its slots, also when a check comes in just as one ends', async () => {
        const q = new CheckQueue({ concurrency: 1, perSource: 10, total: 10 });
        const c = new Checks();
        void q.run('a', c.check('a1'));
        void q.run('b', c.check('b1'));
        await settle();
        await c.endOldest();
        void q.run('c', c.check('c1'));
        await settle();
        assert.deepEqual(c.started, ['a1', 'b1'], 'c waits: b holds the one slot');
        assert.equal(q.sizes().checking, 1);
    });

    it('refuses beyond the bounds of a source and of all sources', async () => {
        const q = new CheckQueue({ concurrency: 1, perSource: 3, total: 5 });
        const c = new Checks();
        void q.run('x', c.check('x0'));
        const waiting = [1, 2, 3].map((i) => q.run('x', c.check(`x${i}`)));
        assert.equal(await q.run('x', c.check('x4')), 'busy', 'a source waits behind 3 of its own at most');
        void q.run('y', c.check('y1'));
        void q.run('z', c.check('z1'));
        assert.equal(await q.run('w', c.check('w1')), 'busy', '5 waiting in all at most');
        assert.equal(waiting.length, 3);
    });

    it('lets a failing check free its slot', async () => {
        const q = new CheckQueue({ concurrency: 1, perSource: 10, total: 10 });
        await assert.rejects(q.run('a', () => Promise.reject(new Error('crypt failed'))), /crypt failed/);
        assert.equal(await q.run('a', () => Promise.resolve('ok')), 'ok');
        assert.equal(q.sizes().checking, 0);
    });
});
