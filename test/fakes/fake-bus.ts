// An in-memory D-Bus for unit tests of the bridge: scripted Venus services, signals, and connections that can drop.
// Call timeouts follow the injected fake clock.
import type { BusConnection, CallRequest, Connector, Reply, Signal } from '../../ts/dbus/connection';
import { CallTimeout, ConnectionClosed, DbusError } from '../../ts/dbus/connection';
import { body } from './body';
import type { FakeTimers } from './fake-timers';

export interface FakeVariant {
    signature: string;
    value: unknown;
}

export interface FakeService {
    name: string;
    owner: string;
    items: Map<string, FakeVariant>;
    /** legacy: no GetItems; hang: never answers; broken: GetItems answers with a wrong signature. */
    mode: 'normal' | 'legacy' | 'hang' | 'broken';
    /** Holds GetItems replies until release() is called. */
    held: Array<() => void>;
    holdReplies: boolean;
    writes: Array<{ path: string; value: FakeVariant }>;
}

export class FakeBus {
    readonly services = new Map<string, FakeService>();
    readonly connections = new Set<FakeConnection>();
    readonly calls: CallRequest[] = [];
    down = false;
    private nextUnique = 100;

    constructor(readonly timers: FakeTimers) {}

    readonly connector: Connector = (address) => {
        if (this.down)
            return Promise.reject(new Error(`connection refused at ${address}`));
        const conn = new FakeConnection(this, `:1.${this.nextUnique++}`);
        this.connections.add(conn);
        return Promise.resolve(conn);
    };

    add(name: string, items: Record<string, FakeVariant>, mode: FakeService['mode'] = 'normal'): FakeService {
        const service: FakeService = {
            name, owner: `:1.${this.nextUnique++}`, items: new Map(Object.entries(items)), mode, held: [], holdReplies: false, writes: [],
        };
        this.services.set(name, service);
        return service;
    }

    /** A service that appears while connections exist. */
    appear(name: string, items: Record<string, FakeVariant>, mode: FakeService['mode'] = 'normal'): FakeService {
        const s = this.add(name, items, mode);
        this.signal({ sender: 'org.freedesktop.DBus', path: '/org/freedesktop/DBus', interface: 'org.freedesktop.DBus', member: 'NameOwnerChanged', ...body('sss', [name, '', s.owner]) });
        return s;
    }

    vanish(name: string): void {
        const s = this.services.get(name);
        if (!s)
            return;
        this.services.delete(name);
        this.signal({ sender: 'org.freedesktop.DBus', path: '/org/freedesktop/DBus', interface: 'org.freedesktop.DBus', member: 'NameOwnerChanged', ...body('sss', [name, s.owner, '']) });
    }

    signal(signal: Signal): void {
        for (const c of this.connections)
            c.deliver(signal);
    }

    itemsChanged(service: FakeService, items: Record<string, FakeVariant>): void {
        const dict: Record<string, unknown> = {};
        for (const [path, value] of Object.entries(items)) {
            service.items.set(path, value);
            dict[path] = { Value: value, Text: { signature: 's', value: '' } };
        }
        this.signal({ sender: service.owner, path: '/', interface: 'com.victronenergy.BusItem', member: 'ItemsChanged', ...body('a{sa{sv}}', [dict]) });
    }

    propertiesChanged(service: FakeService, path: string, value: FakeVariant): void {
        service.items.set(path, value);
        this.signal({ sender: service.owner, path, interface: 'com.victronenergy.BusItem', member: 'PropertiesChanged', ...body('a{sv}', [{ Value: value }]) });
    }

    dropConnections(): void {
        for (const c of [...this.connections])
            c.drop('the bus went away');
    }

    byOwner(owner: string): FakeService | undefined {
        for (const s of this.services.values())
            if (s.owner === owner)
                return s;
        return undefined;
    }
}

export class FakeConnection implements BusConnection {
    private signalHandler: (s: Signal) => void = () => undefined;
    private closeHandler: (reason: string) => void = () => undefined;
    private closed = false;
    readonly matches: string[] = [];
    private readonly pending = new Set<(err: Error) => void>();

    constructor(private readonly bus: FakeBus, readonly uniqueName: string) {}

    deliver(signal: Signal): void {
        if (!this.closed)
            this.signalHandler(signal);
    }

