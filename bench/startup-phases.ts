// Where the plugin's start-up goes (a script that prints numbers, not a test): the broker is started with the
// plugin on a simulated GX device, and the figures come from the plugin's own start lines (native/plugin_entry.cc,
// native/plugin.cc, ts/plugin.ts) and from a client that connects as soon as it can and sends keep-alives until
// one is answered with every topic. Medians of --rounds runs (7 by default), in milliseconds:
//   - loading: the broker's start to the runtime's initialisation (FlashMQ's own start, loading libnode);
//   - the runtime: Node's per-process initialisation;
//   - Node's environment: the isolate, its context and Node's own bootstrap (wall-clock and the thread's CPU);
//   - the entry: the bootstrap script and the entry module, up to D-Bus discovery starting (wall-clock and CPU);
//   - discovery: the scan of every service, up to ready;
//   - the broker's start to a TCP connection, and to a keep-alive answered with every topic, that keep-alive's own
//     time to its completion (the first full publish, as the client sees it) and the broker's CPU in it (all its
//     threads, from /proc/<pid>/task/*/schedstat), and the broker's CPU by then: the CPU figures are the ones here
//     that other load on the machine does not change much.
//
//   node dist/bench/startup-phases.js [--rounds 7] [--recording bct] [--entry <file.js>] [--plugin <.so>]
//       [--wrapper "<command and arguments>"] [--node-args "<V8 and Node flags>" (plugin_opt_node_args)] [--log]
//       [--debug (plugin_opt_debug and FlashMQ's debug level: adds the first full publish's time inside the broker)]
//       [--code-cache <file> (plugin_opt_code_cache; the first start makes it when it is missing: see native/code_cache.h)]
import * as fs from 'node:fs';
import * as path from 'node:path';

import { Simulator } from '../ts/sim';
import { startDbusDaemon } from '../test/helpers/dbus-daemon';
import { canConnect, pluginPath, sleep, startBroker } from '../test/helpers/flashmq';
import { devicePortalId, recordingsDir } from '../test/helpers/venus';
import { flag, numberOption, option } from './args';
import { firstFullPublish } from './first-full-publish';

const ROUNDS = numberOption('rounds', 7);
const RECORDING = option('recording') ?? 'bct';
/** The plugin resolves a relative entry from its own directory: made absolute here, from where the bench runs. */
const ENTRY = option('entry') === undefined ? null : path.resolve(option('entry')!);

type Figures = Record<string, number>;

/** A process's CPU time (user and system, all its threads) in milliseconds, from /proc. */
function processCpuMs(pid: number | undefined): number {
    try {
        const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
        const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
        return (Number(fields[11]) + Number(fields[12])) * 1000 / 100; // utime, stime in clock ticks (USER_HZ 100)
    } catch {
        return NaN;
    }
}

/** A process's CPU time (all its threads) in milliseconds, to the microsecond, from the scheduler's statistics. */
function processCpuPreciseMs(pid: number | undefined): number {
    try {
        let ns = 0;
        for (const task of fs.readdirSync(`/proc/${pid}/task`))
            ns += Number(fs.readFileSync(`/proc/${pid}/task/${task}/schedstat`, 'utf8').split(' ')[0]);
        return ns / 1e6;
    } catch {
        return NaN;
    }
}

