// What every simulated service shares: its own connection with its own unique name, the well-known name requested
// only once everything is in place (velib's register()), the dispatch of incoming calls to the concrete service,
// replies that respect NO_REPLY_EXPECTED, signals, introspection, and going away / coming back.
import type { Message } from 'dbus-next';
import { Variant } from 'dbus-next';

import { BusConnection } from './connection';
import type { OutgoingMessage } from '../dbus/wire/encode';
import { encodeBody, MessageKind } from '../dbus/wire/encode';

export const BUS_ITEM = 'com.victronenergy.BusItem';
export const INTROSPECTABLE = 'org.freedesktop.DBus.Introspectable';
export const PEER = 'org.freedesktop.DBus.Peer';
export const ERROR_UNKNOWN_METHOD = 'org.freedesktop.DBus.Error.UnknownMethod';
export const ERROR_UNKNOWN_OBJECT = 'org.freedesktop.DBus.Error.UnknownObject';
export const ERROR_PYTHON_TYPE = 'org.freedesktop.DBus.Python.TypeError';
const ERROR_FAILED = 'org.freedesktop.DBus.Error.Failed';
const NO_REPLY_EXPECTED = 1;

/** What a service answers to a call. */
export type Reply =
    | { kind: 'return'; signature: string; body?: Uint8Array }
    | { kind: 'error'; name: string; text: string }
    /** Send nothing (a hung service). */
    | { kind: 'none' }
    /** A reply built by a test with dbus-next. */
    | { kind: 'message'; message: Message };

export function ret(signature = '', values: readonly unknown[] = []): Reply {
    return { kind: 'return', signature, body: signature === '' ? undefined : encodeBody(signature, values) };
}

export function fail(name: string, text: string): Reply {
    return { kind: 'error', name, text };
}

export function unknownMethod(msg: Message): Reply {
    return fail(ERROR_UNKNOWN_METHOD, `${msg.member} is not a valid method of interface ${msg.interface ?? BUS_ITEM} on ${msg.path}`);
}

export function unknownObject(msg: Message): Reply {
    return fail(ERROR_UNKNOWN_OBJECT, `No such object path '${msg.path}'`);
}

/** dbus-python's answer to a call with the wrong number of arguments. */
export function wrongArguments(msg: Message, expected: number): Reply {
    return fail(ERROR_PYTHON_TYPE, `TypeError: ${msg.member}() takes ${expected} argument(s) but ${msg.body.length} were given`);
}

/**
 * The value of a SetValue call. dbus-python hands a method whatever arrived: a variant's content, or a bare value
 * when the caller used another signature than 'v'.
 */
export function writtenValue(msg: Message): Variant {
    const argument: unknown = (msg.body as unknown[])[0];
    return msg.signature === 'v' ? argument as Variant : new Variant(msg.signature, argument);
}

export interface ObjectDescription {
    interfaces: string[];
    children: string[];
}

const INTERFACE_XML: Record<string, string> = {
    [INTROSPECTABLE]: '<method name="Introspect"><arg direction="out" type="s"/></method>',
};

function introspectionXml(path: string, description: ObjectDescription, members: (iface: string) => string): string {
    const lines = [
        '<!DOCTYPE node PUBLIC "-//freedesktop//DTD D-BUS Object Introspection 1.0//EN"',
        '"http://www.freedesktop.org/standards/dbus/1.0/introspect.dtd">',
        `<node name="${path}">`,
    ];
    for (const iface of [INTROSPECTABLE, ...description.interfaces])
        lines.push(`  <interface name="${iface}">${INTERFACE_XML[iface] ?? members(iface)}</interface>`);
    for (const child of description.children)
        lines.push(`  <node name="${child}"/>`);
    lines.push('</node>', '');
    return lines.join('\n');
}

export abstract class HostedService {
    private connection?: BusConnection;
    private lostListener?: (service: HostedService, reason: string) => void;

    constructor(readonly name: string, protected readonly log: (line: string) => void) {}

    get isUp(): boolean {
        return this.connection?.isOpen ?? false;
    }

