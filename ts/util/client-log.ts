// Log lines about one client's requests, at most `perWindow` per client per window: every refused request is a
// line, but a client that sends thousands of bad requests a second costs a few lines and then one count per window,
// not a flood of the broker's log.

import type { Logger } from '../log';

export interface ClientLogLimits {
    perWindow: number;
    windowMs: number;
    /** Clients remembered at once (bounded memory). */
    maxClients: number;
}

export const defaultClientLogLimits: Readonly<ClientLogLimits> = { perWindow: 20, windowMs: 10_000, maxClients: 1000 };

type Level = 'error' | 'warning' | 'notice' | 'info';

interface Window {
    start: number;
    lines: number;
    suppressed: number;
}

export class ClientLog {
    /** Clients with a log window. */
    get size(): number {
        return this.windows.size;
    }

    private readonly windows = new Map<string, Window>();

    constructor(private readonly log: Logger, private readonly now: () => number, private readonly limits: ClientLogLimits = defaultClientLogLimits) {}

    line(level: Level, clientId: string, text: string): void {
        const now = this.now();
        let w = this.windows.get(clientId);
        if (w && now - w.start >= this.limits.windowMs) {
            if (w.suppressed > 0)
                this.log.warning(`client '${clientId}': ${w.suppressed} more lines about its requests were left out in ${Math.round(this.limits.windowMs / 1000)} s`);
            w = undefined;
        }
        if (!w) {
            if (this.windows.size >= this.limits.maxClients)
                this.windows.clear();
            w = { start: now, lines: 0, suppressed: 0 };
            this.windows.set(clientId, w);
        }
        if (w.lines < this.limits.perWindow) {
            w.lines++;
            this.log[level](text);
            if (w.lines === this.limits.perWindow)
                this.log.warning(`client '${clientId}': ${this.limits.perWindow} lines about its requests in ${Math.round(this.limits.windowMs / 1000)} s; counting the rest`);
            return;
        }
        w.suppressed++;
    }
}
