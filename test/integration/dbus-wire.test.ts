// The plugin's own D-Bus client against a real dbus-daemon (private bus): large messages (GetItems replies of about
// 10 MB, a signal with a body of 2 MB) from a simulated service, and a bus that stops reading (the daemon stopped
// with SIGSTOP) while calls keep coming.
import { strict as assert } from 'node:assert';

import { Variant } from 'dbus-next';

import type { BusConnection, Reply, Signal } from '../../ts/dbus/connection';
import { DbusError } from '../../ts/dbus/connection';
import { parseSingleType } from '../../ts/dbus/signature';
import type { NativeConnection } from '../../ts/dbus/wire/client';
import { nativeConnector, OutgoingFull } from '../../ts/dbus/wire/client';
import { OUTGOING_LIMIT_BYTES } from '../../ts/dbus/wire/outgoing';
import { Simulator } from '../../ts/sim';
import { startDbusDaemon } from '../helpers/dbus-daemon';
import type { DbusDaemon } from '../helpers/dbus-daemon';

const BIG = 'com.victronenergy.test.big';
const ITEMS = 10;
const ITEM_CHARS = 1_000_000;
const BUS_ITEM = 'com.victronenergy.BusItem';
const getItems = { destination: BIG, path: '/', interface: BUS_ITEM, member: 'GetItems' };

/** The items of a GetItems reply: path -> the length of its string value. */
function itemLengths(reply: Reply): Map<string, number> {
    const out = new Map<string, number>();
    const [items] = reply.values() as [Record<string, { Value: { value: unknown } }>];
    for (const [path, item] of Object.entries(items))
        out.set(path, typeof item.Value.value === 'string' ? item.Value.value.length : -1);
    return out;
}

