// Time as the rest of the code sees it: injected, so tests drive it with a manual clock.

/** Opaque: whatever the implementation uses to find its timer again. */
export interface TimerHandle {
    readonly __timerHandle: unique symbol;
}

export interface Timers {
    setTimeout(fn: () => void, ms: number): TimerHandle;
    clearTimeout(handle: TimerHandle): void;
    /** Milliseconds from a monotonic clock. */
    now(): number;
}

export const realTimers: Timers = {
    setTimeout: (fn, ms) => setTimeout(fn, ms) as unknown as TimerHandle,
    clearTimeout: (handle) => clearTimeout(handle as unknown as NodeJS.Timeout),
    now: () => performance.now(),
};
