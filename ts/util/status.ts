// How the plugin is, for an owner without the log and for the device's watchdog (scripts/venus): one line of JSON in
// a file (plugin_opt_status_file, /run/dbus-flashmq-ts/status by default; a tmpfs on a GX device), replaced whole
// (written beside it, then renamed) whenever the state changes and every `refreshMs` with fresh figures:
//
//   {"state":"ready","since":1765080000,"pid":123,"version":"0.1.0","node":"18.20.4","pluginApi":4,
//    "holdsListeners":false,"dbus":{"connected":true,"services":17,"items":3083},"clients":2,
//    "memory":{"rssMb":55.1,"heapUsedMb":4.7,"heapTotalMb":5.7},"updated":1765080030}
//
// state: "starting" until the first discovery of the bus is done, then "ready" while the bus is connected, and
// "degraded" while it is not (MQTT is served, D-Bus values are not). When JavaScript itself is down, the C++ shim
// writes the same file ("restarting", "degraded"), with what it knows. A write that fails is logged once per cause
// and never stops anything.


import * as files from './files';
import type { TimerHandle, Timers } from './timers';

export type PluginState = 'starting' | 'ready' | 'degraded';

/** What the status says besides its state and times. */
export interface StatusFacts {
    pid: number;
    version: string;
    node: string;
    pluginApi: number;
    holdsListeners: boolean;
    dbus: { connected: boolean; services: number; items: number };
    /** The broker's count ($SYS/broker/clients/total, every 10 s); null until it said. */
    clients: number | null;
    memory: { rssMb: number; heapUsedMb: number; heapTotalMb: number };
}

export interface Status extends StatusFacts {
    state: PluginState;
    /** Unix seconds: when the state began. */
    since: number;
    /** Unix seconds: when the file was written. */
    updated: number;
}

/** The state from the bridge's: starting until the first discovery, then ready or degraded by the connection. */
export function stateOf(discovered: boolean, connected: boolean): PluginState {
    if (!discovered)
        return 'starting';
    return connected ? 'ready' : 'degraded';
}

/** The file's text: one line, the state first (a reader that wants only that can read the start). */
export function statusText(status: Status): string {
    const { state, since, ...rest } = status;
    return `${JSON.stringify({ state, since, ...rest })}\n`;
}

export interface StatusFileSystem {
    writeFile(path: string, text: string): Promise<void>;
    rename(from: string, to: string): Promise<void>;
    unlink(path: string): Promise<void>;
}

const realFileSystem: StatusFileSystem = {
    writeFile: (path, text) => files.writeFile(path, text, 0o644),
    rename: (from, to) => files.rename(from, to),
    unlink: (path) => files.unlink(path),
};

export interface StatusFileOptions {
    path: string;
    refreshMs: number;
    /** Unix seconds now. */
    clock?: () => number;
    fileSystem?: StatusFileSystem;
}

export class StatusFile {
    private path: string;
    private state: PluginState = 'starting';
    private since: number;
    private timer: TimerHandle | undefined;
    private writing = false;
    private again = false;
    private lastProblem = '';
    private readonly clock: () => number;
    private readonly fileSystem: StatusFileSystem;
    private readonly refreshMs: number;

    constructor(
        options: StatusFileOptions,
        private readonly facts: () => StatusFacts,
        private readonly deriveState: () => PluginState,
        private readonly timers: Timers,
        private readonly log: (line: string) => void,
    ) {
        this.path = options.path;
        this.clock = options.clock ?? (() => Math.floor(Date.now() / 1000));
        this.fileSystem = options.fileSystem ?? realFileSystem;
        this.since = this.clock();
        this.refreshMs = options.refreshMs;
    }

    /** Writes now and every refreshMs; the state is derived again each time. */
    start(): void {
        this.update();
        this.schedule();
    }

    stop(): void {
        if (this.timer !== undefined)
            this.timers.clearTimeout(this.timer);
        this.timer = undefined;
    }

    /** Looks at the state again now (a discovery finished, the bus went) and writes when it changed. */
    check(): void {
        if (this.deriveState() !== this.state)
            this.update();
    }

    /** Writes now, with fresh figures (a figure the file shows changed). */
    refresh(): void {
        this.update();
    }

    /** A reload's path: the old file is removed, the new one written. */
    setPath(path: string): void {
        if (path === this.path)
            return;
        const old = this.path;
        this.path = path;
        if (old !== '')
            void this.fileSystem.unlink(old).catch(() => undefined);
        this.lastProblem = '';
        this.update();
    }

    get current(): PluginState {
        return this.state;
    }

    private schedule(): void {
        this.timer = this.timers.setTimeout(() => {
            this.update();
            this.schedule();
        }, this.refreshMs);
    }

    private update(): void {
        const state = this.deriveState();
        if (state !== this.state) {
            this.state = state;
            this.since = this.clock();
        }
        void this.write();
    }

    /** One write at a time; a change meanwhile is written after it, with the figures of then. */
    private async write(): Promise<void> {
        if (this.path === '')
            return;
        if (this.writing) {
            this.again = true;
            return;
        }
        this.writing = true;
        try {
            do {
                this.again = false;
                const path = this.path;
                const text = statusText({ state: this.state, since: this.since, ...this.facts(), updated: this.clock() });
                const temporary = `${path}.${process.pid}.tmp`;
                try {
                    await this.fileSystem.writeFile(temporary, text);
                    await this.fileSystem.rename(temporary, path);
                    this.lastProblem = '';
                } catch (err) {
                    void this.fileSystem.unlink(temporary).catch(() => undefined);
                    const problem = (err as NodeJS.ErrnoException).code ?? String(err);
                    if (problem !== this.lastProblem) {
                        this.lastProblem = problem;
                        this.log(`cannot write the status file '${path}': ${err instanceof Error ? err.message : String(err)} (plugin_opt_status_file; '' for none)`);
                    }
                }
            } while (this.again);
        } finally {
            this.writing = false;
        }
    }
}
