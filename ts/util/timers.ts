// Time as the rest of the code sees it: injected, so tests drive it with a manual clock.

export type TimerHandle = unknown;

export interface Timers {
    setTimeout(fn: () => void, ms: number): TimerHandle;
    clearTimeout(handle: TimerHandle): void;
    /** Milliseconds from a monotonic clock. */
    now(): number;
}

export const realTimers: Timers = {
    setTimeout: (fn, ms) => setTimeout(fn, ms),
    clearTimeout: (handle) => clearTimeout(handle as NodeJS.Timeout),
    now: () => performance.now(),
};
