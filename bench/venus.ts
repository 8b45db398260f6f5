// Benchmark of the plugin end to end on a simulated GX device (not a test: it prints numbers). It takes any plugin
// .so, so the original C++ plugin can be measured side by side with ours in the same run:
//
//   npm run bench:venus                                            # ours only
//   npm run bench:venus -- --compare /path/to/libflashmq-dbus-plugin.so [--rounds 5] [--skip-scale] [--skip-limits]
//   npm run bench:venus -- --compare /path/to/libflashmq-dbus-plugin.so --only writes [--writes 5000] [--write-warmup 1000]  # the write figures only
//   ... --before /other/build-plugin/Release/libdbus-flashmq-ts.so   # another build of ours too (e.g. before a change)
//
// Focused runs, to iterate on one figure: --only fullpublish,changes (of idle, fullpublish, changes, most, writes;
// start-up always runs), --skip-bct, --rates 100,1000 and --change-seconds 10 (the measured seconds at each rate),
// --change-warmup 30 (seconds at each rate before the measured ones, 1 by default),
// --repeat 3 (every plugin started again that many times, alternating, so a slow moment of this shared machine does
// not hit one plugin only), --variants '<node_args>|<node_args>' (ours once per set of plugin_opt_node_args, e.g.
// V8 flags; '' is the default), --code-cache <dir> (ours with the start-up code cache, as on a device after its first
// start: one file per build of ours, mode and variant in that directory, which the broker's user must be able to
// write; an unmeasured start makes each one first), and --gc: V8 traces each collection of ours (--trace-gc-nvp, its stdout
// line-buffered) and the change figures say how many scavenges and mark-compacts ran per second at each rate and
// how many bytes the JavaScript heap took per change (the bytes V8 reports allocated between collections, over the
// changes sent; the run's idle rate subtracted; '-' with fewer than 4 collections in the window, where that figure
// means nothing: bench/change-path.ts measures it exactly).
//
// For each plugin, each workload (the bct recording; 100 services x 500 items) and each mode (no limits; Venus's
// service limits, softlimit -d 150000000 -s 10000000 -a 600000000 as on aarch64, applied with prlimit): start-up
// (broker start -> a keep-alive answered with every topic), memory idle, keep-alive -> full_publish_completed and
// memory after, change latency (D-Bus signal -> MQTT message) p50/p99 at 100, 1,000 and 5,000 changes per second
// (after a second at that rate that is not measured), most changes delivered per second, write round trip (W/ of a
// double item -> its N/) median and p99, broker CPU per write (user + system time of the broker process over `--writes`
// sequential writes, each sent when the previous one's N/ came back), memory after that load, peak RSS, and whether the broker was still serving at the end. The broker runs with Venus' buffer limit (client_max_write_buffer_size
// 4194304) and tcp_nodelay. Both plugins get default options.
//
// The original reads its portal id from /data/venus/unique-id and takes the bus from DBUS_SYSTEM_BUS_ADDRESS; both
// plugins are given the same (the file is written if it is missing).
import * as fs from 'node:fs';
import * as path from 'node:path';

import { Variant } from 'dbus-next';
import type { MqttClient } from 'mqtt';

import { Simulator } from '../ts/sim';
import { startDbusDaemon } from '../test/helpers/dbus-daemon';
import type { DbusDaemon } from '../test/helpers/dbus-daemon';
import type { RunningBroker } from '../test/helpers/flashmq';
import { canConnect, flashmqBinary, pluginPath, sleep, startBroker } from '../test/helpers/flashmq';
import { closeAll, connect } from '../test/helpers/mqtt';
import { devicePortalId, recordingsDir } from '../test/helpers/venus';
import { flag, option } from './args';
import { firstFullPublish } from './first-full-publish';

