// A soak: months of a GX device's life compressed into minutes (not a test: it prints numbers), to show that
// nothing grows. The broker runs under Venus's service limits with default options, serving the bct recording and
// then 50,000 items, while, all at once:
//   - changes stream at 200/s, with a burst at the most the pipeline takes every minute;
//   - a service vanishes every 4 s and comes back 2 s later on a new connection (its D-Bus owner replaced);
//   - a client comes and goes every second (a keep-alive with an echo, or a suppressed one; half leave cleanly,
//     half drop their socket), and one stays connected throughout, as Home Assistant's integration does (a full
//     keep-alive at start, then suppressed ones every 30 s, a read every 10 s);
//   - a write and a read every 2 s; a token login every 3 s, the right password and a wrong one in turn;
//   - a SIGHUP every 2 minutes, and (ours only: it ends the original by design) a dbus-daemon restart halfway.
// Every 5 s it samples the broker: RSS and its anonymous part, file descriptors and threads (/proc), and for ours
// the plugin's stats lines (V8's heap and external memory, libuv handles and timers, every per-client and
// per-service structure). Per figure it prints the first and last sample, the peak, and the slope per hour fitted
// (least squares) over the last two thirds of the run.
//
//   npm run bench:soak [-- --minutes 6] [--compare <original .so>] [--only bct|50k] [--plugin ours|original]
//                         [--series <file.csv>]
//                         [--option <name>=<value>]...     (more plugin options for ours, e.g. entry=<a wrapper>)
//
// By default each run lasts 6 minutes (so 12 minutes for ours, 24 with the original); --minutes 60 compresses
// months: a day's changes of a busy system, tens of thousands of client sessions and service restarts.
import * as fs from 'node:fs';
import * as path from 'node:path';

import { Variant } from 'dbus-next';
import type { MqttClient } from 'mqtt';

import { brokerScratchDir, flashmqBinary, sleep } from '../test/helpers/flashmq';
import { closeAll, connect, Inbox } from '../test/helpers/mqtt';
import type { SimulatedGx } from '../test/helpers/venus';
import { addSetting, devicePortalId, PORTAL_ID, startGx } from '../test/helpers/venus';
import { numberOption, option } from './args';

const MINUTES = numberOption('minutes', 6);
const COMPARE = option('compare');
const ONLY = option('only');
/** --plugin ours|original: only that plugin's runs (with --compare, the original's alone). */
const PLUGIN = option('plugin');
const SERIES = option('series');
/** --option name=value, repeated. */
const EXTRA_OPTIONS: Record<string, string> = Object.fromEntries(process.argv.flatMap((a, i) =>
    (process.argv[i - 1] === '--option' && a.includes('=') ? [[a.slice(0, a.indexOf('=')), a.slice(a.indexOf('=') + 1)]] : [])));
const SAMPLE_MS = 5000;
const VENUS_LIMITS = ['prlimit', '--data=150000000', '--stack=10000000', '--as=600000000', '--'];
const BENCH = 'com.victronenergy.battery.soak';
const BENCH_PATHS = Array.from({ length: 40 }, (_, i) => `/Soak/Value${i}`);
const BCRYPT_HALLO = '$2b$04$.Wd.v7vwGPp6SJaFaJOGj.zySh7yPfMeHI4dGE/LWPBkV7izPZjVm';

type Sample = Record<string, number>;

function procFigures(pid: number): Sample {
    const status = fs.readFileSync(`/proc/${pid}/status`, 'utf8');
    const kb = (field: string): number => Number(new RegExp(`${field}:\\s+(\\d+)`).exec(status)?.[1] ?? NaN);
    return {
        rssMb: (kb('VmRSS') * 1024) / 1e6, anonMb: (kb('RssAnon') * 1024) / 1e6, vmSizeMb: (kb('VmSize') * 1024) / 1e6,
        threads: kb('Threads'), fds: fs.readdirSync(`/proc/${pid}/fd`).length,
    };
}

