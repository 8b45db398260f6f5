import { strict as assert } from 'node:assert';

import { Message, Variant } from 'dbus-next';

import { parseSignature } from '../../ts/dbus/signature';
import { decodeMessage, decodeMessageInto, DecodeError, MessageStream, ReusedMessage } from '../../ts/dbus/wire/decode';
import { encodeBody, encodeMessage, MessageKind } from '../../ts/dbus/wire/encode';
import { parseAddresses } from '../../ts/dbus/wire/client';

// dbus-next's marshaller and parser, as the reference implementation.
// eslint-disable-next-line @typescript-eslint/no-require-imports
const compat = require('dbus-next/lib/marshall-compat') as { marshallMessage(m: Message): [Buffer, unknown[]]; messageToJsFmt(m: unknown): { body: unknown[] } };
// eslint-disable-next-line @typescript-eslint/no-require-imports
const parser = require('dbus-next/lib/message') as { unmarshall(b: Buffer): unknown };

/** A value with dbus-next's Variant instances turned into plain { signature, value }, and dicts into plain objects. */
function plain(v: unknown): unknown {
    if (v instanceof Variant)
        return { signature: v.signature, value: plain(v.value) };
    if (Buffer.isBuffer(v))
        return v;
    if (Array.isArray(v))
        return v.map(plain);
    if (typeof v === 'object' && v !== null) {
        const out: Record<string, unknown> = {};
        for (const [k, x] of Object.entries(v))
            out[k] = plain(x);
        return out;
    }
    return v;
}

function referenceBytes(signature: string, body: unknown[]): Buffer {
    const m = new Message({ type: 4, path: '/Ac/Power', interface: 'com.victronenergy.BusItem', member: 'X', signature, body, serial: 7 });
    m.sender = ':1.42';
    return compat.marshallMessage(m)[0];
}

