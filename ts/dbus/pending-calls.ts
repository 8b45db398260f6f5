// The calls in flight of one connection, by serial, with their deadlines: one timer for all of them instead of one
// per call. The timer is armed for the earliest deadline; a call that is answered leaves it as it is (it fires,
// finds nothing due, and is armed again for the earliest deadline left), so a stream of calls answered in time
// costs no timer work per call. When it fires, every call whose deadline has passed expires, in the order the calls
// were made. The map of calls always holds one more entry, under serial 0 (which no message has): a V8 Map that a
// delete leaves empty is shrunk, a new table made for it, and with one call at a time that would be every reply.

import type { TimerHandle, Timers } from '../util/timers';

export interface Deadline {
    /** When the call expires, on the timers' clock (ms). */
    readonly deadline: number;
}

export class PendingCalls<E extends Deadline> {
    /** The calls by serial, and null under 0 (see above). */
    private readonly calls = new Map<number, E | null>([[0, null]]);
    private timer: TimerHandle | undefined;
    private timerAt = Infinity;

    constructor(private readonly timers: Timers, private readonly expire: (serial: number, entry: E) => void) {}

    get size(): number {
        return this.calls.size - 1;
    }

    has(serial: number): boolean {
        return serial !== 0 && this.calls.has(serial);
    }

    get(serial: number): E | undefined {
        return this.calls.get(serial) ?? undefined;
    }

    add(serial: number, entry: E): void {
        if (serial === 0)
            throw new RangeError('0 is no serial');
        this.calls.set(serial, entry);
        if (entry.deadline < this.timerAt)
            this.arm(entry.deadline);
    }

    /** Removes and returns the call (undefined: none under that serial). */
    take(serial: number): E | undefined {
        const entry = this.calls.get(serial);
        if (entry === undefined || entry === null)
            return undefined;
        this.calls.delete(serial);
        return entry;
    }

    /** Removes every call and stops the timer; returns the calls, in the order they were made. */
    clear(): E[] {
        const all: E[] = [];
        for (const entry of this.calls.values())
            if (entry !== null)
                all.push(entry);
        this.calls.clear();
        this.calls.set(0, null);
        this.disarm();
        return all;
    }

    private disarm(): void {
        if (this.timer !== undefined)
            this.timers.clearTimeout(this.timer);
        this.timer = undefined;
        this.timerAt = Infinity;
    }

    private arm(at: number): void {
        this.disarm();
        this.timerAt = at;
        this.timer = this.timers.setTimeout(() => this.sweep(), Math.max(0, Math.ceil(at - this.timers.now())));
    }

    private sweep(): void {
        this.timer = undefined;
        this.timerAt = Infinity;
        const now = this.timers.now();
        const due: Array<[number, E]> = [];
        let next = Infinity;
        for (const [serial, entry] of this.calls) {
            if (entry === null)
                continue;
            if (entry.deadline <= now)
                due.push([serial, entry]);
            else if (entry.deadline < next)
                next = entry.deadline;
        }
        for (const [serial] of due)
            this.calls.delete(serial);
        if (next < Infinity)
            this.arm(next);
        for (const [serial, entry] of due)
            this.expire(serial, entry);
    }
}
