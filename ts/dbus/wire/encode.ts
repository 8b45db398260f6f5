// D-Bus marshalling (little endian) of messages and bodies: what the plugin's own bus client sends, and everything
// the simulated services send. Fast (item entries can be encoded once and copied into many replies and signals) and
// able to produce hostile input for tests (NaN doubles, dict keys that are not strings).
//
// JavaScript forms accepted for each type:
//   y n q i u: number (or bigint)   x t: bigint or number   d: number, NaN and infinities included
//   b: boolean (or 0/1)   s o g: string   v: { signature, value } (a dbus-next Variant)
//   a<t>: an array; 'ay' also a Buffer/Uint8Array
//   a{kv}: a Map, an array of [key, value] pairs, or a plain object (its keys converted to the key type)
//   (...): an array of the members

import type { TypeNode } from '../signature';
import { parseSingleType, parseSignature } from '../signature';

export type SigNode = TypeNode;
export { parseSignature, parseSingleType };

export interface VariantLike {
    signature: string;
    value: unknown;
}

export class WireError extends Error {}

function alignmentOf(code: string): number {
    switch (code) {
        case 'y': case 'g': case 'v':
            return 1;
        case 'n': case 'q':
            return 2;
        case 'x': case 't': case 'd': case '(': case '{':
            return 8;
        default:
            return 4;
    }
}


/** A D-Bus object path: '/', or '/' and a segment of [A-Za-z0-9_], once or more. (A loop: no regular expression run per call.) */
export function isObjectPath(path: string): boolean {
    const n = path.length;
    if (n === 0 || path.charCodeAt(0) !== 0x2f)
        return false;
    let segment = n === 1 ? 1 : 0;
    for (let i = 1; i < n; i++) {
        const c = path.charCodeAt(i);
        if (c === 0x2f) {
            if (segment === 0)
                return false;
            segment = 0;
        } else if ((c >= 0x30 && c <= 0x39) || (c >= 0x41 && c <= 0x5a) || (c >= 0x61 && c <= 0x7a) || c === 0x5f) {
            segment++;
        } else {
            return false;
        }
    }
    return segment > 0;
}

function integer(value: unknown, what: string): number {
    const n = typeof value === 'bigint' ? Number(value) : value;
    if (typeof n !== 'number' || !Number.isInteger(n))
        throw new WireError(`${what}: expected an integer, got ${String(value)}`);
    return n;
}

function ranged(value: unknown, code: string, min: number, max: number): number {
    const n = integer(value, `'${code}'`);
    if (n < min || n > max)
        throw new WireError(`'${code}': ${n} is out of range`);
    return n;
}

function big(value: unknown, code: string): bigint {
    if (typeof value === 'bigint')
        return value;
    return BigInt(integer(value, `'${code}'`));
}

// Signatures already checked: the same few are written again and again.
const validSignatures = new Set<string>();

/** A growing buffer that writes D-Bus values with their alignment (relative to its start). */
export class WireWriter {
    private buf: Buffer;
    private pos = 0;

    constructor(initialBytes = 256) {
        this.buf = Buffer.allocUnsafe(initialBytes);
    }

    get length(): number {
        return this.pos;
    }

    private ensure(bytes: number): void {
        const need = this.pos + bytes;
        if (need <= this.buf.length)
            return;
        const grown = Buffer.allocUnsafe(Math.max(need, this.buf.length * 2));
        this.buf.copy(grown, 0, 0, this.pos);
        this.buf = grown;
    }

    pad(alignment: number): void {
        const rest = this.pos % alignment;
        if (rest === 0)
            return;
        const bytes = alignment - rest;
        this.ensure(bytes);
        for (let i = 0; i < bytes; i++)
            this.buf[this.pos++] = 0;
    }

    u8(v: number): void {
        this.ensure(1);
        this.buf[this.pos++] = v;
    }

    u32(v: number): void {
        this.pad(4);
        this.ensure(4);
        this.buf.writeUInt32LE(v, this.pos);
        this.pos += 4;
    }

    /** Patches a u32 written earlier. */
    setU32(at: number, v: number): void {
        this.buf.writeUInt32LE(v, at);
    }

    string(s: string): void {
        if (s.includes('\0'))
            throw new WireError('strings cannot hold NUL characters');
        const bytes = Buffer.byteLength(s, 'utf8');
        this.u32(bytes);
        this.ensure(bytes + 1);
        this.buf.write(s, this.pos, 'utf8');
        this.pos += bytes;
        this.buf[this.pos++] = 0;
    }

    signature(s: string): void {
        if (!validSignatures.has(s)) {
            parseSignature(s); // throws on a signature D-Bus does not allow
            if (validSignatures.size < 1024)
                validSignatures.add(s);
        }
        this.ensure(s.length + 2);
        this.buf[this.pos++] = s.length;
        this.buf.write(s, this.pos, 'latin1');
        this.pos += s.length;
        this.buf[this.pos++] = 0;
    }

