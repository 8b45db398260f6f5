// Read and write requests from MQTT clients (spec §5): R/<id>/keepalive, R/<id>/<type>/<instance>/<path>,
// R/<id>/GuiCustomizations..., W/<id>/<type>/<instance>/<path> with {"value": ...}. They are handled inside the broker's write check of the
// request itself; the request is still routed to other subscribers.
//
// Every error is one log line (a client flooding bad requests gets a few, then a count) and nothing else. Beyond the
// original, an MQTT 5 request that carries a response topic gets one reply there: {"success":true,...} or
// {"success":false,"error":"..."}, with its correlation data; and the requests that cost a D-Bus call or a file read
// go through a bounded queue that serves clients in turn (request-queue.ts), so none can starve the others, and that
// slows a client whose reads publish more than its budget of items.

import type { DbusBridge } from '../dbus/bridge';
import type { ServiceState } from '../dbus/cache';
import type { DbusTypedValue } from '../dbus/to-dbus';
import { jsonToDbus, WriteValueError } from '../dbus/to-dbus';
import { isObjectPath } from '../dbus/wire/encode';
import type { KeepAlive } from '../keepalive/keepalive';
import { parseKeepAliveOptions } from '../keepalive/options';
import type { Logger } from '../log';
import { describeError } from '../log';
import type { ClientPublish, PublishAnswer } from '../native/broker';
import type { Broker } from '../native/broker';
import { ClientLog } from '../util/client-log';
import { JsonParseError, parseJson } from '../util/json-parse';
import { ProblemLog } from '../util/problem-log';
import type { GuiCustomizations } from './gui-customizations';
import type { Task } from './request-queue';
import { RequestQueue } from './request-queue';
import { itemAddress } from './topics';
import { quickWriteValue } from './write-value';

export interface RequestLimits {
    /** Largest W payload parsed. */
    maxWriteBytes: number;
    /** Deepest nesting parsed in a W payload. */
    maxWriteDepth: number;
}

export const defaultRequestLimits: Readonly<RequestLimits> = { maxWriteBytes: 256 * 1024, maxWriteDepth: 40 };

/** Settled: its then() queues a microtask. */
const settled = Promise.resolve();

export interface Reply {
    success: boolean;
    error?: string;
    [key: string]: unknown;
}

export interface RequestHandlerOptions {
    limits?: RequestLimits;
    gui?: GuiCustomizations;
    queue?: RequestQueue;
    /** Milliseconds, for the per-client log limits. */
    now?: () => number;
}

export class RequestHandler {
    private readonly problems: ProblemLog;
    private readonly clientLog: ClientLog;
    private readonly limits: RequestLimits;
    private readonly gui: GuiCustomizations | undefined;
    readonly queue: RequestQueue;

    constructor(
        private readonly portalId: string,
        private readonly broker: Broker,
        private readonly bridge: DbusBridge,
        private readonly keepAlive: KeepAlive,
        private readonly log: Logger,
        options: RequestHandlerOptions = {},
    ) {
        this.problems = new ProblemLog(log);
        this.clientLog = new ClientLog(log, options.now ?? (() => Date.now()));
        this.limits = options.limits ?? defaultRequestLimits;
        this.gui = options.gui;
        this.queue = options.queue ?? new RequestQueue();
    }

    /** One line about a request of this client (limited per client). */
    private note(message: ClientPublish, level: 'error' | 'warning', text: string): void {
        this.clientLog.line(level, message.clientId, text);
    }

    /** Queues work that costs a D-Bus call or a file read; refuses it when the client's queue is full. */
    private enqueue(message: ClientPublish, what: string, task: Task): void {
        if (this.queue.submit(message.clientId, task))
            return;
        const error = `too many requests waiting (${this.queue.queued}); ${what} refused`;
        this.note(message, 'warning', `'${message.topic}' from client '${message.clientId}': ${error}`);
        this.reply(message, { success: false, error });
    }

