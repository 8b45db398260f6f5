// The way out to the bus, bounded. The socket takes messages while it reports room (its write() returns true). Once
// it reports a full buffer, further messages wait here, in order, until it drains; past a limit of bytes waiting, a
// message is refused at once: a call fails (its caller handles failed calls: a scan is retried, a write is reported
// to its MQTT client) and an answer we owe a peer is dropped. A slow or stuck bus thus costs at most the limit, plus
// what the socket itself holds (its buffer and the message that filled it), instead of memory without bound.
//
// Nothing overtakes: while anything waits, every message waits behind it (D-Bus delivers a connection's messages
// in order, and a SetValue must not overtake the one before it). A call that timed out or failed while waiting is not
// sent when the bus catches up: its caller has been told it failed, and an MQTT write reported as failed must not be
// applied later.

/** What the way out needs of the socket: write() returns false when the socket's buffer is full ('drain' follows). */
export interface Transport {
    write(bytes: Uint8Array): boolean;
}

/** A call refused because too much waits to be sent already. */
export class OutgoingFull extends Error {}

/**
 * The most that waits to be sent while the bus does not keep up: 4 MiB. The bridge has few calls in flight (8
 * MQTT requests and 16 scans at once; a call is 100-300 bytes, a write's value at most what a 256 KiB JSON payload
 * encodes to, about 2 MiB for the largest arrays), so this holds everything it can legitimately have queued, with
 * room, and is under 3 % of the 150 MB of data Venus allows FlashMQ.
 */
export const OUTGOING_LIMIT_BYTES = 4 * 1024 * 1024;

export interface OutgoingOptions {
    limitBytes: number;
    /** Whether the call with this serial still waits for its reply (false: it timed out or failed; it is not sent). */
    wanted: (serial: number) => boolean;
    /** Hears, in one line each, when the bus stops keeping up (the first refusal) and when it has caught up. */
    report: (problem: string) => void;
    /** Milliseconds, for how long the bus did not keep up. */
    now?: () => number;
    /**
     * Counts the episodes (a first refusal to catching up), shared by the connections of one client: each line names
     * its episode, so that a log that says a cause once (the bridge's) says every episode, on every connection.
     */
    episodes?: { count: number };
}

interface Waiting {
    bytes: Uint8Array;
    /** The call's serial; 0 for a message that expects no reply (an answer to a peer). */
    serial: number;
}

export function describeBytes(bytes: number): string {
    return bytes % (1024 * 1024) === 0 ? `${bytes / (1024 * 1024)} MiB` : `${bytes} bytes`;
}

export class Outgoing {
    /** The socket reported a full buffer and has not drained since. */
    private full = false;
    private waiting: Array<Waiting | undefined> = [];
    private head = 0;
    private bytes = 0;
    private refusedTotal = 0;
    private readonly episodes: { count: number };
    private episode: { since: number; refused: number; number: number } | undefined;
    private readonly now: () => number;

    constructor(private readonly transport: Transport, private readonly options: OutgoingOptions) {
        this.now = options.now ?? Date.now;
        this.episodes = options.episodes ?? { count: 0 };
    }

    /** Bytes waiting to be handed to the socket. */
    get waitingBytes(): number {
        return this.bytes;
    }

    /** Messages refused since the connection started. */
    get refused(): number {
        return this.refusedTotal;
    }

    /** Sends `bytes` now, or after what waits; false when refused (too much waits already). */
    send(bytes: Uint8Array, serial = 0): boolean {
        if (!this.full && this.head === this.waiting.length) {
            this.full = !this.transport.write(bytes);
            return true;
        }
        if (this.bytes + bytes.byteLength > this.options.limitBytes) {
            this.dropUnwanted();
            if (this.bytes + bytes.byteLength > this.options.limitBytes) {
                this.refuse();
                return false;
            }
        }
        this.waiting.push({ bytes, serial });
        this.bytes += bytes.byteLength;
        return true;
    }

    /** The socket drained: hands it what waits, in order, until it is full again. */
    drained(): void {
        this.full = false;
        while (!this.full && this.head < this.waiting.length) {
            const w = this.waiting[this.head]!;
            this.waiting[this.head++] = undefined;
            this.bytes -= w.bytes.byteLength;
            if (w.serial === 0 || this.options.wanted(w.serial))
                this.full = !this.transport.write(w.bytes);
        }
        if (this.head === this.waiting.length) {
            this.waiting = [];
            this.head = 0;
            if (!this.full)
                this.caughtUp();
        }
    }

    /** The connection ended: nothing more is sent. */
    clear(): void {
        this.waiting = [];
        this.head = 0;
        this.bytes = 0;
        this.episode = undefined;
    }

    private dropUnwanted(): void {
        const kept: Waiting[] = [];
        let bytes = 0;
        for (let i = this.head; i < this.waiting.length; i++) {
            const w = this.waiting[i]!;
            if (w.serial === 0 || this.options.wanted(w.serial)) {
                kept.push(w);
                bytes += w.bytes.byteLength;
            }
        }
        this.waiting = kept;
        this.head = 0;
        this.bytes = bytes;
    }

    private refuse(): void {
        this.refusedTotal++;
        if (!this.episode) {
            this.episode = { since: this.now(), refused: 0, number: ++this.episodes.count };
            this.options.report(`the bus does not take our messages as fast as we send them: ${describeBytes(this.options.limitBytes)} `
                + `wait to be sent; calls fail at once until it catches up (episode ${this.episode.number})`);
        }
        this.episode.refused++;
    }

    private caughtUp(): void {
        if (!this.episode)
            return;
        const seconds = ((this.now() - this.episode.since) / 1000).toFixed(1);
        this.options.report(`the bus takes our messages again after ${seconds} s; ${this.episode.refused} `
            + `${this.episode.refused === 1 ? 'message was' : 'messages were'} refused meanwhile (episode ${this.episode.number})`);
        this.episode = undefined;
    }
}