const ROUNDS = Number(option('rounds') ?? 5);
const COMPARE = option('compare');
const BEFORE = option('before');
const SKIP_SCALE = flag('skip-scale');
const SKIP_LIMITS = flag('skip-limits');
const SKIP_BCT = flag('skip-bct');
/** `--only writes`: start-up, then the write figures only (to iterate on the write path); see the header for the rest. */
const ONLY = option('only')?.split(',');
const RATES = (option('rates') ?? '100,1000,5000').split(',').map(Number);
const CHANGE_SECONDS = option('change-seconds');
/** Seconds at each rate before the measured ones (default 1): the JIT compiles the change path over the first ~30 s at 100/s. */
const CHANGE_WARMUP_SECONDS = Number(option('change-warmup') ?? 1);
const REPEAT = Number(option('repeat') ?? 1);
const VARIANTS = option('variants')?.split('|').map((v) => v.trim()) ?? [undefined];
const GC = flag('gc');
const doing = (group: string): boolean => ONLY === undefined || ONLY.includes(group);
const WRITES = Number(option('writes') ?? 5000);
/** Writes before the measured ones: the JIT compiles the write path over the first few thousand. */
const WRITE_WARMUP = Number(option('write-warmup') ?? 1000);
/** A directory for ours' start-up code caches (plugin_opt_code_cache), one file per build, mode and variant. */
const CODE_CACHE_DIR = option('code-cache');
/** Venus's service limits (the aarch64 address space; this machine is 64-bit). */
const VENUS_LIMITS = ['prlimit', '--data=150000000', '--stack=10000000', '--as=600000000', '--'];

interface Plugin {
    label: string;
    so: string;
    original: boolean;
    /** plugin_opt_node_args (ours only). */
    nodeArgs?: string;
}

/** One collection V8 traced (--trace-gc-nvp): when its line arrived, its kind, and what was allocated since the one before. */
interface GcEvent {
    at: number;
    kind: string;
    allocated: number;
    pause: number;
}

/** Reads V8's --trace-gc-nvp lines from the broker's stdout as they arrive. */
function traceGc(broker: RunningBroker): GcEvent[] {
    const events: GcEvent[] = [];
    let partial = '';
    broker.proc.stdout?.on('data', (d: Buffer) => {
        const at = performance.now();
        const lines = (partial + d.toString()).split('\n');
        partial = lines.pop() ?? '';
        for (const line of lines) {
            const kind = / gc=(\w+)/.exec(line)?.[1];
            if (kind === undefined)
                continue;
            events.push({ at, kind, allocated: Number(/ allocated=(\d+)/.exec(line)?.[1] ?? 0), pause: Number(/pause=([\d.]+)/.exec(line)?.[1] ?? 0) });
        }
    });
    return events;
}

/** The collections in [from, to): scavenges and others per second, and the bytes allocated. */
function gcBetween(events: readonly GcEvent[], from: number, to: number): { scavenges: number; others: number; allocated: number; maxPause: number } {
    let scavenges = 0;
    let others = 0;
    let allocated = 0;
    let maxPause = 0;
    for (const e of events) {
        if (e.at < from || e.at >= to)
            continue;
        if (e.kind === 's')
            scavenges++;
        else
            others++;
        allocated += e.allocated;
        maxPause = Math.max(maxPause, e.pause);
    }
    return { scavenges, others, allocated, maxPause };
}

const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] ?? NaN;
const percentile = (xs: number[], p: number): number => [...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.floor(xs.length * p))] ?? NaN;

class Collector {
    private handlers: Array<(topic: string, payload: Buffer, at: number) => void> = [];
    constructor(readonly client: MqttClient) {
        client.on('message', (topic, payload) => {
            const at = performance.now();
            for (const h of this.handlers)
                h(topic, payload, at);
        });
    }
    on(h: (topic: string, payload: Buffer, at: number) => void): () => void {
        this.handlers.push(h);
        return () => { this.handlers = this.handlers.filter((x) => x !== h); };
    }
}

interface Gx {
    daemon: DbusDaemon;
    sim: Simulator;
    broker: RunningBroker;
    startMs: number;
    startupTopics: number;
}

/** The code cache file of a build of ours in a mode (the memory plan, and so V8's flags, differ under the limits). */
function codeCacheFile(plugin: Plugin, mode: string): string | undefined {
    if (CODE_CACHE_DIR === undefined || plugin.original)
        return undefined;
    return path.join(CODE_CACHE_DIR, `${plugin.label}-${mode}`.replace(/[^A-Za-z0-9]+/g, '-'));
}

