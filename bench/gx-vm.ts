// The package on an emulated GX device under full-system qemu (test/helpers/gx-vm.ts): a real kernel enforcing Venus
// OS's limits on FlashMQ, which runs as user flashmq under daemontools. Not a test: it prints numbers. Per target and
// load (the bct recording; 50,000 items), on a freshly booted device with the package installed as a user would: the
// service's start to FlashMQ's listener and to the plugin's "D-Bus discovery done", the broker's VmPeak, VmData and
// VmHWM (its /proc/<pid>/status) after a full publish, a burst of changes and a write, V8's heap at its largest (the
// plugin's stats lines), the plugin's memory line, the guest CPU time the broker spent per full publish, per 1,000
// changes and per write (the first 20 writes, cold code, and the next 100), and how long the run took.
//
//   npm run bench:gx [-- --arch armhf|arm64] [--load bct|50k] [--flashmq 1.23.2|1.26.2|1.21.1] [--stock <plugin .so>]
//   npm run bench:gx -- --compare <plugin .so> [--arch armhf] [--load bct|50k] [--flashmq 1.26.2] [--rate 500] [--seconds 60]
//       [--code-cache none|<file>] (ours without the code cache, or with it in another file; by default install.sh's
//       directory holds it: the first start makes it, and the measured restart uses it) [--node-args "<V8 flags>"]
//       (plugin_opt_node_args for ours)
//
// --stock <file> (of --arch's architecture) adds a baseline row: the same load on an image whose stock plugin is that
// file, without our package (the original plugin, built for ARM with scripts/baseline-arm.sh: it takes its portal id
// from /data/venus/unique-id and logs nothing when its discovery is done, so readiness is its retained
// N/<id>/system/0/Serial).
//
// --compare <file>: ours and that plugin side by side, one device each per load, both under Venus's limits on the
// real kernel, FlashMQ 1.26.2 unless --flashmq says otherwise, armhf unless --arch says otherwise. After the figures
// above (the change load paced instead: --rate changes per second for --seconds), the broker is restarted (svc -t)
// with the services on the bus, and a new client every 0.3 s sends a keep-alive once it is in, until one is answered
// with all the topics: start to listening, to discovery (ours), to that first full publish answered; then the CPU of
// the first 20 writes after the restart (ours with the code cache the first start made), 8 s later for both plugins,
// past ours' start-up trim (a full collection that would otherwise be counted as the writes'). Printed as one
// table per load (ours, the other, ours / other), then both start-ups as their log lines show them.
//
// Start times are the guest's log times (multilog's) from the run script's first line; the first full publish answered
// is the host's time from that client's CONNACK to the completion, added to the guest's time of its login. CPU figures are the guest's (utime + stime of the broker in /proc/<pid>/stat) under TCG emulation:
// compare the columns with each other, not with a device.
import { Variant } from 'dbus-next';
import type { MqttClient } from 'mqtt';
import { connect as mqttConnect } from 'mqtt';

import type { Simulator } from '../ts/sim';
import { fullPublish } from '../test/helpers/conformance';
import type { GxArch, GxImage, LogLine } from '../test/helpers/gx-vm';
import { brokerFacts, flashmqLog, GX_ARCHS, GxVm, lastStart, logEnd, missingForGxVm, packageFor, prepareImage, servicePid, waitForLog, waitForRetainedSerial } from '../test/helpers/gx-vm';
import { closeAll, connect, Inbox } from '../test/helpers/mqtt';
import { PORTAL_ID } from '../test/helpers/venus';
import { numberOption, option } from './args';
import type { Load } from './gx-load';
import { BURST, BURST_PATHS, loadDevice } from './gx-load';

const compare = option('compare');
const onlyArch = (option('arch') ?? (compare !== undefined ? 'armhf' : undefined)) as GxArch | undefined;
const onlyLoad = option('load') as Load | undefined;
const flashmq = option('flashmq') ?? (compare !== undefined ? '1.26.2' : '1.23.2');
const stock = option('stock');
const codeCache = option('code-cache'); // plugin_opt_code_cache for ours (none: without; the default path otherwise)
const nodeArgs = option('node-args'); // plugin_opt_node_args for ours (V8's and Node's flags)
const RATE = numberOption('rate', 500);
const SECONDS = numberOption('seconds', 60);
const N = `N/${PORTAL_ID}`;
const CHANGES: Record<Load, number> = { bct: 2000, '50k': 20_000 };
const USER_HZ = 100; // Linux's clock ticks in /proc/<pid>/stat, on ARM as everywhere
const loadName = (load: Load): string => (load === 'bct' ? 'bct' : '50,000 items');

