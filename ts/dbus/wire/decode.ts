// D-Bus unmarshalling of incoming messages: framing of a byte stream into messages, header fields, and bodies.
//
// A body is read on demand, in one of two ways:
//   - values(): every value as JavaScript, in the shape dbus-next produces (integers as numbers, x and t as bigint,
//     b as boolean, s/o/g as strings, 'ay' as a Buffer, other arrays as arrays, dicts as objects without prototype
//     keyed by the key's text, structs as arrays, variants as { signature, value });
//   - reader(): a BodyReader at the start of the body, for parsers that take only what they need (an item change
//     takes its path and Value and skips the rest) and allocate nothing for what they skip.
// Strings that come again and again (header fields, item paths, dict keys) are interned: read from the bytes
// without allocating when they were seen before. Both byte orders are read.

import type { TypeNode } from '../signature';
import { parseSignature, parseSingleType } from '../signature';

export const enum MessageType {
    MethodCall = 1,
    MethodReturn = 2,
    Error = 3,
    Signal = 4,
}

export class DecodeError extends Error {}

/** The largest message the D-Bus specification allows. */
export const MAX_MESSAGE_BYTES = 128 * 1024 * 1024;

export function alignmentOf(code: string): number {
    switch (code) {
        case 'y': case 'g': case 'v': return 1;
        case 'n': case 'q': return 2;
        case 'x': case 't': case 'd': case '(': case '{': return 8;
        default: return 4; // b i u h s o a
    }
}

/**
 * Short ASCII strings by their bytes: a direct-mapped table of the last string seen per hash slot. A hit costs a
 * hash and a compare over the bytes and allocates nothing; a miss decodes the string and keeps it.
 */
class Interner {
    private readonly table: Array<string | undefined>;
    private readonly mask: number;

    constructor(slots: number, private readonly maxBytes: number) {
        this.table = new Array<string | undefined>(slots).fill(undefined);
        this.mask = slots - 1;
    }

    get(buf: Buffer, start: number, end: number, encoding: 'utf8' | 'latin1'): string {
        const length = end - start;
        if (length > this.maxBytes)
            return buf.toString(encoding, start, end);
        // The slot from the length and the last bytes (item paths differ at their end), then a full compare.
        let h = Math.imul(length, 0x9e3779b1);
        for (let i = Math.max(start, end - 8); i < end; i++)
            h = Math.imul(h ^ buf[i]!, 0x01000193);
        const slot = (h >>> 0) & this.mask;
        const known = this.table[slot];
        if (known !== undefined && known.length === length) {
            let i = 0;
            while (i < length && known.charCodeAt(i) === buf[start + i])
                i++;
            if (i === length)
                return known;
        }
        for (let i = start; i < end; i++)
            if (buf[i]! >= 0x80)
                return buf.toString(encoding, start, end); // not ASCII: not interned
        const s = buf.toString('latin1', start, end); // ASCII: latin1 and UTF-8 agree
        this.table[slot] = s;
        return s;
    }
}

const interned = new Interner(4096, 128);

// Bodies have a handful of signatures: their parsed trees are kept.
const bodyTypes = new Map<string, TypeNode[]>();

function bodyTypesOf(signature: string): TypeNode[] {
    let types = bodyTypes.get(signature);
    if (!types) {
        types = parseSignature(signature);
        if (bodyTypes.size < 256)
            bodyTypes.set(signature, types);
    }
    return types;
}

/** Reads values from a message's bytes, from `pos` up to `end`; `base` is where the message starts (alignment is
 *  relative to it). */
export class BodyReader {
    constructor(public buf: Buffer, public base: number, public pos: number, public end: number, public le: boolean) {}

    /** Points the reader at other bytes (a reader reused from message to message). */
    reset(buf: Buffer, base: number, pos: number, end: number, le: boolean): this {
        this.buf = buf;
        this.base = base;
        this.pos = pos;
        this.end = end;
        this.le = le;
        return this;
    }

    private need(n: number): void {
        if (this.pos + n > this.end)
            throw new DecodeError('the message ends inside a value');
    }

    align(n: number): void {
        const p = this.base + ((this.pos - this.base + n - 1) & ~(n - 1));
        if (p > this.end)
            throw new DecodeError('the message ends inside padding');
        this.pos = p;
    }

    get atEnd(): boolean {
        return this.pos >= this.end;
    }

    u8(): number {
        this.need(1);
        return this.buf[this.pos++]!;
    }

