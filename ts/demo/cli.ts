// The demo (npm start): a simulated GX device served by the real flashmq with our plugin, on this machine.
//
//   a private dbus-daemon  ->  the Venus simulator playing a recording (or the synthetic scale mode)
//                          ->  flashmq with the plugin, listening on 127.0.0.1
//
// It says what it does while it starts, prints the portal id, the port and commands to paste, shows the broker's
// warnings while it runs, and stops every process it started on Ctrl-C, on SIGTERM or on a failure.
import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import * as fs from 'node:fs';
import * as net from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';

import type { DbusDaemon } from '../sim/daemon';
import { startDbusDaemon } from '../sim/daemon';
import type { SimulatorOptions } from '../sim/index';
import { defaultRecordingsDir, listSystems, Simulator } from '../sim/index';
import { findFlashmq } from './flashmq-binary';
import { flashmqConfig } from './flashmq-config';

const repoRoot = path.resolve(__dirname, '..', '..', '..');
const DEFAULT_PORTAL_ID = 'c0619ab1a2b3';

const USAGE = `Usage: npm start -- [options]

  --recording <name>     a recording to play: ${'bct'} (default), another system under
                         test/fixtures/venus-recordings, a directory or a .csv file
  --scale <N>x<M>        instead: N synthetic services of M paths each
  --churn <n>            with --scale: changes per second (default 100)
  --speed <n>            recording ticks per second (default 1; 0 = initial state only)
  --port <n>             the MQTT port on 127.0.0.1 (default: a free one)
  --portal-id <id>       the portal id (default ${DEFAULT_PORTAL_ID})
  --flashmq <path>       the flashmq binary (default: FLASHMQ_BIN, else flashmq on PATH)
  --plugin <path>        the plugin .so (default: build-plugin/Release/libdbus-flashmq-ts.so)
  --option <name=value>  a plugin option (plugin_opt_<name>), may be repeated
  --list                 list the recordings and exit
`;

export interface DemoOptions {
    recording?: string;
    scale?: { services: number; paths: number };
    churn: number;
    speed: number;
    port?: number;
    portalId: string;
    flashmq?: string;
    plugin: string;
    pluginOptions: Record<string, string>;
    list: boolean;
}

export class UsageError extends Error {}

export function parseDemoArgs(argv: readonly string[]): DemoOptions | 'help' {
    const o: DemoOptions = {
        churn: 100, speed: 1, portalId: DEFAULT_PORTAL_ID, plugin: path.join(repoRoot, 'build-plugin/Release/libdbus-flashmq-ts.so'),
        pluginOptions: {}, list: false,
    };
    for (let i = 0; i < argv.length; i++) {
        const arg = argv[i]!;
        const value = (): string => {
            const v = argv[++i];
            if (v === undefined)
                throw new UsageError(`${arg} needs a value`);
            return v;
        };
        const count = (min: number, max: number): number => {
            const text = value();
            const n = Number(text);
            if (!/^\d+(\.\d+)?$/.test(text) || n < min || n > max)
                throw new UsageError(`${arg}: '${text}' is not a number from ${min} to ${max}`);
            return n;
        };
        switch (arg) {
            case '-h': case '--help': return 'help';
            case '--recording': o.recording = value(); break;
            case '--scale': {
                const m = /^(\d+)x(\d+)$/.exec(value());
                if (!m || Number(m[1]) < 1 || Number(m[2]) < 1)
                    throw new UsageError('--scale takes <services>x<paths>, e.g. 100x500');
                o.scale = { services: Number(m[1]), paths: Number(m[2]) };
                break;
            }
            case '--churn': o.churn = count(0, 1_000_000); break;
            case '--speed': o.speed = count(0, 1000); break;
            case '--port': o.port = Math.floor(count(1, 65535)); break;
            case '--portal-id': {
                const id = value();
                if (!/^[A-Za-z0-9_-]+$/.test(id))
                    throw new UsageError(`--portal-id: '${id}' is not a portal id (letters, digits, - and _)`);
                o.portalId = id;
                break;
            }
            case '--flashmq': o.flashmq = value(); break;
            case '--plugin': o.plugin = path.resolve(value()); break;
            case '--option': {
                const m = /^([A-Za-z0-9_]+)=(.*)$/s.exec(value());
                if (!m)
                    throw new UsageError('--option takes name=value, e.g. --option debug=true');
                o.pluginOptions[m[1]!] = m[2]!;
                break;
            }
            case '--list': o.list = true; break;
            default: throw new UsageError(`unknown option '${arg}' (try --help)`);
        }
    }
    if (o.recording !== undefined && o.scale)
        throw new UsageError('--recording and --scale exclude each other');
    if (!o.scale && o.recording === undefined)
        o.recording = 'bct';
    return o;
}

