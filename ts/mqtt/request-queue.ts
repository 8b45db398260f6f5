// Bounded work for the requests that cost a D-Bus call or a file read (R/ and W/ of items, GUI customizations):
// at most `concurrency` run at once; the rest wait in one queue per client, and a free slot goes to the clients in
// turn, so a client that floods requests waits behind its own requests only. A client may have `perClient` waiting,
// all clients together `total`; beyond that a request is refused at once (the caller says so to the client).
//
// Each client also has a budget of published items (a token bucket: `itemsPerSecond`, up to `itemsBurst` ahead),
// and all clients together one of `totalItemsPerSecond` (up to `totalItemsBurst`). What a request published is
// charged to both when it is done (a read of a whole service costs its hundreds of items); a client whose budget is
// spent waits for its next slot until the budget has refilled, and while the common budget is spent everyone's
// requests wait, still served in turn. A client that reads whole services in a loop is slowed to the budget's rate
// instead of keeping the broker busy, and so are many such clients together; an occasional big read, or the reads
// of a client starting up, are not slowed at all.

import type { TimerHandle, Timers } from '../util/timers';
import { realTimers } from '../util/timers';

export interface RequestQueueLimits {
    concurrency: number;
    perClient: number;
    total: number;
    /** The rate at which a client's budget of published items refills. */
    itemsPerSecond: number;
    /** The most a client's budget holds. */
    itemsBurst: number;
    /** The rate at which the budget of all clients together refills. */
    totalItemsPerSecond: number;
    /** The most the budget of all clients together holds. */
    totalItemsBurst: number;
}

export const defaultRequestQueueLimits: Readonly<RequestQueueLimits> = {
    concurrency: 8, perClient: 64, total: 1024, itemsPerSecond: 5000, itemsBurst: 20_000, totalItemsPerSecond: 20_000, totalItemsBurst: 60_000,
};

/**
 * A request's work: it returns a promise that settles when the work is done, or calls `done` when it is (once;
 * later calls and a settling promise after that change nothing). A task that throws is done at once.
 */
export type Task = (done: () => void) => Promise<unknown> | void;

/** A budget of items: refills at `perSecond` up to `burst`; may go into debt. */
class Budget {
    private level: number;
    private at: number;

    constructor(private readonly timers: Timers, private readonly perSecond: number, private readonly burst: number) {
        this.level = burst;
        this.at = timers.now();
    }

    charge(items: number): void {
        this.refill();
        this.level -= items;
    }

    /** How long until the budget allows another request (0: now). */
    waitMs(): number {
        this.refill();
        return this.level > 0 ? 0 : Math.ceil(((1 - this.level) * 1000) / this.perSecond);
    }

    get full(): boolean {
        this.refill();
        return this.level >= this.burst;
    }

    private refill(): void {
        const now = this.timers.now();
        this.level = Math.min(this.burst, this.level + ((now - this.at) * this.perSecond) / 1000);
        this.at = now;
    }
}

export class RequestQueue {
    private running = 0;
    private waiting = 0;
    /** Per client, its waiting tasks; the map's order is the turn order (a served client moves to the back). */
    private readonly queues = new Map<string, Task[]>();
    /** Clients that spent part of their budget; one that has refilled completely is forgotten. */
    private readonly budgets = new Map<string, Budget>();
    private common: Budget;
    private wakeUp: TimerHandle | undefined;
    private wakeUpAt = 0;
    private readonly limits: RequestQueueLimits;
    readonly stats = { run: 0, refused: 0, maxWaiting: 0, heldBack: 0 };

    constructor(limits: Partial<RequestQueueLimits> = {}, private readonly timers: Timers = realTimers) {
        this.limits = { ...defaultRequestQueueLimits, ...limits };
        this.common = new Budget(timers, this.limits.totalItemsPerSecond, this.limits.totalItemsBurst);
    }

    /**
     * A reload's item budgets: every budget starts again, full, at the new rates (waiting reads are served as the
     * new budgets allow).
     */
    setItemBudgets(limits: Partial<Pick<RequestQueueLimits, 'itemsPerSecond' | 'itemsBurst' | 'totalItemsPerSecond' | 'totalItemsBurst'>>): void {
        Object.assign(this.limits, limits);
        this.common = new Budget(this.timers, this.limits.totalItemsPerSecond, this.limits.totalItemsBurst);
        this.budgets.clear();
        this.next();
    }

    /** Runs `task` now or later; false when it is refused because the queues are full. */
    submit(clientId: string, task: Task): boolean {
        if (this.running < this.limits.concurrency && this.waiting === 0 && this.waitMs(clientId) === 0) {
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
        this.next();
        return true;
    }

    sizes(): Record<string, number> {
        return { requestQueues: this.queues.size, requestBudgets: this.budgets.size, requestsWaiting: this.waiting, requestsRunning: this.running };
    }

    /** Charges a client's budget, and the common one, with the items one of its requests published. */
    charge(clientId: string, items: number): void {
        if (!(items > 0))
            return;
        let budget = this.budgets.get(clientId);
        if (!budget) {
            budget = new Budget(this.timers, this.limits.itemsPerSecond, this.limits.itemsBurst);
            this.budgets.set(clientId, budget);
        }
        budget.charge(items);
        this.common.charge(items);
        if (this.budgets.size > 1024)
            this.forgetRefilled();
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
        if (this.wakeUp !== undefined) {
            this.timers.clearTimeout(this.wakeUp);
            this.wakeUp = undefined;
        }
    }

    /** How long the client must wait before its budget and the common one allow another request (0: now). */
    private waitMs(clientId: string): number {
        const budget = this.budgets.get(clientId);
        let wait = this.common.waitMs();
        if (budget) {
            if (budget.full)
                this.budgets.delete(clientId);
            else
                wait = Math.max(wait, budget.waitMs());
        }
        return wait;
    }

    private forgetRefilled(): void {
        for (const [clientId, budget] of [...this.budgets])
            if (budget.full)
                this.budgets.delete(clientId);
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
            const result = task(done);
            if (result !== undefined)
                result.then(done, done);
        } catch {
            done();
        }
    }

    /** Gives free slots to waiting clients in turn, skipping those whose budget is spent. */
    private next(): void {
        let soonest = Infinity;
        let heldBack = false;
        while (this.running < this.limits.concurrency && this.waiting > 0) {
            let chosen: [string, Task[]] | undefined;
            for (const entry of this.queues) {
                const wait = this.waitMs(entry[0]);
                if (wait === 0) {
                    chosen = entry;
                    break;
                }
                soonest = Math.min(soonest, wait);
                heldBack = true;
            }
            if (!chosen)
                break;
            const [clientId, queue] = chosen;
            const task = queue.shift()!;
            this.waiting--;
            this.queues.delete(clientId);
            if (queue.length > 0)
                this.queues.set(clientId, queue); // to the back of the turn order
            this.start(task);
        }
        if (heldBack)
            this.stats.heldBack++;
        if (this.waiting > 0 && soonest < Infinity && this.running < this.limits.concurrency) {
            const at = this.timers.now() + soonest;
            if (this.wakeUp !== undefined && this.wakeUpAt <= at)
                return; // the pending wake-up comes first
            if (this.wakeUp !== undefined)
                this.timers.clearTimeout(this.wakeUp);
            this.wakeUpAt = at;
            this.wakeUp = this.timers.setTimeout(() => {
                this.wakeUp = undefined;
                this.next();
            }, soonest);
        }
    }
}
