// Plays the timed changes of recordings. A tick is one second at speed 1 (speed 10: a tenth of a second; speed 0:
// nothing is played, the services stay in their initial state). As in dbus-recorder's player, the n-th timer
// step (n = 1, 2, ...) plays tick n-1 of the cycle, so the first changes come one tick after the start. After
// the last tick of the longest recording a new cycle begins: every service is restored to its initial state
// (announced as a change), then tick 0 is played again. The clock is injected.
import type { Timers, TimerHandle } from '../util/timers';

import type { RecordedChange } from './recording';

export interface PlaybackTrack {
    service: string;
    /** Sorted by tick. */
    changes: readonly RecordedChange[];
}

export interface PlayerSink {
    /** The changes one service makes at one tick, in recorded order. */
    apply(service: string, changes: readonly RecordedChange[]): void;
    /** A new cycle begins: the service goes back to its initial state. */
    restart(service: string): void;
}

export interface PlayerOptions {
    speed: number;
    loop: boolean;
    timers: Timers;
}

interface TickGroup {
    tick: number;
    services: Array<{ service: string; changes: RecordedChange[] }>;
}

export class Player {
    private readonly groups: TickGroup[] = [];
    private readonly services: string[];
    /** Ticks per cycle: the last tick of any recording + 1 (0: nothing to play). */
    readonly cycleLength: number;
    private steps = 0;
    private cursor = 0;
    private cycleNumber = 0;
    private startedAt = 0;
    private timer?: TimerHandle;
    private running = false;

    constructor(tracks: readonly PlaybackTrack[], private readonly sink: PlayerSink, private readonly options: PlayerOptions) {
        if (!(options.speed >= 0) || !Number.isFinite(options.speed))
            throw new RangeError(`speed must be a number >= 0, got ${options.speed}`);
        this.services = tracks.map((t) => t.service);
        const byTick = new Map<number, Map<string, RecordedChange[]>>();
        let last = -1;
        for (const track of tracks) {
            for (const change of track.changes) {
                let perService = byTick.get(change.tick);
                if (!perService) {
                    perService = new Map();
                    byTick.set(change.tick, perService);
                }
                let list = perService.get(track.service);
                if (!list) {
                    list = [];
                    perService.set(track.service, list);
                }
                list.push(change);
                last = Math.max(last, change.tick);
            }
        }
        for (const tick of [...byTick.keys()].sort((a, b) => a - b)) {
            const perService = byTick.get(tick) as Map<string, RecordedChange[]>;
            this.groups.push({ tick, services: [...perService].map(([service, changes]) => ({ service, changes })) });
        }
        this.cycleLength = last + 1;
    }

    /** The tick the next step plays and the number of the cycle it belongs to (0 first). */
    get position(): { cycle: number; tick: number } {
        if (this.cycleLength === 0)
            return { cycle: 0, tick: 0 };
        return { cycle: Math.floor(this.steps / this.cycleLength), tick: this.steps % this.cycleLength };
    }

    get cycles(): number {
        return this.cycleNumber;
    }

    get isRunning(): boolean {
        return this.running;
    }

    private get interval(): number {
        return 1000 / this.options.speed;
    }

    /** Starts the timer (nothing at speed 0 or without changes). */
    start(): void {
        if (this.running || this.options.speed === 0 || this.cycleLength === 0)
            return;
        this.running = true;
        this.startedAt = this.options.timers.now();
        this.schedule();
    }

    stop(): void {
        this.running = false;
        if (this.timer !== undefined)
            this.options.timers.clearTimeout(this.timer);
        this.timer = undefined;
    }

    private schedule(): void {
        const due = this.startedAt + (this.steps + 1) * this.interval;
        this.timer = this.options.timers.setTimeout(() => {
            this.timer = undefined;
            if (!this.running)
                return;
            if (this.step())
                this.schedule();
            else
                this.running = false;
        }, Math.max(0, due - this.options.timers.now()));
    }

    /** Plays the next tick now. Returns false when playback is over (the end, without looping). */
    step(): boolean {
        if (this.cycleLength === 0)
            return false;
        const tick = this.steps % this.cycleLength;
        if (tick === 0 && this.steps > 0) {
            if (!this.options.loop)
                return false;
            this.cycleNumber++;
            this.cursor = 0;
            for (const service of this.services)
                this.sink.restart(service);
        }
        while (this.cursor < this.groups.length && (this.groups[this.cursor] as TickGroup).tick <= tick) {
            const group = this.groups[this.cursor] as TickGroup;
            this.cursor++;
            if (group.tick !== tick)
                continue;
            for (const { service, changes } of group.services)
                this.sink.apply(service, changes);
        }
        this.steps++;
        return true;
    }
}