    /** Copies bytes encoded elsewhere; the caller is responsible for the alignment. */
    raw(bytes: Uint8Array): void {
        this.ensure(bytes.byteLength);
        this.buf.set(bytes, this.pos);
        this.pos += bytes.byteLength;
    }

    /** Writes 'a' + element: the length, the padding, the elements written by fill. */
    array(elementAlignment: number, fill: () => void): void {
        this.u32(0);
        const lengthAt = this.pos - 4;
        this.pad(elementAlignment);
        const start = this.pos;
        fill();
        const length = this.pos - start;
        if (length > 64 * 1024 * 1024)
            throw new WireError('array longer than 64 MiB');
        this.setU32(lengthAt, length);
    }

    /** Writes one value of the given type. */
    value(type: SigNode, v: unknown): void {
        switch (type.code) {
            case 'y':
                this.u8(ranged(v, 'y', 0, 255));
                return;
            case 'b':
                if (v !== true && v !== false && v !== 0 && v !== 1)
                    throw new WireError(`'b': expected a boolean, got ${String(v)}`);
                this.u32(v ? 1 : 0);
                return;
            case 'n':
                this.pad(2);
                this.ensure(2);
                this.buf.writeInt16LE(ranged(v, 'n', -0x8000, 0x7fff), this.pos);
                this.pos += 2;
                return;
            case 'q':
                this.pad(2);
                this.ensure(2);
                this.buf.writeUInt16LE(ranged(v, 'q', 0, 0xffff), this.pos);
                this.pos += 2;
                return;
            case 'i':
                this.pad(4);
                this.ensure(4);
                this.buf.writeInt32LE(ranged(v, 'i', -0x80000000, 0x7fffffff), this.pos);
                this.pos += 4;
                return;
            case 'u':
                this.u32(ranged(v, 'u', 0, 0xffffffff));
                return;
            case 'h':
                // A unix fd index without the fds themselves: the bus daemon would drop the connection.
                throw new WireError("'h' (unix fd) cannot be sent");
            case 'x': {
                this.pad(8);
                this.ensure(8);
                const n = big(v, 'x');
                if (n < -(2n ** 63n) || n >= 2n ** 63n)
                    throw new WireError(`'x': ${n} is out of range`);
                this.buf.writeBigInt64LE(n, this.pos);
                this.pos += 8;
                return;
            }
            case 't': {
                this.pad(8);
                this.ensure(8);
                const n = big(v, 't');
                if (n < 0n || n >= 2n ** 64n)
                    throw new WireError(`'t': ${n} is out of range`);
                this.buf.writeBigUInt64LE(n, this.pos);
                this.pos += 8;
                return;
            }
            case 'd':
                if (typeof v !== 'number')
                    throw new WireError(`'d': expected a number, got ${String(v)}`);
                this.pad(8);
                this.ensure(8);
                this.buf.writeDoubleLE(v, this.pos);
                this.pos += 8;
                return;
            case 's':
                if (typeof v !== 'string')
                    throw new WireError(`'s': expected a string, got ${typeof v}`);
                this.string(v);
                return;
            case 'o':
                if (typeof v !== 'string' || !isObjectPath(v))
                    throw new WireError(`'o': not an object path: ${String(v)}`);
                this.string(v);
                return;
            case 'g':
                if (typeof v !== 'string')
                    throw new WireError(`'g': expected a string, got ${typeof v}`);
                this.signature(v);
                return;
            case 'v': {
                const variant = v as VariantLike | null | undefined;
                if (!variant || typeof variant.signature !== 'string')
                    throw new WireError(`'v': expected a Variant, got ${String(v)}`);
                const inner = parseSingleType(variant.signature);
                this.signature(variant.signature);
                this.value(inner, variant.value);
                return;
            }
            case '(': {
                if (!Array.isArray(v) || v.length !== type.children.length)
                    throw new WireError(`'(': expected an array of ${type.children.length} members`);
                this.pad(8);
                type.children.forEach((member, i) => this.value(member, v[i]));
                return;
            }
            case 'a':
                this.arrayValue(type, v);
                return;
            default:
                throw new WireError(`cannot write type '${type.code}'`);
        }
    }

