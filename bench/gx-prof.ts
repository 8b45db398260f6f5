// A V8 CPU profile of ours on an emulated GX device (full-system qemu, Venus's limits, bench/gx-vm.ts's set-up), of one
// part of its work: the full publishes of a running broker, a paced change load, writes, or the start-up. Not a test:
// it prints V8's tick report (node --prof-process), ticks in the part measured only.
//
//   npm run bench:gx-prof -- [--arch armhf|arm64] [--load bct|50k] [--flashmq 1.26.2] [--what publish|changes|writes|start]
//       [--rounds 20] [--rate 500] [--seconds 30] [--out <dir>] [--node-args "<more V8 flags>"] [--code-cache none|<file>]
//       [--no-prof] [--stock <the original's .so>] [--log]
//
// Ours runs with `--prof --logfile=/tmp/v8-prof.log --no-logfile-per-isolate` (plus --node-args). Before and after the
// part measured, the bench notes the log's size; every line of the log is kept except the ticks outside that span
// (the code events before it are needed to name the ticks in it). The libraries the log names are copied out of the
// device, so that the tick report names their C++ functions (with the architecture's nm, --target). <out> (default
// build-emulation/gx-prof/<arch>-<load>-<what>) keeps the log, the filtered log, the libraries and the report.
// --what start: from the broker's restart (svc -t, with the services on the bus) to its first full publish answered.
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';

import { Variant } from 'dbus-next';

import type { Simulator } from '../ts/sim';
import { fullPublish } from '../test/helpers/conformance';
import type { GxArch } from '../test/helpers/gx-vm';
import { flashmqLog, GxVm, logEnd, missingForGxVm, packageFor, prepareImage, waitForLog, waitForRetainedSerial } from '../test/helpers/gx-vm';
import { closeAll, connect, Inbox } from '../test/helpers/mqtt';
import { PORTAL_ID } from '../test/helpers/venus';
import { flag, numberOption, option } from './args';
import type { Load } from './gx-load';
import { BURST, BURST_PATHS, loadDevice } from './gx-load';

type What = 'publish' | 'changes' | 'writes' | 'start';
const arch = (option('arch') ?? 'armhf') as GxArch;
const load = (option('load') ?? 'bct') as Load;
const what = (option('what') ?? 'publish') as What;
const flashmq = option('flashmq') ?? '1.26.2';
const rounds = numberOption('rounds', 20);
const rate = numberOption('rate', 500);
const seconds = numberOption('seconds', 30);
const moreArgs = option('node-args');
const codeCache = option('code-cache');
const stock = option('stock'); // the original plugin's .so: its threads' CPU instead of ours (no profile)
const prof = !flag('no-prof') && stock === undefined;
const showLog = flag('log'); // --log: FlashMQ's log lines of the part measured (with --node-args "--trace-gc", V8's collections) // --no-prof: only the threads' CPU, without V8's sampler running
const out = path.resolve(option('out') ?? `build-emulation/gx-prof/${arch}-${load}-${what}`);
const GUEST_LOG = '/tmp/v8-prof.log';
const N = `N/${PORTAL_ID}`;
const NM: Record<GxArch, string> = { armhf: 'arm-linux-gnueabihf-nm', arm64: 'aarch64-linux-gnu-nm' };

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

/** The V8 log's size in the guest, bytes. */
async function logSize(vm: GxVm): Promise<number> {
    if (!prof)
        return 0;
    return Number((await vm.sh(`wc -c < ${GUEST_LOG}`)).trim());
}

/** Keeps every line of the log but the ticks before `from` or at or after `to` (byte offsets). */
export function ticksWithin(log: string, from: number, to: number): { text: string; kept: number; dropped: number } {
    const lines: string[] = [];
    let offset = 0;
    let kept = 0;
    let dropped = 0;
    for (const line of log.split('\n')) {
        const at = offset;
        offset += Buffer.byteLength(line) + 1;
        if (line.startsWith('tick,')) {
            if (at < from || at >= to) {
                dropped++;
                continue;
            }
            kept++;
        }
        lines.push(line);
    }
    return { text: lines.join('\n'), kept, dropped };
}

const VM_STATES = ['JS', 'GC', 'PARSER', 'BYTECODE_COMPILER', 'COMPILER', 'OTHER', 'EXTERNAL', 'ATOMICS_WAIT', 'IDLE'];

