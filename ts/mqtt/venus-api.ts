// The Venus MQTT API (N/, R/, W/, keep-alive) over the item cache: wires the publisher, the keep-alive state machine
// and the request handler to the broker.

import type { DbusBridge } from '../dbus/bridge';
import { defaultKeepAliveLimits, KeepAlive } from '../keepalive/keepalive';
import type { Logger } from '../log';
import type { Broker, ClientPublish, PublishAnswer } from '../native/broker';
import type { Timers } from '../util/timers';
import { VenusPublisher } from './publisher';
import { RequestHandler } from './requests';

export interface VenusApiOptions {
    portalId: string;
    chunkBytes: number;
    keepaliveTimeoutMs?: number;
}

export class VenusApi {
    readonly publisher: VenusPublisher;
    readonly keepAlive: KeepAlive;
    readonly requests: RequestHandler;

    constructor(readonly options: VenusApiOptions, broker: Broker, bridge: DbusBridge, timers: Timers, log: Logger,
        clock: () => number = () => Date.now() / 1000) {
        let alive = (): boolean => false;
        this.publisher = new VenusPublisher(broker, bridge.cache, { portalId: options.portalId, chunkBytes: options.chunkBytes }, {
            alive: () => alive(),
            unixSeconds: clock,
            yieldToLoop: (fn) => setImmediate(fn),
        }, log.child('publish'));
        this.keepAlive = new KeepAlive(this.publisher, timers,
            { ...defaultKeepAliveLimits, aliveMs: options.keepaliveTimeoutMs ?? defaultKeepAliveLimits.aliveMs });
        alive = () => this.keepAlive.alive;
        this.requests = new RequestHandler(options.portalId, broker, bridge, this.keepAlive, log.child('request'));
    }

    /** The topics whose client publishes the API needs to see. */
    forwardFilters(): string[] {
        return ['R/#', 'W/#', `N/${this.options.portalId}/#`];
    }

    /** Retained notifications from clients lose their retain flag (spec §7.7). */
    alterFilters(): string[] {
        return [`N/${this.options.portalId}/#`, `P/${this.options.portalId}/#`];
    }

    onPublish(message: ClientPublish): PublishAnswer {
        return this.requests.onPublish(message);
    }

    stop(): void {
        this.keepAlive.stop();
    }
}
