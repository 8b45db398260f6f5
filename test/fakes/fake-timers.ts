// A manual clock for code that takes injected Timers.
import type { TimerHandle, Timers } from '../../ts/util/timers';

interface Pending {
    id: number;
    at: number;
    fn: () => void;
}

export class FakeTimers implements Timers {
    private time = 0;
    private nextId = 1;
    private pending: Pending[] = [];

    now(): number {
        return this.time;
    }

    setTimeout(fn: () => void, ms: number): TimerHandle {
        const entry = { id: this.nextId++, at: this.time + Math.max(0, ms), fn };
        this.pending.push(entry);
        return entry.id as unknown as TimerHandle;
    }

    clearTimeout(handle: TimerHandle): void {
        this.pending = this.pending.filter((p) => p.id !== (handle as unknown as number));
    }

    get pendingCount(): number {
        return this.pending.length;
    }

    /** Moves the clock forward, running every timer that falls due, in order. */
    advance(ms: number): void {
        const end = this.time + ms;
        for (;;) {
            const due = this.pending.filter((p) => p.at <= end).sort((a, b) => a.at - b.at || a.id - b.id)[0];
            if (!due)
                break;
            this.pending = this.pending.filter((p) => p !== due);
            this.time = due.at;
            due.fn();
        }
        this.time = end;
    }
}
