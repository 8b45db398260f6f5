// The few file operations the plugin makes (its status file, the credentials, the GUI apps), as promises over the
// callback API of `fs`, which Node has loaded before the plugin starts. `fs/promises` would load 8 more built-in
// modules (readline and streams among them), each compiled from source at every start: Debian's libnode has no code
// cache for them, and on a GX device's ARM CPU that is tens of milliseconds before the first full publish.
import * as fs from 'node:fs';
import { promisify } from 'node:util';

export const stat = promisify(fs.stat);
export const realpath = promisify(fs.realpath);
export const readdir = promisify(fs.readdir);
export const access = promisify(fs.access);
export const rename = promisify(fs.rename);
export const unlink = promisify(fs.unlink);

const open = promisify(fs.open);
const fstat = promisify(fs.fstat);
const close = promisify(fs.close);

function readInto(fd: number, buffer: Buffer, offset: number, length: number, position: number | null): Promise<number> {
    return new Promise((resolve, reject) => {
        fs.read(fd, buffer, offset, length, position, (err, bytesRead) => (err ? reject(err) : resolve(bytesRead)));
    });
}

/** Writes the whole text, creating the file with `mode` (or truncating it). */
export function writeFile(file: string, text: string, mode: number): Promise<void> {
    return new Promise((resolve, reject) => {
        fs.writeFile(file, text, { mode }, (err) => (err ? reject(err) : resolve()));
    });
}

/** Runs `use` with the file open for reading, and closes it after, also when `use` fails. */
export async function withFile<T>(file: string, use: (fd: number, size: number) => Promise<T>): Promise<T> {
    const fd = await open(file, 'r');
    try {
        return await use(fd, (await fstat(fd)).size);
    } finally {
        await close(fd);
    }
}

/**
 * The whole of a file of at most `maxBytes`; undefined when it does not exist. Larger is an error, also when it
 * grows while it is read.
 */
export async function readSmallFile(file: string, maxBytes: number): Promise<Buffer | undefined> {
    try {
        return await withFile(file, async (fd, size) => {
            if (size > maxBytes)
                throw new Error(`it is larger than ${maxBytes} bytes`);
            let buffer = Buffer.allocUnsafe(Math.min(size, maxBytes) + 1); // one more, to see its end at once
            let length = 0;
            for (;;) {
                if (length === buffer.length) { // it grew since fstat
                    if (length > maxBytes)
                        throw new Error(`it is larger than ${maxBytes} bytes`);
                    const bigger = Buffer.allocUnsafe(Math.min(length * 2, maxBytes + 1));
                    buffer.copy(bigger, 0, 0, length);
                    buffer = bigger;
                }
                const n = await readInto(fd, buffer, length, buffer.length - length, null);
                if (n === 0)
                    break;
                length += n;
            }
            if (length > maxBytes)
                throw new Error(`it is larger than ${maxBytes} bytes`);
            return buffer.subarray(0, length);
        });
    } catch (err) {
        if ((err as NodeJS.ErrnoException).code === 'ENOENT')
            return undefined;
        throw err;
    }
}

/** Fills `buffer` from `position` of an open file; fewer bytes only at its end. */
export async function readAt(fd: number, buffer: Buffer, position: number): Promise<number> {
    let length = 0;
    while (length < buffer.length) {
        const n = await readInto(fd, buffer, length, buffer.length - length, position + length);
        if (n === 0)
            break;
        length += n;
    }
    return length;
}

/** Feeds a whole open file to `consume` in pieces of up to 64 KiB; its size in bytes. */
export async function readAll(fd: number, consume: (piece: Buffer) => void): Promise<number> {
    const buffer = Buffer.allocUnsafe(64 * 1024);
    let size = 0;
    for (;;) {
        const n = await readInto(fd, buffer, 0, buffer.length, null);
        if (n === 0)
            return size;
        consume(buffer.subarray(0, n));
        size += n;
    }
}
