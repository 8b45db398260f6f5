// Benchmark of the plugin end to end on a simulated GX device (not a test: it prints numbers). It takes any plugin
// .so, so the original C++ plugin can be measured side by side with ours in the same run:
//
//   npm run bench:venus                                   # ours only (with each D-Bus client)
//   npm run bench:venus -- --compare /path/to/libflashmq-dbus-plugin.so [--rounds 5] [--skip-scale]
//
// Per plugin, on the bct recording: start-up (broker start -> a keep-alive answered with every topic), keep-alive ->
// full_publish_completed, change latency (D-Bus signal -> MQTT message) p50/p99 at 100, 1,000 and 5,000 changes
// per second, most changes delivered per second, write round trip (W/ -> N/), broker RSS after the load; on
// 100 x 500 synthetic items: start-up and full publish. The broker runs with Venus' limits: client_max_write_buffer_size 4194304, tcp_nodelay.
//
// The original reads its portal id from /data/venus/unique-id and takes the bus from DBUS_SYSTEM_BUS_ADDRESS; both
// plugins are given the same (the file is written if it is missing).
import * as fs from 'node:fs';

import { Variant } from 'dbus-next';
import type { MqttClient } from 'mqtt';

import { Simulator } from '../ts/sim';
import { startDbusDaemon } from '../test/helpers/dbus-daemon';
import type { DbusDaemon } from '../test/helpers/dbus-daemon';
import type { RunningBroker } from '../test/helpers/flashmq';
import { canConnect, flashmqBinary, pluginPath, sleep, startBroker } from '../test/helpers/flashmq';
import { closeAll, connect } from '../test/helpers/mqtt';
import { recordingsDir } from '../test/helpers/venus';
import { flag, option } from './args';

const ROUNDS = Number(option('rounds') ?? 5);
const COMPARE = option('compare');
const SKIP_SCALE = flag('skip-scale');
const UNIQUE_ID_FILE = '/data/venus/unique-id';

interface Plugin {
    label: string;
    so: string;
    original: boolean;
    options?: Record<string, string>;
}

const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] ?? NaN;
const percentile = (xs: number[], p: number): number => [...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.floor(xs.length * p))] ?? NaN;

function portalId(): string {
    try {
        const id = fs.readFileSync(UNIQUE_ID_FILE, 'utf8').split('\n')[0]!.trim();
        if (id)
            return id;
    } catch {
        // written below
    }
    fs.mkdirSync('/data/venus', { recursive: true });
    fs.writeFileSync(UNIQUE_ID_FILE, 'c0619ab1a2b3\n');
    return 'c0619ab1a2b3';
}

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

async function startGx(plugin: Plugin, id: string, sim: { recording?: string; scale?: { services: number; paths: number } }): Promise<Gx> {
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
        pluginOptions: plugin.original ? { skip_broker_registration: 'true' } : { portal_id: id, ...plugin.options },
        extraConfig: 'client_max_write_buffer_size 4194304',
        listenerConfig: ['tcp_nodelay true'],
    });
    while (!(await canConnect(broker.port)))
        await sleep(1);
    // Start-up ends when a keep-alive is answered with every topic.
    const expected = simulator.itemCount() - (sim.recording === 'bct' ? 1 : 0); // bct's one blocked item
    const client = await connect(broker.port, { protocolVersion: 4 });
    const topics = new Set<string>();
    let done = false;
    client.on('message', (topic) => {
        if (topic.endsWith('/full_publish_completed'))
            done = true;
        else if (!topic.endsWith('/heartbeat'))
            topics.add(topic);
    });
    await client.subscribeAsync(`N/${id}/#`);
    let startMs = NaN;
    for (let attempt = 0; attempt < 200; attempt++) {
        done = false;
        topics.clear();
        await client.publishAsync(`R/${id}/keepalive`, '');
        const deadline = performance.now() + 2000;
        while (!done && performance.now() < deadline)
            await sleep(1);
        if (done && topics.size >= expected) {
            startMs = performance.now() - t0;
            break;
        }
        await sleep(50);
    }
    const startupTopics = topics.size;
    await closeAll(client);
    return { daemon, sim: simulator, broker, startMs, startupTopics };
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

