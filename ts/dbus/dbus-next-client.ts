// The D-Bus connection over dbus-next (the default client): only its low-level MessageBus is used. Messages are sent
// with our own serials and every reply is matched in one demultiplexer here, with a timeout per call (dbus-next's
// own call() has none and never forgets a call that is not answered). Signals go to one handler. Nothing here ever
// throws into dbus-next's event handlers.

import type { MessageBus } from 'dbus-next';
import * as dbus from 'dbus-next';

import type { BusConnection, CallRequest, Connector } from './connection';
import { DbusError } from './connection';
import { DemuxConnection } from './demux';
import type { TypeNode } from './signature';
import { parseSignature } from './signature';

/** Our variants are plain { signature, value } objects; dbus-next marshals only its own Variant class. */
function toDbusNext(node: TypeNode, value: unknown): unknown {
    switch (node.code) {
    case 'v': {
        const v = value as { signature: string; value: unknown };
        if (v instanceof dbus.Variant)
            return v;
        const [inner] = parseSignature(v.signature);
        return new dbus.Variant(v.signature, inner ? toDbusNext(inner, v.value) : v.value);
    }
    case 'a': {
        const element = node.children[0]!;
        if (element.code === '{') {
            const out: Record<string, unknown> = {};
            for (const [k, v] of Object.entries(value as Record<string, unknown>))
                out[k] = toDbusNext(element.children[1]!, v);
            return out;
        }
        return Array.isArray(value) ? value.map((x) => toDbusNext(element, x)) : value;
    }
    case '(':
        return (value as unknown[]).map((x, i) => toDbusNext(node.children[i]!, x));
    default:
        return value;
    }
}

function bodyForDbusNext(signature: string, body: unknown[]): unknown[] {
    if (!signature.includes('v'))
        return body;
    const types = parseSignature(signature);
    return body.map((x, i) => (types[i] ? toDbusNext(types[i], x) : x));
}

// The parts of dbus-next's internals we rely on: its connection's stream, to see it end.
interface MessageBusInternals {
    _connection?: { stream?: NodeJS.EventEmitter; on?(event: string, fn: (...args: unknown[]) => void): void };
}

class DbusNextConnection extends DemuxConnection {
    constructor(private readonly bus: MessageBus, uniqueName: string) {
        super();
        this.uniqueName = uniqueName;
        bus.on('message', (msg: dbus.Message) => {
            try {
                this.dispatch(msg);
            } catch {
                // A handler bug must not make dbus-next answer a signal with an error.
            }
        });
        bus.on('error', (err: unknown) => this.ended(`connection error: ${err instanceof Error ? err.message : String(err)}`));
        const internals = bus as unknown as MessageBusInternals;
        internals._connection?.on?.('end', () => this.ended('the bus closed the connection'));
        internals._connection?.stream?.on('close', () => this.ended('the connection closed'));
    }

    protected nextSerial(): number {
        return this.bus.newSerial();
    }

    protected send(serial: number, request: CallRequest): void {
        const msg = new dbus.Message({
            destination: request.destination,
            path: request.path,
            interface: request.interface,
            member: request.member,
            signature: request.signature ?? '',
            body: bodyForDbusNext(request.signature ?? '', request.body ?? []),
        });
        msg.serial = serial;
        this.bus.send(msg);
    }

    protected closeTransport(): void {
        try {
            this.bus.disconnect();
        } catch {
            // already gone
        }
    }

    private dispatch(msg: dbus.Message): void {
        if (msg.type === dbus.MessageType.METHOD_RETURN || msg.type === dbus.MessageType.ERROR) {
            // dbus-next's typings call replySerial a string; it is the number of our call.
            const replySerial = msg.replySerial as unknown as number;
            this.settle(replySerial, msg.type === dbus.MessageType.ERROR
                ? new DbusError(msg.errorName ?? 'org.freedesktop.DBus.Error.Failed', typeof msg.body?.[0] === 'string' ? msg.body[0] : '')
                : { sender: msg.sender ?? '', signature: msg.signature ?? '', body: (msg.body as unknown[] | undefined) ?? [] });
            return;
        }
        if (msg.type === dbus.MessageType.SIGNAL) {
            this.signal({
                sender: msg.sender ?? '',
                path: msg.path ?? '',
                interface: msg.interface ?? '',
                member: msg.member ?? '',
                signature: msg.signature ?? '',
                body: (msg.body as unknown[] | undefined) ?? [],
            });
        }
    }
}

/** Connects with dbus-next to a bus address ('unix:path=...', 'tcp:host=...,port=...'). */
export const dbusNextConnector: Connector = (address, timeoutMs) =>
    new Promise<BusConnection>((resolve, reject) => {
        let bus: MessageBus;
        try {
            bus = dbus.sessionBus({ busAddress: address });
        } catch (err) {
            reject(err instanceof Error ? err : new Error(String(err)));
            return;
        }
        const timer = setTimeout(() => {
            cleanup();
            try {
                bus.disconnect();
            } catch {
                // never connected
            }
            reject(new Error(`no answer from the bus at '${address}' within ${timeoutMs} ms`));
        }, timeoutMs);
        const onConnect = (): void => {
            cleanup();
            resolve(new DbusNextConnection(bus, (bus as unknown as { name?: string }).name ?? ''));
        };
        const onError = (err: unknown): void => {
            cleanup();
            try {
                bus.disconnect();
            } catch {
                // never connected
            }
            reject(err instanceof Error ? err : new Error(String(err)));
        };
        function cleanup(): void {
            clearTimeout(timer);
            bus.removeListener('connect', onConnect);
            bus.removeListener('error', onError);
        }
        bus.on('connect', onConnect);
        bus.on('error', onError);
    });