/** The commands a user pastes to try the device: subscribe, keep-alive, a read and a write. */
export function exampleCommands(port: number, portalId: string, scale: boolean): string[] {
    const p = `-h 127.0.0.1 -p ${port}`;
    const read = scale ? `R/${portalId}/battery/0/Soc` : `R/${portalId}/settings/0/Settings/Gui/Brightness`;
    const write = `W/${portalId}/settings/0/Settings/Gui/Brightness`;
    return [
        `mosquitto_sub ${p} -v -t 'N/${portalId}/#'`,
        `mosquitto_pub ${p} -t 'R/${portalId}/keepalive' -m ''`,
        `mosquitto_pub ${p} -t '${read}' -m ''`,
        ...(scale ? [] : [`mosquitto_pub ${p} -t '${write}' -m '{"value": 5}'`]),
        `mosquitto_rr ${p} -V 5 -t 'R/${portalId}/keepalive' -e 'demo/reply' -m '' -W 5`,
    ];
}

function say(line: string): void {
    process.stdout.write(`[demo] ${line}\n`);
}

function freePort(): Promise<number> {
    return new Promise((resolve, reject) => {
        const server = net.createServer();
        server.on('error', reject);
        server.listen(0, '127.0.0.1', () => {
            const { port } = server.address() as net.AddressInfo;
            server.close(() => resolve(port));
        });
    });
}

function portTaken(port: number): Promise<boolean> {
    return new Promise((resolve) => {
        const socket = net.connect({ host: '127.0.0.1', port });
        socket.once('connect', () => { socket.destroy(); resolve(true); });
        socket.once('error', () => resolve(false));
    });
}

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

/** Follows the broker's log file: hands each new complete line to `onLine`. */
class LogFollower {
    private offset = 0;
    private partial = '';
    private timer?: NodeJS.Timeout;

    constructor(private readonly file: string, private readonly onLine: (line: string) => void) {}

    start(): void {
        this.timer = setInterval(() => this.poll(), 100);
    }

    poll(): void {
        let fd: number | undefined;
        try {
            fd = fs.openSync(this.file, 'r');
            const size = fs.fstatSync(fd).size;
            if (size <= this.offset)
                return;
            const buf = Buffer.alloc(Math.min(size - this.offset, 1 << 20));
            const n = fs.readSync(fd, buf, 0, buf.length, this.offset);
            this.offset += n;
            const lines = (this.partial + buf.subarray(0, n).toString('utf8')).split('\n');
            this.partial = lines.pop() ?? '';
            lines.forEach((l) => this.onLine(l));
        } catch {
            // not there yet
        } finally {
            if (fd !== undefined)
                fs.closeSync(fd);
        }
    }

    stop(): void {
        clearInterval(this.timer);
        this.poll();
    }
}

class Demo {
    private daemon?: DbusDaemon;
    private sim?: Simulator;
    private broker?: ChildProcess;
    private brokerExit?: Promise<void>;
    private follower?: LogFollower;
    private dir?: string;
    private stopping = false;
    private ready = false;
    private finished: (code: number) => void = () => undefined;
    /** Settles with the exit code once everything is stopped. */
    private readonly done = new Promise<number>((resolve) => { this.finished = resolve; });

    constructor(private readonly o: DemoOptions) {}

