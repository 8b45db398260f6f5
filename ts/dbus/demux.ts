// What both D-Bus clients share: the calls in flight, matched to their replies by serial, each with its timeout
// (one timer for all of them: pending-calls.ts); one signal handler; one close handler, told once when the connection
// ends. A client supplies only the transport: how a call goes out and how the connection closes.
//
// A call is made in one of two ways: call() gives a promise of the reply, which is read later (the client keeps the
// reply's bytes for it); callNow() hands the outcome to a callback, during which a reply may be read in place in the
// bytes received (no copy, no promise: the write path's way).

import type { BusConnection, CallDone, CallRequest, Reply, Signal } from './connection';
import { CallTimeout, ConnectionClosed } from './connection';
import { PendingCalls } from './pending-calls';
import type { TimerHandle, Timers } from '../util/timers';
import { monotonicMs } from '../util/timers';

interface Pending {
    readonly deadline: number;
    readonly request: CallRequest;
    readonly timeoutMs: number;
    readonly done: CallDone;
    /** The reply is read after the callback returns (a promise's caller): it must not stay in the read buffer. */
    readonly keepsReply: boolean;
}

/** Node's timers, not keeping the process alive by themselves (the socket does, while it is open). */
const callTimers: Timers = {
    setTimeout: (fn, ms) => setTimeout(fn, ms).unref() as unknown as TimerHandle,
    clearTimeout: (handle) => clearTimeout(handle as unknown as NodeJS.Timeout),
    now: monotonicMs,
};

export abstract class DemuxConnection implements BusConnection {
    private readonly pending: PendingCalls<Pending>;
    private signalHandler: (signal: Signal) => void = () => undefined;
    private closeHandler: (reason: string) => void = () => undefined;
    protected closed = false;
    uniqueName = '';

    constructor(private readonly timers: Timers = callTimers) {
        this.pending = new PendingCalls<Pending>(timers, (_serial, p) => p.done(new CallTimeout(p.request, p.timeoutMs), undefined));
    }

    get pendingCalls(): number {
        return this.pending.size;
    }

    /** Whether the call sent under `serial` still waits for its reply. */
    protected isPending(serial: number): boolean {
        return this.pending.has(serial);
    }

    /** A serial for the next message sent. */
    protected abstract nextSerial(): number;
    /** Sends a method call under `serial`; throws when it cannot (e.g. a body that does not encode). */
    protected abstract send(serial: number, request: CallRequest): void;
    /** Closes the transport; nothing it does afterwards matters. */
    protected abstract closeTransport(): void;

    call(request: CallRequest, timeoutMs: number): Promise<Reply> {
        return new Promise<Reply>((resolve, reject) => {
            this.start(request, timeoutMs, true, (err, reply) => {
                if (err)
                    reject(err);
                else
                    resolve(reply!);
            });
        });
    }

    /**
     * Makes a call and hands its outcome to `done`: an error, or the reply, which may be read during `done` only. A
     * call that cannot be made (the connection is closed, it does not encode, the bus does not take it) is told so
     * at once, before callNow returns.
     */
    callNow(request: CallRequest, timeoutMs: number, done: CallDone): void {
        this.start(request, timeoutMs, false, done);
    }

    /** Whether the reply to `serial` is read after its callback returns (so it must be copied out of the read buffer). */
    protected keepsReply(serial: number): boolean {
        return this.pending.get(serial)?.keepsReply ?? false;
    }

    private start(request: CallRequest, timeoutMs: number, keepsReply: boolean, done: CallDone): void {
        if (this.closed) {
            done(new ConnectionClosed('the connection is closed'), undefined);
            return;
        }
        const serial = this.nextSerial();
        this.pending.add(serial, { deadline: this.timers.now() + timeoutMs, request, timeoutMs, done, keepsReply });
        try {
            this.send(serial, request);
        } catch (err) {
            this.pending.take(serial);
            done(err instanceof Error ? err : new Error(String(err)), undefined);
        }
    }

    async addMatch(rule: string, timeoutMs: number): Promise<void> {
        await this.call({
            destination: 'org.freedesktop.DBus', path: '/org/freedesktop/DBus', interface: 'org.freedesktop.DBus',
            member: 'AddMatch', signature: 's', body: [rule],
        }, timeoutMs);
    }

    onSignal(handler: (signal: Signal) => void): void {
        this.signalHandler = handler;
    }

    onClose(handler: (reason: string) => void): void {
        this.closeHandler = handler;
    }

    close(): void {
        if (this.closed)
            return;
        this.closed = true;
        this.failPending(new ConnectionClosed('the connection was closed'));
        this.closeTransport();
    }

    /** A reply (or an error reply) to one of our calls; replies to nothing of ours are ignored. */
    protected settle(replySerial: number, outcome: Reply | Error): void {
        const p = this.pending.take(replySerial);
        if (!p)
            return;
        if (outcome instanceof Error)
            p.done(outcome, undefined);
        else
            p.done(undefined, outcome);
    }

    protected signal(signal: Signal): void {
        this.signalHandler(signal);
    }

    /** The connection ended by itself: fail what is in flight and say so, once. */
    protected ended(reason: string): void {
        if (this.closed)
            return;
        this.closed = true;
        this.failPending(new ConnectionClosed(reason));
        this.closeTransport();
        this.closeHandler(reason);
    }

    private failPending(err: Error): void {
        for (const p of this.pending.clear())
            p.done(err, undefined);
    }
}
