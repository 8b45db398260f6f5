// Publishes the item cache as Venus notifications (N/<portal id>/<type>/<instance>/<path>), the only code that
// publishes item topics. Follows the original (spec §2.4, §2.6, §4, §6): changes only while alive, except the
// retained Serial and reads; an empty payload for every topic of a service that goes, whatever the alive state.
//
// Beyond the original, a full republish goes out in chunks that yield to the broker's loop, so a burst of tens of
// thousands of items does not overflow a subscriber's write buffer; every chunk takes the items' current values,
// so nothing published later in a burst is older than what a change already published.
//
// Cost: an item's payload text is formatted once per change and kept on the item; a topic is written from its
// service's prefix bytes and the item's path; every frame goes into one batch buffer that is reused. A change
// allocates its payload text and nothing else here; a full publish allocates nothing.

import type { CacheEvent, CachedItem, ItemCache, ServiceState } from '../dbus/cache';
import type { Logger } from '../log';
import { describeError } from '../log';
import type { Broker } from '../native/broker';
import { FrameBatch } from '../native/frames';
import { blockedPathOf, completionPayload, isBlocked, isRetained, itemPayload, retainedPathOf } from './payloads';
import { notificationTopic, portalTopic } from './topics';
import { monotonicMs } from '../util/timers';

export interface PublisherOptions {
    portalId: string;
    /** Bytes of frames per chunk of a full republish, before yielding to the loop. */
    chunkBytes: number;
}

export interface PublisherDeps {
    /** Whether changes are published (the keep-alive state). */
    alive(): boolean;
    /** Wall-clock seconds, for heartbeat and completion payloads. */
    unixSeconds(): number;
    /** Runs `fn` after the broker's loop had a turn (setImmediate). */
    yieldToLoop(fn: () => void): void;
}

export class VenusPublisher {
    /** One batch, reused: publishing allocates nothing but the payload text of a changed item. */
    private readonly batch: FrameBatch;
    /** 'N/<portal id>/<type>/<instance>' of each service, as bytes. */
    private readonly prefixes = new WeakMap<ServiceState, Buffer>();
    readonly stats = { published: 0, fullPublishes: 0, removals: 0 };

    constructor(
        private readonly broker: Broker,
        private readonly cache: ItemCache,
        private readonly options: PublisherOptions,
        private readonly deps: PublisherDeps,
        private readonly log: Logger,
    ) {
        this.batch = new FrameBatch(Math.min(options.chunkBytes + 1024, 64 * 1024), 2 * options.chunkBytes + 64 * 1024);
        cache.subscribe((event) => this.onCacheEvent(event));
    }

    /** N/<id>/keepalive "1": the original's announcement that keep-alives are supported. */
    announce(): void {
        this.broker.publish(portalTopic(this.options.portalId, 'keepalive'), '1');
    }

    publishHeartbeat(): void {
        this.broker.publish(portalTopic(this.options.portalId, 'heartbeat'), `{"value":${Math.floor(this.deps.unixSeconds())}}`);
    }

    publishCompletion(echo: string | undefined): void {
        this.broker.publish(portalTopic(this.options.portalId, 'full_publish_completed'), completionPayload(this.deps.unixSeconds(), echo));
    }

    private prefixOf(service: ServiceState): Buffer {
        let prefix = this.prefixes.get(service);
        if (!prefix) {
            prefix = Buffer.from(notificationTopic(this.options.portalId, service.type, service.instance, ''));
            this.prefixes.set(service, prefix);
        }
        return prefix;
    }

    /** The payload of an item's notification, formatted once per change of the item and kept on it. */
    private payloadOf(service: ServiceState, item: CachedItem): string {
        let payload = item.payload;
        if (payload === undefined) {
            try {
                payload = itemPayload(service.type, item);
            } catch (err) {
                // Cannot happen with values from the bus, but a bad item must not stop the others (spec §12 Q2).
                this.log.error(`cannot build the payload of '${notificationTopic(this.options.portalId, service.type, service.instance, item.path)}': `
                    + `${describeError(err)}; publishing it as null`);
                payload = '{"value":null}';
            }
            item.payload = payload;
        }
        return payload;
    }

    private add(service: ServiceState, item: CachedItem): void {
        this.batch.addWithPrefix(this.prefixOf(service), item.path, this.payloadOf(service, item), isRetained(service.type, item.path));
    }

    /** The batch in one native call; it is empty afterwards. */
    private flush(): void {
        if (this.batch.count === 0)
            return;
        try {
            this.stats.published += this.broker.publishFramesOf(this.batch.storage, this.batch.byteLength);
        } finally {
            this.batch.clear();
        }
    }

    /**
     * The notifications of some items of a service: in one batch when they are few, else in chunks that yield to the
     * loop (a read of a big sub-tree, a service of thousands of items appearing). A later chunk is dropped when its
     * service has gone since (its removal went out), and takes the items' values as they are by then.
     */
    private publishItems(service: ServiceState, items: readonly CachedItem[] | IterableIterator<CachedItem>, force: boolean): void {
        if (Array.isArray(items)) {
            // A change: a few items, one batch, no closure or iterator made.
            const list = items as readonly CachedItem[];
            const alive = force || this.deps.alive();
            let i = 0;
            while (i < list.length && this.batch.byteLength < this.options.chunkBytes)
                this.addIfPublished(service, list[i++]!, alive);
            this.flush();
            if (i < list.length) {
                const rest = list.slice(i).values();
                this.deps.yieldToLoop(() => this.publishInChunks(service, rest, force));
            }
            return;
        }
        this.publishInChunks(service, items as IterableIterator<CachedItem>, force);
    }

