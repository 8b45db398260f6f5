// Many publishes in one native call: each message is one frame in a single buffer.
//   u8 flags (bit 0: retain; bits 1-2: QoS) | u32le topic length | topic | u32le payload length | payload
// A frame can be built once and kept (a cached notification), then copied into many batches.

export function encodeFrame(topic: string, payload: string | Uint8Array, qos: 0 | 1 | 2 = 0, retain = false): Buffer {
    const topicLength = Buffer.byteLength(topic);
    const payloadLength = typeof payload === 'string' ? Buffer.byteLength(payload) : payload.byteLength;
    const frame = Buffer.allocUnsafe(9 + topicLength + payloadLength);
    frame[0] = (retain ? 1 : 0) | (qos << 1);
    frame.writeUInt32LE(topicLength, 1);
    frame.write(topic, 5, 'utf8');
    frame.writeUInt32LE(payloadLength, 5 + topicLength);
    if (typeof payload === 'string')
        frame.write(payload, 9 + topicLength, 'utf8');
    else
        frame.set(payload, 9 + topicLength);
    return frame;
}

/** Collects frames for one publishFrames call. */
export class FrameBatch {
    private frames: Buffer[] = [];
    private bytes = 0;

    get count(): number {
        return this.frames.length;
    }

    get byteLength(): number {
        return this.bytes;
    }

    add(topic: string, payload: string | Uint8Array, qos: 0 | 1 | 2 = 0, retain = false): this {
        return this.addFrame(encodeFrame(topic, payload, qos, retain));
    }

    addFrame(frame: Buffer): this {
        this.frames.push(frame);
        this.bytes += frame.length;
        return this;
    }

    /** The batch as one buffer; the batch is empty afterwards. */
    take(): Buffer {
        const out = this.frames.length === 1 ? this.frames[0]! : Buffer.concat(this.frames, this.bytes);
        this.frames = [];
        this.bytes = 0;
        return out;
    }
}