    u32(): number {
        this.align(4);
        this.need(4);
        const v = this.le ? this.buf.readUInt32LE(this.pos) : this.buf.readUInt32BE(this.pos);
        this.pos += 4;
        return v;
    }

    /** A string ('s' or 'o'); `intern` for strings that recur (paths, keys, names). */
    string(intern = false): string {
        const length = this.u32();
        this.need(length + 1);
        const start = this.pos;
        this.pos += length + 1;
        return intern ? interned.get(this.buf, start, start + length, 'utf8') : this.buf.toString('utf8', start, start + length);
    }

    signature(): string {
        const length = this.u8();
        this.need(length + 1);
        const start = this.pos;
        this.pos += length + 1;
        return interned.get(this.buf, start, start + length, 'latin1');
    }

    /** Starts an array: returns where it ends, with the position at its first element. */
    arrayEnd(element: TypeNode): number {
        const length = this.u32();
        if (length > 64 * 1024 * 1024)
            throw new DecodeError('an array longer than 64 MiB');
        this.align(alignmentOf(element.code));
        const end = this.pos + length;
        if (end > this.end)
            throw new DecodeError('an array runs past the end of the message');
        return end;
    }

    /** A number of a numeric type: y n q i u h d (x and t are read by bigint()). */
    number(code: string): number {
        switch (code) {
            case 'y':
                return this.u8();
            case 'n': case 'q': {
                this.align(2);
                this.need(2);
                const p = this.pos;
                this.pos += 2;
                if (code === 'n')
                    return this.le ? this.buf.readInt16LE(p) : this.buf.readInt16BE(p);
                return this.le ? this.buf.readUInt16LE(p) : this.buf.readUInt16BE(p);
            }
            case 'i': {
                this.align(4);
                this.need(4);
                const p = this.pos;
                this.pos += 4;
                return this.le ? this.buf.readInt32LE(p) : this.buf.readInt32BE(p);
            }
            case 'u': case 'h':
                return this.u32();
            case 'd': {
                this.align(8);
                this.need(8);
                const p = this.pos;
                this.pos += 8;
                return this.le ? this.buf.readDoubleLE(p) : this.buf.readDoubleBE(p);
            }
            default:
                throw new DecodeError(`'${code}' is not a number type`);
        }
    }

    bigint(code: 'x' | 't'): bigint {
        this.align(8);
        this.need(8);
        const p = this.pos;
        this.pos += 8;
        if (code === 'x')
            return this.le ? this.buf.readBigInt64LE(p) : this.buf.readBigInt64BE(p);
        return this.le ? this.buf.readBigUInt64LE(p) : this.buf.readBigUInt64BE(p);
    }

    boolean(): boolean {
        const x = this.u32();
        if (x > 1)
            throw new DecodeError(`a boolean of ${x}`);
        return x === 1;
    }

    /** A value of any type, as JavaScript (see the top of the file). */
    value(type: TypeNode): unknown {
        switch (type.code) {
            case 'x': case 't':
                return this.bigint(type.code);
            case 'b':
                return this.boolean();
            case 's': case 'o':
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
                return this.number(type.code);
        }
    }

    /** Moves past a value without building it. */
    skip(type: TypeNode): void {
        switch (type.code) {
            case 's': case 'o': {
                const length = this.u32();
                this.need(length + 1);
                this.pos += length + 1;
                return;
            }
            case 'g': {
                const length = this.u8();
                this.need(length + 1);
                this.pos += length + 1;
                return;
            }
            case 'v':
                this.skip(parseSingleType(this.signature()));
                return;
            case '(':
                this.align(8);
                for (const member of type.children)
                    this.skip(member);
                return;
            case 'a': {
                const end = this.arrayEnd(type.children[0]!);
                this.pos = end;
                return;
            }
            case 'x': case 't': case 'd': {
                this.align(8);
                this.need(8);
                this.pos += 8;
                return;
            }
            case 'b':
                this.boolean();
                return;
            default:
                this.number(type.code);
        }
    }