async function startGx(plugin: Plugin, id: string, sim: { recording?: string; scale?: { services: number; paths: number } }, wrapper?: string[],
    codeCache?: string): Promise<Gx & { gc: GcEvent[] }> {
    const daemon = await startDbusDaemon();
    const simulator = await Simulator.start({
        busAddress: daemon.address, speed: 0, recordingsDir,
        ...(sim.recording ? { recording: `${recordingsDir}/${sim.recording}` } : {}), ...(sim.scale ? { scale: sim.scale } : {}),
    });
    await simulator.addService({ name: 'com.victronenergy.system', items: [
        { path: '/DeviceInstance', value: new Variant('i', 0) }, { path: '/Serial', value: new Variant('s', id) },
    ] });
    const t0 = performance.now();
    const broker = await startBroker({
        plugin: plugin.so, entry: null, logLevel: 'warning', noWait: true,
        env: { DBUS_SYSTEM_BUS_ADDRESS: daemon.address },
        pluginOptions: plugin.original ? { skip_broker_registration: 'true' }
            : { portal_id: id, ...(plugin.nodeArgs || GC ? { node_args: `${plugin.nodeArgs ?? ''}${GC ? ' --trace-gc-nvp' : ''}`.trim() } : {}),
                ...(codeCache ? { code_cache: codeCache } : {}) },
        extraConfig: 'client_max_write_buffer_size 4194304',
        listenerConfig: ['tcp_nodelay true'],
        ...(wrapper || GC ? { wrapper: [...(GC ? ['stdbuf', '-oL'] : []), ...(wrapper ?? [])] } : {}),
    });
    const gc = traceGc(broker);
    while (!(await canConnect(broker.port))) {
        if (!broker.running)
            throw new Error(`the broker ended at start: ${JSON.stringify(await broker.exited)}\n${broker.log().slice(-1500)}\n${broker.consoleOutput.slice(-1500)}`);
        await sleep(1);
    }
    // Start-up ends when a keep-alive is answered with every topic.
    const expected = simulator.itemCount() - (sim.recording === 'bct' ? 1 : 0); // bct's one blocked item
    const first = await firstFullPublish(broker.port, id, expected, 200, 50);
    const startMs = first.at - t0;
    const startupTopics = first.topics;
    return { daemon, sim: simulator, broker, startMs, startupTopics, gc };
}

async function stopGx(gx: Gx): Promise<void> {
    await gx.broker.stop();
    gx.broker.cleanup();
    await gx.sim.stop();
    await gx.daemon.stop();
}

async function fullPublishTimes(gx: Gx, id: string): Promise<{ ms: number; messages: number }> {
    const client = await connect(gx.broker.port, { protocolVersion: 4 });
    const c = new Collector(client);
    await client.subscribeAsync(`N/${id}/#`);
    const times: number[] = [];
    let messages = 0;
    for (let r = 0; r < ROUNDS; r++) {
        await sleep(400);
        let count = 0;
        let end = 0;
        const echo = `bench-${r}`;
        const off = c.on((topic, payload, at) => {
            if (topic.endsWith('/full_publish_completed') && payload.toString().includes(echo))
                end = at;
            else if (end === 0)
                count++;
        });
        const t0 = performance.now();
        await client.publishAsync(`R/${id}/keepalive`, JSON.stringify({ 'keepalive-options': [{ 'full-publish-completed-echo': echo }] }));
        const deadline = t0 + 30_000;
        while (end === 0 && performance.now() < deadline)
            await sleep(1);
        off();
        times.push(end - t0);
        messages = count;
    }
    await closeAll(client);
    return { ms: median(times), messages };
}

const BENCH_SERVICE = 'com.victronenergy.battery.bench';
const BENCH_PATHS = Array.from({ length: 40 }, (_, i) => `/Bench/Value${i}`);

/** The service the change figures use: battery instance 900 with 40 double items. */
async function ensureBenchService(gx: Gx): Promise<void> {
    if (gx.sim.serviceNames.includes(BENCH_SERVICE))
        return;
    await gx.sim.addService({ name: BENCH_SERVICE, items: [{ path: '/DeviceInstance', value: new Variant('i', 900) },
        ...BENCH_PATHS.map((p) => ({ path: p, value: new Variant('d', 0.5) }))] });
    await sleep(500);
}

