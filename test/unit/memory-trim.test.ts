import { strict as assert } from 'node:assert';

import { MemoryTrim } from '../../ts/util/memory-trim';
import { FakeTimers } from '../fakes/fake-timers';

describe('the memory trim after start-up', () => {
    function setup(): { timers: FakeTimers; trim: MemoryTrim; lines: string[]; host: { rss: number; reduced: number } } {
        const timers = new FakeTimers();
        const host = { rss: 100 << 20, reduced: 0 };
        const lines: string[] = [];
        const trim = new MemoryTrim({
            rssBytes: () => host.rss,
            reduce: () => { host.reduced++; host.rss -= 10 << 20; },
            log: (line) => lines.push(line),
        }, timers, 3000);
        return { timers, trim, lines, host };
    }

    it('trims once, a little after start-up, and never again', () => {
        const { timers, trim, lines, host } = setup();
        trim.start();
        timers.advance(2999);
        assert.equal(host.reduced, 0);
        timers.advance(1);
        assert.equal(host.reduced, 1);
        assert.match(lines[0]!, /^memory after start-up: RSS 100\.0 -> 90\.0 MB \(\d+ ms\)$/);
        trim.start();
        timers.advance(3_600_000);
        assert.equal(host.reduced, 1);
        assert.equal(timers.pendingCount, 0);
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
