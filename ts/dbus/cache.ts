// The item cache: every Venus service on the bus, every item with its value (and min/max), kept current. The
// MQTT side subscribes to it and hears of every service that appears, every change, every service that goes.
//
// Merging follows the original: value, min and max are each overwritten only when an update carries them, so a
// min/max once known stays. A service's instance is fixed when its first scan lands and stays while it lives.
// Changes that arrive before the scan are kept (latest per path) and merged under the scan's result: the reply to
// the scan left the service after those signals, so where both have a path the scan's value is the newer one; no
// change is lost and none overwrites newer data (the original's queue could do both, §12 Q3).

import type { ItemUpdate } from './items';
import { instanceOf, serviceType } from './naming';
import type { VeValue } from './values';
import { UNKNOWN_TYPE } from './values';

export interface CachedItem {
    readonly path: string;
    /** UNKNOWN_TYPE for an item of which only min/max were ever received. */
    value: VeValue;
    min: VeValue | undefined;
    max: VeValue | undefined;
    /**
     * The text of its notification, kept by the MQTT side once built (so a full publish copies it instead of
     * formatting again); the cache drops it whenever the item changes.
     */
    payload: string | undefined;
}

export interface ServiceState {
    /** The bus name, e.g. com.victronenergy.vebus.ttyS4. */
    readonly name: string;
    /** vebus */
    readonly type: string;
    /** The topic instance: /DeviceInstance, else /Identifier, else '0'. */
    readonly instance: string;
    readonly items: ReadonlyMap<string, CachedItem>;
}

export type ChangeSource = 'signal' | 'rescan' | 'read';

export type CacheEvent =
    | { kind: 'added'; service: ServiceState }
    | { kind: 'changed'; service: ServiceState; items: CachedItem[]; source: ChangeSource }
    | { kind: 'removed'; service: ServiceState };

/** Told of every event; a 'changed' event of a signal (and its list) is reused: copy what is kept after the call. */
export type CacheListener = (event: CacheEvent) => void;

export interface CacheLimits {
    /** Paths kept per service while it waits for its scan. */
    maxQueuedPaths: number;
}

interface Entry extends ServiceState {
    readonly items: Map<string, CachedItem>;
}

/** The service of the reused signal event between signals (it keeps no real one alive). */
const NO_SERVICE: Entry = { name: '', type: '', instance: '', items: new Map() };
/** Items the reused list of a signal's changes keeps room for; a larger signal's list is let go. */
const KEPT_CHANGED = 256;

export class ItemCache {
    private readonly signalEvent: { kind: 'changed'; service: Entry; items: CachedItem[]; source: ChangeSource } = {
        kind: 'changed', service: NO_SERVICE, items: [], source: 'signal',
    };
    private readonly services = new Map<string, Entry>();
    private readonly queued = new Map<string, Map<string, ItemUpdate>>();
    private readonly byTypeInstance = new Map<string, string>();
    private readonly listeners = new Set<CacheListener>();

    constructor(
        private readonly limits: CacheLimits = { maxQueuedPaths: 100_000 },
        private readonly report: (message: string) => void = () => undefined,
    ) {}

    subscribe(listener: CacheListener): () => void {
        this.listeners.add(listener);
        return () => this.listeners.delete(listener);
    }

    get(name: string): ServiceState | undefined {
        return this.services.get(name);
    }

    all(): IterableIterator<ServiceState> {
        return this.services.values();
    }

    get size(): number {
        return this.services.size;
    }

    itemCount(): number {
        let n = 0;
        for (const s of this.services.values())
            n += s.items.size;
        return n;
    }

    /** The service that serves 'type/instance' topics (the most recently added one, when two collide). */
    find(type: string, instance: string): ServiceState | undefined {
        const name = this.byTypeInstance.get(`${type}/${instance}`);
        return name === undefined ? undefined : this.services.get(name);
    }

    /** Services whose changes wait for their scan. */
    get queuedServices(): number {
        return this.queued.size;
    }

    queuedPaths(name: string): number {
        return this.queued.get(name)?.size ?? 0;
    }

    /** The result of a service's scan (GetItems, or GetValue on '/'). */
    applyScan(name: string, updates: readonly ItemUpdate[]): void {
        const existing = this.services.get(name);
        if (existing) {
            this.merge(existing, updates, 'rescan');
            return;
        }
        const type = serviceType(name);
        if (type === undefined)
            return;
        const items = new Map<string, CachedItem>();
        const queued = this.queued.get(name);
        this.queued.delete(name);
        if (queued)
            for (const u of queued.values())
                mergeInto(items, u);
        for (const u of updates)
            mergeInto(items, u);
        const identity = new Map<string, VeValue>();
        for (const path of ['/DeviceInstance', '/Identifier']) {
            const item = items.get(path);
            if (item)
                identity.set(path, item.value);
        }
        const entry: Entry = { name, type, instance: instanceOf(identity), items };
        this.services.set(name, entry);
        const key = `${type}/${entry.instance}`;
        const previous = this.byTypeInstance.get(key);
        if (previous !== undefined && previous !== name)
            this.report(`services '${previous}' and '${name}' both use ${key}; its topics now follow '${name}'`);
        this.byTypeInstance.set(key, name);
        this.emit({ kind: 'added', service: entry });
    }

