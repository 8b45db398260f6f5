// D-Bus unmarshalling of incoming messages, in one pass over the bytes: framing of a byte stream into messages,
// header fields, and bodies as JavaScript values of the same shape dbus-next produces (so the parsers of items.ts
// take either): integers as numbers (x and t as bigint), b as boolean, s/o/g as strings, 'ay' as a Buffer, other
// arrays as arrays, dicts as objects without prototype keyed by the key's text, structs as arrays, variants as
// { signature, value }. Both byte orders are read.

import type { TypeNode } from '../signature';
import { parseSignature, parseSingleType } from '../signature';

export const enum MessageType {
    MethodCall = 1,
    MethodReturn = 2,
    Error = 3,
    Signal = 4,
}

export interface IncomingMessage {
    type: MessageType;
    flags: number;
    serial: number;
    path?: string;
    interface?: string;
    member?: string;
    errorName?: string;
    replySerial?: number;
    destination?: string;
    sender?: string;
    signature: string;
    body: unknown[];
}

export class DecodeError extends Error {}

/** The largest message the D-Bus specification allows. */
export const MAX_MESSAGE_BYTES = 128 * 1024 * 1024;

function alignmentOf(code: string): number {
    switch (code) {
        case 'y': case 'g': case 'v': return 1;
        case 'n': case 'q': return 2;
        case 'x': case 't': case 'd': case '(': case '{': return 8;
        default: return 4; // b i u h s o a
    }
}

class Reader {
    private readonly view: DataView;
    pos: number;

    constructor(readonly buf: Buffer, start: number, readonly end: number, readonly le: boolean) {
        this.view = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
        this.pos = start;
    }

    private need(n: number): void {
        if (this.pos + n > this.end)
            throw new DecodeError('the message ends inside a value');
    }

    align(n: number): void {
        const p = (this.pos + n - 1) & ~(n - 1);
        if (p > this.end)
            throw new DecodeError('the message ends inside padding');
        this.pos = p;
    }

    u8(): number {
        this.need(1);
        return this.buf[this.pos++]!;
    }

    u32(): number {
        this.align(4);
        this.need(4);
        const v = this.view.getUint32(this.pos, this.le);
        this.pos += 4;
        return v;
    }

    string(): string {
        const length = this.u32();
        this.need(length + 1);
        const s = this.buf.toString('utf8', this.pos, this.pos + length);
        this.pos += length + 1;
        return s;
    }

    signature(): string {
        const length = this.u8();
        this.need(length + 1);
        const s = this.buf.toString('latin1', this.pos, this.pos + length);
        this.pos += length + 1;
        return s;
    }

    value(type: TypeNode): unknown {
        const v = this.view;
        switch (type.code) {
            case 'y':
                return this.u8();
            case 'b': {
                const x = this.u32();
                if (x > 1)
                    throw new DecodeError(`a boolean of ${x}`);
                return x === 1;
            }
            case 'n': {
                this.align(2);
                this.need(2);
                const x = v.getInt16(this.pos, this.le);
                this.pos += 2;
                return x;
            }
            case 'q': {
                this.align(2);
                this.need(2);
                const x = v.getUint16(this.pos, this.le);
                this.pos += 2;
                return x;
            }
            case 'i': {
                this.align(4);
                this.need(4);
                const x = v.getInt32(this.pos, this.le);
                this.pos += 4;
                return x;
            }
            case 'u':
            case 'h':
                return this.u32();
            case 'x': {
                this.align(8);
                this.need(8);
                const x = v.getBigInt64(this.pos, this.le);
                this.pos += 8;
                return x;
            }
            case 't': {
                this.align(8);
                this.need(8);
                const x = v.getBigUint64(this.pos, this.le);
                this.pos += 8;
                return x;
            }
            case 'd': {
                this.align(8);
                this.need(8);
                const x = v.getFloat64(this.pos, this.le);
                this.pos += 8;
                return x;
            }
            case 's':
            case 'o':
                return this.string();
            case 'g':
                return this.signature();
            case 'v': {
                const signature = this.signature();
                return { signature, value: this.value(parseSingleType(signature)) };
            }
            case '(': {
                this.align(8);
                return type.children.map((member) => this.value(member));
            }
            case 'a':
                return this.array(type.children[0]!);
            default:
                throw new DecodeError(`unknown type '${type.code}'`);
        }
    }

