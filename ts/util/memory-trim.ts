// Giving back what a discovery used and no longer needs: scanning every service grows V8's heap and malloc's (the
// replies' buffers), and starting the runtime reads pages of libnode that are not read again. A little after the
// first discovery, and after the one that follows every reconnection to D-Bus (every service is scanned all over
// again), V8 collects everything it can and shrinks its heap, and the shim trims malloc's heaps and hands libnode's
// read-only pages back to the page cache. Without the second, each dbus-daemon restart left malloc's heap about
// 4 MB bigger with 50,000 items (bench:soak).
//
// After a reconnection the services come back over a while (on a device they restart with the bus), so the trim
// waits until the number of items stops rising (checked every few seconds, two minutes at most). Trims are at
// least a minute apart, so a bus that comes and goes cannot make the broker collect its heap again and again.
// There is no periodic trim: the young generation is capped small (native/memory_plan.cc) and the change path
// allocates little, so nothing builds up between discoveries that a trim would have to give back.

import type { TimerHandle, Timers } from './timers';

export interface MemoryTrimHost {
    /** The process's resident memory, for the log line. */
    rssBytes(): number;
    /** V8's heap: what its live and dead objects take, and what it holds from the system. */
    heapBytes(): { used: number; total: number };
    /** The items held from D-Bus now. */
    items(): number;
    /** V8 collects everything it can and shrinks its heap; the shim trims malloc and releases start-up pages. */
    reduce(): void;
    log(line: string): void;
}

export interface MemoryTrimTiming {
    /** From a discovery to the first look at the items, and between looks. */
    checkMs: number;
    /** The longest a trim waits for the items to stop rising. */
    maxWaitMs: number;
    /** The shortest time between two trims. */
    minIntervalMs: number;
}

export const defaultMemoryTrimTiming: Readonly<MemoryTrimTiming> = { checkMs: 3000, maxWaitMs: 120_000, minIntervalMs: 60_000 };

const mb = (bytes: number): string => (bytes / 1048576).toFixed(1);

export class MemoryTrim {
    private timer: TimerHandle | undefined;
    private lastTrim = -Infinity;
    private reason = '';
    private since = 0;
    private lastCount = 0;
    private stopped = false;

    constructor(
        private readonly host: MemoryTrimHost,
        private readonly timers: Timers,
        private readonly timing: MemoryTrimTiming = defaultMemoryTrimTiming,
    ) {}

    /**
     * A discovery has finished (`reason` names it in the log line: "start-up", "rediscovery"): trims once the items
     * stop rising. One already waiting takes this one in.
     */
    after(reason: string): void {
        if (this.stopped || this.timer !== undefined)
            return;
        this.reason = reason;
        this.since = this.timers.now();
        this.lastCount = this.host.items();
        this.schedule();
    }

    stop(): void {
        this.stopped = true;
        if (this.timer !== undefined)
            this.timers.clearTimeout(this.timer);
        this.timer = undefined;
    }

    private schedule(): void {
        const now = this.timers.now();
        const at = Math.max(now + this.timing.checkMs, this.lastTrim + this.timing.minIntervalMs);
        this.timer = this.timers.setTimeout(() => this.check(), at - now);
    }

    private check(): void {
        this.timer = undefined;
        const count = this.host.items();
        // After a reconnection, no items yet means the services are still to come back; at start-up, there are none.
        const settled = count <= this.lastCount && (count > 0 || this.lastTrim === -Infinity);
        if (!settled && this.timers.now() - this.since < this.timing.maxWaitMs) {
            this.lastCount = count;
            this.schedule();
            return;
        }
        const before = this.host.rssBytes();
        const heapBefore = this.host.heapBytes();
        const t0 = this.timers.now();
        this.host.reduce();
        this.lastTrim = this.timers.now();
        const heap = this.host.heapBytes();
        // The V8 figures are what the plugin controls; RSS also depends on what the kernel does with the pages given
        // back (MADV_PAGEOUT, the page cache).
        this.host.log(`memory after ${this.reason}: V8 heap used ${mb(heapBefore.used)} -> ${mb(heap.used)} MB, total ${mb(heapBefore.total)} -> `
            + `${mb(heap.total)} MB; RSS ${mb(before)} -> ${mb(this.host.rssBytes())} MB; ${count} items (${Math.round(this.lastTrim - t0)} ms)`);
    }
}
