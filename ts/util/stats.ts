// What the plugin holds, as numbers, logged every `plugin_opt_stats_interval_s` seconds (off by default): the
// process's address space and file descriptors, V8's heap, libuv's handles and timers, and the sizes of the
// plugin's own structures (per service, per client). For soak tests and for a device whose memory is in doubt; the
// lines are JSON so that a script can read them back.
//
// The address space is read from /proc/self/maps, which qemu-user emulates for its guest, so it is right under
// emulation too (/proc/self/status is the emulator's own there).

import * as fs from 'node:fs';

import { v8 } from './builtins';
import type { TimerHandle, Timers } from './timers';

export type Figures = Record<string, number>;

/** The bytes mapped, from the text of /proc/<pid>/maps. */
export function mappedBytes(maps: string): number {
    let total = 0;
    for (const line of maps.split('\n')) {
        const dash = line.indexOf('-');
        const space = line.indexOf(' ');
        if (dash <= 0 || space <= dash)
            continue;
        total += parseInt(line.slice(dash + 1, space), 16) - parseInt(line.slice(0, dash), 16);
    }
    return total;
}

/** Active libuv resources by kind, as counts: handles (sockets, ...) and timers. */
export function resourceCounts(kinds: readonly string[]): { timers: number; handles: number } {
    let timers = 0;
    for (const kind of kinds)
        if (kind === 'Timeout' || kind === 'Immediate')
            timers++;
    return { timers, handles: kinds.length - timers };
}

const MB = 1e6;
const round = (x: number): number => Math.round(x * 100) / 100;

/** The process's figures, in MB where they are sizes. */
export function processFigures(): Figures {
    const heap = v8().getHeapStatistics();
    const memory = process.memoryUsage();
    const figures: Figures = {
        heapUsedMb: round(heap.used_heap_size / MB),
        heapTotalMb: round(heap.total_heap_size / MB),
        heapLimitMb: round(heap.heap_size_limit / MB),
        externalMb: round(memory.external / MB),
        arrayBuffersMb: round(memory.arrayBuffers / MB),
        mallocedMb: round(heap.malloced_memory / MB),
    };
    try {
        figures.addressSpaceMb = round(mappedBytes(fs.readFileSync('/proc/self/maps', 'utf8')) / MB);
        figures.fds = fs.readdirSync('/proc/self/fd').length;
    } catch {
        // not Linux
    }
    // Node 17.3+ (not in @types/node 18).
    const active = (process as unknown as { getActiveResourcesInfo?(): string[] }).getActiveResourcesInfo?.() ?? [];
    const { timers, handles } = resourceCounts(active);
    figures.timers = timers;
    figures.handles = handles;
    return figures;
}

export class StatsReporter {
    private timer: TimerHandle | undefined;

    /** `sources`: the plugin's own figures, in named groups (a line each). */
    constructor(private readonly sources: () => Record<string, Figures>, private readonly write: (line: string) => void,
        private readonly timers: Timers, private readonly sample: () => Figures = processFigures) {}

    /** Logs every `intervalMs` (0: never); a new interval replaces the old one. */
    start(intervalMs: number): void {
        this.stop();
        if (intervalMs <= 0)
            return;
        const tick = (): void => {
            this.timer = this.timers.setTimeout(tick, intervalMs);
            this.report();
        };
        this.timer = this.timers.setTimeout(tick, intervalMs);
    }

    stop(): void {
        if (this.timer !== undefined)
            this.timers.clearTimeout(this.timer);
        this.timer = undefined;
    }

    /** A line for the process's figures, then one per group of the plugin's (FlashMQ cuts long log lines). */
    report(): void {
        this.write(`stats process ${JSON.stringify(this.sample())}`);
        for (const [group, figures] of Object.entries(this.sources()))
            this.write(`stats ${group} ${JSON.stringify(figures)}`);
    }
}
