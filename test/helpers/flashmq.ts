// Runs the real flashmq binary with our plugin for end-to-end tests: a temporary directory with a config, a log
// file and a free port on 127.0.0.1. Finds flashmq through FLASHMQ_BIN, PATH or .deps/flashmq (scripts/flashmq.sh); without it the suites are
// skipped with a loud line.
import { spawn, spawnSync } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import * as fs from 'node:fs';
import * as net from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';

import { findFlashmq } from '../../ts/demo/flashmq-binary';
import { flashmqConfig } from '../../ts/demo/flashmq-config';

export const repoRoot = path.resolve(__dirname, '../../..');
export const pluginPath = process.env.DFMQ_PLUGIN ?? path.join(repoRoot, 'build-plugin/Release/libdbus-flashmq-ts.so');
export const probeEntry = path.join(repoRoot, 'dist/test/fixtures/probe-entry.js');

export function flashmqBinary(): string | undefined {
    return findFlashmq();
}

/** Which FlashMQ the suites run against (FLASHMQ_BIN selects another build: 1.21.1 and 1.23.2 as Venus ships them). */
export function flashmqVersion(bin = flashmqBinary()): string {
    if (!bin)
        return 'none';
    const out = spawnSync(bin, ['--version'], { encoding: 'utf8' }).stdout ?? '';
    return /FlashMQ [Vv]ersion (\d+\.\d+\.\d+)/.exec(out)?.[1] ?? 'unknown';
}

export interface BrokerUser {
    name: string;
    uid: number;
    gid: number;
}

/**
 * The unprivileged user the broker runs as, as Venus OS v3.70 and later run it (`setuidgid flashmq`): the user
 * `flashmq` (scripts/setup.sh makes it) when the tests run as root, unless DFMQ_BROKER_USER names another (`root`:
 * none). Undefined when the tests do not run as root, or that user cannot reach the plugin and its files (a
 * checkout in a directory only root may enter): then the broker runs as the tests do, and a line says so once.
 */
export const brokerUser: BrokerUser | undefined = findBrokerUser();

function findBrokerUser(): BrokerUser | undefined {
    const name = process.env.DFMQ_BROKER_USER ?? 'flashmq';
    if (process.getuid?.() !== 0 || name === 'root')
        return undefined;
    const id = (flag: string): number => Number(spawnSync('id', [flag, name], { encoding: 'utf8' }).stdout.trim() || NaN);
    const user = { name, uid: id('-u'), gid: id('-g') };
    if (!Number.isInteger(user.uid) || !Number.isInteger(user.gid)) {
        console.log(`\n*** the broker runs as root: there is no user '${name}' (scripts/setup.sh makes it) ***\n`);
        return undefined;
    }
    const unreadable = [pluginPath, path.join(repoRoot, 'dist/ts/index.js'), flashmqBinary() ?? '']
        .filter((f) => f !== '' && fs.existsSync(f) && spawnSync('setpriv', [`--reuid=${user.uid}`, `--regid=${user.gid}`, '--clear-groups', 'test', '-r', f]).status !== 0);
    if (unreadable.length > 0) {
        console.log(`\n*** the broker runs as root: user '${name}' cannot read ${unreadable.join(', ')} ***\n`);
        return undefined;
    }
    return user;
}

/**
 * A temporary directory for files the broker's plugin reads (tokens, passwords, apps), or with `writable` also
 * writes: readable by everyone (mkdtemp makes it 0700) and, when writable, owned by the broker's user, since the
 * broker may run as an unprivileged one. The caller removes it.
 */
export function brokerScratchDir(prefix: string, writable = false): string {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), prefix));
    fs.chmodSync(dir, 0o755);
    if (writable && brokerUser)
        fs.chownSync(dir, brokerUser.uid, brokerUser.gid);
    return dir;
}

/** Lets the broker's user read a directory the tests made (mkdtemp makes it 0700) and what is in it. */
export function shareWithBroker(dir: string): void {
    if (!brokerUser)
        return;
    fs.chmodSync(dir, 0o755);
    for (const entry of fs.readdirSync(dir, { withFileTypes: true })) {
        const file = path.join(dir, entry.name);
        if (entry.isDirectory())
            shareWithBroker(file);
        else if (entry.isFile())
            fs.chmodSync(file, fs.statSync(file).mode | 0o444);
    }
}