/** The latest stats lines of the plugin in the log, from `offset` on. */
class StatsReader {
    private offset = 0;
    private latest: Sample = {};
    constructor(private readonly file: string) {}
    read(): Sample {
        let text = '';
        try {
            const fd = fs.openSync(this.file, 'r');
            const size = fs.fstatSync(fd).size;
            const buffer = Buffer.alloc(size - this.offset);
            fs.readSync(fd, buffer, 0, buffer.length, this.offset);
            fs.closeSync(fd);
            this.offset = size;
            text = buffer.toString('utf8');
        } catch {
            return this.latest;
        }
        for (const m of text.matchAll(/dbus-flashmq: stats ([a-z]+) (\{[^\n]*\})/g)) {
            try {
                Object.assign(this.latest, JSON.parse(m[2]!) as Sample);
            } catch {
                // a line cut short
            }
        }
        return { ...this.latest };
    }
}

/** Least-squares slope of y over x (hours). */
function slopePerHour(points: Array<[number, number]>): number {
    const n = points.length;
    if (n < 2)
        return NaN;
    const mx = points.reduce((s, [x]) => s + x, 0) / n;
    const my = points.reduce((s, [, y]) => s + y, 0) / n;
    let num = 0;
    let den = 0;
    for (const [x, y] of points) {
        num += (x - mx) * (y - my);
        den += (x - mx) * (x - mx);
    }
    return den === 0 ? 0 : num / den;
}

interface Run {
    label: string;
    original?: string;
    workload: 'bct' | '50k';
}

class Activity {
    private stopped = false;
    private readonly loops: Array<Promise<void>> = [];
    readonly counts = { changes: 0, churned: 0, sessions: 0, dropped: 0, writes: 0, reads: 0, logins: 0, loginsRefused: 0, reloads: 0, restarts: 0, errors: 0 };

    constructor(private readonly gx: SimulatedGx, private readonly id: string, private readonly ours: boolean, private readonly seconds: number) {}

    private every(ms: number, work: (i: number) => Promise<void>): void {
        this.loops.push((async () => {
            for (let i = 0; !this.stopped; i++) {
                const t0 = Date.now();
                try {
                    await work(i);
                } catch {
                    this.counts.errors++;
                }
                const left = ms - (Date.now() - t0);
                if (left > 0)
                    await this.sleep(left);
            }
        })());
    }

    private async sleep(ms: number): Promise<void> {
        const end = Date.now() + ms;
        while (!this.stopped && Date.now() < end)
            await sleep(Math.min(250, end - Date.now()));
    }

