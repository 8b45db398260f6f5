// The D-Bus side of the plugin: finds every com.victronenergy.* service, scans its items into the cache, keeps
// them current from change signals, forgets services that go, and reads and writes items on request.
//
// Beyond the original: every call has a timeout, scans run concurrently (bounded) and a slow or hung service
// delays nobody else, a failed scan is retried with backoff, malformed input is logged once per cause and skipped,
// and when the bus connection drops the plugin keeps running: every service counts as gone, and the bridge
// reconnects with backoff and scans again.

import type { Logger } from '../log';
import { describeError } from '../log';
import { ProblemLog } from '../util/problem-log';
import type { Timers, TimerHandle } from '../util/timers';
import type { CachedItem } from './cache';
import { ItemCache } from './cache';
import type { BusConnection, CallRequest, Connector, Reply, Signal } from './connection';
import { CallTimeout, ConnectionClosed, DbusError, makeVariant } from './connection';
import type { ParsedBody } from './items';
import { isTreeReply, parseGetValueItem, parseGetValueTree, parseItemsDict, SignalParser } from './items';
import { serviceType } from './naming';
import { NameRegistry } from './registry';
import type { DbusTypedValue } from './to-dbus';
import type { ProblemSink } from './values';
import { nativeConnector } from './wire/client';

export const BUS_ITEM = 'com.victronenergy.BusItem';
const DBUS = { destination: 'org.freedesktop.DBus', path: '/org/freedesktop/DBus', interface: 'org.freedesktop.DBus' };
const UNKNOWN_METHOD = 'org.freedesktop.DBus.Error.UnknownMethod';

export const MATCH_RULES = [
    `type='signal',interface='${BUS_ITEM}'`,
    "type='signal',interface='com.victronenergy.TokenUsers'",
    "type='signal',interface='org.freedesktop.DBus',member='NameOwnerChanged'",
];

export interface Backoff {
    initialMs: number;
    maxMs: number;
}

export interface DbusBridgeOptions {
    /** Bus address, e.g. unix:path=/var/run/dbus/system_bus_socket. */
    address: string;
    callTimeoutMs: number;
    connectTimeoutMs: number;
    /** Scans in flight at once. */
    scanConcurrency: number;
    reconnect: Backoff;
    rescan: Backoff;
}

export const defaultBridgeOptions: Omit<DbusBridgeOptions, 'address'> = {
    callTimeoutMs: 10_000,
    connectTimeoutMs: 5_000,
    scanConcurrency: 16,
    reconnect: { initialMs: 500, maxMs: 30_000 },
    rescan: { initialMs: 2_000, maxMs: 60_000 },
};

export class BridgeUnavailable extends Error {}

/**
 * Services scanned before the others, in this order: com.victronenergy.system holds /Serial, the one retained topic,
 * which the Marine MFD app and Home Assistant's library look for first to learn the portal id (on FlashMQ before
 * 1.26 clients are served while the discovery is still under way); the settings hold the LAN MQTT and VRM modes
 * that logins and the bridges' rules depend on.
 */
const FIRST_SCANNED = ['com.victronenergy.system', 'com.victronenergy.settings'];

/** The services in the order they are scanned: FIRST_SCANNED first, the rest as the bus listed them. */
export function scanOrder(services: readonly string[]): string[] {
    const rank = (name: string): number => {
        const i = FIRST_SCANNED.indexOf(name);
        return i < 0 ? FIRST_SCANNED.length : i;
    };
    return services.map((name, i) => ({ name, i })).sort((a, b) => rank(a.name) - rank(b.name) || a.i - b.i).map((e) => e.name);
}

interface Retry {
    delayMs: number;
    timer?: TimerHandle;
}

export class DbusBridge {
    readonly cache: ItemCache;
    private readonly registry = new NameRegistry();
    private readonly problems: ProblemLog;
    private conn: BusConnection | undefined;
    private generation = 0;
    private stopped = true;
    private connectDelayMs: number;
    private connectTimer: TimerHandle | undefined;
    private readonly retries = new Map<string, Retry>();
    private running = 0;
    private readonly waiting: Array<() => void> = [];
    private discovered!: Promise<void>;
    private markDiscovered: () => void = () => undefined;
    private readonly userRemovedListeners = new Set<(username: string) => void>();
    private readonly discoveredListeners = new Set<(first: boolean) => void>();
    private discoveries = 0;
    private readonly counters = { scans: 0, scanFailures: 0, signals: 0, reconnects: 0 };
    private readonly connector: Connector;

