// The plugin's D-Bus client connection: a socket, EXTERNAL authentication, Hello, and messages marshalled by
// encode.ts and read by decode.ts (header fields at once, bodies on demand, in place in the bytes received). It
// implements BusConnection (connection.ts). What it allocates per message is what the per-change cost and the
// latency tails of the plugin come down to, so it allocates little; a large message is held once, in a buffer of its
// size that the socket reads into (decode.ts). For months on end: serials wrap (serial.ts), and what waits to be sent
// while the bus does not keep up is bounded (outgoing.ts).

import * as net from 'node:net';

import type { CallRequest, Connector } from '../connection';
import { DbusError } from '../connection';
import { DemuxConnection } from '../demux';
import type { IncomingMessage } from './decode';
import { decodeMessage, decodeMessageInto, MessageStream, MessageType, ReusedMessage } from './decode';
import type { VariantLike } from './encode';
import { encodeBody, encodeMessage, MessageKind, MethodCallEncoder } from './encode';
import { directWriter, socketFd } from './direct-write';
import { describeBytes, Outgoing, OUTGOING_LIMIT_BYTES, OutgoingFull } from './outgoing';
import { Serials } from './serial';

export { OutgoingFull } from './outgoing';

export type BusAddress = { kind: 'unix'; path: string } | { kind: 'tcp'; host: string; port: number };

/** Parses a D-Bus address list ('unix:path=/x;tcp:host=h,port=1'); unsupported entries are left out. */
export function parseAddresses(address: string): BusAddress[] {
    const out: BusAddress[] = [];
    for (const entry of address.split(';')) {
        const colon = entry.indexOf(':');
        if (colon < 0)
            continue;
        const transport = entry.slice(0, colon);
        const params = new Map<string, string>();
        for (const kv of entry.slice(colon + 1).split(',')) {
            const eq = kv.indexOf('=');
            if (eq > 0)
                params.set(kv.slice(0, eq), decodeURIComponent(kv.slice(eq + 1)));
        }
        if (transport === 'unix' && params.has('path'))
            out.push({ kind: 'unix', path: params.get('path')! });
        else if (transport === 'unix' && params.has('abstract'))
            out.push({ kind: 'unix', path: `\0${params.get('abstract')!}` });
        else if (transport === 'tcp' && params.has('port'))
            out.push({ kind: 'tcp', host: params.get('host') ?? 'localhost', port: Number(params.get('port')) });
    }
    return out;
}

const NO_REPLY_EXPECTED = 0x1;


export type ProblemReporter = (problem: string) => void;

/** Bytes per read from the bus socket, into one buffer that every read reuses. */
const READ_BUFFER_BYTES = 64 * 1024;

/** What the connection needs of its socket (a net.Socket; a fake in unit tests). */
export interface WireSocket {
    write(bytes: Uint8Array): boolean;
    destroy(): void;
    on(event: 'drain' | 'close', listener: () => void): unknown;
    on(event: 'error', listener: (err: Error) => void): unknown;
}

/**
 * A socket that reads into one reused buffer (net's `onread`): no Buffer, no stream chunk and no event per read.
 * Whoever holds the socket (authentication, then the connection) takes the bytes through `onBytes`, during the call,
 * and says where the next read goes through `target` (the reused buffer, or the rest of a large message).
 */
export interface ReadingSocket<S = net.Socket> {
    socket: S;
    readonly readBuffer: Buffer;
    onBytes: (buf: Buffer, length: number) => void;
    target: () => Buffer;
}

/** Settings of the connection that only tests change. */
export interface WireTuning {
    /** The first serial sent (tests start near 2^32 to see the wrap). */
    firstSerial: number;
    /** The most bytes waiting to be sent while the bus does not keep up (see outgoing.ts). */
    outgoingLimitBytes: number;
    /** Allocates the buffer of an incoming message that spans reads. */
    allocate: (bytes: number) => Buffer;
    /** The count of episodes of a bus that did not keep up, shared by a client's connections (see outgoing.ts). */
    episodes: { count: number };
}

const defaultTuning = (): WireTuning => ({
    firstSerial: 1, outgoingLimitBytes: OUTGOING_LIMIT_BYTES, allocate: (bytes) => Buffer.allocUnsafe(bytes), episodes: { count: 0 },
});

/** The client's connection once authenticated; exported for the unit tests, which give it a fake socket. */
export class NativeConnection extends DemuxConnection {
    private readonly stream: MessageStream;
    private readonly serials: Serials;
    private readonly outgoing: Outgoing;
    private readonly socket: WireSocket;
    private readonly outgoingLimit: number;
    private readonly calls = new MethodCallEncoder();