async function changeLatency(gx: Gx, id: string, rate: number, seconds: number): Promise<{ p50: number; p99: number; p999: number; max: number; received: number; sent: number; from: number; to: number }> {
    const client = await connect(gx.broker.port, { protocolVersion: 4 });
    const c = new Collector(client);
    const paths = BENCH_PATHS;
    const service = BENCH_SERVICE;
    await ensureBenchService(gx);
    await client.subscribeAsync(`N/${id}/battery/900/#`);
    await client.publishAsync(`R/${id}/keepalive`, '{"keepalive-options":["suppress-republish"]}');
    await sleep(200);
    const sentAt = new Map<number, number>();
    const latencies: number[] = [];
    c.on((_topic, payload, at) => {
        const m = /"value":(-?[0-9.e+-]+)/.exec(payload.toString());
        if (!m)
            return;
        const t = sentAt.get(Number(m[1]));
        if (t !== undefined)
            latencies.push(at - t);
    });
    // A second at the rate first (--change-warmup seconds), not measured: code paths new to the plugin (and the
    // client) warm up.
    let k = 0;
    const send = async (count: number, record: boolean): Promise<void> => {
        const t0 = performance.now();
        const first = k;
        while (k < first + count) {
            const due = Math.min(first + count, first + Math.floor(((performance.now() - t0) / 1000) * rate));
            while (k < due) {
                const value = k + 1000000.5;
                if (record)
                    sentAt.set(value, performance.now());
                gx.sim.change(service, paths[k % paths.length]!, new Variant('d', value), 'items');
                k++;
            }
            await new Promise((resolve) => setImmediate(resolve));
        }
    };
    await send(Math.round(CHANGE_WARMUP_SECONDS * rate), false);
    await sleep(200);
    const total = rate * seconds;
    const from = performance.now();
    await send(total, true);
    const to = performance.now();
    await sleep(500);
    await closeAll(client);
    return {
        p50: percentile(latencies, 0.5), p99: percentile(latencies, 0.99), p999: percentile(latencies, 0.999), max: percentile(latencies, 1),
        received: latencies.length, sent: total, from, to,
    };
}

/**
 * Most changes delivered per second: the simulator sends changes as fast as the pipeline takes them (at most
 * `window` sent and not yet received), for `seconds`; the simulator, the bus, the broker and this client share the
 * machine's cores, as in the original's figure. Every change must arrive.
 */
async function maxThroughput(gx: Gx, id: string, seconds: number, window = 2000): Promise<{ perSecond: number; received: number; sent: number }> {
    const client = await connect(gx.broker.port, { protocolVersion: 4 });
    const c = new Collector(client);
    await ensureBenchService(gx);
    await client.subscribeAsync(`N/${id}/battery/900/#`);
    await client.publishAsync(`R/${id}/keepalive`, '{"keepalive-options":["suppress-republish"]}');
    await sleep(200);
    let received = 0;
    let lastAt = 0;
    c.on((topic, _payload, at) => {
        if (topic.includes('/Bench/Value')) {
            received++;
            lastAt = at;
        }
    });
    const t0 = performance.now();
    let sent = 0;
    while (performance.now() - t0 < seconds * 1000) {
        while (sent - received < window) {
            gx.sim.change(BENCH_SERVICE, BENCH_PATHS[sent % BENCH_PATHS.length]!, new Variant('d', sent + 2000000.5), 'items');
            sent++;
        }
        await new Promise((resolve) => setImmediate(resolve));
    }
    const deadline = performance.now() + 5000;
    while (received < sent && performance.now() < deadline)
        await sleep(5);
    await closeAll(client);
    return { perSecond: (received / (lastAt - t0)) * 1000, received, sent };
}

/** The broker process's user + system time so far, in microseconds (all its threads; the kernel's clock ticks). */
function brokerCpuMicros(broker: RunningBroker): number {
    const stat = fs.readFileSync(`/proc/${broker.proc.pid!}/stat`, 'utf8');
    // The fields after the command name (which may hold spaces) in parentheses; utime and stime are the 14th and 15th.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    const ticksPerSecond = 100; // USER_HZ on Linux
    return ((Number(fields[11]) + Number(fields[12])) * 1e6) / ticksPerSecond;
}