    /** An R/ or W/ request the ACL let through. Returns the broker's answer for routing it. */
    onPublish(message: ClientPublish): PublishAnswer {
        const { topic } = message;
        const first = topic.indexOf('/');
        if (first < 0)
            return true;
        const action = topic.slice(0, first);
        const second = topic.indexOf('/', first + 1);
        const systemId = second < 0 ? topic.slice(first + 1) : topic.slice(first + 1, second);
        const rest = second < 0 ? undefined : topic.slice(second + 1);

        if (action !== 'R' && action !== 'W')
            return true;
        if (systemId !== this.portalId) {
            this.problems.report(`foreign:${systemId}`, `'${topic}' is for portal id '${systemId}', not '${this.portalId}'; routed but not acted on`, 'error');
            return true;
        }
        if (rest === undefined) {
            this.note(message, 'error', `'${topic}' names nothing to read or write`);
            this.reply(message, { success: false, error: 'the topic names no item' });
            return true;
        }
        if (action === 'R')
            this.onRead(message, rest);
        else
            this.onWrite(message);
        return true;
    }

    private reply(message: ClientPublish, reply: Reply): void {
        const responseTopic = message.properties?.responseTopic;
        if (responseTopic === undefined)
            return;
        try {
            const properties: { correlationData?: Buffer } = {};
            if (message.properties?.correlationData)
                properties.correlationData = message.properties.correlationData;
            this.broker.publish(responseTopic, JSON.stringify(reply), { ...properties, contentType: 'application/json' });
        } catch (err) {
            this.problems.report(`reply:${describeError(err)}`, `cannot reply to '${message.topic}' on '${responseTopic}': ${describeError(err)}`);
        }
    }

    /**
     * The service and D-Bus path a request names. A read may end in one slash (`.../Settings/Gui/`): it names the
     * sub-tree, as the same read without it does (the original refuses such a path as an invalid object path).
     */
    private findService(message: ClientPublish, forRead: boolean): { service: ServiceState; path: string } | undefined {
        const address = itemAddress(message.topic);
        if (forRead && !('problem' in address) && address.path.length > 1 && address.path.endsWith('/'))
            address.path = address.path.slice(0, -1);
        if ('problem' in address) {
            this.note(message, 'error', address.problem);
            this.reply(message, { success: false, error: address.problem });
            return undefined;
        }
        const service = this.bridge.cache.find(address.type, address.instance);
        if (!service) {
            const error = `no service is known as ${address.type}/${address.instance}`;
            this.note(message, 'error', `'${message.topic}': ${error}`);
            this.reply(message, { success: false, error });
            return undefined;
        }
        if (!isObjectPath(address.path)) {
            const error = `'${address.path}' is not a valid D-Bus object path`;
            this.note(message, 'error', `'${message.topic}': ${error}`);
            this.reply(message, { success: false, error });
            return undefined;
        }
        return { service, path: address.path };
    }

    sizes(): Record<string, number> {
        return { ...this.queue.sizes(), requestLogClients: this.clientLog.size, requestProblems: this.problems.size };
    }

    private onRead(message: ClientPublish, rest: string): void {
        if (rest === 'keepalive') {
            this.keepAlive.keepAlive(message.clientId, parseKeepAliveOptions(message.payload));
            this.reply(message, { success: true });
            return;
        }
        if (rest === 'system/0/Serial') {
            // The legacy keep-alive, which also reads /Serial: the answer follows the republish, as in the original.
            this.keepAlive.keepAlive(message.clientId, parseKeepAliveOptions(message.payload), () => this.read(message, rest));
            return;
        }
        this.read(message, rest);
    }