describe('D-Bus wire decoding', () => {
    const table: Array<[string, string, unknown[]]> = [
        ['PropertiesChanged', 'a{sv}', [{ Value: new Variant('d', 1.5), Text: new Variant('s', '1.5W') }]],
        ['ItemsChanged', 'a{sa{sv}}', [{ '/A': { Value: new Variant('ai', []), Text: new Variant('s', '---') }, '/B/C': { Value: new Variant('x', 5000000000n) } }]],
        ['every basic type', 'ynqiuxtdsogb', [1, -2, 3, -4, 5, -6n, 7n, 8.5, 'ü€', '/o', 'a{sv}', true]],
        ['variants of every container', 'vvvv', [new Variant('ay', Buffer.from([1, 2, 3])), new Variant('av', [new Variant('i', 1)]), new Variant('(is)', [1, 's']), new Variant('a{sv}', {})]],
        ['struct and string array', '(ia{sv})as', [[1, { a: new Variant('av', [new Variant('i', 1), new Variant('s', 'x')]) }], ['a', 'bb']]],
        ['empty arrays after a byte', 'yadas', [1, [], []]],
        ['doubles after a byte', 'yad', [1, [1.5, 2.5]]],
    ];
    for (const [name, signature, body] of table) {
        it(`reads ${name} as dbus-next does`, () => {
            const bytes = referenceBytes(signature, body);
            const ours = decodeMessage(bytes);
            const theirs = compat.messageToJsFmt(parser.unmarshall(bytes));
            assert.deepEqual(plain(ours.values()), plain(theirs.body));
            assert.equal(ours.signature, signature);
            assert.equal(ours.path, '/Ac/Power');
            assert.equal(ours.member, 'X');
            assert.equal(ours.sender, ':1.42');
            assert.equal(ours.serial, 7);
        });
    }

    it('reads a message without a body', () => {
        assert.deepEqual(decodeMessage(referenceBytes('', [])).values(), []);
    });

    it('reads dicts with integer keys (which dbus-next cannot write) as dbus-next reads them', () => {
        const bytes = encodeMessage({ kind: MessageKind.Signal, serial: 3, path: '/', iface: 'a.b', member: 'M', signature: 'a{iv}', body: encodeBody('a{iv}', [new Map([[1, new Variant('s', 'one')], [-2, new Variant('s', 'two')]])]) });
        assert.deepEqual(plain(decodeMessage(bytes).values()), [{ 1: { signature: 's', value: 'one' }, '-2': { signature: 's', value: 'two' } }]);
        assert.deepEqual(plain(decodeMessage(bytes).values()), plain(compat.messageToJsFmt(parser.unmarshall(bytes)).body));
    });

    it('reads what our encoder writes, header fields included', () => {
        const bytes = encodeMessage({ kind: MessageKind.Error, serial: 9, replySerial: 4, destination: ':1.5', errorName: 'org.x.Failed', signature: 's', body: encodeBody('s', ['nope']) });
        const m = decodeMessage(bytes);
        assert.deepEqual([m.type, m.serial, m.replySerial, m.destination, m.errorName, m.values()], [3, 9, 4, ':1.5', 'org.x.Failed', ['nope']]);
    });

    it('reads messages into one reused message object as into new ones, nothing of the one before left', () => {
        const signal = encodeMessage({ kind: MessageKind.Signal, serial: 3, path: '/Ac/Power', iface: 'com.victronenergy.BusItem', member: 'PropertiesChanged',
            signature: 'a{sv}', body: encodeBody('a{sv}', [{ Value: new Variant('d', 1.5) }]) });
        const error = encodeMessage({ kind: MessageKind.Error, serial: 9, replySerial: 4, destination: ':1.5', errorName: 'org.x.Failed', signature: 's', body: encodeBody('s', ['nope']) });
        const bare = encodeMessage({ kind: MessageKind.Signal, serial: 5, path: '/', iface: 'a.b', member: 'Bare' });
        const reused = new ReusedMessage();
        const fields = (m: ReturnType<typeof decodeMessage>): unknown[] => [m.type, m.flags, m.serial, m.path, m.interface, m.member, m.errorName,
            m.replySerial, m.destination, m.sender, m.signature, m.values()];
        for (const bytes of [signal, error, bare, signal]) {
            const inBuffer = Buffer.concat([Buffer.alloc(8), bytes]); // at an offset, as in a read buffer
            assert.equal(decodeMessageInto(reused, inBuffer, 8, inBuffer.length), reused);
            assert.deepEqual(fields(reused), fields(decodeMessage(bytes)));
            const r1 = reused.reader();
            assert.equal(reused.reader(), r1, 'one reader, reset');
            assert.equal(r1.pos, reused.bodyStart);
        }
        assert.throws(() => decodeMessageInto(reused, signal.subarray(0, signal.length - 1)), DecodeError);
    });

    it('reads big-endian messages too', () => {
        // A signal with body 'id' (-5, 2.5), written by hand in big-endian byte order.
        const parts: number[] = [];
        const pad = (n: number): void => { while (parts.length % n !== 0) parts.push(0); };
        const u32 = (v: number): void => { pad(4); parts.push((v >>> 24) & 255, (v >>> 16) & 255, (v >>> 8) & 255, v & 255); };
        const str = (t: string): void => { u32(t.length); parts.push(...Buffer.from(t), 0); };
        const sig = (t: string): void => { parts.push(t.length, ...Buffer.from(t), 0); };
        const field = (code: number, type: string, write: () => void): void => { pad(8); parts.push(code); sig(type); write(); };
        parts.push(0x42, 4, 0, 1);
        u32(16); // body length: int32, padding, double
        u32(7);
        u32(0); // fields length, patched below
        const fieldsStart = parts.length;
        field(1, 'o', () => str('/x'));
        field(3, 's', () => str('M'));
        field(8, 'g', () => sig('id'));
        const fieldsLength = parts.length - fieldsStart;
        pad(8);
        u32(-5 >>> 0);
        pad(8);
        const d = Buffer.alloc(8);
        d.writeDoubleBE(2.5);
        parts.push(...d);
        const bytes = Buffer.from(parts);
        bytes.writeUInt32BE(fieldsLength, 12);
        const m = decodeMessage(bytes);
        assert.deepEqual([m.path, m.member, m.signature, m.serial, m.values()], ['/x', 'M', 'id', 7, [-5, 2.5]]);
    });

    it('refuses truncated and malformed messages', () => {
        const bytes = referenceBytes('a{sv}', [{ Value: new Variant('d', 1.5) }]);
        assert.throws(() => decodeMessage(bytes.subarray(0, bytes.length - 4)), DecodeError);
        const badBool = referenceBytes('b', [true]);
        badBool.writeUInt32LE(7, badBool.length - 4);
        assert.throws(() => decodeMessage(badBool).values(), /a boolean of 7/);
    });

    it('cuts a stream into messages across any chunk boundaries, and reads them where they lie', () => {
        // Odd lengths put the later messages at offsets that are not 8-aligned in a chunk: alignment is the message's.
        const bodies: Array<[string, unknown[]]> = [['s', ['first']], ['a{sv}', [{ a: new Variant('d', 1.5) }]], ['', []], ['yd', [3, 2.25]], ['s', ['odd']]];
        const messages = bodies.map(([signature, body]) => referenceBytes(signature, body));
        assert.ok(messages.some((m) => m.length % 8 !== 0));
        const all = Buffer.concat(messages);
        for (const size of [1, 3, 16, 17, 50, all.length]) {
            const stream = new MessageStream();
            const out: Buffer[] = [];
            const values: unknown[] = [];
            // One read buffer, reused for every chunk and scribbled over after each: nothing may keep pointing into it.
            const reused = Buffer.alloc(size);
            for (let i = 0; i < all.length; i += size) {
                const n = all.copy(reused, 0, i, i + size);
                stream.push(reused, n, (buf, start, end) => {
                    out.push(Buffer.from(buf.subarray(start, end)));
                    values.push(plain(decodeMessage(buf, start, end).values()));
                });
                reused.fill(0xee);
            }
            assert.deepEqual(out.map((b) => b.toString('hex')), messages.map((b) => b.toString('hex')), `chunks of ${size}`);
            assert.deepEqual(values, bodies.map(([, body]) => plain(body)), `chunks of ${size}`);
        }
    });

    describe('messages that span reads', () => {
        const READ = 64 * 1024;
        const signal = (serial: number, body: Buffer): Buffer => encodeMessage({
            kind: MessageKind.Signal, serial, path: '/Big', iface: 'com.victronenergy.BusItem', member: 'ItemsChanged', signature: 'ay', body: encodeBody('ay', [body]),
        });
        const filled = (bytes: number, seed: number): Buffer => {
            const b = Buffer.allocUnsafe(bytes);
            for (let i = 0; i < bytes; i++)
                b[i] = (i * 31 + seed) & 0xff;
            return b;
        };
        // Small ones around a 3 MB one and one just larger than the read buffer.
        const messages = [signal(1, filled(10, 1)), signal(2, filled(3_000_000, 2)), signal(3, filled(100, 3)), signal(4, filled(READ + 5000, 4)), signal(5, filled(7, 5))];
        const large = messages.filter((m) => m.length > READ);
        const all = Buffer.concat(messages);

        // chunk size (what one read brings at most), whether reads go where readTarget() says (as the socket does)
        const table: Array<[number, boolean]> = [[1000, true], [1000, false], [4093, true], [READ, true], [READ, false], [17, true]];
        for (const [chunk, direct] of table) {
            it(`holds each once, in reads of ${chunk} bytes ${direct ? 'into where readTarget() says' : 'into one reused buffer'}`, () => {
                const readBuffer = Buffer.alloc(READ);
                const allocations: Buffer[] = [];
                const stream = new MessageStream({ readBuffer, allocate: (n) => {
                    const b = Buffer.allocUnsafe(n);
                    allocations.push(b);
                    return b;
                } });
                const got: Array<{ bytes: Buffer; buf: Buffer; owned: boolean }> = [];
                let directBytes = 0;
                for (let at = 0; at < all.length;) {
                    const target = direct ? stream.readTarget() : readBuffer;
                    const n = all.copy(target, 0, at, Math.min(all.length, at + chunk, at + target.length));
                    if (target !== readBuffer)
                        directBytes += n;
                    at += n;
                    stream.push(target, n, (buf, start, end, owned) => {
                        got.push({ bytes: Buffer.from(buf.subarray(start, end)), buf, owned });
                        assert.equal(decodeMessage(buf, start, end).member, 'ItemsChanged');
                    });
                    if (target === readBuffer)
                        readBuffer.fill(0xee, 0, n); // nothing may keep pointing into the read buffer
                }
                assert.deepEqual(got.map((g) => g.bytes.toString('hex')), messages.map((m) => m.toString('hex')));
                // A large message: one allocation of its exact size, handed out as its own.
                for (const m of large) {
                    const mine = allocations.filter((a) => a.length === m.length);
                    assert.equal(mine.length, 1, `one buffer of ${m.length} bytes`);
                    const delivered = got.find((g) => g.bytes.length === m.length)!;
                    assert.ok(delivered.owned && delivered.buf === mine[0], 'the reader gets the buffer that was filled');
                }
                // No message is allocated twice, and nothing else is allocated.
                assert.ok(allocations.length <= messages.length, `${allocations.length} allocations`);
                assert.ok(allocations.every((a) => messages.some((m) => m.length === a.length)), 'right-sized');
                if (direct)
                    assert.ok(directBytes >= large.reduce((sum, m) => sum + m.length - READ, 0), `${directBytes} bytes read in place`);
                else
                    assert.equal(directBytes, 0);
            });
        }

        it('reads messages that lie whole in a read where they lie, allocating nothing', () => {
            const small = [signal(1, filled(10, 1)), signal(2, filled(1000, 2)), signal(3, filled(100, 3))];
            const bytes = Buffer.concat(small);
            const readBuffer = Buffer.alloc(READ);
            let allocations = 0;
            const stream = new MessageStream({ readBuffer, allocate: (n) => { allocations++; return Buffer.alloc(n); } });
            bytes.copy(readBuffer);
            const seen: Array<[boolean, boolean]> = [];
            stream.push(readBuffer, bytes.length, (buf, _start, _end, owned) => seen.push([buf === readBuffer, owned]));
            assert.deepEqual(seen, [[true, false], [true, false], [true, false]]);
            assert.equal(allocations, 0);
            assert.equal(stream.readTarget(), readBuffer);
        });
    });

    it('refuses a stream that is not D-Bus', () => {
        const http = Buffer.from('HTTP/1.1 200 OK\r\n\r\n');
        assert.throws(() => new MessageStream().push(http, http.length, () => undefined), /not a D-Bus message/);
    });

    it('skips values of every type without building them, landing where a full read lands', () => {
        const signature = 'ynqiuxtdsogbva{sv}(is)aiay';
        const body = [1, -2, 3, -4, 5, -6n, 7n, 8.5, 'ü€', '/o', 'a{sv}', true, new Variant('as', ['x']), { k: new Variant('i', 1) }, [1, 's'], [1, 2], Buffer.from([1])];
        const bytes = referenceBytes(signature, body);
        const m = decodeMessage(bytes);
        const read = m.reader();
        const skipped = m.reader();
        for (const type of parseSignature(signature)) {
            read.value(type);
            skipped.skip(type);
            assert.equal(skipped.pos, read.pos, type.code);
        }
        assert.equal(read.pos, m.bodyEnd);
    });

    it('reads bus addresses', () => {
        assert.deepEqual(parseAddresses('unix:path=/var/run/dbus/system_bus_socket'), [{ kind: 'unix', path: '/var/run/dbus/system_bus_socket' }]);
        assert.deepEqual(parseAddresses('unix:abstract=/tmp/dbus-x,guid=1;tcp:host=127.0.0.1,port=1234'), [
            { kind: 'unix', path: '\0/tmp/dbus-x' }, { kind: 'tcp', host: '127.0.0.1', port: 1234 },
        ]);
        assert.deepEqual(parseAddresses('launchd:env=X;nonsense'), []);
    });
});