/**
 * W/ of a double item of the bench service, one at a time, each sent when the previous one's N/ came back:
 * `warmUp` not measured, then `count`. Gives the round trip's median and p99 (ms) and the broker's CPU time per
 * write (µs). The client waits for the N/ without spinning, so the broker has a core of its own.
 */
async function writes(gx: Gx, id: string, count: number, warmUp = WRITE_WARMUP): Promise<{ median: number; p99: number; cpuMicros: number; lost: number }> {
    const client = await connect(gx.broker.port, { protocolVersion: 4 });
    await ensureBenchService(gx);
    const topic = `N/${id}/battery/900/Bench/Value0`;
    await client.subscribeAsync(topic);
    await client.publishAsync(`R/${id}/keepalive`, '{"keepalive-options":["suppress-republish"]}');
    await sleep(200);
    let expected = '';
    let arrived: (() => void) | undefined;
    client.on('message', (t, payload) => {
        if (t === topic && arrived && payload.toString() === expected)
            arrived();
    });
    const times: number[] = [];
    let lost = 0;
    let cpu0 = 0;
    for (let i = 0; i < warmUp + count; i++) {
        if (i === warmUp)
            cpu0 = brokerCpuMicros(gx.broker);
        const value = `${100 + (i % 100000)}.5`;
        expected = `{"value":${value}}`;
        const t0 = performance.now();
        const ok = await new Promise<boolean>((resolve) => {
            const timer = setTimeout(() => resolve(false), 2000);
            arrived = () => {
                clearTimeout(timer);
                resolve(true);
            };
            client.publish(`W/${id}/battery/900/Bench/Value0`, expected);
        });
        arrived = undefined;
        if (!ok)
            lost++;
        else if (i >= warmUp)
            times.push(performance.now() - t0);
    }
    const cpuMicros = (brokerCpuMicros(gx.broker) - cpu0) / count;
    await closeAll(client);
    return { median: median(times), p99: percentile(times, 0.99), cpuMicros, lost };
}

/** RSS with its anonymous part, and the peak RSS so far, in MB (1,000,000 bytes), from the kernel's view. */
function memory(broker: RunningBroker): { text: string; peak: string } {
    let status = '';
    try {
        status = fs.readFileSync(`/proc/${broker.proc.pid!}/status`, 'utf8');
    } catch {
        return { text: 'gone', peak: 'gone' };
    }
    const mb = (field: string): string => ((Number(new RegExp(`${field}:\\s+(\\d+)`).exec(status)?.[1] ?? NaN) * 1024) / 1e6).toFixed(1);
    return { text: `${mb('VmRSS')} (${mb('RssAnon')})`, peak: mb('VmHWM') };
}

interface Row {
    figure: string;
    values: Map<string, string>;
}

interface Mode {
    label: string;
    wrapper?: string[];
}

interface Workload {
    label: string;
    sim: { recording?: string; scale?: { services: number; paths: number } };
}