    private addIfPublished(service: ServiceState, item: CachedItem, alive: boolean): void {
        if (!isBlocked(service.type, item.path) && (alive || isRetained(service.type, item.path)))
            this.add(service, item);
    }

    private publishInChunks(service: ServiceState, iterator: IterableIterator<CachedItem>, force: boolean): void {
        const step = (): void => {
            if (this.cache.get(service.name) !== service)
                return;
            const alive = force || this.deps.alive();
            for (let next = iterator.next(); !next.done; next = iterator.next()) {
                this.addIfPublished(service, next.value, alive);
                if (this.batch.byteLength >= this.options.chunkBytes) {
                    this.flush();
                    this.deps.yieldToLoop(step);
                    return;
                }
            }
            this.flush();
        };
        step();
    }

    private onCacheEvent(event: CacheEvent): void {
        switch (event.kind) {
            case 'added':
                this.publishItems(event.service, event.service.items.values(), false);
                return;
            case 'changed':
                this.publishItems(event.service, event.items, event.source === 'read');
                return;
            case 'removed': {
                const { service } = event;
                const prefix = this.prefixOf(service);
                for (const item of service.items.values()) {
                    if (isBlocked(service.type, item.path) || isRetained(service.type, item.path))
                        continue;
                    this.batch.addWithPrefix(prefix, item.path, '');
                }
                this.stats.removals++;
                this.flush();
                return;
            }
        }
    }

    /**
     * Formats every item's payload ahead of the first full publish, a few hundred items per turn of the loop, once
     * the first discovery is done. Between that moment and a client's first keep-alive the broker is idle, and the
     * formatting runs in cold code (Grisu2 above all: half of a first full publish's time on an ARM device); done
     * here, it is off the path of that keep-alive's answer. It keeps nothing a full publish would not keep anyway
     * (each item's payload stays on it until the item changes), and a full publish that starts meanwhile formats
     * what is still missing itself.
     */
    preparePayloads(itemsPerTurn = 256): void {
        const walk = new ItemWalk(this.cache);
        const step = (): void => {
            let budget = itemsPerTurn;
            for (let service = walk.service(); service !== undefined && budget > 0; service = walk.service()) {
                const items = walk.items();
                const blocked = blockedPathOf(service.type);
                let next = items.next();
                for (; !next.done; next = items.next()) {
                    if (next.value.path !== blocked)
                        this.payloadOf(service, next.value);
                    if (--budget === 0)
                        break;
                }
                if (next.done)
                    walk.serviceDone();
            }
            if (!walk.done)
                this.deps.yieldToLoop(step);
        };
        this.deps.yieldToLoop(step);
    }

    /**
     * Publishes every item of every service, in chunks; `done` runs after the last chunk. Services that go during
     * the burst are skipped from then on (their empty payloads went out already).
     */
    fullPublish(done: () => void): void {
        this.stats.fullPublishes++;
        const started = monotonicMs();
        const chunkBytes = this.options.chunkBytes;
        let chunks = 0;
        const walk = new ItemWalk(this.cache);
        const chunk = (): void => {
            try {
                for (let service = walk.service(); service !== undefined && this.batch.byteLength < chunkBytes; service = walk.service()) {
                    const items = walk.items();
                    const prefix = this.prefixOf(service);
                    const blocked = blockedPathOf(service.type);
                    const retained = retainedPathOf(service.type);
                    let next = items.next();
                    for (; !next.done; next = items.next()) {
                        const item = next.value;
                        if (item.path !== blocked)
                            this.batch.addWithPrefix(prefix, item.path, this.payloadOf(service, item), item.path === retained);
                        if (this.batch.byteLength >= chunkBytes)
                            break;
                    }
                    if (next.done)
                        walk.serviceDone();
                }
                this.flush();
                chunks++;
            } catch (err) {
                this.batch.clear();
                this.log.error(`a full republish failed part-way: ${describeError(err)}`);
                walk.end();
            }
            if (!walk.done) {
                this.deps.yieldToLoop(chunk);
            } else {
                this.log.debug(() => `full republish: ${chunks} chunks in ${(monotonicMs() - started).toFixed(1)} ms`);
                done();
            }
        };
        chunk();
    }
}

/**
 * Every item of the services held when it was made, walked over several turns of the loop (a full publish, the
 * payloads formatted ahead). A service that has gone since is skipped when it comes up, and checked again at each
 * turn, not per item: a service can only go between turns.
 */
class ItemWalk {
    private readonly services: ServiceState[];
    private index = 0;
    private current: IterableIterator<CachedItem> | undefined;

    constructor(private readonly cache: ItemCache) {
        this.services = [...cache.all()];
    }

    get done(): boolean {
        return this.index >= this.services.length;
    }

    /** The service whose items come next, still held; undefined once every service is done. */
    service(): ServiceState | undefined {
        while (this.index < this.services.length) {
            const service = this.services[this.index]!;
            if (this.cache.get(service.name) === service)
                return service;
            this.serviceDone();
        }
        return undefined;
    }

    /** That service's items, from where the last turn left them. */
    items(): IterableIterator<CachedItem> {
        this.current ??= this.services[this.index]!.items.values();
        return this.current;
    }

    /** Its items are all taken: on to the next service. */
    serviceDone(): void {
        this.index++;
        this.current = undefined;
    }

    /** Stops the walk. */
    end(): void {
        this.index = this.services.length;
        this.current = undefined;
    }
}
