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

/**
 * Milliseconds from the monotonic clock, as `performance.now()` counts them (it is this sum, less the process's
 * start) but without Node's perf_hooks: the global `performance` loads 14 built-in modules on first use, each
 * compiled from source at every start (Debian's libnode has no code cache for them).
 */
export function monotonicMs(): number {
    const [seconds, nanoseconds] = process.hrtime();
    return seconds * 1000 + nanoseconds / 1e6;
}

export const realTimers: Timers = {
    setTimeout: (fn, ms) => setTimeout(fn, ms) as unknown as TimerHandle,
    clearTimeout: (handle) => clearTimeout(handle as unknown as NodeJS.Timeout),
    now: monotonicMs,
};