    async run(): Promise<number> {
        const flashmq = findFlashmq(this.o.flashmq);
        if (!flashmq) {
            say('flashmq was not found (give --flashmq, set FLASHMQ_BIN, or put it on PATH).');
            say('FlashMQ is not packaged by Debian; build its 1.26.2 release from source with: bash scripts/flashmq.sh');
            say('(it downloads the release, or uses a source tree at .deps/FlashMQ-1.26.2 when offline).');
            return 1;
        }
        if (!fs.existsSync(this.o.plugin)) {
            say(`the plugin is not built: ${this.o.plugin} is missing (npm run build)`);
            return 1;
        }
        const port = this.o.port ?? await freePort();
        if (this.o.port !== undefined && await portTaken(port)) {
            say(`port ${port} on 127.0.0.1 is taken; give another with --port, or leave it out for a free one`);
            return 1;
        }
        this.dir = fs.mkdtempSync(path.join(os.tmpdir(), 'dbus-flashmq-demo-'));

        say('starting a private dbus-daemon');
        this.daemon = await startDbusDaemon();
        say(`  bus: ${this.daemon.address}`);

        const simOptions: SimulatorOptions = { busAddress: this.daemon.address, speed: this.o.speed };
        if (this.o.scale) {
            say(`starting the simulator: ${this.o.scale.services} services × ${this.o.scale.paths} paths, ${this.o.churn} changes/s`);
            simOptions.scale = { ...this.o.scale, churnPerSecond: this.o.churn };
        } else {
            say(`starting the simulator: recording '${this.o.recording ?? ''}' at ${this.o.speed} tick(s)/s`);
            simOptions.recording = this.o.recording!;
        }
        this.sim = await Simulator.start({ ...simOptions, log: (line) => say(`  sim: ${line}`) });
        say(`  ${this.sim.serviceNames.length} services on the bus`);

        const logFile = path.join(this.dir, 'flashmq.log');
        const config = path.join(this.dir, 'flashmq.conf');
        fs.writeFileSync(config, flashmqConfig({
            port, logFile, plugin: this.o.plugin, logLevel: 'info',
            pluginOptions: {
                portal_id: this.o.portalId, dbus_address: this.daemon.address, skip_broker_registration: 'true',
                tokens_file: path.join(this.dir, 'tokens.json'), password_file: path.join(this.dir, 'vncpassword.txt'),
                apps_dir: path.join(this.dir, 'apps'), ...this.o.pluginOptions,
            },
        }));
        say(`starting ${flashmq} with the plugin (config and log in ${this.dir})`);
        this.follower = new LogFollower(logFile, (line) => this.brokerLine(line));
        this.follower.start();
        const broker = spawn(flashmq, ['-c', config], { stdio: ['ignore', 'pipe', 'pipe'] });
        this.broker = broker;
        let consoleText = '';
        broker.stdout?.on('data', (d: Buffer) => { consoleText += d.toString(); });
        broker.stderr?.on('data', (d: Buffer) => { consoleText += d.toString(); });
        this.brokerExit = new Promise((resolve) => broker.once('exit', () => resolve()));
        void this.brokerExit.then(() => {
            if (!this.stopping) {
                this.follower?.poll();
                say(`flashmq stopped unexpectedly (exit code ${String(broker.exitCode)}${broker.signalCode ? `, ${broker.signalCode}` : ''})`);
                if (consoleText.trim())
                    say(`its output: ${consoleText.trim().split('\n').slice(-5).join(' | ')}`);
                void this.stop(1);
            }
        });

        const t0 = Date.now();
        while (!this.ready) {
            if (this.stopping)
                return this.done;
            if (Date.now() - t0 > 60_000) {
                say('the plugin did not report its D-Bus discovery within 60 s; stopping');
                await this.stop(1);
                return this.done;
            }
            await sleep(50);
        }
        while (!await portTaken(port)) {
            if (this.stopping)
                return this.done;
            await sleep(20);
        }
        say(`ready in ${Date.now() - t0} ms: portal id ${this.o.portalId}, MQTT on 127.0.0.1:${port}`);
        say('');
        say('try, in another terminal (Debian: apt install mosquitto-clients):');
        for (const line of exampleCommands(port, this.o.portalId, this.o.scale !== undefined))
            say(`  ${line}`);
        say('');
        say('notifications flow for 60 s after each keep-alive. Ctrl-C stops everything.');
        return this.done;
    }

    private brokerLine(line: string): void {
        if (!this.ready && /D-Bus discovery done/.test(line))
            this.ready = true;
        const plugin = /dbus-flashmq/.test(line) && !/' scanned: \d+ items/.test(line);
        const serious = /\[(WARNING|ERROR)\]/.test(line) && !/ulimit nofile|rlimit/.test(line);
        if ((!this.ready && plugin) || serious)
            process.stdout.write(`[broker] ${line.replace(/^\[[^\]]*\] /, '')}\n`);
    }

    async stop(code: number): Promise<void> {
        if (this.stopping)
            return;
        this.stopping = true;
        say('stopping');
        if (this.broker && this.broker.exitCode === null && this.broker.signalCode === null) {
            this.broker.kill('SIGTERM');
            const killer = setTimeout(() => this.broker?.kill('SIGKILL'), 10_000);
            await this.brokerExit;
            clearTimeout(killer);
        }
        this.follower?.stop();
        await this.sim?.stop().catch(() => undefined);
        await this.daemon?.stop().catch(() => undefined);
        if (this.dir)
            fs.rmSync(this.dir, { recursive: true, force: true });
        say('stopped; no process left behind');
        this.finished(code);
    }
}

async function main(argv: string[]): Promise<number> {
    let options: DemoOptions | 'help';
    try {
        options = parseDemoArgs(argv);
    } catch (err) {
        if (err instanceof UsageError) {
            process.stderr.write(`${err.message}\n\n${USAGE}`);
            return 2;
        }
        throw err;
    }
    if (options === 'help') {
        process.stdout.write(USAGE);
        return 0;
    }
    if (options.list) {
        for (const s of listSystems())
            process.stdout.write(`${s.name.padEnd(12)} ${s.description}\n`);
        process.stdout.write(`(in ${defaultRecordingsDir()})\n`);
        return 0;
    }
    const demo = new Demo(options);
    for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const)
        process.on(signal, () => void demo.stop(0));
    try {
        return await demo.run();
    } catch (err) {
        say(`failed: ${err instanceof Error ? err.message : String(err)}`);
        await demo.stop(1);
        return 1;
    }
}



if (require.main === module) {
    main(process.argv.slice(2)).then((code) => { process.exitCode = code; process.exit(code); }, (err: unknown) => {
        process.stderr.write(`${err instanceof Error ? err.stack ?? err.message : String(err)}\n`);
        process.exit(1);
    });
}