    /** `write`: how messages go out (the socket's write unless given; see direct-write.ts). */
    constructor(reading: ReadingSocket<WireSocket>, private readonly report: ProblemReporter, tuning: Partial<WireTuning> = {},
        write?: (bytes: Uint8Array) => boolean) {
        super();
        const t = { ...defaultTuning(), ...tuning };
        this.socket = reading.socket;
        this.outgoingLimit = t.outgoingLimitBytes;
        this.serials = new Serials(t.firstSerial);
        this.stream = new MessageStream({ readBuffer: reading.readBuffer, allocate: t.allocate });
        this.outgoing = new Outgoing(write ? { write } : this.socket, {
            limitBytes: t.outgoingLimitBytes, wanted: (serial) => this.isPending(serial), report, episodes: t.episodes,
        });
        reading.onBytes = (buf, length) => this.onData(buf, length);
        reading.target = () => this.stream.readTarget();
        this.socket.on('drain', () => this.outgoing.drained());
        this.socket.on('error', (err) => this.ended(`connection error: ${err.message}`));
        this.socket.on('close', () => this.ended('the bus closed the connection'));
    }

    /** Bytes waiting to be sent, and messages refused (see outgoing.ts). */
    get outgoingState(): { waitingBytes: number; refused: number } {
        return { waitingBytes: this.outgoing.waitingBytes, refused: this.outgoing.refused };
    }

    protected nextSerial(): number {
        return this.serials.take((serial) => this.isPending(serial));
    }

    protected send(serial: number, request: CallRequest): void {
        const signature = request.signature ?? '';
        const body = request.body ?? [];
        const variant = signature === 'v' && body.length === 1 ? body[0] : undefined;
        const bytes = typeof variant === 'object' && variant !== null && typeof (variant as VariantLike).signature === 'string'
            ? this.calls.encodeVariantCall(serial, request.destination, request.path, request.interface, request.member, variant as VariantLike)
            : this.calls.encode(serial, request.destination, request.path, request.interface, request.member, signature, encodeBody(signature, body));
        if (!this.outgoing.send(bytes, serial)) {
            throw new OutgoingFull(`${request.member} on '${request.destination}' not sent: the bus does not take our messages `
                + `(${describeBytes(this.outgoingLimit)} wait to be sent)`);
        }
    }

    protected closeTransport(): void {
        this.outgoing.clear();
        this.socket.destroy();
    }

    private onData(buf: Buffer, length: number): void {
        try {
            this.stream.push(buf, length, this.onMessage);
        } catch (err) {
            // The stream cannot be cut into messages any more: start over with a new connection.
            this.report(`unreadable data from the bus: ${err instanceof Error ? err.message : String(err)}; reconnecting`);
            this.socket.destroy();
        }
    }

    private readonly inPlace = new ReusedMessage();

    private readonly onMessage = (buf: Buffer, start: number, end: number, owned: boolean): void => {
        let message: IncomingMessage;
        try {
            // A reply a promise waits for is read when its caller resumes, after the read buffer may have been
            // reused: one that lies in the read buffer gets its own copy; one in its own buffer (it spanned reads) is
            // handed that buffer. Signals, the replies to callNow and the rest, handled here and now, are read in
            // place, into one message object that is reused (valid during their handling only).
            if (owned) {
                message = decodeMessage(buf, start, end);
            } else {
                message = decodeMessageInto(this.inPlace, buf, start, end);
                if (message.type === MessageType.MethodReturn && this.keepsReply(message.replySerial))
                    message = decodeMessage(Buffer.from(buf.subarray(start, end)));
            }
        } catch (err) {
            this.report(`skipped a message that does not decode: ${err instanceof Error ? err.message : String(err)}`);
            return;
        }
        try {
            this.dispatch(message);
        } catch (err) {
            this.report(`handling a ${message.member || 'reply'} failed: ${err instanceof Error ? err.message : String(err)}`);
        }
    };

    private dispatch(m: IncomingMessage): void {
        switch (m.type) {
            case MessageType.MethodReturn:
                this.settle(m.replySerial, m);
                return;
            case MessageType.Error: {
                let text = '';
                try {
                    const first = m.signature.startsWith('s') ? m.values()[0] : undefined;
                    text = typeof first === 'string' ? first : '';
                } catch {
                    // an error without a readable text is still an error
                }
                this.settle(m.replySerial, new DbusError(m.errorName || 'org.freedesktop.DBus.Error.Failed', text));
                return;
            }
            case MessageType.Signal:
                this.signal(m);
                return;
            case MessageType.MethodCall:
                this.answerCall(m);
                return;
            default:
                return;
        }
    }

    /** We export nothing; answer politely so callers do not wait for a timeout. */
    private answerCall(m: IncomingMessage): void {
        if ((m.flags & NO_REPLY_EXPECTED) !== 0 || m.sender === '')
            return;
        if (m.interface === 'org.freedesktop.DBus.Peer' && m.member === 'Ping') {
            this.write({ kind: MessageKind.MethodReturn, serial: this.nextSerial(), replySerial: m.serial, destination: m.sender });
            return;
        }
        const text = `no method '${m.member}' here`;
        this.write({
            kind: MessageKind.Error, serial: this.nextSerial(), replySerial: m.serial, destination: m.sender,
            errorName: 'org.freedesktop.DBus.Error.UnknownMethod', signature: 's', body: encodeBody('s', [text]),
        });
    }

