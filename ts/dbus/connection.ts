// The D-Bus connection behind one small interface, so tests can use a fake. The plugin's own client
// (wire/client.ts) implements it: every call has a timeout, every reply is matched in one demultiplexer, signals go
// to one handler, and bodies are read on demand.

import type { BodyReader } from './wire/decode';

export interface CallRequest {
    destination: string;
    path: string;
    interface: string;
    member: string;
    signature?: string;
    body?: unknown[];
}

/** A message's body, read on demand: as JavaScript values, or with a reader that takes only what it needs. */
export interface Body {
    readonly signature: string;
    values(): unknown[];
    reader(): BodyReader;
}

export interface Reply extends Body {
    readonly sender: string;
}

export interface Signal extends Body {
    readonly sender: string;
    readonly path: string;
    readonly interface: string;
    readonly member: string;
}

/** An error reply from the other side. */
export class DbusError extends Error {
    constructor(readonly errorName: string, text: string) {
        super(text ? `${errorName}: ${text}` : errorName);
    }
}

export class CallTimeout extends Error {
    constructor(readonly request: CallRequest, readonly timeoutMs: number) {
        super(`no answer to ${request.member} on '${request.destination}' '${request.path}' within ${timeoutMs} ms`);
    }
}

export class ConnectionClosed extends Error {}

/** The outcome of a call: an error, or the reply (which callNow's callers may read during the callback only). */
export type CallDone = (err: Error | undefined, reply: Reply | undefined) => void;

export interface BusConnection {
    readonly uniqueName: string;
    /** Calls waiting for their reply (for the stats line). */
    readonly pendingCalls?: number;
    call(request: CallRequest, timeoutMs: number): Promise<Reply>;
    /**
     * The same call, its outcome handed to `done` (at once when it cannot be made); a reply may be read during
     * `done` only. Optional: without it, callers use call().
     */
    callNow?(request: CallRequest, timeoutMs: number, done: CallDone): void;
    addMatch(rule: string, timeoutMs: number): Promise<void>;
    onSignal(handler: (signal: Signal) => void): void;
    /** Called once, when the connection ends for any reason other than close(). */
    onClose(handler: (reason: string) => void): void;
    close(): void;
}

export type Connector = (address: string, timeoutMs: number) => Promise<BusConnection>;

/** A variant in the form the connection sends. */
export function makeVariant(signature: string, value: unknown): { signature: string; value: unknown } {
    return { signature, value };
}

/** The address of the system bus: DBUS_SYSTEM_BUS_ADDRESS, else the well-known socket. */
export function systemBusAddress(): string {
    return process.env.DBUS_SYSTEM_BUS_ADDRESS ?? 'unix:path=/var/run/dbus/system_bus_socket';
}