const mb = (kb: number): string => (kb * 1024 / 1e6).toFixed(1);
const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));
const median = (xs: number[]): number => {
    const s = [...xs].sort((a, b) => a - b);
    return s.length === 0 ? NaN : s.length % 2 ? s[(s.length - 1) / 2]! : (s[s.length / 2 - 1]! + s[s.length / 2]!) / 2;
};

/** The broker's CPU time so far (utime + stime), seconds. */
async function cpuSeconds(vm: GxVm, pid: number): Promise<number> {
    const stat = await vm.sh(`cat /proc/${pid}/stat`);
    const fields = stat.slice(stat.lastIndexOf(')') + 2).trim().split(/\s+/);
    return (Number(fields[11]) + Number(fields[12])) / USER_HZ; // fields 14 and 15 of the whole line
}

/**
 * A keep-alive and its answer, timed on this machine: the topics before N/<id>/full_publish_completed with the echo
 * (counted as they come, without keeping them: 50,000 items), the seconds from the keep-alive to the completion.
 */
async function timedFullPublish(client: MqttClient, echo: string, timeoutMs: number): Promise<{ seconds: number; topics: number }> {
    const topics = new Set<string>();
    let onMessage: ((topic: string, payload: Buffer) => void) | undefined;
    let timer: NodeJS.Timeout | undefined;
    let onClose: (() => void) | undefined;
    const sent = Date.now();
    try {
        const done = new Promise<number>((resolve, reject) => {
            onMessage = (topic, payload) => {
                if (topic === `${N}/full_publish_completed`) {
                    if (payload.toString().includes(`"${echo}"`))
                        resolve(Date.now());
                } else {
                    topics.add(topic);
                }
            };
            onClose = () => reject(new Error('the connection closed'));
            timer = setTimeout(() => reject(new Error(`no full_publish_completed '${echo}' within ${timeoutMs / 1000} s`)), timeoutMs);
            client.on('message', onMessage);
            client.once('close', onClose);
        });
        await client.publishAsync(`R/${PORTAL_ID}/keepalive`, JSON.stringify({ 'keepalive-options': [{ 'full-publish-completed-echo': echo }] }));
        const at = await done;
        return { seconds: (at - sent) / 1000, topics: topics.size };
    } finally {
        clearTimeout(timer);
        if (onMessage)
            client.off('message', onMessage);
        if (onClose)
            client.off('close', onClose);
    }
}

/** A connected client within ms, or undefined (connection refused, closed before CONNACK, no answer). */
function tryConnect(port: number, ms: number): Promise<MqttClient | undefined> {
    return new Promise((resolve) => {
        const client = mqttConnect(`mqtt://127.0.0.1:${port}`, { protocolVersion: 4, reconnectPeriod: 0, connectTimeout: ms });
        const settle = (ok: boolean): void => {
            clearTimeout(timer);
            client.off('connect', onConnect);
            client.off('close', onClose);
            if (ok) {
                resolve(client);
            } else {
                client.end(true);
                resolve(undefined);
            }
        };
        const onConnect = (): void => settle(true);
        const onClose = (): void => settle(false);
        const timer = setTimeout(() => settle(false), ms);
        client.on('error', () => undefined);
        client.once('connect', onConnect);
        client.once('close', onClose);
    });
}

interface Restart {
    /** The first 20 writes after the restart: ours with the code cache the first start made. */
    cpuPerWrite?: number;
    toListening?: number;
    toDiscovery?: number;
    /** The service's start to the completion of the first keep-alive answered with all topics. */
    toFullPublish?: number;
    /** Keep-alives sent (one per client that got in) until then. */
    keepalivesSent: number;
    /** The start's log lines, seconds from the run script's first line. */
    timeline: Array<{ at: number; text: string }>;
}

