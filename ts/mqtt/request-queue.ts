// Bounded work for the requests that cost a D-Bus call or a file read (R/ and W/ of items, GUI customizations):
// at most `concurrency` run at once; the rest wait in one queue per client, and a free slot goes to the clients in
// turn, so a client that floods requests waits behind its own requests only. A client may have `perClient` waiting,
// all clients together `total`; beyond that a request is refused at once (the caller says so to the client).

export interface RequestQueueLimits {
    concurrency: number;
    perClient: number;
    total: number;
}

export const defaultRequestQueueLimits: Readonly<RequestQueueLimits> = { concurrency: 8, perClient: 64, total: 1024 };

export type Task = () => Promise<unknown>;

export class RequestQueue {
    private running = 0;
    private waiting = 0;
    /** Per client, its waiting tasks; the map's order is the turn order (a served client moves to the back). */
    private readonly queues = new Map<string, Task[]>();
    readonly stats = { run: 0, refused: 0, maxWaiting: 0 };

    constructor(private readonly limits: RequestQueueLimits = defaultRequestQueueLimits) {}

    /** Runs `task` now or later; false when it is refused because the queues are full. */
    submit(clientId: string, task: Task): boolean {
        if (this.running < this.limits.concurrency && this.waiting === 0) {
            this.start(task);
            return true;
        }
        const queue = this.queues.get(clientId);
        if ((queue?.length ?? 0) >= this.limits.perClient || this.waiting >= this.limits.total) {
            this.stats.refused++;
            return false;
        }
        if (queue)
            queue.push(task);
        else
            this.queues.set(clientId, [task]);
        this.waiting++;
        this.stats.maxWaiting = Math.max(this.stats.maxWaiting, this.waiting);
        return true;
    }

    /** Requests waiting (not running). */
    get queued(): number {
        return this.waiting;
    }

    get active(): number {
        return this.running;
    }

    /** Drops what waits (e.g. at shutdown); running tasks finish. */
    clear(): void {
        this.queues.clear();
        this.waiting = 0;
    }

    private start(task: Task): void {
        this.running++;
        this.stats.run++;
        let settled = false;
        const done = (): void => {
            if (settled)
                return;
            settled = true;
            this.running--;
            this.next();
        };
        try {
            task().then(done, done);
        } catch {
            done();
        }
    }

    private next(): void {
        while (this.running < this.limits.concurrency && this.waiting > 0) {
            const [clientId, queue] = this.queues.entries().next().value as [string, Task[]];
            const task = queue.shift()!;
            this.waiting--;
            this.queues.delete(clientId);
            if (queue.length > 0)
                this.queues.set(clientId, queue); // to the back of the turn order
            this.start(task);
        }
    }
}
