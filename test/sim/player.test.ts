import { strict as assert } from 'node:assert';

import { FakeTimers } from '../fakes/fake-timers';
import { Player } from '../../ts/sim/player';
import type { PlayerSink } from '../../ts/sim/player';
import { parseRecording } from '../../ts/sim/recording';

const A = parseRecording([
    'com.victronenergy.battery.a',
    '/V\tDOUBLE\t1.0\t1',
    '/I\tINT32\t0\t0',
    '',
    '0\t/V\tDOUBLE\t2.0\t2',
    '1\t/V\tDOUBLE\t3.0\t3',
    '1\t/I\tINT32\t5\t5',
    '3\t/V\tDOUBLE\t4.0\t4',
].join('\n'));

const B = parseRecording([
    'com.victronenergy.tank.b',
    '/Level\tDOUBLE\t50.0\t50',
    '',
    '2\t/Level\tDOUBLE\t49.0\t49',
].join('\n'));

class RecordingSink implements PlayerSink {
    readonly events: string[] = [];

    apply(service: string, changes: ReadonlyArray<{ path: string; value: { value: unknown } }>): void {
        this.events.push(`${service.split('.').pop() ?? ''}:${changes.map((c) => `${c.path}=${String(c.value.value)}`).join(',')}`);
    }

    restart(service: string): void {
        this.events.push(`${service.split('.').pop() ?? ''}:restart`);
    }
}

function setup(speed: number, loop = true): { timers: FakeTimers; sink: RecordingSink; player: Player } {
    const timers = new FakeTimers();
    const sink = new RecordingSink();
    const player = new Player([{ service: A.service, changes: A.changes }, { service: B.service, changes: B.changes }], sink, { speed, loop, timers });
    return { timers, sink, player };
}

describe('sim player', () => {
    it('plays tick n-1 at the n-th second at speed 1, one batch per service and tick', () => {
        const { timers, sink, player } = setup(1);
        assert.equal(player.cycleLength, 4);
        player.start();
        timers.advance(999);
        assert.deepEqual(sink.events, []);
        timers.advance(1);
        assert.deepEqual(sink.events, ['a:/V=2']);
        timers.advance(1000);
        assert.deepEqual(sink.events, ['a:/V=2', 'a:/V=3,/I=5']);
        timers.advance(2000);
        assert.deepEqual(sink.events, ['a:/V=2', 'a:/V=3,/I=5', 'b:/Level=49', 'a:/V=4']);
        player.stop();
    });

    it('loops: restores every service, then plays tick 0 again', () => {
        const { timers, sink, player } = setup(1);
        player.start();
        timers.advance(4000);
        sink.events.length = 0;
        timers.advance(1000);
        assert.deepEqual(sink.events, ['a:restart', 'b:restart', 'a:/V=2']);
        assert.equal(player.cycles, 1);
        assert.deepEqual(player.position, { cycle: 1, tick: 1 });
        timers.advance(3000);
        assert.deepEqual(sink.events.slice(3), ['a:/V=3,/I=5', 'b:/Level=49', 'a:/V=4']);
        player.stop();
    });

    it('stops at the end without looping', () => {
        const { timers, sink, player } = setup(1, false);
        player.start();
        timers.advance(60000);
        assert.equal(sink.events.length, 4);
        assert.ok(!sink.events.some((e) => e.endsWith('restart')));
        assert.equal(player.isRunning, false);
        assert.equal(timers.pendingCount, 0);
    });

    it('speed 10 plays ten ticks per second', () => {
        const { timers, sink, player } = setup(10);
        player.start();
        timers.advance(400);
        assert.equal(sink.events.length, 4);
        timers.advance(100);
        assert.deepEqual(sink.events.slice(4), ['a:restart', 'b:restart', 'a:/V=2']);
        player.stop();
    });

    it('speed 0.5 plays a tick every two seconds', () => {
        const { timers, sink, player } = setup(0.5);
        player.start();
        timers.advance(3999);
        assert.equal(sink.events.length, 1);
        timers.advance(1);
        assert.equal(sink.events.length, 2);
        player.stop();
    });

    it('speed 0 plays nothing and sets no timer', () => {
        const { timers, sink, player } = setup(0);
        player.start();
        assert.equal(timers.pendingCount, 0);
        timers.advance(100000);
        assert.deepEqual(sink.events, []);
        assert.equal(player.isRunning, false);
    });

    it('stop() clears the timer', () => {
        const { timers, sink, player } = setup(1);
        player.start();
        player.stop();
        assert.equal(timers.pendingCount, 0);
        timers.advance(10000);
        assert.deepEqual(sink.events, []);
    });

    it('refuses a negative speed, and has nothing to do without changes', () => {
        assert.throws(() => new Player([], new RecordingSink(), { speed: -1, loop: true, timers: new FakeTimers() }), RangeError);
        const timers = new FakeTimers();
        const empty = new Player([{ service: 'x', changes: [] }], new RecordingSink(), { speed: 1, loop: true, timers });
        empty.start();
        assert.equal(empty.cycleLength, 0);
        assert.equal(timers.pendingCount, 0);
    });
});
