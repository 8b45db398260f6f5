import { strict as assert } from 'node:assert';

import { MemoryTrim } from '../../ts/util/memory-trim';
import { FakeTimers } from '../fakes/fake-timers';

describe('the memory trim', () => {
    function setup(): { timers: FakeTimers; trim: MemoryTrim; lines: string[]; host: { young: number; rss: number; reduced: number } } {
        const timers = new FakeTimers();
        const host = { young: 32 << 20, rss: 100 << 20, reduced: 0 };
        const lines: string[] = [];
        const trim = new MemoryTrim({
            youngGenerationBytes: () => host.young,
            rssBytes: () => host.rss,
            reduce: () => { host.reduced++; host.rss -= 10 << 20; host.young = 1 << 20; },
            log: (line) => lines.push(line),
        }, timers, { firstMs: 3000, intervalMs: 60_000, youngBytes: 8 << 20 });
        return { timers, trim, lines, host };
    }

    it('trims once a little after start-up, then only when a busy time left the young generation big', () => {
        const { timers, trim, lines, host } = setup();
        trim.start();
        timers.advance(2999);
        assert.equal(host.reduced, 0);
        timers.advance(1);
        assert.equal(host.reduced, 1);
        assert.match(lines[0]!, /^memory after start-up: RSS 100\.0 -> 90\.0 MB, young generation 32\.0 MB \(\d+ ms\)$/);
        timers.advance(60_000);
        assert.equal(host.reduced, 1, 'small young generation: nothing to do');
        host.young = 16 << 20;
        timers.advance(60_000);
        assert.equal(host.reduced, 2);
        assert.match(lines[1]!, /^memory after a busy time: RSS 90\.0 -> 80\.0 MB, young generation 16\.0 MB/);
        assert.equal(trim.stats.checks, 3);
    });

    it('stops', () => {
        const { timers, trim, host } = setup();
        trim.start();
        trim.stop();
        timers.advance(10 * 60_000);
        assert.equal(host.reduced, 0);
        assert.equal(timers.pendingCount, 0);
    });
});
