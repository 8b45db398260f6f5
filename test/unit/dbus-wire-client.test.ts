import { strict as assert } from 'node:assert';
import { EventEmitter } from 'node:events';

import { CallTimeout } from '../../ts/dbus/connection';
import type { CallRequest, Reply } from '../../ts/dbus/connection';
import { decodeMessage } from '../../ts/dbus/wire/decode';
import type { ReadingSocket, WireSocket, WireTuning } from '../../ts/dbus/wire/client';
import { NativeConnection, OutgoingFull } from '../../ts/dbus/wire/client';
import { encodeBody, encodeMessage, MessageKind } from '../../ts/dbus/wire/encode';
import { MAX_SERIAL } from '../../ts/dbus/wire/serial';

const READ = 64 * 1024;

/** A socket that keeps what is written, reports room as told, and is fed by the test. */
class FakeSocket extends EventEmitter implements WireSocket {
    readonly sent: Buffer[] = [];
    room = true;
    destroyed = false;

    write(bytes: Uint8Array): boolean {
        this.sent.push(Buffer.from(bytes));
        return this.room;
    }

    destroy(): void {
        if (!this.destroyed) {
            this.destroyed = true;
            this.emit('close');
        }
    }
}

interface Fixture {
    conn: NativeConnection;
    socket: FakeSocket;
    reading: ReadingSocket<WireSocket>;
    reports: string[];
    allocations: Buffer[];
    /** What the bus sends, in reads of at most `chunk` bytes, each where the connection asks for it. */
    receive(bytes: Buffer, chunk?: number): void;
    serials(): number[];
}

function fixture(tuning: Partial<WireTuning> = {}): Fixture {
    const socket = new FakeSocket();
    const readBuffer = Buffer.alloc(READ);
    const reading: ReadingSocket<WireSocket> = { socket, readBuffer, onBytes: () => undefined, target: () => readBuffer };
    const reports: string[] = [];
    const allocations: Buffer[] = [];
    const conn = new NativeConnection(reading, (p) => reports.push(p), {
        allocate: (n) => {
            const b = Buffer.allocUnsafe(n);
            allocations.push(b);
            return b;
        },
        ...tuning,
    });
    return {
        conn, socket, reading, reports, allocations,
        receive(bytes, chunk = READ) {
            for (let at = 0; at < bytes.length;) {
                const target = reading.target();
                const n = bytes.copy(target, 0, at, Math.min(bytes.length, at + chunk));
                at += n;
                reading.onBytes(target, n);
                if (target === readBuffer)
                    readBuffer.fill(0xee, 0, n);
            }
        },
        serials: () => socket.sent.map((b) => decodeMessage(b).serial),
    };
}

const request = (member: string, body?: string): CallRequest => ({
    destination: 'com.victronenergy.test', path: '/', interface: 'com.victronenergy.BusItem', member,
    ...(body !== undefined ? { signature: 's', body: [body] } : {}),
});

let replySerial = 1000;
function reply(to: number, signature: string, body: unknown[]): Buffer {
    return encodeMessage({ kind: MessageKind.MethodReturn, serial: replySerial++, replySerial: to, destination: ':1.1', signature, body: encodeBody(signature, body) });
}