async function changeLatency(gx: Gx, id: string, rate: number, seconds: number): Promise<{ p50: number; p99: number; received: number; sent: number }> {
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
    const total = rate * seconds;
    const t0 = performance.now();
    let k = 0;
    while (k < total) {
        const due = Math.min(total, Math.floor(((performance.now() - t0) / 1000) * rate));
        while (k < due) {
            const value = k + 1000000.5;
            sentAt.set(value, performance.now());
            gx.sim.change(service, paths[k % paths.length]!, new Variant('d', value), 'items');
            k++;
        }
        await new Promise((resolve) => setImmediate(resolve));
    }
    await sleep(500);
    await closeAll(client);
    return { p50: percentile(latencies, 0.5), p99: percentile(latencies, 0.99), received: latencies.length, sent: total };
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

async function writeRoundTrip(gx: Gx, id: string): Promise<number> {
    const client = await connect(gx.broker.port, { protocolVersion: 4 });
    const c = new Collector(client);
    const topic = `N/${id}/settings/0/Settings/Generator0/TestRun/Duration`;
    await client.subscribeAsync(topic);
    await client.publishAsync(`R/${id}/keepalive`, '{"keepalive-options":["suppress-republish"]}');
    await sleep(200);
    const times: number[] = [];
    for (let i = 0; i < 50; i++) {
        const value = 100 + i;
        let arrived = 0;
        const off = c.on((t, payload, at) => {
            if (t === topic && payload.toString().includes(`"value":${value}`))
                arrived = at;
        });
        const t0 = performance.now();
        await client.publishAsync(`W/${id}/settings/0/Settings/Generator0/TestRun/Duration`, `{"value":${value}}`);
        while (arrived === 0 && performance.now() - t0 < 2000)
            await new Promise((resolve) => setImmediate(resolve));
        off();
        if (arrived)
            times.push(arrived - t0);
    }
    await closeAll(client);
    return median(times);
}

/** RSS in MB, with its private (anonymous) and file-backed parts: the latter is mostly shared library code. */
function rss(broker: RunningBroker): string {
    const status = fs.readFileSync(`/proc/${broker.proc.pid!}/status`, 'utf8');
    const mb = (field: string): string => (Number(new RegExp(`${field}:\\s+(\\d+)`).exec(status)?.[1] ?? NaN) / 1024).toFixed(1);
    return `${mb('VmRSS')} (${mb('RssAnon')} + ${mb('RssFile')})`;
}

interface Row {
    figure: string;
    values: Map<string, string>;
}

async function main(): Promise<void> {
    if (!flashmqBinary()) {
        console.log('SKIPPED: the benchmark needs flashmq (FLASHMQ_BIN, PATH or scripts/flashmq.sh)');
        return;
    }
    const id = portalId();
    // Ours with each D-Bus client (plugin_opt_dbus_client): dbus-next, the default, and the plugin's own wire client.
    const plugins: Plugin[] = [
        { label: 'ours (dbus-next)', so: pluginPath, original: false, options: { dbus_client: 'dbus-next' } },
        { label: 'ours (wire)', so: pluginPath, original: false, options: { dbus_client: 'wire' } },
    ];
    if (COMPARE)
        plugins.push({ label: 'original', so: COMPARE, original: true });
    const rows: Row[] = [];
    const put = (figure: string, plugin: string, value: string): void => {
        let row = rows.find((r) => r.figure === figure);
        if (!row) {
            row = { figure, values: new Map() };
            rows.push(row);
        }
        row.values.set(plugin, value);
    };

    for (const plugin of plugins) {
        const gx = await startGx(plugin, id, { recording: 'bct' });
        put('bct: start-up, broker start to a keep-alive answered with all topics (ms)', plugin.label, `${gx.startMs.toFixed(0)} (${gx.startupTopics} topics)`);
        const fp = await fullPublishTimes(gx, id);
        put('bct: keep-alive to full_publish_completed, median (ms)', plugin.label, fp.ms.toFixed(1));
        put('bct: messages per second within that burst', plugin.label, `${((fp.messages / fp.ms) * 1000 / 1e6).toFixed(2)} M (${fp.messages} messages)`);
        for (const rate of [100, 1000, 5000]) {
            const l = await changeLatency(gx, id, rate, rate >= 1000 ? 4 : 3);
            put(`change latency at ${rate}/s, p50 / p99 (ms)`, plugin.label, `${l.p50.toFixed(2)} / ${l.p99.toFixed(2)} (${l.received}/${l.sent})`);
        }
        const most = await maxThroughput(gx, id, 3);
        put('most changes delivered per second (simulator, bus, broker and client share the cores)', plugin.label,
            `${(most.perSecond / 1000).toFixed(1)} k (${most.received}/${most.sent})`);
        put('write round trip W/ -> N/, median (ms)', plugin.label, (await writeRoundTrip(gx, id)).toFixed(2));
        put('bct: broker RSS after the load, MB (anonymous + file-backed)', plugin.label, rss(gx.broker));
        await stopGx(gx);

        if (!SKIP_SCALE) {
            const big = await startGx(plugin, id, { scale: { services: 100, paths: 500 } });
            put('50,000 items: start-up (ms)', plugin.label, `${big.startMs.toFixed(0)} (${big.startupTopics} topics)`);
            const fpBig = await fullPublishTimes(big, id);
            put('50,000 items: keep-alive to full_publish_completed, median (ms)', plugin.label, `${fpBig.ms.toFixed(1)} (${fpBig.messages} messages)`);
            put('50,000 items: broker RSS, MB (anonymous + file-backed)', plugin.label, rss(big.broker));
            await stopGx(big);
        }
    }

    console.log(`# Plugin benchmark on a simulated GX device, ${new Date().toISOString()}, median of ${ROUNDS} where it says median`);
    console.log(`\n| figure | ${plugins.map((p) => p.label).join(' | ')} |`);
    console.log(`|---|${plugins.map(() => '---').join('|')}|`);
    for (const row of rows)
        console.log(`| ${row.figure} | ${plugins.map((p) => row.values.get(p.label) ?? '-').join(' | ')} |`);
}

main().catch((err: unknown) => {
    console.error(err);
    process.exitCode = 1;
});