    constructor(
        private options: DbusBridgeOptions,
        private readonly log: Logger,
        private readonly timers: Timers,
        connector?: Connector,
    ) {
        this.problems = new ProblemLog(log);
        this.connector = connector ?? nativeConnector((problem) => this.problems.report(`wire:${problem}`, problem));
        this.cache = new ItemCache(undefined, (message) => this.problems.report(`cache:${message}`, message));
        this.connectDelayMs = options.reconnect.initialMs;
        this.resetDiscovered();
    }

    private resetDiscovered(): void {
        this.discovered = new Promise<void>((resolve) => {
            this.markDiscovered = resolve;
        });
    }

    /** Starts connecting (and reconnecting, for as long as the bridge runs). */
    start(): void {
        if (!this.stopped)
            return;
        this.stopped = false;
        void this.connect();
    }

    /** Resolves once the first discovery of the services on the bus has finished (each scan done or given up). */
    whenDiscovered(): Promise<void> {
        return this.discovered;
    }

    /**
     * Calls `listener` each time a discovery has finished on a connection: the first, and the one after every
     * reconnection (`first` tells them apart).
     */
    onDiscovered(listener: (first: boolean) => void): () => void {
        this.discoveredListeners.add(listener);
        return () => this.discoveredListeners.delete(listener);
    }

    /** A reload's call timeout: for the calls made from now on. */
    setCallTimeout(ms: number): void {
        this.options = { ...this.options, callTimeoutMs: ms };
    }

    get connected(): boolean {
        return this.conn !== undefined;
    }

    stats(): { services: number; items: number; connected: boolean } & typeof this.counters {
        return { services: this.cache.size, items: this.cache.itemCount(), connected: this.connected, ...this.counters };
    }

    /** The sizes of what the D-Bus side holds, for the stats line. */
    sizes(): Record<string, number> {
        return {
            services: this.cache.size, items: this.cache.itemCount(), queuedServices: this.cache.queuedServices,
            busNames: this.registry.size, busOwners: this.registry.ownerCount, scanRetries: this.retries.size,
            pendingCalls: this.conn?.pendingCalls ?? 0, dbusProblems: this.problems.size,
        };
    }

    onUserRemoved(listener: (username: string) => void): () => void {
        this.userRemovedListeners.add(listener);
        return () => this.userRemovedListeners.delete(listener);
    }

    stop(): void {
        if (this.stopped)
            return;
        this.stopped = true;
        this.generation++;
        if (this.connectTimer !== undefined)
            this.timers.clearTimeout(this.connectTimer);
        this.cancelRetries();
        this.conn?.close();
        this.conn = undefined;
    }

    // ---- connection ----------------------------------------------------------------------------------------------

    private async connect(): Promise<void> {
        this.connectTimer = undefined;
        const gen = ++this.generation;
        let conn: BusConnection;
        try {
            conn = await this.connector(this.options.address, this.options.connectTimeoutMs);
        } catch (err) {
            if (this.stopped || gen !== this.generation)
                return;
            this.problems.report(`connect:${describeError(err)}`,
                `cannot connect to D-Bus at '${this.options.address}': ${describeError(err)}; retrying (every ${this.options.reconnect.maxMs / 1000} s at most)`);
            this.scheduleConnect();
            this.markDiscovered(); // do not hold the broker back: services appear when the bus does
            return;
        }
        if (this.stopped || gen !== this.generation) {
            conn.close();
            return;
        }
        this.conn = conn;
        this.connectDelayMs = this.options.reconnect.initialMs;
        this.problems.forget('connect:');
        conn.onSignal((signal) => this.onSignal(signal, gen));
        conn.onClose((reason) => this.onConnectionLost(reason, gen));
        this.log.notice(`connected to D-Bus at '${this.options.address}' as '${conn.uniqueName}'`);
        try {
            await Promise.all(MATCH_RULES.map((rule) => conn.addMatch(rule, this.options.callTimeoutMs)));
            const reply = await conn.call({ ...DBUS, member: 'ListNames' }, this.options.callTimeoutMs);
            const listed = reply.values()[0];
            const names = Array.isArray(listed) ? (listed as unknown[]).filter((n): n is string => typeof n === 'string') : [];
            const services = scanOrder(names.filter((n) => serviceType(n) !== undefined));
            this.log.info(`found ${services.length} Venus services on the bus`);
            await Promise.all(services.map((name) => this.discover(name, gen)));
        } catch (err) {
            if (gen === this.generation && !(err instanceof ConnectionClosed)) {
                this.log.error(`setting up the D-Bus connection failed: ${describeError(err)}; reconnecting`);
                conn.close();
                this.onConnectionLost('set-up failed', gen);
            }
        }
        if (gen === this.generation) {
            this.markDiscovered();
            const first = this.discoveries++ === 0;
            for (const listener of [...this.discoveredListeners])
                listener(first);
        }
    }

