// Password checks, a few at a time (each is a bcrypt on libuv's thread pool: tens of milliseconds on a GX device),
// served fairly: the checks wait in one queue per source (the client's address), and a free slot goes to the
// sources in turn. A guessing address waits behind its own guesses; the right password from another address is
// checked within a slot or two, whatever the flood. A source may have `perSource` checks waiting, all sources
// `total`; beyond that a check is refused at once ('busy'), and the flood pays for itself.

export interface CheckQueueLimits {
    /** Checks at once (the thread pool's size: more would only wait in libuv's queue, unfairly). */
    concurrency: number;
    perSource: number;
    total: number;
}

export class CheckQueue {
    private running = 0;
    private waitingCount = 0;
    /** Per source, its waiting checks; the map's order is the turn order (a served source moves to the back). */
    private readonly waiting = new Map<string, Array<() => void>>();

    constructor(private readonly limits: CheckQueueLimits) {}

    /** Runs `check` when its turn comes; 'busy' when too many are waiting. */
    async run<T>(source: string, check: () => Promise<T>): Promise<T | 'busy'> {
        if (this.running < this.limits.concurrency && this.waitingCount === 0) {
            this.running++;
            return this.finish(check);
        }
        let queue = this.waiting.get(source);
        if ((queue?.length ?? 0) >= this.limits.perSource || this.waitingCount >= this.limits.total)
            return 'busy';
        if (!queue) {
            queue = [];
            this.waiting.set(source, queue);
        }
        const list = queue;
        // Resolved by next(), which has taken the slot on this check's behalf.
        await new Promise<void>((resolve) => {
            list.push(resolve);
            this.waitingCount++;
        });
        return this.finish(check);
    }

    sizes(): { checking: number; waiting: number; sources: number } {
        return { checking: this.running, waiting: this.waitingCount, sources: this.waiting.size };
    }

    /** Runs a check that holds a slot, and hands the slot on. */
    private async finish<T>(check: () => Promise<T>): Promise<T> {
        try {
            return await check();
        } finally {
            this.running--;
            this.next();
        }
    }

    /** Free slots go to the sources in turn: each source's first check; a served source goes to the back. */
    private next(): void {
        while (this.running < this.limits.concurrency) {
            const first = this.waiting.entries().next();
            if (first.done)
                return;
            const [source, queue] = first.value;
            const resume = queue.shift()!;
            this.waitingCount--;
            this.waiting.delete(source);
            if (queue.length > 0)
                this.waiting.set(source, queue);
            this.running++;
            resume();
        }
    }
}