describe('the D-Bus client connection (over a fake socket)', () => {
    it('wraps its serial after 2^32 - 1 to 1 and matches replies across the wrap', async () => {
        const f = fixture({ firstSerial: MAX_SERIAL - 1 });
        const calls = ['A', 'B', 'C'].map((m) => f.conn.call(request(m), 1000));
        assert.deepEqual(f.serials(), [MAX_SERIAL - 1, MAX_SERIAL, 1]);
        f.receive(Buffer.concat([reply(1, 's', ['c']), reply(MAX_SERIAL - 1, 's', ['a']), reply(MAX_SERIAL, 's', ['b'])]));
        assert.deepEqual((await Promise.all(calls)).map((r) => r.values()[0]), ['a', 'b', 'c']);
        f.conn.close();
    });

    it('answers a peer with the next serial too, skipping 0', async () => {
        const f = fixture({ firstSerial: MAX_SERIAL });
        // The bus gives every message a sender; encodeMessage writes none, so the Ping gets one added.
        const ping = encodeMessage({ kind: MessageKind.MethodCall, serial: 6, path: '/', iface: 'org.freedesktop.DBus.Peer', member: 'Ping' });
        f.receive(withSender(ping, ':1.9'));
        const call = f.conn.call(request('A'), 1000);
        assert.deepEqual(f.serials(), [MAX_SERIAL, 1]);
        assert.equal(decodeMessage(f.socket.sent[0]!).replySerial, 6);
        f.receive(reply(1, '', []));
        await call;
        f.conn.close();
    });

    it('holds calls while the socket is full, refuses them beyond the limit at once, and sends the rest in order on drain', async () => {
        const f = fixture({ outgoingLimitBytes: 1000 });
        f.socket.room = false;
        const a = f.conn.call(request('A'), 5000);
        const b = f.conn.call(request('B'), 5000);
        const c = f.conn.call(request('C', 'x'.repeat(2000)), 5000);
        const d = f.conn.call(request('D'), 5000);
        await assert.rejects(c, (err: Error) => err instanceof OutgoingFull
            && /^C on 'com.victronenergy.test' not sent: the bus does not take our messages \(1000 bytes wait to be sent\)$/.test(err.message));
        assert.deepEqual(f.socket.sent.map((m) => decodeMessage(m).member), ['A']);
        assert.equal(f.reports.length, 1);
        assert.match(f.reports[0]!, /^the bus does not take our messages as fast as we send them/);
        f.socket.room = true;
        f.socket.emit('drain');
        assert.deepEqual(f.socket.sent.map((m) => decodeMessage(m).member), ['A', 'B', 'D']);
        assert.equal(f.reports.length, 2);
        assert.match(f.reports[1]!, /^the bus takes our messages again after [0-9.]+ s; 1 message was refused meanwhile/);
        const [sa, sb, sd] = f.serials();
        f.receive(Buffer.concat([reply(sa!, '', []), reply(sb!, '', []), reply(sd!, '', [])]));
        await Promise.all([a, b, d]);
        assert.deepEqual(f.conn.outgoingState, { waitingBytes: 0, refused: 1 });
        f.conn.close();
    });

    it('does not send a call that timed out while it waited', async () => {
        const f = fixture();
        f.socket.room = false;
        const a = f.conn.call(request('A'), 5000);
        await assert.rejects(f.conn.call(request('B'), 5), CallTimeout);
        f.socket.emit('drain');
        assert.deepEqual(f.socket.sent.map((m) => decodeMessage(m).member), ['A']);
        f.receive(reply(f.serials()[0]!, '', []));
        await a;
        f.conn.close();
    });

    // reply body bytes, read chunk size -> allocations (sizes) expected, whether the reply keeps the read buffer's copy
    const replies: Array<[string, number, number]> = [
        ['a 4 MB reply', 4_000_000, 1500],
        ['a reply just larger than the read buffer', READ + 100, 4096],
        ['a small reply that spans two reads', 3000, 2000],
    ];
    for (const [name, size, chunk] of replies) {
        it(`hands ${name} the one buffer it was read into`, async () => {
            const f = fixture();
            const call = f.conn.call(request('GetItems'), 1000);
            const bytes = reply(f.serials()[0]!, 'ay', [Buffer.alloc(size, 7)]);
            f.receive(bytes, chunk);
            const r: Reply = await call;
            assert.deepEqual(f.allocations.map((a) => a.length), [bytes.length]);
            assert.equal(r.reader().buf, f.allocations[0]);
            const value = r.values()[0] as Buffer;
            assert.equal(value.length, size);
            assert.ok(value.every((x) => x === 7));
            f.conn.close();
        });
    }

    it('gives a reply that lies whole in the read buffer a copy of its own', async () => {
        const f = fixture();
        const call = f.conn.call(request('GetValue'), 1000);
        f.receive(reply(f.serials()[0]!, 's', ['kept']));
        const r = await call; // the read buffer has been scribbled over meanwhile
        assert.notEqual(r.reader().buf, f.reading.readBuffer);
        assert.deepEqual(r.values(), ['kept']);
        assert.equal(f.allocations.length, 0);
        f.conn.close();
    });

    it('hands a callNow reply to its callback where it was read (no copy), and matches it like any reply', () => {
        const f = fixture();
        const seen: Array<[string, unknown[], boolean]> = [];
        for (const m of ['A', 'B'])
            f.conn.callNow(request(m), 1000, (err, r) => seen.push([m, err ? [err.message] : r!.values(), r?.reader().buf === f.reading.readBuffer]));
        const [a, b] = f.serials();
        f.receive(Buffer.concat([reply(b!, 'i', [3]), reply(a!, 'i', [0])]));
        assert.deepEqual(seen, [['B', [3], true], ['A', [0], true]]);
        assert.equal(f.allocations.length, 0);
        assert.equal(f.conn.pendingCalls, 0);
        f.conn.close();
    });

    it('tells a callNow that cannot be made at once, and one in flight when the connection closes', () => {
        const f = fixture({ outgoingLimitBytes: 100 });
        const outcomes: string[] = [];
        const note = (what: string) => (err: Error | undefined): void => { outcomes.push(`${what}: ${err?.constructor.name ?? 'reply'}`); };
        f.conn.callNow(request('A'), 1000, note('A'));
        f.socket.room = false;
        f.conn.callNow(request('B'), 1000, note('B')); // waits: the socket is full
        f.conn.callNow(request('C', 'x'.repeat(200)), 1000, note('C')); // beyond the limit
        assert.deepEqual(outcomes, ['C: OutgoingFull']);
        f.conn.close();
        f.conn.callNow(request('D'), 1000, note('D'));
        assert.deepEqual(outcomes, ['C: OutgoingFull', 'A: ConnectionClosed', 'B: ConnectionClosed', 'D: ConnectionClosed']);
    });

    it('times a callNow out like a call', async () => {
        const f = fixture();
        const err = await new Promise<Error | undefined>((resolve) => f.conn.callNow(request('A'), 5, (e) => resolve(e)));
        assert.ok(err instanceof CallTimeout);
        assert.equal(err.message, "no answer to A on 'com.victronenergy.test' '/' within 5 ms");
        f.receive(reply(f.serials()[0]!, 'i', [0])); // too late: ignored
        f.conn.close();
    });

    it('reconnects (closes) on a stream that is not D-Bus, and says so', () => {
        const f = fixture();
        let closed = '';
        f.conn.onClose((reason) => { closed = reason; });
        f.receive(Buffer.from('HTTP/1.1 400 Bad Request\r\n\r\n'));
        assert.ok(f.socket.destroyed);
        assert.equal(closed, 'the bus closed the connection');
        assert.match(f.reports[0]!, /^unreadable data from the bus: not a D-Bus message/);
    });
});

/** The message with a sender header field added (encodeMessage writes none: the bus adds it to what we send). */
function withSender(message: Buffer, sender: string): Buffer {
    const m = decodeMessage(message);
    const fields: Array<[number, string, unknown]> = [[1, 'o', m.path], [2, 's', m.interface], [3, 's', m.member], [7, 's', sender]];
    const header = encodeBody('yyyyuua(yv)', [0x6c, m.type, m.flags, 1, 0, m.serial, fields.map(([code, sig, value]) => [code, { signature: sig, value }])]);
    const padded = Buffer.alloc((header.length + 7) & ~7);
    header.copy(padded);
    return padded;
}