    private array(element: TypeNode): unknown {
        const end = this.arrayEnd(element);
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
                const key = keyType.code === 's' ? this.string(true) : this.value(keyType);
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

/** Decodes a body with the given signature into JavaScript values (`base`: where its message starts). */
export function decodeBody(buf: Buffer, base: number, start: number, end: number, le: boolean, signature: string): unknown[] {
    if (signature === '')
        return [];
    const reader = new BodyReader(buf, base, start, end, le);
    return bodyTypesOf(signature).map((type) => reader.value(type));
}

const HEADER_FIELD_TYPES = ['', 'o', 's', 's', 's', 'u', 's', 's', 'g', 'u'];

/** The total length of the message that starts at `head[at]`, once its 16 first bytes are there. */
export function messageLength(head: Buffer, at = 0): number {
    const le = head[at] === 0x6c;
    if (!le && head[at] !== 0x42)
        throw new DecodeError(`not a D-Bus message (byte order mark ${head[at]})`);
    const bodyLength = le ? head.readUInt32LE(at + 4) : head.readUInt32BE(at + 4);
    const fieldsLength = le ? head.readUInt32LE(at + 12) : head.readUInt32BE(at + 12);
    const total = 16 + ((fieldsLength + 7) & ~7) + bodyLength;
    if (total > MAX_MESSAGE_BYTES)
        throw new DecodeError(`a message of ${total} bytes, more than D-Bus allows`);
    return total;
}

/** A message as received: its header fields, and its body to be read on demand. */
export class IncomingMessage {
    type: MessageType = 0 as MessageType;
    flags = 0;
    serial = 0;
    path = '';
    interface = '';
    member = '';
    errorName = '';
    replySerial = -1;
    destination = '';
    sender = '';
    signature = '';
    bodyStart = 0;
    bodyEnd = 0;

    /** `buf[start]` is the message's first byte. */
    constructor(public buf: Buffer = EMPTY, public start = 0, public le = true) {}

    /** The body as JavaScript values. */
    values(): unknown[] {
        return decodeBody(this.buf, this.start, this.bodyStart, this.bodyEnd, this.le, this.signature);
    }

    /** A reader at the start of the body. */
    reader(): BodyReader {
        return new BodyReader(this.buf, this.start, this.bodyStart, this.bodyEnd, this.le);
    }
}

const EMPTY = Buffer.alloc(0);

/**
 * A message object used again for every message that is handled at once, where it lies in the read buffer (signals):
 * decodeMessageInto() fills it in, and its reader() is one reader, reset. Valid until the next message; it allocates
 * nothing per message.
 */
export class ReusedMessage extends IncomingMessage {
    private readonly bodyReader = new BodyReader(EMPTY, 0, 0, 0, true);

    override reader(): BodyReader {
        return this.bodyReader.reset(this.buf, this.start, this.bodyStart, this.bodyEnd, this.le);
    }
}

/** The reader of header fields, one for every message (decoding is never re-entered). */
const headerReader = new BodyReader(EMPTY, 0, 0, 0, true);

/**
 * Decodes the header of the message in `buf[start, end)` (by default, the whole buffer); the body is checked to lie
 * within the message, and read on demand.
 */
export function decodeMessage(buf: Buffer, start = 0, end = buf.length): IncomingMessage {
    return decodeMessageInto(new IncomingMessage(), buf, start, end);
}

/** decodeMessage() into a message object given (every field is set again). */
export function decodeMessageInto<M extends IncomingMessage>(message: M, buf: Buffer, start = 0, end = buf.length): M {
    if (end - start < 16 || start + messageLength(buf, start) > end)
        throw new DecodeError('a truncated message');
    const le = buf[start] === 0x6c;
    message.buf = buf;
    message.start = start;
    message.le = le;
    message.type = buf[start + 1]!;
    message.flags = buf[start + 2]!;
    message.serial = le ? buf.readUInt32LE(start + 8) : buf.readUInt32BE(start + 8);
    message.path = '';
    message.interface = '';
    message.member = '';
    message.errorName = '';
    message.replySerial = -1;
    message.destination = '';
    message.sender = '';
    message.signature = '';
    const reader = headerReader.reset(buf, start, start + 12, end, le);
    const fieldsLength = reader.u32();
    const fieldsEnd = start + 16 + fieldsLength;
    while (reader.pos < fieldsEnd) {
        reader.align(8);
        const code = reader.u8();
        const signature = reader.signature();
        const expected = HEADER_FIELD_TYPES[code];
        if (expected !== undefined && expected !== '' && expected !== signature)
            throw new DecodeError(`header field ${code} has type '${signature}'`);
        switch (code) {
            case 1: message.path = reader.string(true); break;
            case 2: message.interface = reader.string(true); break;
            case 3: message.member = reader.string(true); break;
            case 4: message.errorName = reader.string(true); break;
            case 5: message.replySerial = reader.u32(); break;
            case 6: message.destination = reader.string(true); break;
            case 7: message.sender = reader.string(true); break;
            case 8: message.signature = reader.signature(); break;
            default: reader.skip(parseSingleType(signature)); break; // unknown fields are ignored, as the specification says
        }
    }
    headerReader.buf = EMPTY; // keeps no message's bytes alive
    message.bodyStart = start + ((fieldsEnd - start + 7) & ~7);
    message.bodyEnd = message.bodyStart + (le ? buf.readUInt32LE(start + 4) : buf.readUInt32BE(start + 4));
    if (message.bodyEnd > end)
        throw new DecodeError('a truncated message');
    return message;
}

/** Where a message handed out by MessageStream lies: `owned` when `buf` is the message's own buffer (it may be kept),
 *  else a range of the caller's read buffer, valid only during the call. */
export type MessageHandler = (buf: Buffer, start: number, end: number, owned: boolean) => void;

export interface MessageStreamOptions {
    /** The buffer reads go into when no large message is under way (reused for every read). */
    readBuffer?: Buffer;
    /** Allocates the buffer of a message that spans reads (tests count the calls). */
    allocate?: (bytes: number) => Buffer;
}

/**
 * Cuts a byte stream into whole messages. Messages that lie whole in a read are handed out where they lie, in the
 * read buffer. A message that spans reads gets a buffer of its own, of its exact size, once its 16 first bytes tell
 * the size: what has arrived of it is copied there, and when it is larger than the read buffer, readTarget() points
 * the next reads straight into it, so a message of many MB is held once and copied only as far as its first read.
 */
export class MessageStream {
    private readonly readBuffer: Buffer;
    private readonly allocate: (bytes: number) => Buffer;
    /** The message under way, in its own buffer, and how much of it has arrived. */
    private message: Buffer | undefined;
    private filled = 0;
    /** The first bytes of a message, before its 16 first bytes have arrived. */
    private readonly head = Buffer.alloc(16);
    private headBytes = 0;
    /** The part of `message` last handed out by readTarget(). */
    private direct: Buffer | undefined;

    constructor(options: MessageStreamOptions = {}) {
        this.readBuffer = options.readBuffer ?? Buffer.allocUnsafeSlow(64 * 1024);
        this.allocate = options.allocate ?? ((bytes) => Buffer.allocUnsafe(bytes));
    }

    /**
     * Where the next read should go: the rest of a large message under way, else the read buffer. A read into it is
     * then push()ed as usual.
     */
    readTarget(): Buffer {
        if (this.message !== undefined && this.message.length > this.readBuffer.length) {
            this.direct = this.message.subarray(this.filled);
            return this.direct;
        }
        return this.readBuffer;
    }

    /**
     * Adds the first `length` bytes of `input` and hands each message now complete to `onMessage`. `input` may be
     * reused by the caller afterwards: what is left of it (the start of a message) is copied. Throws DecodeError
     * when the stream cannot be cut into messages any more.
     */
    push(input: Buffer, length: number, onMessage: MessageHandler): void {
        if (input === this.direct && this.message !== undefined) {
            // Read straight into the message under way.
            this.direct = undefined;
            this.filled += length;
            if (this.filled === this.message.length)
                this.complete(onMessage);
            return;
        }
        this.direct = undefined;
        let at = 0;
        if (this.headBytes > 0) {
            const n = Math.min(16 - this.headBytes, length);
            input.copy(this.head, this.headBytes, 0, n);
            this.headBytes += n;
            at = n;
            if (this.headBytes < 16)
                return;
            this.message = this.allocate(messageLength(this.head));
            this.head.copy(this.message, 0, 0, 16);
            this.filled = 16;
            this.headBytes = 0;
        }
        if (this.message !== undefined) {
            const n = Math.min(this.message.length - this.filled, length - at);
            input.copy(this.message, this.filled, at, at + n);
            this.filled += n;
            at += n;
            if (this.filled < this.message.length)
                return;
            this.complete(onMessage);
        }
        // The usual case: whole messages in the input, read in place.
        while (length - at >= 16) {
            const total = messageLength(input, at);
            if (length - at < total)
                break;
            onMessage(input, at, at + total, false);
            at += total;
        }
        if (at === length)
            return;
        if (length - at < 16) {
            input.copy(this.head, 0, at, length);
            this.headBytes = length - at;
            return;
        }
        this.message = this.allocate(messageLength(input, at));
        this.filled = input.copy(this.message, 0, at, length);
    }

    private complete(onMessage: MessageHandler): void {
        const message = this.message!;
        this.message = undefined;
        this.filled = 0;
        onMessage(message, 0, message.length, true);
    }
}
