import { strict as assert } from 'node:assert';
import * as fs from 'node:fs';
import * as net from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';

import type { DirectSocket, WriteSync } from '../../ts/dbus/wire/direct-write';
import { directWriter, socketFd } from '../../ts/dbus/wire/direct-write';

/** A socket that records what its own write got. */
class FakeSocket implements DirectSocket {
    readonly written: string[] = [];
    writableLength = 0;
    destroyed = false;
    room = true;
    write(bytes: Uint8Array): boolean {
        this.written.push(Buffer.from(bytes).toString());
        return this.room;
    }
}

describe('writing to the bus socket directly', () => {
    // name, the socket's state, what write(2) does ('all', a count of bytes taken, or 'EAGAIN'), the descriptor ->
    // what went through write(2), what went through the socket's write, the result
    const table: Array<[string, { waiting?: number; destroyed?: boolean; room?: boolean }, 'all' | number | 'EAGAIN', number | undefined, string[], string[], boolean]> = [
        ['takes the whole message in one write(2)', {}, 'all', 7, ['hello'], [], true],
        ['hands the rest of a partial write to the socket', {}, 2, 7, ['hello'], ['llo'], true],
        ['says so when the socket has no room for the rest', { room: false }, 2, 7, ['hello'], ['llo'], false],
        ['hands a message the kernel refused to the socket whole', {}, 'EAGAIN', 7, ['hello'], ['hello'], true],
        ['writes behind what waits in the socket', { waiting: 10 }, 'all', 7, [], ['hello'], true],
        ['leaves a destroyed socket to its own write', { destroyed: true }, 'all', 7, [], ['hello'], true],
        ['uses the socket without a descriptor', {}, 'all', undefined, [], ['hello'], true],
    ];
    for (const [name, state, kernel, fd, direct, viaSocket, result] of table) {
        it(name, () => {
            const socket = new FakeSocket();
            socket.writableLength = state.waiting ?? 0;
            socket.destroyed = state.destroyed ?? false;
            socket.room = state.room ?? true;
            const sys: string[] = [];
            const writeSync: WriteSync = (descriptor, bytes, offset, length) => {
                assert.equal(descriptor, fd);
                sys.push(Buffer.from(bytes.subarray(offset, offset + length)).toString());
                if (kernel === 'EAGAIN')
                    throw Object.assign(new Error('EAGAIN'), { code: 'EAGAIN' });
                return kernel === 'all' ? length : kernel;
            };
            const write = directWriter(socket, () => fd, writeSync);
            assert.equal(write(Buffer.from('hello')), result);
            assert.deepEqual(sys, direct);
            assert.deepEqual(socket.written, viaSocket);
        });
    }

    it('keeps the order of the bytes on a real socket whose buffer fills up', async () => {
        const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'direct-write-'));
        const where = path.join(dir, 's');
        let received = Buffer.alloc(0);
        let peer: net.Socket | undefined;
        const server = net.createServer((s) => {
            peer = s;
            s.pause(); // read nothing until everything was written: the kernel's buffer fills
            s.on('data', (d: Buffer) => { received = Buffer.concat([received, d]); });
        });
        await new Promise<void>((resolve) => server.listen(where, resolve));
        const client = net.connect(where);
        await new Promise<void>((resolve) => client.once('connect', resolve));
        try {
            assert.equal(typeof socketFd(client), 'number');
            const write = directWriter(client, () => socketFd(client));
            const messages = Array.from({ length: 200 }, (_, i) => Buffer.alloc(10_000 + i, i % 251));
            for (const m of messages)
                write(m);
            assert.ok(client.writableLength > 0, 'some had to wait in the socket');
            const expected = Buffer.concat(messages);
            await new Promise<void>((resolve) => setTimeout(resolve, 20));
            peer!.resume();
            const deadline = Date.now() + 5000;
            while (received.length < expected.length && Date.now() < deadline)
                await new Promise<void>((resolve) => setTimeout(resolve, 5));
            assert.ok(received.equals(expected), 'the same bytes in the same order');
        } finally {
            client.destroy();
            peer?.destroy();
            await new Promise<void>((resolve) => server.close(() => resolve()));
            fs.rmSync(dir, { recursive: true, force: true });
        }
    });
});
