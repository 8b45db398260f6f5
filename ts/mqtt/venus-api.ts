// The Venus MQTT API (N/, R/, W/, keep-alive) over the item cache: wires the publisher, the keep-alive state machine
// and the request handler to the broker.

import type { DbusBridge } from '../dbus/bridge';
import { defaultKeepAliveLimits, KeepAlive } from '../keepalive/keepalive';
import type { Logger } from '../log';
import type { Broker, ClientPublish, PublishAnswer } from '../native/broker';
import type { Timers } from '../util/timers';
import { GuiCustomizations } from './gui-customizations';
import { VenusPublisher } from './publisher';
import type { RequestQueueLimits } from './request-queue';
import { defaultRequestQueueLimits, RequestQueue } from './request-queue';
import { RequestHandler } from './requests';

export interface VenusApiOptions {
    portalId: string;
    chunkBytes: number;
    keepaliveTimeoutMs?: number;
    /** A client's budget of items its reads publish, per second; 4× as many ahead. */
    readItemsPerSecond?: number;
    /** The budget of all clients together, per second; 3× as many ahead. */
    allReadItemsPerSecond?: number;
    /** Where GUI apps are (/data/apps/enabled); none: no GUI customizations. */
    appsDir?: string;
}

export class VenusApi {
    readonly publisher: VenusPublisher;
    readonly keepAlive: KeepAlive;
    readonly requests: RequestHandler;
    readonly gui: GuiCustomizations | undefined;

    constructor(readonly options: VenusApiOptions, broker: Broker, bridge: DbusBridge, timers: Timers, log: Logger,
        clock: () => number = () => Date.now() / 1000) {
        let alive = (): boolean => false;
        this.publisher = new VenusPublisher(broker, bridge.cache, { portalId: options.portalId, chunkBytes: options.chunkBytes }, {
            alive: () => alive(),
            unixSeconds: clock,
            yieldToLoop: (fn) => setImmediate(fn),
        }, log.child('publish'));
        this.gui = options.appsDir === undefined ? undefined
            : new GuiCustomizations(options.appsDir, options.portalId, { publish: (t, p) => broker.publish(t, p) }, log.child('gui'));
        const publisher = this.publisher;
        const gui = this.gui;
        const fullPublish = (done: () => void): void => publisher.fullPublish(() => {
            if (!gui) {
                done();
                return;
            }
            gui.publishAll().then(done, done);
        });
        // A republish before the first discovery is done would end with a full_publish_completed over half the
        // items. FlashMQ 1.26 holds its listeners until the plugin is ready; older ones (Venus OS's 1.21 and 1.23)
        // let clients in at once: their keep-alives wait for the discovery (the retained Serial does not).
        let discovered = false;
        const whenDiscovered = bridge.whenDiscovered().then(() => {
            discovered = true;
            publisher.preparePayloads();
        });
        this.keepAlive = new KeepAlive({
            fullPublish: (done) => {
                if (discovered)
                    fullPublish(done);
                else
                    void whenDiscovered.then(() => fullPublish(done));
            },
            publishCompletion: (echo) => publisher.publishCompletion(echo),
            publishHeartbeat: () => publisher.publishHeartbeat(),
        }, timers, { ...defaultKeepAliveLimits, aliveMs: options.keepaliveTimeoutMs ?? defaultKeepAliveLimits.aliveMs });
        alive = () => this.keepAlive.alive;
        this.requests = new RequestHandler(options.portalId, broker, bridge, this.keepAlive, log.child('request'),
            { ...(this.gui ? { gui: this.gui } : {}), now: () => timers.now(), queue: new RequestQueue(readBudget(options), timers) });
    }

    /** The client publishes the broker hands to TypeScript. Of N/ only this device's own: for other portal ids the
     *  answer is always yes, and asking JavaScript would cost ~4.7 µs per publish (bench:security). */
    forwardFilters(): string[] {
        return ['R/#', 'W/#', `N/${this.options.portalId}/#`, 'P/#', 'I/#', '$SYS/broker/bridge/#'];
    }

    /**
     * Client publishes on these lose their retain flag: N/ and P/ as in the original (spec §7.7), and R/ and W/ too
     * (§12 Q8): a retained request would be kept by the broker and handed to every new subscriber, VRM included,
     * long after the fact, write payloads with secrets among them.
     */
    alterFilters(): string[] {
        const id = this.options.portalId;
        return [`N/${id}/#`, `P/${id}/#`, `R/${id}/#`, `W/${id}/#`];
    }

    onPublish(message: ClientPublish): PublishAnswer {
        return this.requests.onPublish(message);
    }

    sizes(): Record<string, number> {
        return { ...this.keepAlive.sizes(), ...this.requests.sizes() };
    }

    /** A reload's options that can change while running: the keep-alive time and the read budgets. */
    reconfigure(options: Pick<VenusApiOptions, 'keepaliveTimeoutMs' | 'readItemsPerSecond' | 'allReadItemsPerSecond'>): void {
        if (options.keepaliveTimeoutMs !== undefined)
            this.keepAlive.setAliveMs(options.keepaliveTimeoutMs);
        this.requests.queue.setItemBudgets({ ...defaultItemBudgets(), ...readBudget(options) });
    }

    stop(): void {
        this.keepAlive.stop();
        this.requests.queue.clear();
    }
}

/** The queue's own item budgets. */
function defaultItemBudgets(): Partial<RequestQueueLimits> {
    const { itemsPerSecond, itemsBurst, totalItemsPerSecond, totalItemsBurst } = defaultRequestQueueLimits;
    return { itemsPerSecond, itemsBurst, totalItemsPerSecond, totalItemsBurst };
}

/** The request queue's item budgets from the options (the queue's defaults where none is given). */
function readBudget(options: Pick<VenusApiOptions, 'readItemsPerSecond' | 'allReadItemsPerSecond'>): Partial<RequestQueueLimits> {
    const limits: Partial<RequestQueueLimits> = {};
    if (options.readItemsPerSecond !== undefined) {
        limits.itemsPerSecond = options.readItemsPerSecond;
        limits.itemsBurst = 4 * options.readItemsPerSecond;
    }
    if (options.allReadItemsPerSecond !== undefined) {
        limits.totalItemsPerSecond = options.allReadItemsPerSecond;
        limits.totalItemsBurst = 3 * options.allReadItemsPerSecond;
    }
    return limits;
}