    private scheduleConnect(): void {
        const delay = this.connectDelayMs;
        this.connectDelayMs = Math.min(this.options.reconnect.maxMs, this.connectDelayMs * 2);
        this.connectTimer = this.timers.setTimeout(() => void this.connect(), delay);
    }

    private onConnectionLost(reason: string, gen: number): void {
        if (this.stopped || gen !== this.generation)
            return;
        this.generation++;
        this.conn = undefined;
        this.counters.reconnects++;
        this.log.warning(`lost the D-Bus connection (${reason}); every service counts as gone until it is back`);
        this.cancelRetries();
        for (const name of [...this.registry.all()])
            this.cache.forgetQueued(name);
        for (const service of [...this.cache.all()])
            this.cache.remove(service.name);
        this.registry.clear();
        this.scheduleConnect();
    }

    // ---- discovery and scans -------------------------------------------------------------------------------------

    private async discover(name: string, gen: number): Promise<void> {
        const conn = this.conn;
        if (!conn || gen !== this.generation)
            return;
        let owner: string;
        try {
            const reply = await conn.call({ ...DBUS, member: 'GetNameOwner', signature: 's', body: [name] }, this.options.callTimeoutMs);
            const found = reply.values()[0];
            owner = typeof found === 'string' ? found : '';
        } catch (err) {
            if (gen === this.generation && !(err instanceof ConnectionClosed))
                this.log.info(`'${name}' left before it could be scanned (${describeError(err)})`);
            return;
        }
        if (gen !== this.generation || !owner)
            return;
        if (this.registry.ownerOf(name) === owner)
            return; // already known through NameOwnerChanged
        this.registry.set(name, owner);
        await this.scan(name, owner, gen);
    }

    private async acquire(): Promise<void> {
        if (this.running < this.options.scanConcurrency) {
            this.running++;
            return;
        }
        await new Promise<void>((resolve) => this.waiting.push(resolve));
    }

    private release(): void {
        const next = this.waiting.shift();
        if (next)
            next();
        else
            this.running--;
    }

    /** The problems in a signal's values, told of the service that sent it (one sink for every signal, no closure each). */
    private readonly signalProblem: ProblemSink = (cause) => this.valueProblems(this.signalService)(cause);
    private signalService = '';
    private readonly signalParser = new SignalParser();

    private valueProblems(name: string): ProblemSink {
        return (cause) => this.problems.report(`value:${name}:${cause}`, `'${name}' sent ${cause}; taken as well as it can be`);
    }

    private async scan(name: string, owner: string, gen: number): Promise<void> {
        await this.acquire();
        try {
            const conn = this.conn;
            if (!conn || gen !== this.generation || this.registry.ownerOf(name) !== owner)
                return;
            this.counters.scans++;
            const problem = this.valueProblems(name);
            let parsed: ParsedBody;
            try {
                const reply = await conn.call({ destination: owner, path: '/', interface: BUS_ITEM, member: 'GetItems' }, this.options.callTimeoutMs);
                parsed = parseItemsDict(reply, problem);
            } catch (err) {
                if (!(err instanceof DbusError) || err.errorName !== UNKNOWN_METHOD)
                    throw err;
                const reply = await conn.call({ destination: owner, path: '/', interface: BUS_ITEM, member: 'GetValue' }, this.options.callTimeoutMs);
                parsed = parseGetValueTree(reply, '/', problem);
            }
            if (gen !== this.generation || this.registry.ownerOf(name) !== owner)
                return;
            if (parsed.refused !== undefined)
                throw new Error(parsed.refused);
            this.cancelRetry(name);
            this.problems.forget(`scan:${name}:`);
            this.cache.applyScan(name, parsed.items);
            this.log.info(`'${name}' scanned: ${parsed.items.length} items`);
        } catch (err) {
            if (err instanceof ConnectionClosed || gen !== this.generation || this.registry.ownerOf(name) !== owner)
                return;
            this.counters.scanFailures++;
            const retry = this.retries.get(name) ?? { delayMs: this.options.rescan.initialMs };
            this.retries.set(name, retry);
            const why = err instanceof CallTimeout ? `it did not answer within ${this.options.callTimeoutMs} ms` : describeError(err);
            this.problems.report(`scan:${name}:${why}`, `scanning '${name}' failed: ${why}; retrying (its changes are kept until then)`, 'error');
            const delay = retry.delayMs;
            retry.delayMs = Math.min(this.options.rescan.maxMs, retry.delayMs * 2);
            retry.timer = this.timers.setTimeout(() => {
                retry.timer = undefined;
                void this.scan(name, owner, gen);
            }, delay);
        } finally {
            this.release();
        }
    }