    start(churnable: string[], writeTopic: string, readTopic: string): void {
        const { gx, id } = this;
        // Changes at 200/s, and a burst to the most the pipeline takes, 3 s every minute.
        let k = 0;
        this.every(50, async (i) => {
            const burst = i % 1200 >= 1140;
            const n = burst ? 2000 : 10;
            for (let j = 0; j < n; j++, k++)
                gx.sim.change(BENCH, BENCH_PATHS[k % BENCH_PATHS.length]!, new Variant('d', (k % 100000) + 0.5), 'items');
            this.counts.changes += n;
            await Promise.resolve();
        });
        // Services go and come back on a new connection.
        this.every(4000, async (i) => {
            const name = churnable[i % churnable.length]!;
            await gx.sim.vanish(name);
            await this.sleep(2000);
            await gx.sim.reappear(name);
            this.counts.churned++;
        });
        // Short-lived clients.
        this.every(1000, async (i) => {
            const c = await connect(gx.port, { protocolVersion: i % 2 === 0 ? 4 : 5, clientId: `soak-${i % 50}`, connectTimeout: 10_000 });
            const inbox = await Inbox.subscribe(c, [`N/${id}/battery/#`, `N/${id}/full_publish_completed`]);
            if (i % 2 === 0) {
                await c.publishAsync(`R/${id}/keepalive`, JSON.stringify({ 'keepalive-options': [{ 'full-publish-completed-echo': `s${i}` }] }));
                await inbox.waitFor((m) => m.payload.toString().includes(`"s${i}"`), 30_000).catch(() => undefined);
            } else {
                await c.publishAsync(`R/${id}/keepalive`, '{"keepalive-options":["suppress-republish"]}');
                await sleep(200);
            }
            if (i % 4 < 2) {
                await closeAll(c);
            } else {
                c.stream.destroy(); // a dropped socket
                c.end(true);
                this.counts.dropped++;
            }
            this.counts.sessions++;
        });
        // Writes and reads.
        this.every(2000, async (i) => {
            const c = await connect(gx.port, { protocolVersion: 4, clientId: 'soak-rw' });
            await c.publishAsync(writeTopic, `{"value":${i % 2 === 0 ? 1.5 : 0.5}}`);
            await c.publishAsync(readTopic, '');
            this.counts.writes++;
            this.counts.reads++;
            await closeAll(c);
        });
        // Token logins, right and wrong in turn.
        this.every(3000, async (i) => {
            try {
                const c = await connect(gx.port, { protocolVersion: 4, username: 'token/soak/user', password: i % 2 === 0 ? 'hallo' : `wrong-${i}`, connectTimeout: 10_000 });
                await closeAll(c);
                this.counts.logins++;
            } catch {
                this.counts.loginsRefused++;
            }
        });
        // Reloads.
        this.every(120_000, async (i) => {
            if (i === 0)
                return;
            await gx.broker.reload();
            this.counts.reloads++;
        });
        // A dbus-daemon restart halfway (ours only).
        if (this.ours) {
            this.loops.push((async () => {
                await this.sleep((this.seconds * 1000) / 2);
                if (!this.stopped) {
                    await gx.daemon.restart();
                    this.counts.restarts++;
                }
            })());
        }
    }

    async stop(): Promise<void> {
        this.stopped = true;
        await Promise.all(this.loops);
    }
}

/** A client that stays, as Home Assistant's integration does. */
async function longLived(gx: SimulatedGx, id: string): Promise<{ client: MqttClient; stop: () => Promise<void> }> {
    const client = await connect(gx.port, { protocolVersion: 4, clientId: 'soak-home-assistant', keepalive: 60 });
    await client.subscribeAsync(`N/${id}/#`);
    await client.publishAsync(`R/${id}/keepalive`, '');
    let stopped = false;
    const loop = (async () => {
        for (let i = 1; !stopped; i++) {
            await sleep(1000);
            if (i % 30 === 0)
                await client.publishAsync(`R/${id}/keepalive`, '{"keepalive-options":["suppress-republish"]}');
            if (i % 10 === 0)
                await client.publishAsync(`R/${id}/battery/900/Soak/Value1`, '');
        }
    })();
    return { client, stop: async () => { stopped = true; await loop; await closeAll(client); } };
}