    /** An answer to a peer: on its way, or dropped (and counted) when too much waits to be sent. */
    private write(message: Parameters<typeof encodeMessage>[0]): void {
        if (!this.closed)
            this.outgoing.send(encodeMessage(message));
    }
}

/** SASL EXTERNAL authentication. */
function authenticate(reading: ReadingSocket, timeoutMs: number): Promise<void> {
    const { socket } = reading;
    return new Promise<void>((resolve, reject) => {
        const uid = typeof process.getuid === 'function' ? process.getuid() : 0;
        let received = '';
        const timer = setTimeout(() => finish(new Error(`no authentication answer within ${timeoutMs} ms`)), timeoutMs);
        reading.onBytes = (buf, length) => {
            received += buf.toString('latin1', 0, length);
            const nl = received.indexOf('\r\n');
            if (nl < 0) {
                if (received.length > 4096)
                    finish(new Error('an over-long authentication answer'));
                return;
            }
            const line = received.slice(0, nl);
            if (line.startsWith('OK ')) {
                socket.write('BEGIN\r\n');
                finish();
            } else {
                finish(new Error(`the bus refused EXTERNAL authentication for uid ${uid}: '${line}'`));
            }
        };
        const onError = (err: Error): void => finish(err);
        const onClose = (): void => finish(new Error('the bus closed the connection during authentication'));
        function finish(err?: Error): void {
            clearTimeout(timer);
            reading.onBytes = () => undefined;
            socket.removeListener('error', onError);
            socket.removeListener('close', onClose);
            if (err)
                reject(err);
            else
                resolve();
        }
        socket.on('error', onError);
        socket.on('close', onClose);
        socket.write(`\0AUTH EXTERNAL ${Buffer.from(String(uid)).toString('hex')}\r\n`);
    });
}

function open(address: BusAddress, timeoutMs: number): Promise<ReadingSocket> {
    return new Promise<ReadingSocket>((resolve, reject) => {
        const readBuffer = Buffer.allocUnsafeSlow(READ_BUFFER_BYTES);
        const reading: ReadingSocket = { socket: undefined as unknown as net.Socket, readBuffer, onBytes: () => undefined, target: () => readBuffer };
        const onread = {
            // Asked after every read where the next one goes (net calls it once at the start, too).
            buffer: (): Uint8Array => reading.target(),
            callback: (length: number, buf: Uint8Array): boolean => {
                reading.onBytes(buf as Buffer, length);
                return true;
            },
        };
        const socket = address.kind === 'unix' ? net.connect({ path: address.path, onread }) : net.connect({ host: address.host, port: address.port, onread });
        reading.socket = socket;
        const timer = setTimeout(() => {
            socket.destroy();
            reject(new Error(`no connection within ${timeoutMs} ms`));
        }, timeoutMs);
        socket.once('connect', () => {
            clearTimeout(timer);
            socket.removeAllListeners('error');
            resolve(reading);
        });
        socket.once('error', (err) => {
            clearTimeout(timer);
            reject(err);
        });
    });
}

/**
 * Connects with the plugin's own client. `report` hears of bus input it had to skip, and of times the bus did not
 * take our messages. `tuning` is for tests.
 */
export function nativeConnector(report: ProblemReporter = () => undefined, tuning: Partial<WireTuning> = {}): Connector {
    const shared: Partial<WireTuning> = { episodes: { count: 0 }, ...tuning };
    return async (address, timeoutMs) => {
        const candidates = parseAddresses(address);
        if (candidates.length === 0)
            throw new Error(`'${address}' holds no D-Bus address this client can use (unix:path=, unix:abstract=, tcp:)`);
        let lastError: unknown;
        for (const candidate of candidates) {
            let reading: ReadingSocket | undefined;
            try {
                reading = await open(candidate, timeoutMs);
                reading.socket.setNoDelay(true);
                await authenticate(reading, timeoutMs);
                const socket = reading.socket;
                const connection = new NativeConnection(reading, report, shared, directWriter(socket, () => socketFd(socket)));
                const hello = await connection.call({
                    destination: 'org.freedesktop.DBus', path: '/org/freedesktop/DBus', interface: 'org.freedesktop.DBus', member: 'Hello',
                }, timeoutMs);
                const name = hello.values()[0];
                connection.uniqueName = typeof name === 'string' ? name : '';
                return connection;
            } catch (err) {
                reading?.socket.destroy();
                lastError = err;
            }
        }
        throw lastError instanceof Error ? lastError : new Error(String(lastError));
    };
}