    private array(element: TypeNode): unknown {
        const length = this.u32();
        if (length > 64 * 1024 * 1024)
            throw new DecodeError('an array longer than 64 MiB');
        this.align(alignmentOf(element.code));
        const end = this.pos + length;
        if (end > this.end)
            throw new DecodeError('an array runs past the end of the message');
        if (element.code === 'y') {
            const bytes = Buffer.from(this.buf.subarray(this.pos, end));
            this.pos = end;
            return bytes;
        }
        if (element.code === '{') {
            const [keyType, valueType] = element.children as [TypeNode, TypeNode];
            const dict: Record<string, unknown> = Object.create(null) as Record<string, unknown>;
            while (this.pos < end) {
                this.align(8);
                const key = this.value(keyType);
                dict[String(key)] = this.value(valueType);
            }
            if (this.pos !== end)
                throw new DecodeError('a dict entry runs past the end of its array');
            return dict;
        }
        const out: unknown[] = [];
        while (this.pos < end)
            out.push(this.value(element));
        if (this.pos !== end)
            throw new DecodeError('an element runs past the end of its array');
        return out;
    }
}

/** Decodes the body of a message with the given signature. */
export function decodeBody(buf: Buffer, start: number, end: number, le: boolean, signature: string): unknown[] {
    if (signature === '')
        return [];
    const reader = new Reader(buf, start, end, le);
    const body = parseSignature(signature).map((type) => reader.value(type));
    return body;
}

const HEADER_FIELD_TYPES: Record<number, string> = { 1: 'o', 2: 's', 3: 's', 4: 's', 5: 'u', 6: 's', 7: 's', 8: 'g', 9: 'u' };

/** The total length of the message that starts at `buf[0]`, once its 16 first bytes are there. */
export function messageLength(head: Buffer): number {
    const le = head[0] === 0x6c;
    if (!le && head[0] !== 0x42)
        throw new DecodeError(`not a D-Bus message (byte order mark ${head[0]})`);
    const bodyLength = le ? head.readUInt32LE(4) : head.readUInt32BE(4);
    const fieldsLength = le ? head.readUInt32LE(12) : head.readUInt32BE(12);
    const total = 16 + ((fieldsLength + 7) & ~7) + bodyLength;
    if (total > MAX_MESSAGE_BYTES)
        throw new DecodeError(`a message of ${total} bytes, more than D-Bus allows`);
    return total;
}

/** Decodes one whole message. */
export function decodeMessage(buf: Buffer): IncomingMessage {
    if (buf.length < 16 || messageLength(buf) > buf.length)
        throw new DecodeError('a truncated message');
    const le = buf[0] === 0x6c;
    const reader = new Reader(buf, 12, buf.length, le);
    const message: IncomingMessage = {
        type: buf[1]!,
        flags: buf[2]!,
        serial: le ? buf.readUInt32LE(8) : buf.readUInt32BE(8),
        signature: '',
        body: [],
    };
    const fieldsLength = reader.u32();
    const fieldsEnd = 16 + fieldsLength;
    while (reader.pos < fieldsEnd) {
        reader.align(8);
        const code = reader.u8();
        const signature = reader.signature();
        const value = reader.value(parseSingleType(signature));
        if (HEADER_FIELD_TYPES[code] !== undefined && HEADER_FIELD_TYPES[code] !== signature)
            throw new DecodeError(`header field ${code} has type '${signature}'`);
        switch (code) {
            case 1: message.path = value as string; break;
            case 2: message.interface = value as string; break;
            case 3: message.member = value as string; break;
            case 4: message.errorName = value as string; break;
            case 5: message.replySerial = value as number; break;
            case 6: message.destination = value as string; break;
            case 7: message.sender = value as string; break;
            case 8: message.signature = value as string; break;
            default: break; // unknown fields are ignored, as the specification says
        }
    }
    const bodyStart = (fieldsEnd + 7) & ~7;
    const bodyLength = le ? buf.readUInt32LE(4) : buf.readUInt32BE(4);
    message.body = decodeBody(buf, bodyStart, bodyStart + bodyLength, le, message.signature);
    return message;
}

/** Cuts a byte stream into whole messages. */
export class MessageStream {
    private chunks: Buffer[] = [];
    private buffered = 0;

    /** Adds bytes; returns the whole messages now complete (as raw buffers, to be decoded one by one). */
    push(chunk: Buffer): Buffer[] {
        this.chunks.push(chunk);
        this.buffered += chunk.length;
        const out: Buffer[] = [];
        for (;;) {
            if (this.buffered < 16)
                return out;
            const head = this.chunks[0]!.length >= 16 ? this.chunks[0]! : Buffer.concat(this.chunks, 16);
            const total = messageLength(head);
            if (this.buffered < total)
                return out;
            out.push(this.take(total));
        }
    }

    private take(n: number): Buffer {
        const first = this.chunks[0]!;
        if (first.length >= n) {
            const message = first.subarray(0, n);
            if (first.length === n)
                this.chunks.shift();
            else
                this.chunks[0] = first.subarray(n);
            this.buffered -= n;
            return message;
        }
        const all = Buffer.concat(this.chunks, this.buffered);
        const message = all.subarray(0, n);
        this.chunks = all.length > n ? [all.subarray(n)] : [];
        this.buffered -= n;
        return message;
    }
}