/** A describe() that runs only where flashmq and the built plugin exist, and says so loudly where not. */
export function describeWithBroker(title: string, body: (this: Mocha.Suite) => void): void {
    const missing: string[] = [];
    if (!flashmqBinary())
        missing.push('flashmq (set FLASHMQ_BIN or put it on PATH)');
    if (!fs.existsSync(pluginPath))
        missing.push(`the plugin at ${pluginPath} (npm run build:native)`);
    if (missing.length > 0) {
        console.log(`\n*** SKIPPED: '${title}': missing ${missing.join(' and ')} ***\n`);
        describe.skip(title, body);
        return;
    }
    describe(title, body);
}

export function freePort(): Promise<number> {
    return new Promise((resolve, reject) => {
        const server = net.createServer();
        server.unref();
        server.on('error', reject);
        server.listen(0, '127.0.0.1', () => {
            const address = server.address() as net.AddressInfo;
            server.close(() => resolve(address.port));
        });
    });
}

export function canConnect(port: number): Promise<boolean> {
    return new Promise((resolve) => {
        const socket = net.connect({ host: '127.0.0.1', port });
        socket.once('connect', () => { socket.destroy(); resolve(true); });
        socket.once('error', () => resolve(false));
    });
}

export const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

/** Whether this machine has a command (on PATH). */
export function hasCommand(command: string): boolean {
    return spawnSync('sh', ['-c', `command -v '${command}'`], { stdio: 'ignore' }).status === 0;
}


export interface BrokerOptions {
    pluginOptions?: Record<string, string>;
    /** The compiled entry module; the probe by default. null: none (the plugin finds the product's). */
    entry?: string | null;
    threadCount?: number;
    allowAnonymous?: boolean;
    logLevel?: string;
    /** More config lines. */
    extraConfig?: string;
    /** More lines inside the listen block (e.g. 'tcp_nodelay true'). */
    listenerConfig?: string[];
    /** Do not wait for the listener (for brokers expected to refuse to start). */
    noWait?: boolean;
    plugin?: string | null;
    env?: NodeJS.ProcessEnv;
    /** A command the broker runs under, e.g. ['prlimit', '--as=150000000', '--']. */
    wrapper?: string[];
    /** Run the broker as the tests' own user even where it would run as `brokerUser`. */
    asTestUser?: boolean;
}

export interface Exit {
    code: number | null;
    signal: NodeJS.Signals | null;
}

export class RunningBroker {
    readonly exited: Promise<Exit>;
    private output = '';
    private exitInfo: Exit | undefined;

    constructor(readonly proc: ChildProcess, readonly port: number, readonly dir: string, readonly logFile: string) {
        proc.stdout?.on('data', (d: Buffer) => { this.output += d.toString(); });
        proc.stderr?.on('data', (d: Buffer) => { this.output += d.toString(); });
        this.exited = new Promise((resolve) => {
            proc.on('exit', (code, signal) => {
                this.exitInfo = { code, signal };
                resolve(this.exitInfo);
            });
        });
    }

    get running(): boolean {
        return this.exitInfo === undefined;
    }

    /** The broker's stdout and stderr. */
    get consoleOutput(): string {
        return this.output;
    }

    /** The plugin's status file (plugin_opt_status_file, beside the log unless a test chose another), parsed. */
    status(): Record<string, unknown> | undefined {
        try {
            return JSON.parse(fs.readFileSync(path.join(this.dir, 'status'), 'utf8')) as Record<string, unknown>;
        } catch {
            return undefined;
        }
    }

    log(): string {
        try {
            return fs.readFileSync(this.logFile, 'utf8');
        } catch {
            return '';
        }
    }