    private read(message: ClientPublish, rest: string): void {
        if (rest === 'GuiCustomizations' || rest.startsWith('GuiCustomizations/')) {
            this.readGui(message);
            return;
        }
        const found = this.findService(message, true);
        if (!found)
            return;
        const { service, path } = found;
        this.enqueue(message, 'the read', () => this.bridge.read(service.name, path).then(
            (items) => {
                this.queue.charge(message.clientId, items.length);
                this.reply(message, { success: true, published: items.length });
            },
            (err: unknown) => {
                const error = `reading '${path}' of '${service.name}' failed: ${describeError(err)}`;
                this.note(message, 'error', `'${message.topic}': ${error}`);
                this.reply(message, { success: false, error });
            },
        ));
    }

    private readGui(message: ClientPublish): void {
        if (!this.gui) {
            this.reply(message, { success: false, error: 'GUI customizations are not served' });
            return;
        }
        const gui = this.gui;
        this.enqueue(message, 'the read', () => gui.read(message.topic).then(
            (published) => {
                this.queue.charge(message.clientId, published);
                this.reply(message, { success: true, published });
            },
            (err: unknown) => {
                const error = `GUI customizations: ${describeError(err).replace(/^\w*Error: /, '')}`;
                this.note(message, 'error', `'${message.topic}': ${error}`);
                this.reply(message, { success: false, error });
            },
        ));
    }

    /** The D-Bus value a W/ payload asks for; undefined (said to the client) when it asks for none. */
    private writeValue(message: ClientPublish): DbusTypedValue | undefined {
        const { payload } = message;
        const quick = payload.length <= this.limits.maxWriteBytes && this.limits.maxWriteDepth >= 1 ? quickWriteValue(payload) : undefined;
        if (quick)
            return quick;
        try {
            const doc = parseJson(payload, { maxBytes: this.limits.maxWriteBytes, maxDepth: this.limits.maxWriteDepth });
            const member = doc.kind === 'object' ? doc.members.get('value') : undefined;
            if (member === undefined)
                throw new WriteValueError('the payload is not a JSON object with a "value"');
            return jsonToDbus(member);
        } catch (err) {
            const why = err instanceof JsonParseError ? `the payload is not valid JSON (${err.message})` : describeError(err).replace(/^\w*Error: /, '');
            this.note(message, 'error', `refusing the write to '${message.topic}': ${why}`);
            this.reply(message, { success: false, error: why });
            return undefined;
        }
    }

    private onWrite(message: ClientPublish): void {
        const value = this.writeValue(message);
        if (!value)
            return;
        const found = this.findService(message, false);
        if (!found)
            return;
        const { service, path } = found;
        if (!service.items.has(path)) {
            const error = `'${path}' is not an item of '${service.name}'`;
            this.note(message, 'error', `refusing the write to '${message.topic}': ${error}`);
            this.reply(message, { success: false, error });
            return;
        }
        this.log.debug(() => `writing ${value.signature} to '${path}' of '${service.name}' (from '${message.topic}')`);
        const name = service.name;
        // The outcome is handled in a microtask, where the promise of the SetValue call used to settle: the MQTT 5
        // reply follows what the same read from the bus brought (the item's change signal, its N/ publish). (Not
        // queueMicrotask: Node makes an async resource for each.)
        this.enqueue(message, 'the write', (done) => this.bridge.writeNow(name, path, value, (err, code) => void settled.then(() => {
            try {
                this.written(message, name, path, err, code);
            } finally {
                done();
            }
        })));
    }

    /** Tells the writer how its write went (a log line when it failed; the MQTT 5 reply when it asked for one). */
    private written(message: ClientPublish, name: string, path: string, err: Error | undefined, code: number | undefined): void {
        if (err) {
            const error = `SetValue on '${path}' of '${name}' failed: ${describeError(err)}`;
            this.note(message, 'error', `write to '${message.topic}': ${error}`);
            this.reply(message, { success: false, error });
            return;
        }
        if (code === 0) {
            this.reply(message, { success: true, code });
            return;
        }
        const error = `the service refused the value (SetValue returned ${code})`;
        this.note(message, 'warning', `write to '${message.topic}': ${error}`);
        this.reply(message, { success: false, error, code });
    }
}