async function main(): Promise<void> {
    if (!flashmqBinary()) {
        console.log('SKIPPED: the benchmark needs flashmq (FLASHMQ_BIN, PATH or scripts/flashmq.sh)');
        return;
    }
    const id = devicePortalId();
    const plugins: Plugin[] = VARIANTS.map((args) => ({
        label: args === undefined ? 'ours' : `ours [${args || 'default'}]`, so: pluginPath, original: false, ...(args ? { nodeArgs: args } : {}),
    }));
    if (BEFORE)
        plugins.push({ label: 'ours before', so: BEFORE, original: false });
    if (COMPARE)
        plugins.push({ label: 'original', so: COMPARE, original: true });
    const modes: Mode[] = [{ label: 'no limits' }];
    if (!SKIP_LIMITS)
        modes.push({ label: 'Venus limits', wrapper: VENUS_LIMITS });
    const workloads: Workload[] = [];
    if (!SKIP_BCT)
        workloads.push({ label: 'bct', sim: { recording: 'bct' } });
    if (!SKIP_SCALE)
        workloads.push({ label: '50,000 items', sim: { scale: { services: 100, paths: 500 } } });
    const columns = modes.flatMap((m) => plugins.map((p) => `${p.label}, ${m.label}`));
    const rows: Row[] = [];
    /** Each figure's values over the repeats, as text; numbers of a figure given as numbers are reported as medians. */
    const samples = new Map<string, Map<string, Array<string | number[]>>>();
    const order: string[] = [];
    const put = (figure: string, column: string, value: string | number[]): void => {
        if (!samples.has(figure)) {
            samples.set(figure, new Map());
            order.push(figure);
        }
        const byColumn = samples.get(figure)!;
        byColumn.set(column, [...(byColumn.get(column) ?? []), value]);
    };

    // One start that is not measured: the bench's own code (the simulator, the MQTT client) warms up on it, so that the
    // plugin measured first does not pay for it (its start-up row was 100 ms or more above the same build's in another
    // column).
    if (workloads[0] && plugins[0])
        await stopGx(await startGx(plugins[0], id, workloads[0].sim, undefined, codeCacheFile(plugins[0], modes[0]!.label)));
    if (CODE_CACHE_DIR !== undefined && workloads[0]) {
        fs.mkdirSync(CODE_CACHE_DIR, { recursive: true });
        fs.chmodSync(CODE_CACHE_DIR, 0o777);
        // Each build of ours, in each mode, makes its cache at its first trim (a few seconds after discovery) on a
        // start that is not measured, as a device does after its first start.
        for (const mode of modes) {
            for (const plugin of plugins) {
                const file = codeCacheFile(plugin, mode.label);
                if (file === undefined || fs.existsSync(file))
                    continue;
                const gx = await startGx(plugin, id, workloads[0].sim, mode.wrapper, file);
                for (let waited = 0; waited < 60_000 && !fs.existsSync(file) && gx.broker.running; waited += 200)
                    await sleep(200); // written beside it and renamed: once it is there, it is whole
                await stopGx(gx);
                if (!fs.existsSync(file))
                    throw new Error(`${plugin.label} (${mode.label}) made no code cache at ${file} within 60 s (the directory must be writable by the broker's user)`);
            }
        }
    }

    for (const workload of workloads) {
        for (let repeat = 0; repeat < REPEAT; repeat++) {
            for (const mode of modes) {
                for (const plugin of plugins) {
                    const column = `${plugin.label}, ${mode.label}`;
                    const w = workload.label;
                    let gx: (Gx & { gc: GcEvent[] }) | undefined;
                    try {
                        gx = await startGx(plugin, id, workload.sim, mode.wrapper, codeCacheFile(plugin, mode.label));
                        put(`${w}: start-up, broker start to a keep-alive answered with all topics (ms)`, column, `${gx.startMs.toFixed(0)} (${gx.startupTopics} topics)`);
                        await sleep(4000); // ours gives back what start-up took 3 s after discovery
                        const idleFrom = performance.now();
                        if (doing('idle'))
                            put(`${w}: RSS (anonymous) idle, MB`, column, memory(gx.broker).text);
                        if (doing('fullpublish')) {
                            const fp = await fullPublishTimes(gx, id);
                            put(`${w}: keep-alive to full_publish_completed, median (ms)`, column, `${fp.ms.toFixed(1)} (${fp.messages} messages)`);
                            put(`${w}: RSS (anonymous) after ${ROUNDS} full publishes, MB`, column, memory(gx.broker).text);
                        }
                        if (doing('changes')) {
                            await ensureBenchService(gx);
                            // The heap's idle allocation rate (timers, the stats line): subtracted from the changes'.
                            await sleep(GC ? 3000 : 0);
                            const idle = gcBetween(gx.gc, idleFrom, performance.now());
                            const idleRate = idle.allocated / ((performance.now() - idleFrom) / 1000);
                            for (const rate of RATES) {
                                const l = await changeLatency(gx, id, rate, CHANGE_SECONDS !== undefined ? Number(CHANGE_SECONDS) : rate >= 1000 ? 4 : 3);
                                put(`${w}: change latency at ${rate}/s, p50 / p99 (ms)`, column, [l.p50, l.p99]);
                                put(`${w}: change latency at ${rate}/s, p99.9 / max (ms)`, column, [l.p999, l.max]);
                                if (l.received !== l.sent)
                                    put(`${w}: change latency at ${rate}/s, lost`, column, `${l.sent - l.received}/${l.sent}`);
                                if (GC && !plugin.original) {
                                    const g = gcBetween(gx.gc, l.from, l.to + 200);
                                    const s = (l.to + 200 - l.from) / 1000;
                                    // A collection reports what was allocated since the one before, maybe long before the window:
                                    // the bytes per change mean something only with several collections in it.
                                    const perChange = g.scavenges + g.others >= 4 ? Math.max(0, (g.allocated - idleRate * s) / l.sent).toFixed(0) : '-';
                                    put(`${w}: at ${rate}/s, scavenges / other collections per s; longest pause (ms); bytes allocated per change`, column,
                                        `${(g.scavenges / s).toFixed(2)} / ${(g.others / s).toFixed(2)}; ${g.maxPause.toFixed(1)}; ${perChange}`);
                                }
                            }
                        }
                        if (doing('most')) {
                            const most = await maxThroughput(gx, id, 3);
                            put(`${w}: most changes delivered per second`, column, `${(most.perSecond / 1000).toFixed(1)} k (${most.received}/${most.sent})`);
                        }
                        if (doing('writes')) {
                            const wr = await writes(gx, id, WRITES);
                            put(`${w}: write round trip W/ -> N/, median / p99 (ms)`, column, `${wr.median.toFixed(2)} / ${wr.p99.toFixed(2)}${wr.lost ? ` (${wr.lost} lost)` : ''}`);
                            put(`${w}: broker CPU per write (µs, ${WRITES} writes after ${WRITE_WARMUP})`, column, wr.cpuMicros.toFixed(0));
                        }
                        await sleep(1000);
                        const after = memory(gx.broker);
                        put(ONLY === undefined ? `${w}: RSS (anonymous) after the change load and writes, MB` : `${w}: RSS (anonymous) at the end, MB`, column, after.text);
                        put(`${w}: peak RSS, MB`, column, after.peak);
                        put(`${w}: still serving at the end`, column, gx.broker.running && (await canConnect(gx.broker.port)) ? 'yes' : `no: ${JSON.stringify(await gx.broker.exited)}`);
                    } catch (err) {
                        put(`${w}: still serving at the end`, column, `no: ${(err instanceof Error ? err.message : String(err)).split('\n')[0]!.slice(0, 120)}`);
                    } finally {
                        if (gx)
                            await stopGx(gx);
                    }
                }
            }
        }
    }

    for (const figure of order) {
        const values = new Map<string, string>();
        for (const [column, xs] of samples.get(figure)!) {
            if (typeof xs[0] === 'string') {
                values.set(column, (xs as string[]).join('; '));
                continue;
            }
            // Numbers: the median over the repeats of each, and each repeat's in brackets when there are several.
            const arrays = xs as number[][];
            const medians = arrays[0]!.map((_, i) => median(arrays.map((a) => a[i]!)).toFixed(2)).join(' / ');
            values.set(column, arrays.length === 1 ? medians : `${medians} (${arrays.map((a) => a.map((x) => x.toFixed(2)).join('/')).join(', ')})`);
        }
        rows.push({ figure, values });
    }

    console.log(`# Plugin benchmark on a simulated GX device, ${new Date().toISOString()}, ${process.arch}; median of ${ROUNDS} where it says median`
        + `${REPEAT > 1 ? `; each plugin started ${REPEAT} times, alternating: medians over those, each in brackets` : ''}`);
    console.log(`Venus limits: ${VENUS_LIMITS.slice(0, -1).join(' ')}; MB = 1,000,000 bytes; the simulator, the bus, the broker and the clients share the machine's cores`);
    console.log(`\n| figure | ${columns.join(' | ')} |`);
    console.log(`|---|${columns.map(() => '---').join('|')}|`);
    for (const row of rows)
        console.log(`| ${row.figure} | ${columns.map((c) => row.values.get(c) ?? '-').join(' | ')} |`);
}

main().catch((err: unknown) => {
    console.error(err);
    process.exitCode = 1;
});
