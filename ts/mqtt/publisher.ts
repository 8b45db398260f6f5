// Publishes the item cache as Venus notifications (N/<portal id>/<type>/<instance>/<path>), the only code that
// publishes item topics. Follows the original (spec §2.4, §2.6, §4, §6): changes only while alive, except the
// retained Serial and reads; an empty payload for every topic of a service that goes, whatever the alive state.
//
// Beyond the original, a full republish goes out in chunks that yield to the broker's loop, so a burst of tens of
// thousands of items does not overflow a subscriber's write buffer; every chunk takes the items' current values,
// so nothing published later in a burst is older than what a change already published.

import type { CacheEvent, CachedItem, ItemCache, ServiceState } from '../dbus/cache';
import type { Logger } from '../log';
import { describeError } from '../log';
import type { Broker } from '../native/broker';
import { encodeFrameWithTopic, FrameBatch, frameTopic } from '../native/frames';
import { completionPayload, isBlocked, isRetained, itemPayload } from './payloads';
import { notificationTopic, portalTopic } from './topics';

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

interface Frame {
    version: number;
    /** Its topic's bytes are reused for the next frame of the item: a topic is encoded once. */
    frame: Buffer;
}

export class VenusPublisher {
    private readonly frames = new WeakMap<CachedItem, Frame>();
    readonly stats = { published: 0, fullPublishes: 0, removals: 0 };

    constructor(
        private readonly broker: Broker,
        private readonly cache: ItemCache,
        private readonly options: PublisherOptions,
        private readonly deps: PublisherDeps,
        private readonly log: Logger,
    ) {
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

    /** The frame of an item's notification, built once per change of the item. */
    private frameOf(service: ServiceState, item: CachedItem): Buffer {
        const cached = this.frames.get(item);
        if (cached && cached.version === item.version)
            return cached.frame;
        const topic = cached ? frameTopic(cached.frame) : Buffer.from(notificationTopic(this.options.portalId, service.type, service.instance, item.path));
        let payload: string;
        try {
            payload = itemPayload(service.type, item);
        } catch (err) {
            // Cannot happen with values from the bus, but a bad item must not stop the others (spec §12 Q2).
            this.log.error(`cannot build the payload of '${topic.toString()}': ${describeError(err)}; publishing it as null`);
            payload = '{"value":null}';
        }
        const frame = encodeFrameWithTopic(topic, payload, 0, isRetained(service.type, item.path));
        if (cached) {
            cached.version = item.version;
            cached.frame = frame;
        } else {
            this.frames.set(item, { version: item.version, frame });
        }
        return frame;
    }

    /**
     * The notifications of some items of a service: in one batch when they are few, else in chunks that yield to the
     * loop (a read of a big sub-tree, a service of thousands of items appearing). A later chunk is dropped when its
     * service has gone since (its removal went out), and takes the items' values as they are by then.
     */
    private publishItems(service: ServiceState, items: Iterable<CachedItem>, force: boolean): void {
        const iterator = items[Symbol.iterator]();
        const step = (): void => {
            if (this.cache.get(service.name) !== service)
                return;
            const frames: Buffer[] = [];
            let bytes = 0;
            const alive = force || this.deps.alive();
            for (let next = iterator.next(); !next.done; next = iterator.next()) {
                const item = next.value;
                if (isBlocked(service.type, item.path))
                    continue;
                if (alive || isRetained(service.type, item.path)) {
                    const frame = this.frameOf(service, item);
                    frames.push(frame);
                    bytes += frame.byteLength;
                }
                if (bytes >= this.options.chunkBytes) {
                    this.publishFrames(frames, bytes);
                    this.deps.yieldToLoop(step);
                    return;
                }
            }
            this.publishFrames(frames, bytes);
        };
        step();
    }

    /** Cached frames in one native call: as they are when there is one, joined when there are several. */
    private publishFrames(frames: Buffer[], bytes: number): void {
        if (frames.length === 0)
            return;
        this.stats.published += this.broker.publishFrames(frames.length === 1 ? frames[0]! : Buffer.concat(frames, bytes));
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
                const batch = new FrameBatch(16 * 1024);
                for (const item of service.items.values()) {
                    if (isBlocked(service.type, item.path) || isRetained(service.type, item.path))
                        continue;
                    batch.add(notificationTopic(this.options.portalId, service.type, service.instance, item.path), '');
                }
                this.stats.removals++;
                this.stats.published += this.broker.publishBatch(batch);
                return;
            }
        }
    }

    /**
     * Publishes every item of every service, in chunks; `done` runs after the last chunk. Services that go during
     * the burst are skipped from then on (their empty payloads went out already).
     */
    fullPublish(done: () => void): void {
        this.stats.fullPublishes++;
        const started = performance.now();
        let chunks = 0;
        const services = [...this.cache.all()];
        let serviceIndex = 0;
        let items: IterableIterator<CachedItem> | undefined;
        const chunk = (): void => {
            const frames: Buffer[] = [];
            let bytes = 0;
            try {
                while (serviceIndex < services.length && bytes < this.options.chunkBytes) {
                    const service = services[serviceIndex]!;
                    if (this.cache.get(service.name) !== service) {
                        serviceIndex++;
                        items = undefined;
                        continue;
                    }
                    items ??= service.items.values();
                    const next = items.next();
                    if (next.done) {
                        serviceIndex++;
                        items = undefined;
                        continue;
                    }
                    if (!isBlocked(service.type, next.value.path)) {
                        const frame = this.frameOf(service, next.value);
                        frames.push(frame);
                        bytes += frame.byteLength;
                    }
                }
                this.publishFrames(frames, bytes);
                chunks++;
            } catch (err) {
                this.log.error(`a full republish failed part-way: ${describeError(err)}`);
                serviceIndex = services.length;
            }
            if (serviceIndex < services.length) {
                this.deps.yieldToLoop(chunk);
            } else {
                this.log.debug(() => `full republish: ${chunks} chunks in ${(performance.now() - started).toFixed(1)} ms`);
                done();
            }
        };
        chunk();
    }
}