    drop(reason: string): void {
        if (this.closed)
            return;
        this.closed = true;
        this.bus.connections.delete(this);
        for (const reject of this.pending)
            reject(new ConnectionClosed(reason));
        this.pending.clear();
        this.closeHandler(reason);
    }

    onSignal(handler: (s: Signal) => void): void {
        this.signalHandler = handler;
    }

    onClose(handler: (reason: string) => void): void {
        this.closeHandler = handler;
    }

    close(): void {
        this.closed = true;
        this.bus.connections.delete(this);
    }

    async addMatch(rule: string): Promise<void> {
        this.matches.push(rule);
        return Promise.resolve();
    }

    call(request: CallRequest, timeoutMs: number): Promise<Reply> {
        this.bus.calls.push(request);
        return new Promise<Reply>((resolve, reject) => {
            if (this.closed) {
                reject(new ConnectionClosed('closed'));
                return;
            }
            let done = false;
            const fail = (err: Error): void => {
                if (!done) {
                    done = true;
                    reject(err);
                }
            };
            this.pending.add(fail);
            const timer = this.bus.timers.setTimeout(() => fail(new CallTimeout(request, timeoutMs)), timeoutMs);
            const answer = (reply: Reply | Error): void => {
                this.pending.delete(fail);
                this.bus.timers.clearTimeout(timer);
                if (done)
                    return;
                done = true;
                if (reply instanceof Error)
                    reject(reply);
                else
                    resolve(reply);
            };
            void Promise.resolve().then(() => this.handle(request, answer));
        });
    }

    private handle(request: CallRequest, answer: (r: Reply | Error) => void): void {
        const ok = (signature: string, values: unknown[]): void => answer({ sender: request.destination, ...body(signature, values) });
        if (request.destination === 'org.freedesktop.DBus') {
            if (request.member === 'ListNames')
                return ok('as', [['org.freedesktop.DBus', ...[...this.bus.services.keys()], ':1.1']]);
            if (request.member === 'GetNameOwner') {
                const s = this.bus.services.get(String(request.body?.[0]));
                return s ? ok('s', [s.owner]) : answer(new DbusError('org.freedesktop.DBus.Error.NameHasNoOwner', 'no owner'));
            }
            return answer(new DbusError('org.freedesktop.DBus.Error.UnknownMethod', request.member));
        }
        const service = this.bus.byOwner(request.destination);
        if (!service)
            return answer(new DbusError('org.freedesktop.DBus.Error.ServiceUnknown', request.destination));
        if (service.mode === 'hang')
            return;
        if (request.member === 'GetItems' && request.path === '/') {
            if (service.mode === 'legacy')
                return answer(new DbusError('org.freedesktop.DBus.Error.UnknownMethod', 'GetItems'));
            if (service.mode === 'broken')
                return ok('a{sv}', [{}]);
            const dict: Record<string, unknown> = {};
            for (const [path, value] of service.items)
                dict[path] = { Value: value, Text: { signature: 's', value: '' } };
            const reply = (): void => ok('a{sa{sv}}', [dict]);
            if (service.holdReplies)
                service.held.push(reply);
            else
                reply();
            return;
        }
        if (request.member === 'GetValue') {
            if (request.path === '/') {
                const dict: Record<string, unknown> = {};
                for (const [path, value] of service.items)
                    dict[path.slice(1)] = value;
                return ok('v', [{ signature: 'a{sv}', value: dict }]);
            }
            const item = service.items.get(request.path);
            if (item)
                return ok('v', [item]);
            const prefix = `${request.path}/`;
            const dict: Record<string, unknown> = {};
            for (const [path, value] of service.items)
                if (path.startsWith(prefix))
                    dict[path.slice(prefix.length)] = value;
            return Object.keys(dict).length > 0 ? ok('v', [{ signature: 'a{sv}', value: dict }])
                : answer(new DbusError('org.freedesktop.DBus.Error.UnknownObject', request.path));
        }
        if (request.member === 'SetValue') {
            const value = request.body?.[0] as FakeVariant;
            service.writes.push({ path: request.path, value });
            if (!service.items.has(request.path))
                return answer(new DbusError('org.freedesktop.DBus.Error.UnknownObject', request.path));
            return ok('i', [0]);
        }
        return answer(new DbusError('org.freedesktop.DBus.Error.UnknownMethod', request.member));
    }
}
