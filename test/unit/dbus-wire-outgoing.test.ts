import { strict as assert } from 'node:assert';

import { describeBytes, Outgoing } from '../../ts/dbus/wire/outgoing';

// A script for the way out: send a message (a label, its size, the call's serial or 0), make the socket's next write
// report a full buffer, let the socket drain, let a call time out (its serial is no longer wanted).
type Step = ['send', string, number, number?] | ['full'] | ['drain'] | ['timeout', number] | ['wait', number];

interface Case {
    name: string;
    limit: number;
    steps: Step[];
    /** What reached the socket, in order. */
    written: string[];
    refused: string[];
    reports: RegExp[];
    waitingBytes?: number;
}

const cases: Case[] = [
    {
        name: 'writes at once while the socket has room',
        limit: 100, steps: [['send', 'a', 10], ['send', 'b', 500]],
        written: ['a', 'b'], refused: [], reports: [],
    },
    {
        name: 'holds messages after a full buffer and hands them over in order on drain',
        limit: 100, steps: [['full'], ['send', 'a', 10], ['send', 'b', 10], ['send', 'c', 10, 3], ['drain'], ['send', 'd', 10]],
        written: ['a', 'b', 'c', 'd'], refused: [], reports: [],
    },
    {
        name: 'refuses beyond the limit, keeps the order of the rest, and reports the episode once at each end',
        limit: 100,
        steps: [['full'], ['send', 'a', 10], ['send', 'b', 60, 1], ['send', 'c', 50, 2], ['send', 'd', 30, 3], ['send', 'e', 20, 4],
            ['wait', 2500], ['drain']],
        written: ['a', 'b', 'd'], refused: ['c', 'e'],
        reports: [/^the bus does not take our messages as fast as we send them: 100 bytes wait to be sent; calls fail at once until it catches up \(episode 1\)$/,
            /^the bus takes our messages again after 2\.5 s; 2 messages were refused meanwhile \(episode 1\)$/],
    },
    {
        name: 'reports a second episode again',
        limit: 10,
        steps: [['full'], ['send', 'a', 1], ['send', 'b', 20, 1], ['drain'], ['full'], ['send', 'c', 1], ['send', 'd', 20, 2], ['drain']],
        written: ['a', 'c'], refused: ['b', 'd'],
        reports: [/up \(episode 1\)$/, /1 message was refused meanwhile \(episode 1\)$/, /up \(episode 2\)$/, /1 message was refused meanwhile \(episode 2\)$/],
    },
    {
        name: 'ends an episode only when all that waited is on its way',
        limit: 20,
        steps: [['full'], ['send', 'a', 1], ['send', 'b', 10, 1], ['send', 'c', 10, 2], ['send', 'd', 10, 3], ['full'], ['drain']],
        written: ['a', 'b'], refused: ['d'], reports: [/up \(episode 1\)$/], waitingBytes: 10,
    },
    {
        name: 'goes on at the next drain after the buffer filled again during a flush',
        limit: 100, steps: [['full'], ['send', 'a', 1], ['send', 'b', 1], ['send', 'c', 1], ['full'], ['drain'], ['drain']],
        written: ['a', 'b', 'c'], refused: [], reports: [],
    },
    {
        name: 'does not send a call that timed out while it waited',
        limit: 100, steps: [['full'], ['send', 'a', 1], ['send', 'b', 1, 7], ['send', 'c', 1, 8], ['timeout', 7], ['drain']],
        written: ['a', 'c'], refused: [], reports: [],
    },
    {
        name: 'makes room by dropping calls that timed out before it refuses one',
        limit: 100, steps: [['full'], ['send', 'a', 1], ['send', 'b', 80, 7], ['timeout', 7], ['send', 'c', 50, 8], ['drain']],
        written: ['a', 'c'], refused: [], reports: [],
    },
    {
        name: 'sends answers to peers (no serial) whatever times out',
        limit: 100, steps: [['full'], ['send', 'a', 1], ['send', 'b', 1, 0], ['timeout', 0], ['drain']],
        written: ['a', 'b'], refused: [], reports: [],
    },
    {
        name: 'refuses a message larger than the limit while the socket is full, and writes it when it has room',
        limit: 100, steps: [['send', 'a', 200], ['full'], ['send', 'b', 1], ['send', 'c', 200, 1], ['drain'], ['send', 'd', 200]],
        written: ['a', 'b', 'd'], refused: ['c'], reports: [/up \(episode 1\)$/, /1 message was refused/],
    },
];

describe('the way out to the bus (bounded, in order)', () => {
    for (const c of cases) {
        it(c.name, () => {
            const written: string[] = [];
            const refused: string[] = [];
            const reports: string[] = [];
            const pending = new Set<number>();
            let fullNext = false;
            let now = 1000;
            const labels = new Map<Uint8Array, string>();
            const out = new Outgoing({
                write: (bytes) => {
                    written.push(labels.get(bytes)!);
                    const room = !fullNext;
                    fullNext = false;
                    return room;
                },
            }, { limitBytes: c.limit, wanted: (serial) => pending.has(serial), report: (p) => reports.push(p), now: () => now });
            for (const step of c.steps) {
                switch (step[0]) {
                    case 'send': {
                        const [, label, size, serial = 0] = step;
                        const bytes = new Uint8Array(size);
                        labels.set(bytes, label);
                        if (serial !== 0)
                            pending.add(serial);
                        if (!out.send(bytes, serial))
                            refused.push(label);
                        break;
                    }
                    case 'full': fullNext = true; break;
                    case 'drain': out.drained(); break;
                    case 'timeout': pending.delete(step[1]); break;
                    case 'wait': now += step[1]; break;
                }
            }
            assert.deepEqual(written, c.written, 'written');
            assert.deepEqual(refused, c.refused, 'refused');
            assert.equal(out.refused, c.refused.length);
            assert.equal(reports.length, c.reports.length, reports.join('\n'));
            c.reports.forEach((re, i) => assert.match(reports[i]!, re));
            assert.equal(out.waitingBytes, c.waitingBytes ?? 0);
        });
    }

    it('numbers the episodes across the connections of one client', () => {
        const episodes = { count: 0 };
        const reports: string[] = [];
        for (let connection = 0; connection < 2; connection++) {
            const out = new Outgoing({ write: () => false }, { limitBytes: 1, wanted: () => true, report: (p) => reports.push(p), episodes });
            out.send(new Uint8Array(1));
            out.send(new Uint8Array(2), 1);
            out.drained();
        }
        assert.deepEqual(reports.map((r) => /\(episode (\d)\)$/.exec(r)?.[1]), ['1', '1', '2', '2']);
    });

    it('forgets what waits when the connection ends', () => {
        const written: number[] = [];
        const out = new Outgoing({ write: (b) => written.push(b.length) < 0 }, { limitBytes: 100, wanted: () => true, report: () => undefined });
        out.send(new Uint8Array(1));
        out.send(new Uint8Array(2));
        out.clear();
        assert.equal(out.waitingBytes, 0);
        assert.deepEqual(written, [1]);
    });

    const sizes: Array<[number, string]> = [[4 * 1024 * 1024, '4 MiB'], [1024 * 1024, '1 MiB'], [1000, '1000 bytes']];
    for (const [bytes, text] of sizes)
        it(`describes ${bytes} bytes as '${text}'`, () => assert.equal(describeBytes(bytes), text));
});