/** Writes `value` to the burst service's `path` and waits for its N/ to come back with it (a write's round trip). */
async function writeAndWait(client: MqttClient, inbox: Inbox, path: string, value: number): Promise<void> {
    const payload = `{"value":${value}}`;
    inbox.clear();
    await client.publishAsync(`W/${PORTAL_ID}/battery/901${path}`, payload);
    await inbox.waitFor((m) => m.topic === `${N}/battery/901${path}` && m.payload.toString() === payload, 60_000);
}

/**
 * CPU seconds per write of the first `count` writes of the broker as it runs now (a client of its own). Called right
 * after a start: it first waits past ours' start-up trim (a full collection 3 to 6 s after discovery, logged below the
 * device's log level), which would otherwise fall among the writes and be counted as theirs. Both plugins wait as long.
 */
async function firstWrites(vm: GxVm, count: number): Promise<number> {
    await sleep(8000);
    const pid = (await servicePid(vm))!;
    const client = await connect(vm.mqttPort, { protocolVersion: 4 });
    try {
        const inbox = await Inbox.subscribe(client, `${N}/battery/901/#`);
        await client.publishAsync(`R/${PORTAL_ID}/keepalive`, '{"keepalive-options":["suppress-republish"]}');
        await sleep(1000);
        const cpu = await cpuSeconds(vm, pid);
        for (let i = 0; i < count; i++)
            await writeAndWait(client, inbox, '/Burst/Value1', i + 0.25);
        return (await cpuSeconds(vm, pid) - cpu) / count;
    } finally {
        await closeAll(client);
    }
}

/**
 * Restarts the broker (svc -t) with the services on the bus; clients connect as soon as the new broker accepts them and
 * send a keep-alive, until one is answered with at least `topics` topics.
 */
async function measuredRestart(vm: GxVm, topics: number): Promise<Restart> {
    const oldPid = await servicePid(vm);
    const after = await logEnd(vm);
    await vm.sh('svc -t /service/flashmq');
    const deadline = Date.now() + 600_000;
    while ((await servicePid(vm)) === oldPid && Date.now() < deadline)
        await sleep(20);
    // A new client every 0.3 s while none waits for an answer (straight to qemu's forward: one at a time is safe at
    // that pace): a client refused, or denied after a delay (the original before it has read LAN MQTT's setting), does
    // not hold the next one up. One keep-alive at a time: a client that gets in while another waits for its answer
    // leaves (many full publishes of 50,000 items at once exceed Venus's limits: the original's broker ends with
    // std::bad_alloc). The first answered with all topics wins; the rest are closed.
    let keepalivesSent = 0;
    let winner: { completedAt: number; connectedAt: number; clientId: string } | undefined;
    const clients = new Set<MqttClient>();
    const attempts: Array<Promise<void>> = [];
    let waiting = false;
    const attempt = async (): Promise<void> => {
        const client = await tryConnect(vm.forwardedMqttPort, 10_000);
        if (!client)
            return;
        clients.add(client);
        let mine = false;
        try {
            if (winner || waiting)
                return;
            waiting = mine = true;
            const connectedAt = Date.now();
            await client.subscribeAsync(`${N}/#`, { qos: 0 });
            keepalivesSent++;
            const answer = await timedFullPublish(client, `restart-${keepalivesSent}`, 120_000);
            if (answer.topics >= topics && !winner)
                winner = { completedAt: Date.now(), connectedAt, clientId: client.options.clientId ?? '' };
        } catch {
            // closed (refused, denied, or a winner came first)
        } finally {
            if (mine)
                waiting = false;
            clients.delete(client);
            client.end(true);
        }
    };
    while (!winner && Date.now() < deadline) {
        if (!waiting && clients.size < 20)
            attempts.push(attempt());
        await sleep(300);
    }
    for (const client of clients)
        client.end(true);
    await Promise.race([Promise.all(attempts), sleep(15_000)]);
    const completedAt = winner?.completedAt;
    const connectedAt = winner?.connectedAt ?? 0;
    const clientId = winner?.clientId ?? '';
    const lines: LogLine[] = (await flashmqLog(vm)).filter((l) => l.at > after);
    const runStart = lines.findIndex((l) => l.text.startsWith('*** starting flashmq ***'));
    const run = runStart >= 0 ? lines.slice(runStart) : [];
    const start = lastStart(run);
    const t0 = run[0]?.at;
    // The guest's clock is brought to this machine's through the client's login: FlashMQ logs it right before its
    // CONNACK, which this machine took as the moment of connection (a few ms later).
    const login = run.find((l) => l.text.includes(`ClientID='${clientId}'`) && /logged in/.test(l.text));
    return {
        toListening: start.toListening, toDiscovery: start.toDiscovery, keepalivesSent,
        toFullPublish: completedAt !== undefined && t0 !== undefined && login ? (completedAt - connectedAt) / 1000 + login.at - t0 : undefined,
        timeline: t0 === undefined ? [] : run.filter((l) => l.at - t0 < 120).map((l) => ({ at: l.at - t0, text: l.text })),
    };
}

