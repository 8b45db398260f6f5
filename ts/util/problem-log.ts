// Logs a problem the first time its cause is seen, and counts the repeats quietly: a misbehaving peer that sends
// the same bad message a thousand times a second costs one log line, not a thousand.

import type { Logger } from '../log';

export class ProblemLog {
    private readonly seen = new Map<string, number>();

    constructor(private readonly log: Logger, private readonly maxCauses = 1000) {}

    /** Logs `message` at `level` unless `cause` was logged before. Returns whether it was logged. */
    report(cause: string, message: string, level: 'warning' | 'error' | 'info' = 'warning'): boolean {
        const count = this.seen.get(cause);
        if (count !== undefined) {
            this.seen.set(cause, count + 1);
            return false;
        }
        if (this.seen.size >= this.maxCauses)
            this.seen.clear(); // bounded memory; a cause may then be logged once more
        this.seen.set(cause, 1);
        this.log[level](message);
        return true;
    }

    /** Causes remembered. */
    get size(): number {
        return this.seen.size;
    }

    /** How often a cause was reported (0 if never). */
    count(cause: string): number {
        return this.seen.get(cause) ?? 0;
    }

    /** Forgets the causes starting with `prefix` (e.g. a service that went away and may come back fixed). */
    forget(prefix: string): void {
        for (const cause of this.seen.keys())
            if (cause.startsWith(prefix))
                this.seen.delete(cause);
    }
}