    /**
     * A change signal: the first `count` of `updates`. Before the service's scan has landed it is kept until then
     * (copied: the updates may be reused by the caller).
     */
    applySignal(name: string, updates: readonly ItemUpdate[], count = updates.length): void {
        const entry = this.services.get(name);
        if (entry) {
            this.mergeSignal(entry, updates, count);
            return;
        }
        let queue = this.queued.get(name);
        if (!queue) {
            queue = new Map();
            this.queued.set(name, queue);
        }
        for (let i = 0; i < count; i++) {
            const u = updates[i]!;
            const had = queue.get(u.path);
            if (had) {
                if (u.value !== undefined)
                    had.value = u.value;
                if (u.min !== undefined)
                    had.min = u.min;
                if (u.max !== undefined)
                    had.max = u.max;
            } else if (queue.size < this.limits.maxQueuedPaths) {
                queue.set(u.path, { ...u });
            } else {
                this.report(`'${name}' sent changes of more than ${this.limits.maxQueuedPaths} paths before its scan; the rest are dropped`);
                break;
            }
        }
    }

    /** Values read on request (R/): merged, and announced as such. */
    applyRead(name: string, updates: readonly ItemUpdate[]): CachedItem[] {
        const entry = this.services.get(name);
        return entry ? this.merge(entry, updates, 'read') : [];
    }

    /** The service is gone (or its owner changed): its items, as last known, go with the event. */
    remove(name: string): void {
        this.queued.delete(name);
        const entry = this.services.get(name);
        if (!entry)
            return;
        this.services.delete(name);
        const key = `${entry.type}/${entry.instance}`;
        if (this.byTypeInstance.get(key) === name) {
            this.byTypeInstance.delete(key);
            for (const other of this.services.values())
                if (other.type === entry.type && other.instance === entry.instance)
                    this.byTypeInstance.set(key, other.name);
        }
        this.emit({ kind: 'removed', service: entry });
    }

    /** Forgets services still waiting for their scan (their queued changes). */
    forgetQueued(name: string): void {
        this.queued.delete(name);
    }

    private merge(entry: Entry, updates: readonly ItemUpdate[], source: ChangeSource): CachedItem[] {
        const changed: CachedItem[] = [];
        for (const u of updates)
            changed.push(mergeInto(entry.items, u));
        if (changed.length > 0)
            this.emit({ kind: 'changed', service: entry, items: changed, source });
        return changed;
    }

    /**
     * A signal's changes, announced with an event object and a list that are reused from signal to signal (a change
     * allocates neither): listeners use them during the call and copy what they keep.
     */
    private mergeSignal(entry: Entry, updates: readonly ItemUpdate[], count: number): void {
        if (count === 0)
            return;
        const event = this.signalEvent;
        const changed = event.items;
        // Written over in place: emptying the list would make V8 let its storage go, and grow it again.
        for (let i = 0; i < count; i++) {
            const item = mergeInto(entry.items, updates[i]!);
            if (i < changed.length)
                changed[i] = item;
            else
                changed.push(item);
        }
        if (changed.length > count)
            changed.length = count;
        event.service = entry;
        try {
            this.emit(event);
        } finally {
            event.service = NO_SERVICE;
            if (changed.length > KEPT_CHANGED)
                event.items = [];
        }
    }

    private emit(event: CacheEvent): void {
        for (const listener of this.listeners) {
            try {
                listener(event);
            } catch (err) {
                this.report(`a listener of the item cache failed: ${err instanceof Error ? err.message : String(err)}`);
            }
        }
    }
}

function mergeInto(items: Map<string, CachedItem>, u: ItemUpdate): CachedItem {
    let item = items.get(u.path);
    if (!item) {
        // Every field set at once, in one order: all items share one shape.
        item = { path: u.path, value: u.value === undefined ? UNKNOWN_TYPE : u.value, min: u.min, max: u.max, payload: undefined };
        items.set(u.path, item);
        return item;
    }
    if (u.value !== undefined)
        item.value = u.value;
    if (u.min !== undefined)
        item.min = u.min;
    if (u.max !== undefined)
        item.max = u.max;
    item.payload = undefined;
    return item;
}