interface Figures {
    toListening?: number;
    toDiscovery?: number;
    vmPeakKb: number;
    vmDataKb: number;
    vmHwmKb: number;
    heap?: { used: number; total: number; limit: number };
    topics: number;
    cpuPerPublish: number;
    /** Keep-alive to its full_publish_completed, median of the rounds, s. */
    keepaliveToCompletion: number;
    cpuPerThousand: number;
    changesSent: number;
    changesDelivered: number;
    changeSeconds: number;
    cpuPerWrite: number;
    /** After the first 20: the write path compiled. */
    cpuPerWarmWrite: number;
    runSeconds: number;
    memoryLines: string[];
    restart?: Restart;
}

async function measure(arch: GxArch, load: Load, image: GxImage, ours: boolean, paced: boolean, restart: boolean): Promise<Figures> {
    const started = Date.now();
    let vm: GxVm | undefined;
    let sim: Simulator | undefined;
    let client: MqttClient | undefined;
    try {
        vm = await GxVm.boot({ image });
        sim = await loadDevice(vm, load);
        if (ours) {
            // The plugin's stats lines give V8's heap (its peak is read from them at the end).
            await vm.writeFile('/data/conf/dbus-flashmq-ts.options', `plugin_opt_stats_interval_s ${paced ? 30 : 5}\n` +
                (codeCache === undefined ? '' : `plugin_opt_code_cache ${codeCache}\n`) +
                (nodeArgs === undefined ? '' : `plugin_opt_node_args "${nodeArgs}"\n`));
            const after = await logEnd(vm);
            const archive = vm.shareFile(packageFor(arch)!);
            await vm.sh(`tar -xzf '${archive}' -C /data && rm -f '${archive}' && /data/dbus-flashmq-ts/install.sh`);
            await waitForLog(vm, /dbus-flashmq: .*D-Bus discovery done/, { after, timeoutMs: 600_000 });
        } else {
            await vm.sh('svc -t /service/flashmq'); // a start with the services on the bus, as ours gets
            await sleep(2000);
            await waitForRetainedSerial(vm, PORTAL_ID, 600_000);
        }
        const start = lastStart(await flashmqLog(vm));
        const pid = (await servicePid(vm))!;
        client = await connect(vm.mqttPort, { protocolVersion: 4 });
        const inbox = await Inbox.subscribe(client, `${N}/#`);

        // Full publishes: the first one counts the topics; CPU over all rounds, each keep-alive's time on this machine.
        const topics = (await fullPublish(client, inbox, PORTAL_ID, 'bench-count', 600_000)).size;
        inbox.clear();
        const rounds = load === 'bct' ? 3 : 2;
        const times: number[] = [];
        let publishCpu = 0;
        for (let round = 0; round < rounds; round++) {
            await sleep(1100); // both plugins answer at most 3 keep-alives with a full publish per second
            const before = await cpuSeconds(vm, pid);
            times.push((await timedFullPublish(client, `bench-${round}`, 600_000)).seconds);
            publishCpu += await cpuSeconds(vm, pid) - before;
        }
        const cpuPerPublish = publishCpu / rounds;
        inbox.clear();

        // Changes: paced (rate per second for a time), or a burst as fast as they are delivered (at most 2,000 on the way).
        let received = 0;
        const count = (topic: string): void => {
            if (topic.startsWith(`${N}/battery/901/Burst/`))
                received++;
        };
        client.on('message', count);
        let sent = 0;
        // The plugins publish changes for 60 s after a keep-alive: one that asks for no full publish, every 20 s.
        const stayAlive = (): Promise<unknown> => client!.publishAsync(`R/${PORTAL_ID}/keepalive`, '{"keepalive-options":["suppress-republish"]}');
        await stayAlive();
        let aliveAt = Date.now();
        let cpu = await cpuSeconds(vm, pid);
        const changesStarted = Date.now();
        if (paced) {
            const total = RATE * SECONDS;
            while (sent < total) {
                if (Date.now() - aliveAt > 20_000) {
                    await stayAlive();
                    aliveAt = Date.now();
                }
                const due = Math.min(total, Math.floor((Date.now() - changesStarted) / 1000 * RATE));
                for (; sent < due; sent++)
                    sim.change(BURST, BURST_PATHS[sent % BURST_PATHS.length]!, new Variant('d', sent + 0.25), 'items');
                await sleep(10);
            }
            const drain = Date.now() + 60_000;
            while (received < sent && Date.now() < drain)
                await sleep(50);
        } else {
            const total = CHANGES[load];
            const deadline = Date.now() + 600_000;
            while (received < total && Date.now() < deadline) {
                while (sent < total && sent - received < 2000) {
                    sim.change(BURST, BURST_PATHS[sent % BURST_PATHS.length]!, new Variant('d', sent + 0.25), 'items');
                    sent++;
                }
                await sleep(5);
            }
        }
        const changeSeconds = (Date.now() - changesStarted) / 1000;
        client.off('message', count);
        const cpuPerThousand = (await cpuSeconds(vm, pid) - cpu) / (received / 1000);

        await stayAlive();
        // Writes one after another, each sent when the previous one's N/ came back: the first ones run cold code
        // (compiled on first use), the later ones what a device that has been up a while runs.
        const writer = client;
        const write = (i: number): Promise<void> => writeAndWait(writer, inbox, '/Burst/Value0', i + 0.5);
        const coldWrites = 20;
        const warmWrites = 100;
        cpu = await cpuSeconds(vm, pid);
        for (let i = 0; i < coldWrites; i++)
            await write(i);
        const cpuPerWrite = (await cpuSeconds(vm, pid) - cpu) / coldWrites;
        cpu = await cpuSeconds(vm, pid);
        for (let i = coldWrites; i < coldWrites + warmWrites; i++)
            await write(i);
        const cpuPerWarmWrite = (await cpuSeconds(vm, pid) - cpu) / warmWrites;
        inbox.clear();

        await sleep(5000); // the plugin's start-up trim comes 3 s after discovery
        const f = await brokerFacts(vm);
        let heap: Figures['heap'];
        for (const line of await flashmqLog(vm)) {
            const m = /dbus-flashmq: stats process (\{.*\})/.exec(line.text);
            if (!m)
                continue;
            const s = JSON.parse(m[1]!) as { heapUsedMb: number; heapTotalMb: number; heapLimitMb: number };
            heap = { used: Math.max(heap?.used ?? 0, s.heapUsedMb), total: Math.max(heap?.total ?? 0, s.heapTotalMb), limit: s.heapLimitMb };
        }
        await closeAll(client);
        client = undefined;
        const restarted = restart ? await measuredRestart(vm, Math.floor(topics * 0.99)) : undefined;
        if (restarted)
            restarted.cpuPerWrite = await firstWrites(vm, 20);
        return {
            toListening: start.toListening, toDiscovery: start.toDiscovery, vmPeakKb: f.vmPeakKb, vmDataKb: f.vmDataKb, vmHwmKb: f.vmHwmKb, heap,
            topics, cpuPerPublish, keepaliveToCompletion: median(times), cpuPerThousand, changesSent: sent, changesDelivered: received, changeSeconds,
            cpuPerWrite, cpuPerWarmWrite, runSeconds: (Date.now() - started) / 1000,
            memoryLines: start.memoryLines.map((l) => l.replace('dbus-flashmq: memory: ', '')), restart: restarted,
        };
    } catch (err) {
        const console_ = vm?.consoleLog().slice(-1500) ?? '';
        throw new Error(`${(err instanceof Error ? err.message : String(err)).split('\n')[0]}${console_ ? ` (console: ${console_.split('\n').slice(-3).join(' | ')})` : ''}`);
    } finally {
        await closeAll(client);
        await sim?.stop();
        await vm?.cleanup();
    }
}

