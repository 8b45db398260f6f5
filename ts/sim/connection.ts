// One connection to the bus, as one simulated process has: dbus-next for the socket, the authentication, Hello,
// RequestName and the parsing of incoming calls; our own encoder (wire.ts) for what we send, written to the same
// socket in call order, so a signal sent before a reply reaches the bus before it.
import type { Socket } from 'node:net';

import type { Message, MessageBus } from 'dbus-next';
import { sessionBus } from 'dbus-next';

import type { OutgoingMessage } from '../dbus/wire/encode';
import { encodeMessage } from '../dbus/wire/encode';

const NAME_FLAG_DO_NOT_QUEUE = 4;
const REQUEST_NAME_PRIMARY_OWNER = 1;

export class ConnectionError extends Error {}

interface BusInternals {
    name: string | null;
    _connection: { stream: Socket };
}

export type CallHandler = (msg: Message) => boolean;

function withTimeout<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
    return new Promise<T>((resolve, reject) => {
        const timer = setTimeout(() => reject(new ConnectionError(`${what}: no answer within ${ms} ms`)), ms);
        promise.then(
            (value) => { clearTimeout(timer); resolve(value); },
            (err: unknown) => { clearTimeout(timer); reject(err instanceof Error ? err : new ConnectionError(String(err))); },
        );
    });
}

export class BusConnection {
    private closing = false;
    private closed = false;
    private readonly closedPromise: Promise<void>;
    private lostListener?: (reason: string) => void;

    private constructor(
        private readonly bus: MessageBus,
        private readonly stream: Socket,
        readonly uniqueName: string,
    ) {
        this.closedPromise = new Promise((resolve) => {
            stream.once('close', () => {
                this.closed = true;
                resolve();
                if (!this.closing)
                    this.lostListener?.('the bus closed the connection');
            });
        });
    }

    /** Connects, authenticates and says Hello. onCall sees every incoming method call first. */
    static async open(address: string, onCall: CallHandler, log: (line: string) => void, timeoutMs = 10000): Promise<BusConnection> {
        // Over TCP (the bus of an emulated device, forwarded by qemu) there are no credentials to pass: ANONYMOUS.
        // dbus-next's default list would try its cookie mechanism first, which fails the handshake instead of
        // falling through.
        const bus = sessionBus({ busAddress: address, ...(address.startsWith('tcp:') ? { authMethods: ['ANONYMOUS' as const] } : {}) });
        const internals = bus as unknown as BusInternals;
        const stream = internals._connection.stream;
        let failure: Error | undefined;
        bus.on('error', (err: unknown) => {
            failure = err instanceof Error ? err : new ConnectionError(String(err));
            log(`connection error: ${failure.message}`);
        });
        bus.addMethodHandler(onCall);
        try {
            await withTimeout(new Promise<void>((resolve, reject) => {
                bus.on('connect', () => resolve());
                stream.once('close', () => reject(failure ?? new ConnectionError(`cannot connect to ${address}`)));
            }), timeoutMs, `connecting to ${address}`);
        } catch (err) {
            stream.destroy();
            throw err;
        }
        return new BusConnection(bus, stream, internals.name ?? '');
    }

    /** Called once when the connection goes away without close() (e.g. the bus daemon stopped). */
    onLost(listener: (reason: string) => void): void {
        this.lostListener = listener;
    }

    get isOpen(): boolean {
        return !this.closed && !this.closing && this.stream.writable;
    }

    /** RequestName with DO_NOT_QUEUE, like velib's register(); throws unless we became the primary owner. */
    async requestName(name: string, timeoutMs = 10000): Promise<void> {
        const reply = await withTimeout(this.bus.requestName(name, NAME_FLAG_DO_NOT_QUEUE), timeoutMs, `RequestName ${name}`);
        if (reply !== REQUEST_NAME_PRIMARY_OWNER)
            throw new ConnectionError(`cannot own ${name}: RequestName answered ${reply}`);
    }

    /** Sends a message encoded by us; the serial is filled in. False when the connection is gone. */
    send(message: Omit<OutgoingMessage, 'serial'>): boolean {
        if (!this.isOpen)
            return false;
        this.stream.write(encodeMessage({ ...message, serial: this.bus.newSerial() }));
        return true;
    }

    /** Sends a message built with dbus-next (used for replies a test builds itself). */
    sendMessage(message: Message): boolean {
        if (!this.isOpen)
            return false;
        this.bus.send(message);
        return true;
    }

    /** Closes the connection and waits until the socket is closed (the bus then drops our names). */
    async close(timeoutMs = 5000): Promise<void> {
        if (this.closed)
            return;
        this.closing = true;
        this.stream.end();
        const timer = setTimeout(() => this.stream.destroy(), timeoutMs);
        try {
            await this.closedPromise;
        } finally {
            clearTimeout(timer);
        }
    }
}
