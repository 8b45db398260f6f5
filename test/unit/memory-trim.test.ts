import { strict as assert } from 'node:assert';

import { MemoryTrim } from '../../ts/util/memory-trim';
import { FakeTimers } from '../fakes/fake-timers';

describe('the memory trim after a discovery', () => {
    interface Host { rss: number; heap: number; reduced: number; items: number }
    function setup(items = 100): { timers: FakeTimers; trim: MemoryTrim; lines: string[]; host: Host } {
        const timers = new FakeTimers();
        const host: Host = { rss: 100 << 20, heap: 20 << 20, reduced: 0, items };
        const lines: string[] = [];
        const trim = new MemoryTrim({
            rssBytes: () => host.rss,
            heapBytes: () => ({ used: host.heap / 2, total: host.heap }),
            items: () => host.items,
            reduce: () => { host.reduced++; host.rss -= 10 << 20; host.heap -= 4 << 20; },
            log: (line) => lines.push(line),
        }, timers, { checkMs: 3000, maxWaitMs: 120_000, minIntervalMs: 60_000 });
        return { timers, trim, lines, host };
    }

    it('trims a little after start-up, and not again by itself', () => {
        const { timers, trim, lines, host } = setup();
        trim.after('start-up');
        timers.advance(2999);
        assert.equal(host.reduced, 0);
        timers.advance(1);
        assert.equal(host.reduced, 1);
        assert.match(lines[0]!, /^memory after start-up: V8 heap used 10\.0 -> 8\.0 MB, total 20\.0 -> 16\.0 MB; RSS 100\.0 -> 90\.0 MB; 100 items \(\d+ ms\)$/);
        timers.advance(3_600_000);
        assert.equal(host.reduced, 1);
        assert.equal(timers.pendingCount, 0);
    });

    it('trims at start-up also without any item', () => {
        const { timers, trim, host } = setup(0);
        trim.after('start-up');
        timers.advance(3000);
        assert.equal(host.reduced, 1);
    });

    it('after a rediscovery, waits until the items stop rising, and a minute after the last trim at the soonest', () => {
        const { timers, trim, lines, host } = setup();
        trim.after('start-up');
        timers.advance(3000);
        host.items = 0; // the bus went away: every service gone; back, but the services are not yet
        timers.advance(10_000);
        trim.after('rediscovery');
        const t0 = timers.now();
        for (let i = 1; i <= 36; i++) { // services come back for a minute and a half
            host.items = i * 5;
            timers.advance(2500);
            assert.equal(host.reduced, 1, `still rising at ${timers.now() - t0} ms`);
        }
        timers.advance(3000);
        assert.equal(host.reduced, 2);
        assert.match(lines[1]!, /^memory after rediscovery: V8 heap used 8\.0 -> 6\.0 MB, total 16\.0 -> 12\.0 MB; RSS 90\.0 -> 80\.0 MB; 180 items/);
        assert.equal(timers.pendingCount, 0);
    });

    it('keeps trims a minute apart', () => {
        const { timers, trim, host } = setup();
        trim.after('start-up');
        timers.advance(3000);
        trim.after('rediscovery');
        timers.advance(59_999); // 59,999 ms after the first trim
        assert.equal(host.reduced, 1);
        timers.advance(1);
        assert.equal(host.reduced, 2);
    });

    it('gives up waiting after two minutes', () => {
        const { timers, trim, host } = setup();
        trim.after('start-up');
        timers.advance(3000);
        host.items = 0;
        trim.after('rediscovery');
        timers.advance(119_999);
        assert.equal(host.reduced, 1);
        timers.advance(3000);
        assert.equal(host.reduced, 2);
        assert.equal(timers.pendingCount, 0);
    });

    it('folds discoveries that come while a trim is waiting into it', () => {
        const { timers, trim, host } = setup();
        trim.after('start-up');
        timers.advance(1000);
        trim.after('rediscovery');
        trim.after('rediscovery');
        timers.advance(2000);
        assert.equal(host.reduced, 1);
        timers.advance(600_000);
        assert.equal(host.reduced, 1);
        assert.equal(timers.pendingCount, 0);
    });

    it('stops, and schedules nothing after', () => {
        const { timers, trim, host } = setup();
        trim.after('start-up');
        trim.stop();
        trim.after('rediscovery');
        timers.advance(10 * 60_000);
        assert.equal(host.reduced, 0);
        assert.equal(timers.pendingCount, 0);
    });
});