const seconds = (x: number | undefined, digits = 2): string => (x === undefined || Number.isNaN(x) ? '-' : x.toFixed(digits));

function changesCell(f: Figures): string {
    const rate = f.changesDelivered / f.changeSeconds;
    return `${f.cpuPerThousand.toFixed(2)}${f.changesDelivered < f.changesSent ? ` (${f.changesDelivered} of ${f.changesSent} delivered)` : ''}, ${rate.toFixed(0)}/s`;
}

function row(arch: GxArch, load: Load, plugin: string, result: Figures | Error): string {
    if (result instanceof Error)
        return `| ${arch} | ${loadName(load)} | ${plugin} | failed: ${result.message} |`;
    const f = result;
    return `| ${arch} | ${loadName(load)} | ${plugin} | ${seconds(f.toListening)} | ${seconds(f.toDiscovery)} | ${mb(f.vmPeakKb)} | ${mb(f.vmDataKb)} | ${mb(f.vmHwmKb)} | `
        + `${f.heap ? `${f.heap.used.toFixed(1)} / ${f.heap.total.toFixed(1)} (${f.heap.limit.toFixed(0)})` : '-'} | ${f.cpuPerPublish.toFixed(2)} | `
        + `${changesCell(f)} | ${f.cpuPerWrite.toFixed(3)} / ${f.cpuPerWarmWrite.toFixed(4)} | ${f.runSeconds.toFixed(0)} s | ${f.memoryLines.join(' / ') || '-'} |`;
}

