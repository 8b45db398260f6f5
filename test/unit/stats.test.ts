import { strict as assert } from 'node:assert';

import { mappedBytes, resourceCounts, StatsReporter } from '../../ts/util/stats';
import { FakeTimers } from '../fakes/fake-timers';

describe('the stats line', () => {
    it('adds up the mappings of /proc/self/maps', () => {
        const maps = [
            '00400000-00452000 r-xp 00000000 08:02 173521      /usr/bin/flashmq',
            '7f0000000000-7f0000100000 rw-p 00000000 00:00 0',
            '7ffc00000000-7ffc00021000 rw-p 00000000 00:00 0                          [stack]',
            '',
        ].join('\n');
        assert.equal(mappedBytes(maps), 0x52000 + 0x100000 + 0x21000);
        assert.equal(mappedBytes('garbage\n'), 0);
    });

    it('counts timers apart from other handles', () => {
        assert.deepEqual(resourceCounts(['TCPSocketWrap', 'Timeout', 'Timeout', 'Immediate', 'PipeWrap']), { timers: 3, handles: 2 });
    });

    it('logs the process figures and the plugin\'s every interval, as JSON; 0 turns it off', () => {
        const timers = new FakeTimers();
        const lines: string[] = [];
        const stats = new StatsReporter(() => ({ dbus: { services: 3 } }), (l) => lines.push(l), timers, () => ({ heapUsedMb: 4.5 }));
        stats.start(10_000);
        timers.advance(25_000);
        assert.deepEqual(lines, ['stats process {"heapUsedMb":4.5}', 'stats dbus {"services":3}', 'stats process {"heapUsedMb":4.5}', 'stats dbus {"services":3}']);
        stats.start(0);
        timers.advance(60_000);
        assert.equal(lines.length, 4);
        assert.equal(timers.pendingCount, 0);
    });
});
