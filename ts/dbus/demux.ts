// What both D-Bus clients share: the calls in flight, matched to their replies by serial, each with its timeout;
// one signal handler; one close handler, told once when the connection ends. A client supplies only the transport:
// how a call goes out and how the connection closes.

import type { BusConnection, CallRequest, Reply, Signal } from './connection';
import { CallTimeout, ConnectionClosed } from './connection';

interface Pending {
    resolve(reply: Reply): void;
    reject(err: Error): void;
    timer: NodeJS.Timeout;
}

export abstract class DemuxConnection implements BusConnection {
    private readonly pending = new Map<number, Pending>();
    private signalHandler: (signal: Signal) => void = () => undefined;
    private closeHandler: (reason: string) => void = () => undefined;
    protected closed = false;
    uniqueName = '';

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
            if (this.closed) {
                reject(new ConnectionClosed('the connection is closed'));
                return;
            }
            const serial = this.nextSerial();
            const timer = setTimeout(() => {
                this.pending.delete(serial);
                reject(new CallTimeout(request, timeoutMs));
            }, timeoutMs);
            this.pending.set(serial, { resolve, reject, timer });
            try {
                this.send(serial, request);
            } catch (err) {
                this.pending.delete(serial);
                clearTimeout(timer);
                reject(err instanceof Error ? err : new Error(String(err)));
            }
        });
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
        const p = this.pending.get(replySerial);
        if (!p)
            return;
        this.pending.delete(replySerial);
        clearTimeout(p.timer);
        if (outcome instanceof Error)
            p.reject(outcome);
        else
            p.resolve(outcome);
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
        for (const p of this.pending.values()) {
            clearTimeout(p.timer);
            p.reject(err);
        }
        this.pending.clear();
    }
}