    private cancelRetry(name: string): void {
        const retry = this.retries.get(name);
        if (retry?.timer !== undefined)
            this.timers.clearTimeout(retry.timer);
        this.retries.delete(name);
    }

    private cancelRetries(): void {
        for (const name of [...this.retries.keys()])
            this.cancelRetry(name);
    }

    private removeService(name: string): void {
        this.cancelRetry(name);
        this.registry.remove(name);
        this.cache.remove(name);
        this.problems.forget(`scan:${name}:`);
        this.problems.forget(`value:${name}:`);
    }

    // ---- signals -------------------------------------------------------------------------------------------------

    private onSignal(signal: Signal, gen: number): void {
        if (gen !== this.generation)
            return;
        this.counters.signals++;
        try {
            if (signal.interface === BUS_ITEM)
                this.onItemSignal(signal);
            else if (signal.interface === 'org.freedesktop.DBus' && signal.member === 'NameOwnerChanged')
                this.onNameOwnerChanged(signal, gen);
            else if (signal.interface === 'com.victronenergy.TokenUsers' && signal.member === 'UserRemoved')
                this.onUserRemovedSignal(signal);
            else if (signal.member !== 'NameAcquired' && signal.member !== 'NameLost')
                this.log.debug(() => `unhandled signal ${signal.interface}.${signal.member} from '${signal.sender}'`);
        } catch (err) {
            this.problems.report(`signal:${signal.member}:${describeError(err)}`,
                `handling the signal ${signal.interface}.${signal.member} from '${signal.sender}' failed: ${describeError(err)}`, 'error');
        }
    }

    private onNameOwnerChanged(signal: Signal, gen: number): void {
        if (signal.sender !== 'org.freedesktop.DBus' || signal.signature !== 'sss')
            return;
        const [name, oldOwner, newOwner] = signal.values() as [string, string, string];
        if (serviceType(name) === undefined)
            return;
        if (this.registry.has(name)) {
            this.log.info(newOwner ? `'${name}' changed owner (${oldOwner} -> ${newOwner}); rescanning it`
                : `'${name}' left the bus`);
            this.removeService(name);
        }
        if (newOwner) {
            if (!oldOwner)
                this.log.info(`'${name}' appeared on the bus`);
            this.registry.set(name, newOwner);
            void this.scan(name, newOwner, gen);
        }
    }

    private onItemSignal(signal: Signal): void {
        const names = this.registry.namesOf(signal.sender);
        if (names.size === 0) {
            this.log.debug(() => `${signal.member} from '${signal.sender}', which owns no Venus service; ignored`);
            return;
        }
        const first = this.registry.firstNameOf(signal.sender)!;
        this.signalService = first;
        const parser = this.signalParser;
        let taken: boolean;
        if (signal.member === 'ItemsChanged')
            taken = parser.itemsChanged(signal, this.signalProblem);
        else if (signal.member === 'PropertiesChanged')
            taken = parser.propertiesChanged(signal, signal.path, this.signalProblem);
        else
            return;
        if (!taken) {
            this.problems.report(`signal:${first}:${parser.refused}`, `'${first}' sent ${signal.member} on '${signal.path}' that is skipped: ${parser.refused}`);
            return;
        }
        if (names.size === 1)
            this.cache.applySignal(first, parser.items, parser.count);
        else
            for (const name of names)
                this.cache.applySignal(name, parser.items, parser.count);
    }