    /** The connection's unique name (':1.N') while up. */
    get uniqueName(): string | undefined {
        return this.connection?.isOpen ? this.connection.uniqueName : undefined;
    }

    /** Called when the connection is lost while the service was meant to be up. */
    onLost(listener: (service: HostedService, reason: string) => void): void {
        this.lostListener = listener;
    }

    /** Opens a new connection and requests the well-known name; every object answers from then on. */
    async up(address: string): Promise<void> {
        if (this.connection?.isOpen)
            return;
        const connection = await BusConnection.open(address, (msg) => this.onCall(msg), (line) => this.log(`${this.name}: ${line}`));
        this.connection = connection;
        connection.onLost((reason) => {
            if (this.connection === connection)
                this.lostListener?.(this, reason);
        });
        try {
            await connection.requestName(this.name);
        } catch (err) {
            this.connection = undefined;
            await connection.close();
            throw err;
        }
    }

    /** Closes the connection: the bus announces NameOwnerChanged(name, ':1.N', ''). */
    async down(): Promise<void> {
        const connection = this.connection;
        this.connection = undefined;
        if (connection)
            await connection.close();
    }

    /** The concrete service's answer to a call on one of its objects. */
    protected abstract dispatch(msg: Message): Reply;

    /** What exists at a path, for Introspect; undefined: nothing. */
    protected abstract describe(path: string): ObjectDescription | undefined;

    /** The introspection XML of an interface's members. */
    protected abstract interfaceMembers(iface: string): string;

    private onCall(msg: Message): boolean {
        if (msg.interface === PEER)
            return false; // dbus-next answers Ping and GetMachineId
        let reply: Reply;
        try {
            if (msg.interface === INTROSPECTABLE) {
                const description = msg.member === 'Introspect' ? this.describe(msg.path) : undefined;
                if (msg.member !== 'Introspect')
                    reply = unknownMethod(msg);
                else if (!description)
                    reply = unknownObject(msg);
                else
                    reply = ret('s', [introspectionXml(msg.path, description, (iface) => this.interfaceMembers(iface))]);
            } else {
                reply = this.dispatch(msg);
            }
        } catch (err) {
            this.log(`${this.name}: ${msg.member} on ${msg.path} failed: ${err instanceof Error ? err.stack ?? err.message : String(err)}`);
            reply = fail(ERROR_FAILED, err instanceof Error ? err.message : String(err));
        }
        this.reply(msg, reply);
        return true;
    }

    private reply(msg: Message, reply: Reply): void {
        if (reply.kind === 'none' || (msg.flags & NO_REPLY_EXPECTED) !== 0)
            return;
        const connection = this.connection;
        if (!connection)
            return;
        if (reply.kind === 'message') {
            connection.sendMessage(reply.message);
            return;
        }
        const base = { replySerial: msg.serial ?? 0, destination: msg.sender };
        if (reply.kind === 'error')
            connection.send({ ...base, kind: MessageKind.Error, errorName: reply.name, signature: 's', body: encodeBody('s', [reply.text]) });
        else
            connection.send({ ...base, kind: MessageKind.MethodReturn, signature: reply.signature, body: reply.body });
    }

    /** Emits a signal from this service's connection; false when the service is down. */
    protected emit(path: string, iface: string, member: string, signature: string, body: Uint8Array): boolean {
        const connection = this.connection;
        if (!connection)
            return false;
        return connection.send({ kind: MessageKind.Signal, path, iface, member, signature, body });
    }

    /** Emits any signal (hostile-input tests): the body given as values for the signature. False when down. */
    rawSignal(path: string, iface: string, member: string, signature: string, body: readonly unknown[]): boolean {
        return this.sendRaw({ kind: MessageKind.Signal, path, iface, member, signature, values: body });
    }

    /** Sends any message (hostile-input tests): the body given as values for the signature, encoded by wire.ts. */
    sendRaw(message: Omit<OutgoingMessage, 'serial' | 'body'> & { values?: readonly unknown[] }): boolean {
        const { values = [], ...rest } = message;
        const signature = message.signature ?? '';
        return this.connection?.send({ ...rest, signature, body: encodeBody(signature, values) }) ?? false;
    }
}