/**
 * The ticks of the log (already cut to the part measured) by V8's state and by the C++ function their pc is in, named
 * with the architecture's nm (the symbol below the pc; for a stripped library its nearest exported one). The tick
 * processor names no C++ function of an ARM library here, so this does. Builtins are in libnode's text: they show
 * under the exported symbol below them (V8's embedded blob), in state JS.
 */
function ticksByFunction(log: string, target: string, nm: string, top: number): string[] {
    const libs: Array<{ start: number; end: number; name: string }> = [];
    const ticks: Array<{ pc: number; state: number }> = [];
    for (const line of log.split('\n')) {
        if (line.startsWith('shared-library,')) {
            const p = line.split(',');
            libs.push({ name: p[1]!.replace(/"/g, ''), start: Number(p[2]), end: Number(p[3]) });
        } else if (line.startsWith('tick,')) {
            const p = line.split(',');
            ticks.push({ pc: Number(p[1]), state: Number(p[5]) });
        }
    }
    const tables = new Map<string, Array<[number, string]>>();
    const symbols = (lib: string): Array<[number, string]> => {
        let table = tables.get(lib);
        if (!table) {
            table = [];
            for (const dynamic of [false, true]) {
                const r = spawnSync(nm, ['-C', '-n', ...(dynamic ? ['-D'] : []), path.join(target, lib)], { encoding: 'utf8', maxBuffer: 512 * 1024 * 1024 });
                for (const l of (r.stdout ?? '').split('\n')) {
                    const m = /^([0-9a-f]+) [tTwW] (.*)$/.exec(l);
                    if (m)
                        table.push([parseInt(m[1]!, 16) & ~1, m[2]!]); // a Thumb function's bit 0 off
                }
            }
            table.sort((a, b) => a[0] - b[0]);
            tables.set(lib, table);
        }
        return table;
    };
    const byState = new Map<string, number>();
    const byFunction = new Map<string, number>();
    for (const { pc, state } of ticks) {
        const stateName = VM_STATES[state] ?? String(state);
        byState.set(stateName, (byState.get(stateName) ?? 0) + 1);
        const lib = libs.find((l) => pc >= l.start && pc < l.end);
        let name = 'JIT code (see the report)';
        if (lib) {
            const table = symbols(lib.name);
            let lo = 0;
            let hi = table.length - 1;
            let found = -1;
            while (lo <= hi) {
                const mid = (lo + hi) >> 1;
                if (table[mid]![0] <= pc - lib.start) {
                    found = mid;
                    lo = mid + 1;
                } else {
                    hi = mid - 1;
                }
            }
            name = `${path.basename(lib.name)} ${found >= 0 ? table[found]![1].slice(0, 120) : '?'}`;
        }
        const key = `${stateName.padEnd(17)} ${name}`;
        byFunction.set(key, (byFunction.get(key) ?? 0) + 1);
    }
    return [
        `ticks by V8's state: ${[...byState].sort((a, b) => b[1] - a[1]).map(([k, v]) => `${k} ${v}`).join(', ')} (IDLE: the thread waiting in epoll_wait)`,
        `ticks by state and function, the ${top} most:`,
        ...[...byFunction].sort((a, b) => b[1] - a[1]).slice(0, top).map(([k, v]) => `${String(v).padStart(7)}  ${k}`),
    ];
}

/** Each thread's CPU so far (utime + stime, clock ticks), by thread id, with its name. */
async function threadCpu(vm: GxVm): Promise<Map<string, { name: string; ticks: number }>> {
    const text = await vm.sh(`p=$(pidof flashmq); for t in /proc/$p/task/*; do echo "$(cat $t/comm)|$(cat $t/stat)"; done`);
    const threads = new Map<string, { name: string; ticks: number }>();
    for (const line of text.split('\n')) {
        const bar = line.indexOf('|');
        if (bar < 0)
            continue;
        const stat = line.slice(bar + 1);
        const fields = stat.slice(stat.lastIndexOf(')') + 2).trim().split(/\s+/);
        threads.set(stat.split(' ')[0]!, { name: line.slice(0, bar), ticks: Number(fields[11]) + Number(fields[12]) });
    }
    return threads;
}

/** The CPU each thread spent between two readings, ms (Linux's clock ticks are 10 ms). */
function threadLines(before: Map<string, { name: string; ticks: number }>, after: Map<string, { name: string; ticks: number }>): string[] {
    const lines: string[] = [];
    let total = 0;
    for (const [tid, t] of after) {
        const spent = (t.ticks - (before.get(tid)?.ticks ?? 0)) * 10;
        total += spent;
        if (spent > 0)
            lines.push(`#   thread ${tid} ${t.name}: ${spent} ms`);
    }
    return [`# the broker's CPU in the part measured: ${total} ms, by thread:`, ...lines];
}

/** A write of a burst item, waited for until its N/ comes back (as bench:gx does). */
async function writeAndWait(client: Awaited<ReturnType<typeof connect>>, inbox: Inbox, i: number): Promise<void> {
    const payload = `{"value":${i + 0.75}}`; // never the item's first value (0.5): an unchanged value sends no N/
    inbox.clear();
    await client.publishAsync(`W/${PORTAL_ID}/battery/901/Burst/Value0`, payload);
    await inbox.waitFor((m) => m.topic === `${N}/battery/901/Burst/Value0` && m.payload.toString() === payload, 60_000);
}

async function main(): Promise<void> {
    if (!['publish', 'changes', 'writes', 'start'].includes(what))
        throw new Error(`--what ${what}: publish, changes, writes or start`);
    if (!['bct', '50k'].includes(load))
        throw new Error(`--load ${load}: bct or 50k`);
    const missing = missingForGxVm(arch);
    if (!packageFor(arch))
        missing.push(`the ${arch} package (scripts/package.sh --arch ${arch})`);
    if (missing.length > 0)
        throw new Error(`missing ${missing.join(', ')}`);
    const image = prepareImage({ arch, flashmq, ...(stock !== undefined ? { stock } : {}) });
    if (prof) {
        fs.rmSync(out, { recursive: true, force: true });
        fs.mkdirSync(out, { recursive: true });
    }
    let vm: GxVm | undefined;
    let sim: Simulator | undefined;
    let client: Awaited<ReturnType<typeof connect>> | undefined;
    try {
        vm = await GxVm.boot({ image });
        sim = await loadDevice(vm, load);
        let after = 0;
        if (stock !== undefined) {
            await vm.sh('svc -t /service/flashmq'); // a start with the services on the bus
            await sleep(2000);
            await waitForRetainedSerial(vm, PORTAL_ID, 600_000);
        } else {
            await vm.writeFile('/data/conf/dbus-flashmq-ts.options', 'plugin_opt_stats_interval_s 30\n' +
                (codeCache === undefined ? '' : `plugin_opt_code_cache ${codeCache}\n`) +
                (prof ? `plugin_opt_node_args "--prof --logfile=${GUEST_LOG} --no-logfile-per-isolate${moreArgs ? ` ${moreArgs}` : ''}"\n`
                    : moreArgs ? `plugin_opt_node_args "${moreArgs}"\n` : ''));
            after = await logEnd(vm);
            const archive = vm.shareFile(packageFor(arch)!);
            await vm.sh(`tar -xzf '${archive}' -C /data && rm -f '${archive}' && /data/dbus-flashmq-ts/install.sh`);
            await waitForLog(vm, /dbus-flashmq: .*D-Bus discovery done/, { after, timeoutMs: 600_000 });
        }
        let from: number;
        let to: number;
        let cpuBefore = new Map<string, { name: string; ticks: number }>();
        let logFrom = 0;
        let did: string;
        if (what === 'start') {
            if (stock !== undefined)
                throw new Error('--what start profiles ours only');
            await sleep(8000); // past the start-up trim, so that the code cache is made
            after = await logEnd(vm);
            await vm.sh(`svc -t /service/flashmq`);
            await waitForLog(vm, /dbus-flashmq: .*D-Bus discovery done/, { after, timeoutMs: 600_000 });
            from = 0; // the restart wrote a new log
            const deadline = Date.now() + 300_000;
            for (;;) {
                client = await connect(vm.mqttPort, { protocolVersion: 4 }).catch(() => undefined);
                if (client)
                    break;
                if (Date.now() > deadline)
                    throw new Error('no listener after the restart');
                await sleep(300);
            }
            const inbox = await Inbox.subscribe(client, `${N}/#`);
            const topics = (await fullPublish(client, inbox, PORTAL_ID, 'prof-start', 600_000)).size;
            to = await logSize(vm);
            cpuBefore = new Map();
            did = `the restart to the first full publish answered (${topics} topics)`;
        } else {
            client = await connect(vm.mqttPort, { protocolVersion: 4 });
            const inbox = await Inbox.subscribe(client, `${N}/#`);
            const topics = (await fullPublish(client, inbox, PORTAL_ID, 'prof-first', 600_000)).size;
            await sleep(5000); // past the start-up trim
            inbox.clear();
            if (what === 'publish') {
                from = await logSize(vm);
                cpuBefore = await threadCpu(vm);
                logFrom = await logEnd(vm);
                for (let i = 0; i < rounds; i++) {
                    await sleep(400); // at most 3 answered per second
                    await fullPublish(client, inbox, PORTAL_ID, `prof-${i}`, 600_000);
                    inbox.clear();
                }
                to = await logSize(vm);
                did = `${rounds} full publishes of ${topics} topics`;
            } else if (what === 'changes') {
                await client.publishAsync(`R/${PORTAL_ID}/keepalive`, '{"keepalive-options":["suppress-republish"]}');
                from = await logSize(vm);
                cpuBefore = await threadCpu(vm);
                logFrom = await logEnd(vm);
                const started = Date.now();
                let sent = 0;
                let aliveAt = Date.now();
                while (sent < rate * seconds) {
                    if (Date.now() - aliveAt > 20_000) {
                        await client.publishAsync(`R/${PORTAL_ID}/keepalive`, '{"keepalive-options":["suppress-republish"]}');
                        aliveAt = Date.now();
                    }
                    const due = Math.min(rate * seconds, Math.floor((Date.now() - started) / 1000 * rate));
                    for (; sent < due; sent++)
                        sim.change(BURST, BURST_PATHS[sent % BURST_PATHS.length]!, new Variant('d', sent + 0.25), 'items');
                    await sleep(10);
                    inbox.clear();
                }
                to = await logSize(vm);
                did = `${sent} changes at ${rate}/s`;
            } else {
                await client.publishAsync(`R/${PORTAL_ID}/keepalive`, '{"keepalive-options":["suppress-republish"]}');
                from = await logSize(vm);
                cpuBefore = await threadCpu(vm);
                logFrom = await logEnd(vm);
                for (let i = 0; i < rounds; i++)
                    await writeAndWait(client, inbox, i);
                to = await logSize(vm);
                did = `${rounds} writes`;
            }
        }
        const cpuAfter = await threadCpu(vm);
        const logLines = showLog ? (await flashmqLog(vm)).filter((l) => l.at > logFrom).map((l) => `#   log: ${l.text}`) : [];
        await closeAll(client);
        client = undefined;

        if (!prof) {
            console.log(`# ${stock ?? 'ours'} on an emulated ${arch} GX device (FlashMQ ${flashmq}, ${load}): ${did}, without V8's sampler, ${new Date().toISOString()}`);
            for (const line of [...threadLines(cpuBefore, cpuAfter), ...logLines])
                console.log(line);
            return;
        }
        // The log and the libraries it names, out of the device.
        await vm.sh(`cp ${GUEST_LOG} /host/files/v8.log`);
        const log = fs.readFileSync(path.join(vm.share, 'files/v8.log'), 'utf8');
        fs.writeFileSync(path.join(out, 'v8.log'), log);
        const libs = [...new Set([...log.matchAll(/^shared-library,"?([^",]+)"?,/gm)].map((m) => m[1]!).filter((p) => p.startsWith('/')))];
        await vm.sh(`tar -chf /host/files/libs.tar ${libs.map((l) => `'${l}'`).join(' ')} 2>/dev/null || true`);
        const target = path.join(out, 'target');
        fs.mkdirSync(target, { recursive: true });
        spawnSync('tar', ['-xf', path.join(vm.share, 'files/libs.tar'), '-C', target], { stdio: 'inherit' });
        const { text, kept, dropped } = ticksWithin(log, from, to);
        const filtered = path.join(out, 'v8-part.log');
        fs.writeFileSync(filtered, text);
        const report = spawnSync(process.execPath, ['--prof-process', `--nm=${NM[arch]}`, `--target=${target}`, filtered],
            { encoding: 'utf8', maxBuffer: 256 * 1024 * 1024 });
        fs.writeFileSync(path.join(out, 'report.txt'), report.stdout);
        console.log(`# V8 profile of ours on an emulated ${arch} GX device (FlashMQ ${flashmq}, ${load}): ${did}; ` +
            `${kept} ticks in it (${dropped} outside), ${new Date().toISOString()}`);
        console.log(`# files in ${out}`);
        for (const line of [...threadLines(cpuBefore, cpuAfter), ...logLines, ...ticksByFunction(text, target, NM[arch], 40)])
            console.log(line);
        console.log(report.stdout);
        if (report.status !== 0)
            console.error(report.stderr);
    } finally {
        await closeAll(client);
        await sim?.stop();
        await vm?.cleanup();
    }
}

main().catch((err: unknown) => {
    console.error(err);
    process.exitCode = 1;
});