async function soak(run: Run): Promise<string> {
    const dir = brokerScratchDir('dfmq-soak-');
    const seconds = MINUTES * 60;
    let gx: SimulatedGx | undefined;
    try {
        fs.writeFileSync(path.join(dir, 'tokens.json'), JSON.stringify([{ token_name: 'token/soak/user', password_hash: BCRYPT_HALLO }]));
        fs.writeFileSync(path.join(dir, 'vnc.txt'), '\n');
        const ours = run.original === undefined;
        gx = await startGx({
            ...(run.workload === 'bct' ? { recording: 'bct' } : { scale: { services: 100, paths: 500 }, settings: true }),
            broker: { wrapper: VENUS_LIMITS, logLevel: 'notice', extraConfig: 'client_max_write_buffer_size 8388608' },
            ...(run.original ? { original: run.original } : {}),
            pluginOptions: ours ? {
                skip_broker_registration: 'true', stats_interval_s: String(SAMPLE_MS / 1000), local_networks: '192.0.2.0/24',
                tokens_file: path.join(dir, 'tokens.json'), password_file: path.join(dir, 'vnc.txt'), ...EXTRA_OPTIONS,
            } : {},
        });
        const id = ours ? PORTAL_ID : devicePortalId();
        await addSetting(gx, '/Settings/Services', 'MqttLocal', 1, 0, 2);
        await gx.sim.addService({ name: BENCH, items: [{ path: '/DeviceInstance', value: new Variant('i', 900) },
            ...BENCH_PATHS.map((p) => ({ path: p, value: new Variant('d', 0.5) }))] });
        await sleep(1000);
        const churnable = gx.sim.serviceNames.filter((n) => n !== BENCH && !/\.(settings|system)$/.test(n)).slice(0, 10);
        const pid = gx.broker.proc.pid!;
        const stats = new StatsReader(gx.broker.logFile);
        const home = await longLived(gx, id);
        const activity = new Activity(gx, id, ours, seconds);
        activity.start(churnable, `W/${id}/battery/900/Soak/Value0`, `R/${id}/battery/900/Soak`);
        const samples: Array<{ t: number; figures: Sample }> = [];
        const t0 = Date.now();
        while (Date.now() - t0 < seconds * 1000) {
            await sleep(SAMPLE_MS);
            if (!gx.broker.running)
                break;
            samples.push({ t: (Date.now() - t0) / 3_600_000, figures: { ...procFigures(pid), ...(ours ? stats.read() : {}) } });
        }
        await activity.stop();
        await home.stop();
        const serving = gx.broker.running;
        const keys = [...new Set(samples.flatMap((s) => Object.keys(s.figures)))];
        if (SERIES) {
            const file = SERIES.replace(/(\.csv)?$/, `-${run.label}-${run.workload}.csv`);
            fs.writeFileSync(file, [['hours', ...keys].join(','), ...samples.map((s) => [s.t.toFixed(5), ...keys.map((k) => s.figures[k] ?? '')].join(','))].join('\n') + '\n');
        }
        const tail = samples.slice(Math.floor(samples.length / 3));
        const lines = [`\n## ${run.label}, ${run.workload === 'bct' ? 'bct' : '50,000 items'}: ${MINUTES} min under Venus's limits; ${samples.length} samples; still serving: ${serving ? 'yes' : 'NO'}`,
            `Activity: ${Object.entries(activity.counts).map(([k, v]) => `${k} ${v}`).join(', ')}`, '',
            '| figure | first | last | peak | slope per hour (last two thirds) |', '|---|---|---|---|---|'];
        for (const key of keys) {
            const values = samples.map((s) => s.figures[key]).filter((v): v is number => typeof v === 'number' && Number.isFinite(v));
            if (values.length === 0)
                continue;
            const points = tail.map((s) => [s.t, s.figures[key]] as [number, number]).filter(([, v]) => typeof v === 'number' && Number.isFinite(v));
            const f = (x: number): string => (Number.isInteger(x) ? String(x) : x.toFixed(2));
            lines.push(`| ${key} | ${f(values[0]!)} | ${f(values.at(-1)!)} | ${f(Math.max(...values))} | ${slopePerHour(points).toFixed(2)} |`);
        }
        return lines.join('\n');
    } finally {
        await gx?.stop().catch(() => undefined);
        fs.rmSync(dir, { recursive: true, force: true });
    }
}

async function main(): Promise<void> {
    if (!flashmqBinary()) {
        console.log('SKIPPED: the soak needs flashmq (FLASHMQ_BIN, PATH or scripts/flashmq.sh)');
        return;
    }
    const runs: Run[] = [];
    for (const workload of ['bct', '50k'] as const) {
        if (ONLY && ONLY !== workload)
            continue;
        if (PLUGIN !== 'original')
            runs.push({ label: 'ours', workload });
        if (COMPARE && PLUGIN !== 'ours')
            runs.push({ label: 'original', workload, original: COMPARE });
    }
    if (runs.length === 0) {
        console.log('Nothing to run: --plugin original needs --compare <original .so>; --only is bct or 50k, --plugin ours or original');
        process.exitCode = 1;
        return;
    }
    console.log(`# Soak, ${new Date().toISOString()}, ${MINUTES} min per run`);
    for (const run of runs)
        console.log(await soak(run));
}

main().catch((err: unknown) => {
    console.error(err);
    process.exitCode = 1;
});