/** The figures of one start, from the broker's log (timestamps to the millisecond). */
export function phasesFromLog(log: string): Figures {
    const at = (re: RegExp): number => {
        const line = log.split('\n').find((l) => re.test(l));
        const m = line ? /^\[(\d{4}-\d\d-\d\d) (\d\d):(\d\d):(\d\d)\.(\d{3})\]/.exec(line) : null;
        return m ? ((Number(m[2]) * 60 + Number(m[3])) * 60 + Number(m[4])) * 1000 + Number(m[5]) : NaN;
    };
    const num = (re: RegExp): number => {
        const m = re.exec(log);
        return m ? Number(m[1]) : NaN;
    };
    const start = at(/Starting FlashMQ version/);
    const initialised = at(/runtime initialised/);
    const runtimeMs = num(/runtime initialised in (\d+) ms/);
    return {
        'loading (start to the runtime)': initialised - runtimeMs - start,
        'process CPU when the runtime is up': num(/the process's CPU so far (\d+) ms/),
        'the runtime': runtimeMs,
        "Node's environment": num(/Node's environment (\d+) ms/),
        "Node's environment, CPU": num(/Node's environment \d+ ms \(CPU (\d+) ms\)/),
        'the entry': num(/the entry (\d+) ms \(CPU/),
        'the entry, CPU': num(/the entry \d+ ms \(CPU (\d+) ms\)/),
        'discovery': num(/D-Bus discovery done in (\d+) ms/),
        'process CPU at ready': num(/ready \(the process's CPU so far (\d+) ms\)/),
        'start to ready': at(/D-Bus discovery done in/) - start,
        'the first full publish, in the broker (--debug)': num(/full republish: \d+ chunks in ([\d.]+) ms/),
    };
}

async function once(makeCache = false): Promise<Figures> {
    const daemon = await startDbusDaemon();
    const sim = await Simulator.start({ busAddress: daemon.address, speed: 0, recordingsDir, recording: `${recordingsDir}/${RECORDING}` });
    const id = devicePortalId();
    const t0 = performance.now();
    const wrapper = option('wrapper');
    const nodeArgs = option('node-args');
    const codeCache = option('code-cache');
    const broker = await startBroker({
        plugin: option('plugin') ?? pluginPath, entry: ENTRY, logLevel: flag('log') || flag('debug') ? 'debug' : 'info', noWait: true,
        env: { DBUS_SYSTEM_BUS_ADDRESS: daemon.address }, pluginOptions: {
            portal_id: id, ...(nodeArgs ? { node_args: nodeArgs } : {}), ...(flag('debug') ? { debug: 'true' } : {}), ...(codeCache ? { code_cache: codeCache } : {}),
        },
        ...(wrapper ? { wrapper: wrapper.split(' ') } : {}),
    });
    try {
        while (!(await canConnect(broker.port))) {
            if (!broker.running)
                throw new Error(`the broker ended: ${broker.log().slice(-2000)}`);
            await sleep(1);
        }
        const listening = performance.now() - t0;
        const expected = sim.itemCount() - (RECORDING === 'bct' ? 1 : 0); // bct's one blocked item
        let answeredCpu = NaN;
        let cpuAtSending = NaN;
        let cpuAtAnswer = NaN;
        const first = await firstFullPublish(broker.port, id, expected, 400, 10, () => {
            cpuAtAnswer = processCpuPreciseMs(broker.proc.pid);
            answeredCpu = processCpuMs(broker.proc.pid);
        }, () => { cpuAtSending = processCpuPreciseMs(broker.proc.pid); });
        const answered = first.at - t0;
        await sleep(200);
        // A start that makes the code cache waits for it: the first memory trim after start-up writes it.
        for (let waited = 0; makeCache && waited < 60_000 && !/code cache: (wrote|V8 made|cannot)/.test(broker.log()); waited += 100)
            await sleep(100);
        const log = fs.readFileSync(broker.logFile, 'utf8');
        if (flag('log'))
            console.log(log);
        return { ...phasesFromLog(log), 'start to a TCP connection': listening, 'start to a keep-alive answered with every topic': answered,
            'that keep-alive to its completion': first.tookMs, "the broker's CPU in it": cpuAtAnswer - cpuAtSending,
            "the broker's CPU by then": answeredCpu };
    } finally {
        await broker.stop();
        broker.cleanup();
        await sim.stop();
        await daemon.stop();
    }
}

async function main(): Promise<void> {
    const runs: Figures[] = [];
    const codeCache = option('code-cache');
    if (codeCache && codeCache !== 'none' && !fs.existsSync(codeCache)) {
        await once(true); // not counted: it compiled everything from source, as a start without the cache
        if (!fs.existsSync(codeCache))
            throw new Error(`the first start made no ${codeCache}: its directory must exist and be writable by the broker's user (see the log with --log)`);
        console.log(`# ${codeCache} made by a first start`);
    }
    for (let r = 0; r < ROUNDS; r++)
        runs.push(await once());
    const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] ?? NaN;
    console.log(`# start-up phases, ${RECORDING}, median of ${ROUNDS} (ms)`);
    console.log('| phase | median | min | max |');
    console.log('|---|---|---|---|');
    for (const name of Object.keys(runs[0] ?? {})) {
        const xs = runs.map((f) => f[name] ?? NaN).filter((x) => !Number.isNaN(x));
        console.log(`| ${name} | ${median(xs).toFixed(0)} | ${Math.min(...xs).toFixed(0)} | ${Math.max(...xs).toFixed(0)} |`);
    }
}

if (require.main === module)
    main().catch((e) => { console.error(e); process.exitCode = 1; });
