// Giving back the memory V8's heap grew to and no longer needs. V8 grows its young generation under a burst of
// allocation (the start-up scan, a flood of changes or requests) up to 32 MiB on 64-bit, and inside the broker it
// does not shrink it again by itself. So: once, a little after start-up; then, every `intervalMs`, when the young
// generation is larger than `youngBytes`. Each trim is a full collection (tens of ms with a big system), hence
// the long interval.

import type { TimerHandle, Timers } from './timers';

export interface MemoryTrimOptions {
    /** The first trim, this long after start(). */
    firstMs: number;
    /** Later checks, this far apart. */
    intervalMs: number;
    /** A later check trims when the young generation holds more than this. */
    youngBytes: number;
}

export const defaultMemoryTrimOptions: Readonly<MemoryTrimOptions> = {
    firstMs: 3000,
    intervalMs: 10 * 60_000,
    youngBytes: 8 * 1024 * 1024,
};

export interface MemoryTrimHost {
    /** The bytes the young generation (V8's new space) holds now. */
    youngGenerationBytes(): number;
    /** The process's resident memory, for the log line. */
    rssBytes(): number;
    /** V8 collects everything it can and shrinks its heap. */
    reduce(): void;
    log(line: string): void;
}

const mb = (bytes: number): string => (bytes / 1048576).toFixed(1);

export class MemoryTrim {
    private timer: TimerHandle | undefined;
    readonly stats = { trims: 0, checks: 0 };

    constructor(private readonly host: MemoryTrimHost, private readonly timers: Timers,
        private readonly options: MemoryTrimOptions = defaultMemoryTrimOptions) {}

    start(): void {
        if (this.timer !== undefined)
            return;
        this.timer = this.timers.setTimeout(() => this.run('after start-up', true), this.options.firstMs);
    }

    stop(): void {
        if (this.timer !== undefined)
            this.timers.clearTimeout(this.timer);
        this.timer = undefined;
    }

    private run(when: string, always: boolean): void {
        this.stats.checks++;
        const young = this.host.youngGenerationBytes();
        if (always || young > this.options.youngBytes) {
            const before = this.host.rssBytes();
            const t0 = this.timers.now();
            this.host.reduce();
            this.stats.trims++;
            this.host.log(`memory ${when}: RSS ${mb(before)} -> ${mb(this.host.rssBytes())} MB, young generation ${mb(young)} MB `
                + `(${Math.round(this.timers.now() - t0)} ms)`);
        }
        this.timer = this.timers.setTimeout(() => this.run('after a busy time', false), this.options.intervalMs);
    }
}
