// Writing to the bus socket past Node's stream machinery while nothing waits in it: one write(2) on the socket's
// descriptor (fs.writeSync) instead of a Writable's state machine, a write request object and a nextTick per
// message. What the kernel does not take at once (a full socket buffer, an error) goes through the socket's own
// write, and so does every message after it while anything waits there, so the bytes keep their order; an error is
// then the socket's to report, as before.

import * as fs from 'node:fs';

/** What the direct writer needs of a net.Socket. */
export interface DirectSocket {
    write(bytes: Uint8Array): boolean;
    readonly writableLength: number;
    readonly destroyed: boolean;
}

export type WriteSync = (fd: number, bytes: Uint8Array, offset: number, length: number) => number;

/** The socket's file descriptor, from Node's handle (undefined when it has none, or none any more). */
export function socketFd(socket: object): number | undefined {
    const fd = (socket as { _handle?: { fd?: unknown } | null })._handle?.fd;
    return typeof fd === 'number' && fd >= 0 ? fd : undefined;
}

/**
 * A write function for `socket` with its write's contract: true while there is room, false when the caller should
 * wait for 'drain'. `fd` gives the descriptor at the time of the write (undefined: the socket's own write).
 */
export function directWriter(socket: DirectSocket, fd: () => number | undefined, writeSync: WriteSync = fs.writeSync): (bytes: Uint8Array) => boolean {
    return (bytes) => {
        const descriptor = socket.writableLength === 0 && !socket.destroyed ? fd() : undefined;
        if (descriptor === undefined)
            return socket.write(bytes);
        let written = 0;
        try {
            written = writeSync(descriptor, bytes, 0, bytes.byteLength);
        } catch {
            written = 0; // EAGAIN (the socket's buffer is full), or an error the socket's write reports in its way
        }
        if (written >= bytes.byteLength)
            return true;
        return socket.write(written > 0 ? bytes.subarray(written) : bytes);
    };
}