    private onUserRemovedSignal(signal: Signal): void {
        // Only a Venus service may say so (the original believes anyone on the bus).
        if (this.registry.namesOf(signal.sender).size === 0) {
            this.problems.report(`token:${signal.sender}`, `UserRemoved from '${signal.sender}', which is no Venus service; ignored`);
            return;
        }
        const username = signal.signature.startsWith('s') ? signal.values()[0] : undefined;
        if (typeof username !== 'string' || !signal.signature.startsWith('s')) {
            this.problems.report(`token-body:${signal.signature}`, `UserRemoved with signature '${signal.signature}' where a string was expected; ignored`);
            return;
        }
        this.log.notice(`token user '${username}' was removed`);
        for (const listener of this.userRemovedListeners) {
            try {
                listener(username);
            } catch (err) {
                this.log.error(`a UserRemoved listener failed: ${describeError(err)}`);
            }
        }
    }

    // ---- reads and writes ----------------------------------------------------------------------------------------

    private async callService(name: string, request: Omit<CallRequest, 'destination'>): Promise<Reply> {
        const owner = this.registry.ownerOf(name);
        const conn = this.conn;
        if (!conn)
            throw new BridgeUnavailable('not connected to D-Bus');
        if (!owner)
            throw new BridgeUnavailable(`'${name}' is not on the bus`);
        return conn.call({ destination: owner, ...request }, this.options.callTimeoutMs);
    }

    /**
     * Reads `path` of a service (GetValue) and merges what it finds into the cache: one item, or every item of a
     * sub-tree. A path that is not a cached item and answers with a tree is taken as a sub-tree.
     */
    async read(name: string, path: string): Promise<CachedItem[]> {
        const reply = await this.callService(name, { path, interface: BUS_ITEM, member: 'GetValue' });
        const problem = this.valueProblems(name);
        const cachedItem = this.cache.get(name)?.items.has(path) ?? false;
        const parsed = !cachedItem && isTreeReply(reply) ? parseGetValueTree(reply, path, problem) : parseGetValueItem(reply, path, problem);
        if (parsed.refused !== undefined)
            throw new Error(parsed.refused);
        return this.cache.applyRead(name, parsed.items);
    }

    /** SetValue on an item; resolves with the service's answer (0 is success for velib and localsettings). */
    write(name: string, path: string, value: DbusTypedValue, iface = BUS_ITEM): Promise<number> {
        return new Promise<number>((resolve, reject) => {
            this.writeNow(name, path, value, (err, code) => {
                if (err)
                    reject(err);
                else
                    resolve(code!);
            }, iface);
        });
    }

    /**
     * SetValue on an item, its outcome handed to `done`: an error, or the service's answer (0 is success for velib and
     * localsettings). `done` is called once, at once when the call cannot be made. The write path's way: no promise,
     * and the reply is read where it was received.
     */
    writeNow(name: string, path: string, value: DbusTypedValue, done: (err: Error | undefined, code?: number) => void, iface = BUS_ITEM): void {
        const owner = this.registry.ownerOf(name);
        const conn = this.conn;
        if (!conn) {
            done(new BridgeUnavailable('not connected to D-Bus'));
            return;
        }
        if (!owner) {
            done(new BridgeUnavailable(`'${name}' is not on the bus`));
            return;
        }
        const request: CallRequest = {
            destination: owner, path, interface: iface, member: 'SetValue', signature: 'v', body: [makeVariant(value.signature, value.value)],
        };
        const answered = (err: Error | undefined, reply: Reply | undefined): void => {
            if (err) {
                done(err);
                return;
            }
            let code: unknown;
            try {
                code = reply!.signature === 'i' ? reply!.values()[0] : undefined;
            } catch (e) {
                done(e instanceof Error ? e : new Error(String(e)));
                return;
            }
            if (typeof code !== 'number')
                done(new Error(`SetValue answered with signature '${reply!.signature}' where 'i' was expected`));
            else
                done(undefined, code);
        };
        if (conn.callNow)
            conn.callNow(request, this.options.callTimeoutMs, answered);
        else
            conn.call(request, this.options.callTimeoutMs).then((reply) => answered(undefined, reply), (err: unknown) => answered(err instanceof Error ? err : new Error(String(err)), undefined));
    }
}