    private arrayValue(type: SigNode, v: unknown): void {
        const element = type.children[0] as SigNode;
        if (element.code === '{') {
            const [keyType, valueType] = element.children as [SigNode, SigNode];
            const entries = dictEntries(v, keyType.code);
            this.array(8, () => {
                for (const [key, value] of entries) {
                    this.pad(8);
                    this.value(keyType, key);
                    this.value(valueType, value);
                }
            });
            return;
        }
        if (element.code === 'y' && v instanceof Uint8Array) {
            this.array(1, () => this.raw(v));
            return;
        }
        if (!Array.isArray(v))
            throw new WireError(`'a${element.code}': expected an array`);
        this.array(alignmentOf(element.code), () => {
            for (const item of v)
                this.value(element, item);
        });
    }

    /** The bytes written so far (a view, not a copy). */
    finish(): Buffer {
        return this.buf.subarray(0, this.pos);
    }
}

function convertKey(key: string, code: string): unknown {
    switch (code) {
        case 's': case 'o': case 'g':
            return key;
        case 'b':
            return key === 'true' || key === '1';
        case 'x': case 't':
            return BigInt(key);
        default:
            return Number(key);
    }
}

function dictEntries(v: unknown, keyCode: string): Array<[unknown, unknown]> {
    if (v instanceof Map)
        return [...(v as Map<unknown, unknown>).entries()];
    if (Array.isArray(v))
        return v as Array<[unknown, unknown]>;
    if (v !== null && typeof v === 'object')
        return Object.entries(v).map(([k, value]) => [convertKey(k, keyCode), value]);
    throw new WireError('a dict needs a Map, an array of pairs or an object');
}

/** Encodes a message body: the values of the signature's complete types. */
export function encodeBody(signature: string, values: readonly unknown[]): Buffer {
    const types = parseSignature(signature);
    if (types.length !== values.length)
        throw new WireError(`signature '${signature}' has ${types.length} types, the body ${values.length} values`);
    const writer = new WireWriter();
    types.forEach((type, i) => writer.value(type, values[i]));
    return writer.finish();
}

/**
 * Writes an array of dict entries that were encoded one by one, each as if it started at offset 0 (a dict entry
 * is 8-aligned, so its encoding does not depend on where it lands).
 */
export function writeEntryArray(writer: WireWriter, entries: Iterable<Uint8Array>): void {
    writer.array(8, () => {
        for (const entry of entries) {
            writer.pad(8);
            writer.raw(entry);
        }
    });
}

/** A body of one 'a{...}' made of entries encoded one by one. */
export function entryArrayBody(entries: Iterable<Uint8Array>, sizeHint = 1024): Buffer {
    const writer = new WireWriter(sizeHint);
    writeEntryArray(writer, entries);
    return writer.finish();
}

/** A body of one variant that holds an 'a{...}' of the given signature, made of pre-encoded entries. */
export function variantEntryArrayBody(arraySignature: string, entries: Iterable<Uint8Array>, sizeHint = 1024): Buffer {
    const writer = new WireWriter(sizeHint);
    writer.signature(arraySignature);
    writeEntryArray(writer, entries);
    return writer.finish();
}

/** Encodes one dict entry {key, value} at offset 0 (see writeEntryArray). */
export function encodeEntry(keyType: string, key: unknown, valueType: string, value: unknown): Buffer {
    const writer = new WireWriter(64);
    writer.value(parseSingleType(keyType), key);
    writer.value(parseSingleType(valueType), value);
    return writer.finish();
}

export const enum MessageKind {
    MethodCall = 1,
    MethodReturn = 2,
    Error = 3,
    Signal = 4,
}

export interface OutgoingMessage {
    kind: MessageKind;
    serial: number;
    flags?: number;
    path?: string;
    iface?: string;
    member?: string;
    errorName?: string;
    replySerial?: number;
    destination?: string;
    /** The body's signature; '' for none. */
    signature?: string;
    /** The body as encoded by encodeBody and friends. */
    body?: Uint8Array;
}

const FIELD_PATH = 1;
const FIELD_INTERFACE = 2;
const FIELD_MEMBER = 3;
const FIELD_ERROR_NAME = 4;
const FIELD_REPLY_SERIAL = 5;
const FIELD_DESTINATION = 6;
const FIELD_SIGNATURE = 8;

const NAME = /^[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)+$/;
const MEMBER = /^[A-Za-z_][A-Za-z0-9_]*$/;

