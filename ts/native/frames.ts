// Many publishes in one native call: each message is one frame in a single buffer.
//   u8 flags (bit 0: retain; bits 1-2: QoS) | u32le topic length | topic | u32le payload length | payload
// A FrameBatch writes frames straight into one buffer that it keeps for the next batch: publishing allocates
// nothing once the buffer has grown to the size of the batches.

const HEADER = 9;

function flags(qos: 0 | 1 | 2, retain: boolean): number {
    return (retain ? 1 : 0) | (qos << 1);
}

export function encodeFrame(topic: string, payload: string | Uint8Array, qos: 0 | 1 | 2 = 0, retain = false): Buffer {
    const topicLength = Buffer.byteLength(topic);
    const payloadLength = typeof payload === 'string' ? Buffer.byteLength(payload) : payload.byteLength;
    const frame = Buffer.allocUnsafe(HEADER + topicLength + payloadLength);
    frame[0] = flags(qos, retain);
    frame.writeUInt32LE(topicLength, 1);
    frame.write(topic, 5, 'utf8');
    frame.writeUInt32LE(payloadLength, 5 + topicLength);
    if (typeof payload === 'string')
        frame.write(payload, HEADER + topicLength, 'utf8');
    else
        frame.set(payload, HEADER + topicLength);
    return frame;
}

/** Strings up to this long are copied by writeUtf8 itself while they are ASCII; a call into C++ costs more. */
const SHORT = 96;

/**
 * Writes `text` as UTF-8 at `at` (room for 3 bytes per code unit reserved) and returns the bytes written. Item paths
 * and payloads are short ASCII: copied here, a character at a time, they cost no call into C++ (Buffer.write's
 * ~0.1 µs each, two per published item); anything else goes to Buffer.write.
 */
function writeUtf8(b: Buffer, text: string, at: number): number {
    const n = text.length;
    if (n <= SHORT) {
        let i = 0;
        for (; i < n; i++) {
            const c = text.charCodeAt(i);
            if (c >= 0x80)
                break;
            b[at + i] = c;
        }
        if (i === n)
            return n;
    }
    return b.write(text, at, 'utf8');
}

function writeU32(b: Buffer, at: number, value: number): void {
    b[at] = value & 0xff;
    b[at + 1] = (value >>> 8) & 0xff;
    b[at + 2] = (value >>> 16) & 0xff;
    b[at + 3] = value >>> 24;
}

/** Collects frames for one publishFrames call, written straight into one buffer that grows as needed. */
export class FrameBatch {
    private buffer: Buffer;
    /** buffer.length, kept in a field: the check before every frame reads no typed array's accessor. */
    private capacity = 0;
    private length = 0;
    private frames = 0;

    constructor(private readonly initialBytes = 64 * 1024, private readonly keepBytes = 4 * initialBytes) {
        this.buffer = Buffer.allocUnsafe(0);
    }

    get count(): number {
        return this.frames;
    }

    get byteLength(): number {
        return this.length;
    }

    add(topic: string, payload: string | Uint8Array, qos: 0 | 1 | 2 = 0, retain = false): this {
        // UTF-8 takes at most three bytes per UTF-16 code unit: reserve that, write, then record the real lengths.
        const payloadMax = typeof payload === 'string' ? payload.length * 3 : payload.byteLength;
        this.reserve(HEADER + topic.length * 3 + payloadMax);
        const start = this.length;
        const b = this.buffer;
        b[start] = flags(qos, retain);
        const topicLength = b.write(topic, start + 5, 'utf8');
        b.writeUInt32LE(topicLength, start + 1);
        const payloadAt = start + HEADER + topicLength;
        let payloadLength: number;
        if (typeof payload === 'string') {
            payloadLength = b.write(payload, payloadAt, 'utf8');
        } else {
            b.set(payload, payloadAt);
            payloadLength = payload.byteLength;
        }
        b.writeUInt32LE(payloadLength, start + 5 + topicLength);
        this.length = payloadAt + payloadLength;
        this.frames++;
        return this;
    }

    /** A frame whose topic is `prefix` (bytes, e.g. 'N/<id>/<type>/<instance>') followed by `rest`. */
    addWithPrefix(prefix: Uint8Array, rest: string, payload: string, retain = false): this {
        this.reserve(HEADER + prefix.byteLength + rest.length * 3 + payload.length * 3);
        const start = this.length;
        const b = this.buffer;
        b[start] = retain ? 1 : 0;
        const n = prefix.byteLength;
        if (n <= SHORT) {
            // A topic prefix is short: copied here, it costs no call into TypedArray.prototype.set.
            for (let i = 0; i < n; i++)
                b[start + 5 + i] = prefix[i]!;
        } else {
            b.set(prefix, start + 5);
        }
        const topicLength = n + writeUtf8(b, rest, start + 5 + n);
        writeU32(b, start + 1, topicLength);
        const payloadAt = start + HEADER + topicLength;
        const payloadLength = writeUtf8(b, payload, payloadAt);
        writeU32(b, start + 5 + topicLength, payloadLength);
        this.length = payloadAt + payloadLength;
        this.frames++;
        return this;
    }

    /** Copies a frame built earlier with encodeFrame. */
    addFrame(frame: Uint8Array): this {
        this.reserve(frame.byteLength);
        this.buffer.set(frame, this.length);
        this.length += frame.byteLength;
        this.frames++;
        return this;
    }

    /** The buffer the batch writes into: its first byteLength bytes are the frames (valid as bytes() is). */
    get storage(): Buffer {
        return this.buffer;
    }

    /** The batch's bytes, valid until the next change of the batch (it keeps its buffer). */
    bytes(): Buffer {
        return this.buffer.subarray(0, this.length);
    }

    /** Empties the batch, keeping its buffer unless an unusual batch grew it beyond `keepBytes`. */
    clear(): void {
        this.length = 0;
        this.frames = 0;
        if (this.capacity > this.keepBytes) {
            this.buffer = Buffer.allocUnsafe(0);
            this.capacity = 0;
        }
    }

    /** The batch's bytes, handed over; the batch is empty afterwards. */
    take(): Buffer {
        const out = this.buffer.subarray(0, this.length);
        this.buffer = Buffer.allocUnsafe(0);
        this.capacity = 0;
        this.length = 0;
        this.frames = 0;
        return out;
    }

    private reserve(bytes: number): void {
        if (this.length + bytes <= this.capacity)
            return;
        let size = Math.max(this.initialBytes, this.capacity * 2);
        while (size < this.length + bytes)
            size *= 2;
        const bigger = Buffer.allocUnsafeSlow(size); // its own memory, not a slice of the shared pool: a batch buffer lives long
        this.buffer.copy(bigger, 0, 0, this.length);
        this.buffer = bigger;
        this.capacity = size;
    }
}