describe('the D-Bus client on a real dbus-daemon', function () {
    this.timeout(60_000);
    let daemon: DbusDaemon;
    let sim: Simulator;
    let conn: BusConnection | undefined;
    let reports: string[];
    /** The buffers the client allocated for messages that spanned reads. */
    let allocations: Buffer[];

    before(async () => {
        daemon = await startDbusDaemon();
        sim = await Simulator.start({ busAddress: daemon.address, speed: 0 });
        await sim.addService({
            name: BIG,
            items: Array.from({ length: ITEMS }, (_, i) => ({ path: `/Big/${i}`, value: new Variant('s', String.fromCharCode(97 + i).repeat(ITEM_CHARS)), text: '' })),
        });
    });

    beforeEach(async () => {
        reports = [];
        allocations = [];
        const allocate = (bytes: number): Buffer => {
            const b = Buffer.allocUnsafe(bytes);
            allocations.push(b);
            return b;
        };
        conn = await nativeConnector((p) => reports.push(p), { allocate })(daemon.address, 5000);
    });

    afterEach(() => {
        process.kill(daemon.pid, 'SIGCONT'); // a test that failed with the daemon stopped
        conn?.close();
        conn = undefined;
    });

    after(async () => {
        await sim?.stop();
        await daemon?.stop();
    });

    it('reads a GetItems reply of about 10 MB into one buffer of its size, and goes on reading after it', async () => {
        const reply = await conn!.call(getItems, 30_000);
        const buf = reply.reader().buf;
        assert.ok(buf.length > ITEMS * ITEM_CHARS, `${buf.length} bytes`);
        assert.deepEqual(allocations.map((a) => a.length), [buf.length], 'one allocation, of the message\'s size');
        assert.equal(buf, allocations[0], 'the reply has the buffer it was read into, not a copy');
        const lengths = itemLengths(reply);
        assert.equal(lengths.size, ITEMS);
        assert.deepEqual([...lengths.values()], Array<number>(ITEMS).fill(ITEM_CHARS));
        const names = await conn!.call({ destination: 'org.freedesktop.DBus', path: '/org/freedesktop/DBus', interface: 'org.freedesktop.DBus', member: 'ListNames' }, 5000);
        assert.ok((names.values()[0] as string[]).includes(BIG));
        assert.deepEqual(reports, []);
    });

    it('reads 16 such replies asked for at once, each whole and in its own buffer', async () => {
        const replies = await Promise.all(Array.from({ length: 16 }, () => conn!.call(getItems, 30_000)));
        const buffers = new Set(replies.map((r) => r.reader().buf));
        assert.equal(buffers.size, 16);
        assert.equal(allocations.length, 16);
        assert.ok(allocations.every((a) => buffers.has(a)), 'each reply has the buffer it was read into');
        const type = parseSingleType('a{sa{sv}}');
        for (const r of replies) {
            const reader = r.reader();
            reader.skip(type);
            assert.equal(reader.pos, reader.end);
        }
        assert.deepEqual([...itemLengths(replies[15]!).values()], Array<number>(ITEMS).fill(ITEM_CHARS));
    });

    it('reads a signal with a body of 2 MB between small ones', async () => {
        const seen: Array<[string, number]> = [];
        conn!.onSignal((s: Signal) => {
            if (s.member === 'ItemsChanged') {
                const [items] = s.values() as [Record<string, { Value: { value: unknown } }>];
                for (const [path, item] of Object.entries(items))
                    seen.push([path, typeof item.Value.value === 'string' ? item.Value.value.length : -1]);
            }
        });
        await conn!.addMatch(`type='signal',sender='${BIG}',interface='${BUS_ITEM}',member='ItemsChanged'`, 5000);
        sim.change(BIG, '/Big/1', new Variant('s', 'small'), 'items', '');
        sim.change(BIG, '/Big/2', new Variant('s', 'z'.repeat(2_000_000)), 'items', '');
        sim.change(BIG, '/Big/3', new Variant('s', 'small too'), 'items', '');
        const deadline = Date.now() + 10_000;
        while (seen.length < 3 && Date.now() < deadline)
            await new Promise((resolve) => setTimeout(resolve, 10));
        assert.deepEqual(seen, [['/Big/1', 5], ['/Big/2', 2_000_000], ['/Big/3', 9]]);
        assert.equal(allocations.filter((a) => a.length > 2_000_000).length, 1, 'the big signal in one buffer');
    });

    it('holds calls while the bus does not read, refuses them beyond the limit at once, and sends the rest in order when it reads again', async () => {
        const native = conn as NativeConnection;
        process.kill(daemon.pid, 'SIGSTOP');
        const value = 'w'.repeat(256 * 1024);
        const settled: Array<[number, string]> = [];
        const calls: Array<Promise<void>> = [];
        const started = Date.now();
        for (let i = 0; i < 24; i++) {
            calls.push(conn!.call({ destination: 'com.example.nobody', path: '/W', interface: BUS_ITEM, member: 'SetValue', signature: 'v', body: [new Variant('s', value)] }, 30_000)
                .then(() => { settled.push([i, 'answered']); }, (err: Error) => {
                    settled.push([i, err instanceof OutgoingFull ? 'refused' : err instanceof DbusError ? err.errorName : err.constructor.name]);
                }));
        }
        await new Promise((resolve) => setTimeout(resolve, 200));
        // The refused calls failed at once, while the bus was still stopped; the rest wait, bounded.
        const refused = settled.filter(([, what]) => what === 'refused').map(([i]) => i);
        assert.ok(refused.length > 0 && refused.length < 24, `${refused.length} refused`);
        assert.deepEqual(refused, Array.from({ length: refused.length }, (_, k) => 24 - refused.length + k), 'the last ones are refused');
        assert.equal(settled.length, refused.length);
        assert.ok(native.outgoingState.waitingBytes <= OUTGOING_LIMIT_BYTES);
        assert.ok(Date.now() - started < 5000);
        assert.equal(reports.length, 1, reports.join('\n'));
        assert.match(reports[0]!, /^the bus does not take our messages as fast as we send them: 4 MiB wait to be sent/);
        process.kill(daemon.pid, 'SIGCONT');
        await Promise.all(calls);
        const answered = settled.filter(([, what]) => what !== 'refused');
        assert.deepEqual(answered.map(([i]) => i), Array.from({ length: 24 - refused.length }, (_, i) => i), 'in the order sent');
        assert.ok(answered.every(([, what]) => what === 'org.freedesktop.DBus.Error.ServiceUnknown'), JSON.stringify(answered));
        assert.equal(reports.length, 2, reports.join('\n'));
        assert.match(reports[1]!, new RegExp(`^the bus takes our messages again after [0-9.]+ s; ${refused.length} messages? (was|were) refused meanwhile`));
        assert.deepEqual(native.outgoingState, { waitingBytes: 0, refused: refused.length });
        // And the connection goes on.
        const names = await conn!.call({ destination: 'org.freedesktop.DBus', path: '/org/freedesktop/DBus', interface: 'org.freedesktop.DBus', member: 'ListNames' }, 5000);
        assert.ok((names.values()[0] as string[]).includes(BIG));
    });
});