/** Encodes a whole message, header and body. Checks the header fields the bus daemon would reject us for. */
export function encodeMessage(m: OutgoingMessage): Buffer {
    const body = m.body ?? Buffer.alloc(0);
    const signature = m.signature ?? '';
    const writer = new WireWriter(128 + body.byteLength);
    writer.u8(0x6c); // 'l': little endian
    writer.u8(m.kind);
    writer.u8(m.flags ?? 0);
    writer.u8(1);
    writer.u32(body.byteLength);
    writer.u32(m.serial);
    const field = (code: number, sig: string, value: unknown): void => {
        writer.pad(8);
        writer.u8(code);
        writer.signature(sig);
        writer.value(parseSingleType(sig), value);
    };
    writer.array(8, () => {
        if (m.path !== undefined) {
            if (!isObjectPath(m.path))
                throw new WireError(`not an object path: '${m.path}'`);
            field(FIELD_PATH, 'o', m.path);
        }
        if (m.iface !== undefined) {
            if (!NAME.test(m.iface))
                throw new WireError(`not an interface name: '${m.iface}'`);
            field(FIELD_INTERFACE, 's', m.iface);
        }
        if (m.member !== undefined) {
            if (!MEMBER.test(m.member))
                throw new WireError(`not a member name: '${m.member}'`);
            field(FIELD_MEMBER, 's', m.member);
        }
        if (m.errorName !== undefined) {
            if (!NAME.test(m.errorName))
                throw new WireError(`not an error name: '${m.errorName}'`);
            field(FIELD_ERROR_NAME, 's', m.errorName);
        }
        if (m.replySerial !== undefined)
            field(FIELD_REPLY_SERIAL, 'u', m.replySerial);
        if (m.destination !== undefined)
            field(FIELD_DESTINATION, 's', m.destination);
        if (signature !== '')
            field(FIELD_SIGNATURE, 'g', signature);
    });
    writer.pad(8);
    writer.raw(body);
    return writer.finish();
}

/** The most method-call headers a MethodCallEncoder keeps (about 150 bytes each); when full it starts again. */
export const METHOD_CALL_HEADERS_KEPT = 128;

interface KeptHeader {
    destination: string;
    iface: string;
    member: string;
    signature: string;
    /** The encoded header, padded to 8 bytes, with 0 for the body's length and the serial. */
    bytes: Buffer;
}

/**
 * Encodes method calls as encodeMessage does, keeping the header of the last call to each object path (all of it
 * but the body's length and the serial): a call like the one before it to the same path (a write to the same item)
 * costs a copy of its header instead of encoding and checking every header field again. Kept by path alone, whose
 * hash the string carries once it was looked up (the item cache did), not by a key made of all the fields.
 */
export class MethodCallEncoder {
    private readonly headers = new Map<string, KeptHeader>();

    constructor(private readonly kept = METHOD_CALL_HEADERS_KEPT) {}

    get size(): number {
        return this.headers.size;
    }

    encode(serial: number, destination: string, path: string, iface: string, member: string, signature: string, body: Uint8Array): Buffer {
        const head = this.header(destination, path, iface, member, signature);
        const bytes = Buffer.allocUnsafe(head.length + body.byteLength);
        head.copy(bytes, 0);
        bytes.writeUInt32LE(body.byteLength, 4);
        bytes.writeUInt32LE(serial, 8);
        bytes.set(body, head.length);
        return bytes;
    }

    /**
     * A call whose body is one variant (signature 'v'): a double or an int32, what most writes carry, is written
     * straight after the header; anything else as encodeBody writes it (and refuses it).
     */
    encodeVariantCall(serial: number, destination: string, path: string, iface: string, member: string, variant: VariantLike): Buffer {
        const v = variant.value;
        const code = variant.signature === 'd' && typeof v === 'number' ? 0x64
            : variant.signature === 'i' && typeof v === 'number' && Number.isInteger(v) && v >= -0x80000000 && v <= 0x7fffffff ? 0x69 : 0;
        if (code === 0)
            return this.encode(serial, destination, path, iface, member, 'v', encodeBody('v', [variant]));
        const head = this.header(destination, path, iface, member, 'v');
        // The variant's signature (length 1, the code, NUL), padding to the value's alignment, the value.
        const size = code === 0x64 ? 16 : 8;
        const at = head.length;
        const bytes = Buffer.allocUnsafe(at + size);
        head.copy(bytes, 0);
        bytes.writeUInt32LE(size, 4);
        bytes.writeUInt32LE(serial, 8);
        bytes.fill(0, at, at + size);
        bytes[at] = 1;
        bytes[at + 1] = code;
        if (code === 0x64)
            bytes.writeDoubleLE(v as number, at + 8);
        else
            bytes.writeInt32LE(v as number, at + 4);
        return bytes;
    }

    private header(destination: string, path: string, iface: string, member: string, signature: string): Buffer {
        let header = this.headers.get(path);
        if (header === undefined || header.destination !== destination || header.member !== member || header.iface !== iface
            || header.signature !== signature) {
            const bytes = Buffer.from(encodeMessage({ kind: MessageKind.MethodCall, serial: 0, destination, path, iface, member, signature }));
            if (header === undefined && this.headers.size >= this.kept)
                this.headers.clear();
            header = { destination, iface, member, signature, bytes };
            this.headers.set(path, header);
        }
        return header.bytes;
    }
}