    async waitForLog(pattern: RegExp, timeoutMs = 5000, from = 0): Promise<string> {
        const deadline = Date.now() + timeoutMs;
        for (;;) {
            const text = this.log().slice(from);
            const m = pattern.exec(text);
            if (m)
                return m[0];
            if (Date.now() > deadline)
                throw new Error(`no log line matching ${pattern} within ${timeoutMs} ms; log:\n${text.slice(-3000)}\nconsole:\n${this.output.slice(-2000)}`);
            await sleep(25);
        }
    }

    /**
     * Until the broker handles its signals: FlashMQ (1.21 to 1.26) listens while it reads its configuration and
     * only then sets its signal handlers, so a SIGINT or SIGHUP sent as soon as the port answers can still end it.
     * It says "Starting FlashMQ version" after. A broker that never says it is left to the test's own checks.
     */
    async signalsHandled(timeoutMs = 5000): Promise<void> {
        await this.waitForLog(/Starting FlashMQ version/, timeoutMs).catch(() => undefined);
    }

    async reload(): Promise<void> {
        const before = this.log().length;
        this.proc.kill('SIGHUP');
        await this.waitForLog(/Doing reload in thread|Reloading config|Loading config\. Reload: true/, 5000, before);
    }

    async stop(signal: NodeJS.Signals = 'SIGTERM', timeoutMs = 10_000): Promise<Exit> {
        if (!this.running)
            return this.exitInfo!;
        this.proc.kill(signal);
        const timer = setTimeout(() => this.proc.kill('SIGKILL'), timeoutMs);
        const exit = await this.exited;
        clearTimeout(timer);
        return exit;
    }

    cleanup(): void {
        if (this.running)
            this.proc.kill('SIGKILL');
        fs.rmSync(this.dir, { recursive: true, force: true });
    }
}

export async function startBroker(options: BrokerOptions = {}): Promise<RunningBroker> {
    const bin = flashmqBinary();
    if (!bin)
        throw new Error('flashmq not found');
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'dfmq-e2e-'));
    const port = await freePort();
    const logFile = path.join(dir, 'flashmq.log');
    const plugin = options.plugin === undefined ? pluginPath : options.plugin;
    const pluginOptions: Record<string, string> = { ...(options.pluginOptions ?? {}) };
    const entry = options.entry === undefined ? probeEntry : options.entry;
    if (entry !== null && pluginOptions.entry === undefined)
        pluginOptions.entry = entry;
    // The plugin's status (ts/util/status.ts) goes beside the log, not into this machine's /run.
    if (plugin !== null && path.basename(plugin) === 'libdbus-flashmq-ts.so' && pluginOptions.status_file === undefined)
        pluginOptions.status_file = path.join(dir, 'status');
    const text = flashmqConfig({
        port, logFile, plugin, pluginOptions, logLevel: options.logLevel ?? 'debug', threadCount: options.threadCount ?? 1,
        allowAnonymous: options.allowAnonymous !== false, extra: options.extraConfig ? [options.extraConfig] : [],
        listener: options.listenerConfig ?? [],
    });
    const config = path.join(dir, 'flashmq.conf');
    fs.writeFileSync(config, text);
    const user = options.asTestUser ? undefined : brokerUser;
    if (user) {
        // The broker writes its log here, as the unprivileged user.
        fs.chownSync(dir, user.uid, user.gid);
        fs.chmodSync(dir, 0o755);
    }

    const [command, ...args] = [...(options.wrapper ?? []), bin, '-c', config];
    const proc = spawn(command, args, {
        stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, ...(options.env ?? {}) }, ...(user ? { uid: user.uid, gid: user.gid } : {}),
    });
    const broker = new RunningBroker(proc, port, dir, logFile);
    if (options.noWait)
        return broker;

    const deadline = Date.now() + 15_000;
    while (!(await canConnect(port))) {
        if (!broker.running)
            throw new Error(`flashmq exited before listening (${JSON.stringify(await broker.exited)}); log:\n${broker.log().slice(-3000)}\nconsole:\n${broker.consoleOutput.slice(-2000)}`);
        if (Date.now() > deadline) {
            broker.cleanup();
            throw new Error(`flashmq did not listen within 15 s; log:\n${broker.log().slice(-3000)}`);
        }
        await sleep(20);
    }
    await broker.signalsHandled();
    return broker;
}