/** One table per load: the issue's figures, ours against the other plugin. */
function comparison(load: Load, ours: Figures | Error, other: Figures | Error): string[] {
    const out = [`\n#### ${loadName(load)}\n`];
    const failed = [ours, other].filter((r): r is Error => r instanceof Error);
    if (failed.length > 0) {
        if (ours instanceof Error)
            out.push(`ours failed: ${ours.message}`);
        if (other instanceof Error)
            out.push(`the other failed: ${other.message}`);
        return out;
    }
    const a = ours as Figures;
    const b = other as Figures;
    const lines: Array<[string, number | undefined, number | undefined, number]> = [
        ['start to listening, s', a.restart?.toListening, b.restart?.toListening, 2],
        ['start to first full publish answered (all topics; a new client every 0.3 s), s', a.restart?.toFullPublish, b.restart?.toFullPublish, 2],
        ['keep-alive to completion, s (median)', a.keepaliveToCompletion, b.keepaliveToCompletion, 2],
        ['CPU per full publish, s', a.cpuPerPublish, b.cpuPerPublish, 2],
        [`CPU per 1,000 changes (${RATE}/s for ${SECONDS} s), s`, a.cpuPerThousand, b.cpuPerThousand, 3],
        ['CPU per write, the first 20 (cold code), s', a.cpuPerWrite, b.cpuPerWrite, 3],
        ['CPU per write, the next 100, s', a.cpuPerWarmWrite, b.cpuPerWarmWrite, 4],
        ['CPU per write, the first 20 after the restart (ours: with the code cache), s', a.restart?.cpuPerWrite, b.restart?.cpuPerWrite, 3],
        ['VmPeak, MB', a.vmPeakKb * 1.024 / 1000, b.vmPeakKb * 1.024 / 1000, 1],
        ['VmData, MB', a.vmDataKb * 1.024 / 1000, b.vmDataKb * 1.024 / 1000, 1],
        ['VmHWM, MB', a.vmHwmKb * 1.024 / 1000, b.vmHwmKb * 1.024 / 1000, 1],
    ];
    out.push('| figure | ours | other | ours / other |', '|---|---|---|---|');
    for (const [name, x, y, digits] of lines)
        out.push(`| ${name} | ${seconds(x, digits)} | ${seconds(y, digits)} | ${x !== undefined && y !== undefined && y > 0 ? (x / y).toFixed(2) : '-'} |`);
    out.push(`| start to discovery done (ours' log), s | ${seconds(a.restart?.toDiscovery)} | - | |`);
    out.push(`| topics in a full publish | ${a.topics} | ${b.topics} | |`);
    out.push(`| changes delivered of sent | ${a.changesDelivered} of ${a.changesSent} | ${b.changesDelivered} of ${b.changesSent} | |`);
    out.push(`| clients in after the restart until one's keep-alive had all topics | ${a.restart?.keepalivesSent ?? '-'} | ${b.restart?.keepalivesSent ?? '-'} | |`);
    out.push(`\nours' restart, its log from the run script's first line (s):\n`);
    for (const l of a.restart?.timeline ?? []) {
        if (/dbus-flashmq: stats /.test(l.text))
            continue;
        out.push(`    ${l.at.toFixed(2).padStart(7)}  ${l.text.length > 200 ? `${l.text.slice(0, 200)}...` : l.text}`);
    }
    out.push(`\nthe other's restart, its log (s):\n`);
    for (const l of b.restart?.timeline ?? [])
        out.push(`    ${l.at.toFixed(2).padStart(7)}  ${l.text.length > 200 ? `${l.text.slice(0, 200)}...` : l.text}`);
    if (a.memoryLines.length > 0)
        out.push(`\nours' memory line: ${a.memoryLines.join(' / ')}`);
    return out;
}

