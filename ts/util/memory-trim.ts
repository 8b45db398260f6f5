// Giving back, once, what start-up used and no longer needs: the first scan of every service grows V8's heap, and
// starting the runtime reads pages of libnode that are not read again. A little after the first discovery (when
// the first clients were served), V8 collects everything it can and shrinks its heap, and the shim trims malloc's
// heaps and hands libnode's read-only pages back to the page cache.
//
// There is no periodic trim: the young generation is capped small (native/memory_plan.cc) and the change path
// allocates little, so nothing builds up that a trim would have to give back.

import type { TimerHandle, Timers } from './timers';

export interface MemoryTrimHost {
    /** The process's resident memory, for the log line. */
    rssBytes(): number;
    /** V8 collects everything it can and shrinks its heap; the shim releases start-up pages. */
    reduce(): void;
    log(line: string): void;
}

const mb = (bytes: number): string => (bytes / 1048576).toFixed(1);

export class MemoryTrim {
    private timer: TimerHandle | undefined;
    private done = false;

    constructor(private readonly host: MemoryTrimHost, private readonly timers: Timers, private readonly afterMs = 3000) {}

    /** Schedules the trim (once; later calls do nothing). */
    start(): void {
        if (this.timer !== undefined || this.done)
            return;
        this.timer = this.timers.setTimeout(() => {
            this.timer = undefined;
            this.done = true;
            const before = this.host.rssBytes();
            const t0 = this.timers.now();
            this.host.reduce();
            this.host.log(`memory after start-up: RSS ${mb(before)} -> ${mb(this.host.rssBytes())} MB (${Math.round(this.timers.now() - t0)} ms)`);
        }, this.afterMs);
    }

    stop(): void {
        if (this.timer !== undefined)
            this.timers.clearTimeout(this.timer);
        this.timer = undefined;
    }
}
