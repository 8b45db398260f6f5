// The keep-alive state machine (spec §6): a keep-alive makes the system "alive" for 60 s (changes are published
// only while alive), starts the 3 s heartbeat, and, unless suppressed, asks for a full republish that ends with
// N/<id>/full_publish_completed.
//
// Full republishes are limited to 3 per second, as in the original, but none is dropped: a request that arrives
// while the limit is reached, or while a republish is under way, is served by the next republish, and every
// requester gets its completion with its own echo (one burst can end with several). Pending requests are kept per
// client (a few each), so one client flooding keep-alives cannot push another client's request out.
//
// Order, as the original's (whose republish is one synchronous burst): the republish a keep-alive starts ends with
// its full_publish_completed before the first heartbeat, and a heartbeat never lands inside a republish. Work
// that must follow the republish a keep-alive asked for (the read of the legacy keep-alive R/<id>/system/0/Serial)
// is run after it.

import type { TimerHandle, Timers } from '../util/timers';
import type { KeepAliveOptions } from './options';

export interface KeepAliveHost {
    /** Publishes every item (possibly over several loop turns); calls done() after the last one. */
    fullPublish(done: () => void): void;
    /** N/<id>/full_publish_completed, with the echo when there is one. */
    publishCompletion(echo: string | undefined): void;
    /** N/<id>/heartbeat */
    publishHeartbeat(): void;
}

export interface KeepAliveLimits {
    aliveMs: number;
    heartbeatMs: number;
    republishesPerSecond: number;
    /** Distinct echoes kept per client while it waits for a republish. */
    echoesPerClient: number;
    /** Tasks kept to run after the next republish (keepAlive's `after`); beyond, they run at once. */
    waitingTasks: number;
}

export const defaultKeepAliveLimits: Readonly<KeepAliveLimits> = {
    aliveMs: 60_000,
    heartbeatMs: 3_000,
    republishesPerSecond: 3,
    echoesPerClient: 8,
    waitingTasks: 64,
};

const NO_ECHO = Symbol('no echo');
type Echo = string | typeof NO_ECHO;

export class KeepAlive {
    private isAlive = false;
    private expiry: TimerHandle | undefined;
    private heartbeat: TimerHandle | undefined;
    /** The heartbeat is due and goes out when the republish under way is done. */
    private heartbeatAfterRepublish = false;
    /** Tasks to run once the next republish is done. */
    private afterRepublish: Array<() => void> = [];
    private readonly pending = new Map<string, Echo[]>();
    private publishing = false;
    private windowStart = -Infinity;
    private usedInWindow = 0;
    private wakeUp: TimerHandle | undefined;
    private stopped = false;
    private readonly aliveListeners = new Set<(alive: boolean) => void>();
    readonly stats = { keepAlives: 0, republishes: 0, completions: 0 };

    private readonly limits: KeepAliveLimits;

    constructor(
        private readonly host: KeepAliveHost,
        private readonly timers: Timers,
        limits: KeepAliveLimits = defaultKeepAliveLimits,
    ) {
        this.limits = { ...limits };
    }

    /** A reload's keep-alive time: for the keep-alives that come from now on. */
    setAliveMs(ms: number): void {
        this.limits.aliveMs = ms;
    }

    get alive(): boolean {
        return this.isAlive;
    }

    /** Requests still waiting for a republish, by client. */
    get waiting(): number {
        let n = 0;
        for (const echoes of this.pending.values())
            n += echoes.length;
        return n;
    }

    sizes(): Record<string, number> {
        return { keepAliveClients: this.pending.size, keepAliveTasks: this.afterRepublish.length };
    }

    onAliveChange(listener: (alive: boolean) => void): () => void {
        this.aliveListeners.add(listener);
        return () => this.aliveListeners.delete(listener);
    }

    /**
     * A keep-alive from `clientId` with its options. `after` runs once the republish this keep-alive asks for is
     * done (its completion published), or at once when it asks for none.
     */
    keepAlive(clientId: string, options: KeepAliveOptions, after?: () => void): void {
        if (this.stopped)
            return;
        this.stats.keepAlives++;
        let deferred = false;
        if (!options.suppressRepublish) {
            if (after && this.afterRepublish.length < this.limits.waitingTasks) {
                this.afterRepublish.push(after);
                deferred = true;
            }
            this.request(clientId, options.echo ?? NO_ECHO);
        }
        this.setAlive(true);
        if (this.expiry !== undefined)
            this.timers.clearTimeout(this.expiry);
        this.expiry = this.timers.setTimeout(() => {
            this.expiry = undefined;
            this.setAlive(false);
        }, this.limits.aliveMs);
        if (this.heartbeat === undefined && !this.heartbeatAfterRepublish)
            this.beat();
        if (after && !deferred)
            after();
    }

    stop(): void {
        this.stopped = true;
        for (const t of [this.expiry, this.heartbeat, this.wakeUp])
            if (t !== undefined)
                this.timers.clearTimeout(t);
        this.expiry = this.heartbeat = this.wakeUp = undefined;
        this.pending.clear();
        this.afterRepublish = [];
        this.heartbeatAfterRepublish = false;
    }

    private setAlive(alive: boolean): void {
        if (this.isAlive === alive)
            return;
        this.isAlive = alive;
        for (const listener of this.aliveListeners)
            listener(alive);
    }

    /** A heartbeat now, and the next one scheduled; while a republish is under way, after it. */
    private beat(): void {
        if (this.publishing) {
            this.heartbeatAfterRepublish = true;
            return;
        }
        this.host.publishHeartbeat();
        this.heartbeat = this.timers.setTimeout(() => {
            this.heartbeat = undefined;
            if (this.isAlive && !this.stopped)
                this.beat();
        }, this.limits.heartbeatMs);
    }

    private request(clientId: string, echo: Echo): void {
        let echoes = this.pending.get(clientId);
        if (!echoes) {
            echoes = [];
            this.pending.set(clientId, echoes);
        }
        if (!echoes.includes(echo)) {
            echoes.push(echo);
            if (echoes.length > this.limits.echoesPerClient)
                echoes.shift();
        }
        this.pump();
    }

    private pump(): void {
        if (this.publishing || this.pending.size === 0 || this.stopped || this.wakeUp !== undefined)
            return;
        const now = this.timers.now();
        if (now - this.windowStart >= 1000) {
            this.windowStart = now;
            this.usedInWindow = 0;
        }
        if (this.usedInWindow >= this.limits.republishesPerSecond) {
            this.wakeUp = this.timers.setTimeout(() => {
                this.wakeUp = undefined;
                this.pump();
            }, Math.max(1, Math.ceil(this.windowStart + 1000 - now)));
            return;
        }
        this.usedInWindow++;
        this.stats.republishes++;
        const echoes = new Set<Echo>();
        for (const list of this.pending.values())
            for (const e of list)
                echoes.add(e);
        this.pending.clear();
        const after = this.afterRepublish;
        this.afterRepublish = [];
        this.publishing = true;
        this.host.fullPublish(() => {
            this.publishing = false;
            if (this.stopped)
                return;
            for (const e of echoes) {
                this.stats.completions++;
                this.host.publishCompletion(e === NO_ECHO ? undefined : e);
            }
            if (this.heartbeatAfterRepublish) {
                this.heartbeatAfterRepublish = false;
                if (this.isAlive)
                    this.beat();
            }
            for (const task of after)
                task();
            this.pump();
        });
    }
}
