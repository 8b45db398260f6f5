// A private dbus-daemon per test suite (the implementation is the simulator's, shared with its CLI), plus the
// small client-side helpers the D-Bus tests use: a plain dbus-next connection, calls with a timeout, waiting for
// a signal.
import { spawnSync } from 'node:child_process';

import type { Message, MessageBus } from 'dbus-next';
import * as dbus from 'dbus-next';

export type { DbusDaemon, DbusDaemonOptions } from '../../ts/sim/daemon';
export { startDbusDaemon } from '../../ts/sim/daemon';

interface BusInternals {
    name: string | null;
    _connection: { stream: { end(): void; once(event: 'close', fn: () => void): void; destroyed: boolean } };
}

/** A client connection on the given bus, resolved after Hello. */
export function connectClient(address: string): Promise<MessageBus> {
    const bus = dbus.sessionBus({ busAddress: address });
    bus.on('error', () => undefined);
    return new Promise((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`no connection to ${address}`)), 10000);
        bus.on('connect', () => {
            clearTimeout(timer);
            resolve(bus);
        });
    });
}

/** The client's unique name. */
export function clientName(bus: MessageBus): string {
    return (bus as unknown as BusInternals).name ?? '';
}

/** Closes a client connection and waits for the socket to close. */
export function closeClient(bus: MessageBus): Promise<void> {
    const stream = (bus as unknown as BusInternals)._connection.stream;
    if (stream.destroyed)
        return Promise.resolve();
    return new Promise((resolve) => {
        stream.once('close', () => resolve());
        stream.end();
    });
}

export interface CallOptions {
    signature?: string;
    body?: unknown[];
    iface?: string | null;
    timeoutMs?: number;
}

/** A method call; resolves with the reply, rejects with the DBusError (its .type is the error name). */
export async function call(bus: MessageBus, destination: string, path: string, member: string, options: CallOptions = {}): Promise<Message> {
    const message = new dbus.Message({
        destination,
        path,
        interface: options.iface === null ? undefined : options.iface ?? 'com.victronenergy.BusItem',
        member,
        signature: options.signature ?? '',
        body: options.body ?? [],
    });
    const timeoutMs = options.timeoutMs ?? 10000;
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new Error(`${member} on ${destination} ${path}: no reply within ${timeoutMs} ms`)), timeoutMs);
    });
    try {
        const reply = await Promise.race([bus.call(message), timeout]);
        if (!reply)
            throw new Error('no reply message');
        return reply;
    } finally {
        clearTimeout(timer);
    }
}

/** The error name a call fails with (throws when it succeeds). */
export async function callError(bus: MessageBus, destination: string, path: string, member: string, options: CallOptions = {}): Promise<string> {
    try {
        await call(bus, destination, path, member, options);
    } catch (err) {
        if (err instanceof dbus.DBusError)
            return err.type;
        throw err;
    }
    throw new Error(`${member} on ${path} succeeded`);
}

/** Subscribes to signals with a match rule and collects them. */
export class SignalRecorder {
    readonly messages: Message[] = [];
    private waiters: Array<{ test: (m: Message) => boolean; resolve: (m: Message) => void }> = [];

    private constructor(bus: MessageBus) {
        bus.on('message', (msg: Message) => {
            if (msg.type !== dbus.MessageType.SIGNAL)
                return;
            this.messages.push(msg);
            this.waiters = this.waiters.filter((w) => {
                if (!w.test(msg))
                    return true;
                w.resolve(msg);
                return false;
            });
        });
    }

    static async create(bus: MessageBus, rules: string[]): Promise<SignalRecorder> {
        const recorder = new SignalRecorder(bus);
        for (const rule of rules)
            await call(bus, 'org.freedesktop.DBus', '/org/freedesktop/DBus', 'AddMatch', { iface: 'org.freedesktop.DBus', signature: 's', body: [rule] });
        return recorder;
    }

    /** Resolves with the first signal (already received or coming) that passes the test. */
    wait(test: (m: Message) => boolean, timeoutMs = 10000, what = 'a signal'): Promise<Message> {
        const seen = this.messages.find(test);
        if (seen)
            return Promise.resolve(seen);
        return new Promise((resolve, reject) => {
            const timer = setTimeout(() => reject(new Error(`timed out waiting for ${what}`)), timeoutMs);
            this.waiters.push({ test, resolve: (m) => { clearTimeout(timer); resolve(m); } });
        });
    }

    clear(): void {
        this.messages.length = 0;
    }
}

/** A describe() that runs only where dbus-daemon exists, and says so loudly where not. */
export function describeWithDbus(title: string, body: (this: Mocha.Suite) => void): void {
    const binary = process.env.DBUS_DAEMON ?? 'dbus-daemon';
    const found = spawnSync('sh', ['-c', `command -v ${binary}`], { encoding: 'utf8' });
    if (found.status !== 0) {
        console.log(`\n*** SKIPPED: '${title}': missing ${binary} (install dbus or set DBUS_DAEMON) ***\n`);
        describe.skip(title, body);
        return;
    }
    describe(title, body);
}

export const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));
