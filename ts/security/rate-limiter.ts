// The login rate limiter of the original (spec §7.3): a short-term bucket of 20 failed logins (one more each
// second) and a long-term bucket of 150 (refilled, and the remembered passwords forgotten, once a day). Only a
// failed login with a password not tried recently costs a token, so a client that retries the same wrong password
// does not lock everyone out.

export interface RateLimits {
    shortTerm: number;
    longTerm: number;
    /** Remembered wrong passwords. */
    history: number;
    longTermPeriodMs: number;
}

export const defaultRateLimits: Readonly<RateLimits> = { shortTerm: 20, longTerm: 150, history: 150, longTermPeriodMs: 24 * 3600 * 1000 };

export class LoginRateLimiter {
    private shortTokens: number;
    private longTokens: number;
    private readonly seen = new Set<string>();
    private lastRefill: number;
    private lastLongRefill: number;

    constructor(private readonly now: () => number, private readonly limits: RateLimits = defaultRateLimits) {
        this.shortTokens = limits.shortTerm;
        this.longTokens = limits.longTerm;
        this.lastRefill = now();
        this.lastLongRefill = now();
    }

    private refill(): void {
        const now = this.now();
        const seconds = Math.floor((now - this.lastRefill) / 1000);
        if (seconds > 0) {
            this.shortTokens = Math.min(this.limits.shortTerm, this.shortTokens + seconds);
            this.lastRefill += seconds * 1000;
        }
        if (now - this.lastLongRefill >= this.limits.longTermPeriodMs) {
            this.longTokens = this.limits.longTerm;
            this.seen.clear();
            this.lastLongRefill = now;
        }
    }

    /** Whether password logins are allowed to be tried now. */
    allows(): boolean {
        this.refill();
        return this.shortTokens > 0 && this.longTokens > 0;
    }

    /** A failed password login: costs a token of each bucket unless this password failed before. */
    failed(password: string): void {
        this.refill();
        if (this.seen.has(password))
            return;
        if (this.seen.size >= this.limits.history)
            this.seen.delete(this.seen.values().next().value as string);
        this.seen.add(password);
        this.shortTokens = Math.max(0, this.shortTokens - 1);
        this.longTokens = Math.max(0, this.longTokens - 1);
    }

    /** Wrong passwords remembered (a repeated one costs no token). */
    get remembered(): number {
        return this.seen.size;
    }

    get tokens(): { shortTerm: number; longTerm: number } {
        this.refill();
        return { shortTerm: this.shortTokens, longTerm: this.longTokens };
    }
}