async function attempt(run: () => Promise<Figures>): Promise<Figures | Error> {
    try {
        return await run();
    } catch (err) {
        return err instanceof Error ? err : new Error(String(err));
    }
}

async function main(): Promise<void> {
    const archs = onlyArch ? [onlyArch] : [...GX_ARCHS];
    const loads: Load[] = onlyLoad ? [onlyLoad] : ['bct', '50k'];
    const rows: string[] = [];
    const tables: string[] = [];
    for (const arch of archs) {
        const missing = missingForGxVm(arch);
        if (!packageFor(arch))
            missing.push(`the ${arch} package (scripts/package.sh --arch ${arch})`);
        if (missing.length > 0) {
            console.log(`SKIPPED ${arch}: missing ${missing.join(', ')}`);
            continue;
        }
        const image = prepareImage({ arch, flashmq });
        const other = compare ?? stock;
        const baseline = other !== undefined ? prepareImage({ arch, flashmq, stock: other }) : undefined;
        const paced = compare !== undefined;
        for (const load of loads) {
            const ours = await attempt(() => measure(arch, load, image, true, paced, paced));
            rows.push(row(arch, load, 'ours', ours));
            if (baseline) {
                const theirs = await attempt(() => measure(arch, load, baseline, false, paced, paced));
                rows.push(row(arch, load, 'other', theirs));
                if (compare !== undefined)
                    tables.push(...comparison(load, ours, theirs));
            }
        }
    }
    console.log(`# The package on a GX device under full-system qemu (FlashMQ ${flashmq}, Venus's limits enforced by the kernel), ${new Date().toISOString()}`);
    console.log('MB = 1,000,000 bytes; times from the service\'s start (its run script); CPU: the broker\'s guest CPU seconds (TCG).');
    if (compare !== undefined)
        console.log(`ours against ${compare}; changes paced at ${RATE}/s for ${SECONDS} s; start figures from a restart (svc -t) with the services on the bus.`);
    console.log('\n| target | load | plugin | start to listening, s | start to discovery, s | VmPeak, MB | VmData, MB | VmHWM, MB | V8 heap used / total at most (limit), MB | CPU per full publish, s | CPU per 1,000 changes, s, rate | CPU per write, the first 20 / the next 100, s | run | memory line |');
    console.log('|---|---|---|---|---|---|---|---|---|---|---|---|---|---|');
    for (const r of rows)
        console.log(r);
    for (const line of tables)
        console.log(line);
}

main().catch((err: unknown) => {
    console.error(err);
    process.exitCode = 1;
});
