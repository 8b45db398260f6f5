// Benchmark of the change path in this process (not a test: it prints numbers): D-Bus signal -> the bridge's
// decoding -> the item cache -> the publisher -> the frames handed to the broker (a stand-in binding that only
// counts them). A simulator in a child process sends the changes over a private dbus-daemon, one item per signal,
// as ItemsChanged or PropertiesChanged. Prints the bytes the JavaScript heap takes per change (V8's heap grows by
// exactly what is allocated while no collection runs: this process runs with semi-spaces large enough that none
// does in a measured round, and says so when one did) and the CPU time per change.
//
//   npm run bench:change-path [-- --changes 5000 --rounds 5 --rate 5000] [--profile]
//
// --profile: V8's sampling heap profiler over one more round of each style, the garbage included: the functions
// that allocate the most, with their bytes per change.
import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import * as inspector from 'node:inspector';
import { PerformanceObserver } from 'node:perf_hooks';
import * as readline from 'node:readline';
import * as v8 from 'node:v8';
import * as vm from 'node:vm';

import { Variant } from 'dbus-next';

import { DbusBridge, defaultBridgeOptions } from '../ts/dbus/bridge';
import { Logger } from '../ts/log';
import { VenusPublisher } from '../ts/mqtt/publisher';
import { Broker } from '../ts/native/broker';
import type { FlashmqBinding } from '../ts/native/binding';
import { Simulator } from '../ts/sim';
import { realTimers } from '../ts/util/timers';
import { startDbusDaemon } from '../test/helpers/dbus-daemon';
import { flag, numberOption, option } from './args';

const CHANGES = numberOption('changes', 5000);
const ROUNDS = numberOption('rounds', 5);
const RATE = numberOption('rate', 5000);
const SERVICE = 'com.victronenergy.battery.bench';
const PATHS = Array.from({ length: 40 }, (_, i) => `/Bench/Value${i}`);
const quiet = new Logger({ write: () => undefined }, 'bench');
const PROFILE = flag('profile');
const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));
const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

/** The child's part: the bench service on the bus; 'send <count> <rate> <items|properties>' sends changes. */
async function drive(address: string): Promise<void> {
    const sim = await Simulator.start({ busAddress: address, speed: 0 });
    await sim.addService({ name: SERVICE, items: [{ path: '/DeviceInstance', value: new Variant('i', 900) },
        ...PATHS.map((p) => ({ path: p, value: new Variant('d', 0.5) }))] });
    let k = 0;
    const lines = readline.createInterface({ input: process.stdin });
    process.stdout.write('ready\n');
    for await (const line of lines) {
        const [command, count, rate, style] = line.split(' ');
        if (command === 'quit')
            break;
        const n = Number(count);
        const t0 = performance.now();
        const first = k;
        while (k < first + n) {
            const due = Math.min(first + n, first + Math.floor(((performance.now() - t0) / 1000) * Number(rate)));
            while (k < due) {
                sim.change(SERVICE, PATHS[k % PATHS.length]!, new Variant('d', k + 1000000.5), style as 'items' | 'properties');
                k++;
            }
            await new Promise((resolve) => setImmediate(resolve));
        }
        process.stdout.write('sent\n');
    }
    await sim.stop();
    process.exit(0);
}

interface ProfileNode {
    callFrame: { functionName: string; url: string; lineNumber: number };
    selfSize: number;
    children: ProfileNode[];
}

function post<T>(session: inspector.Session, method: string, params: object = {}): Promise<T> {
    return new Promise((resolve, reject) => session.post(method, params, (err, result) => (err ? reject(err) : resolve(result as T))));
}

/** Runs `round` under the sampling heap profiler (every 32 bytes, collected objects included); the top sites. */
async function profileRound(style: string, round: () => Promise<void>): Promise<string> {
    const session = new inspector.Session();
    session.connect();
    await post(session, 'HeapProfiler.startSampling', { samplingInterval: 32, includeObjectsCollectedByMajorGC: true, includeObjectsCollectedByMinorGC: true });
    await round();
    const { profile } = await post<{ profile: { head: ProfileNode } }>(session, 'HeapProfiler.stopSampling');
    session.disconnect();
    const sites = new Map<string, number>();
    const walk = (node: ProfileNode, stack: string): void => {
        const f = node.callFrame;
        const here = `${f.functionName || '(anonymous)'} ${f.url.replace(/.*\/dist\//, '')}:${f.lineNumber + 1}`;
        if (node.selfSize > 0)
            sites.set(`${here} <- ${stack}`, (sites.get(`${here} <- ${stack}`) ?? 0) + node.selfSize);
        for (const child of node.children)
            walk(child, here);
    };
    walk(profile.head, '');
    const top = [...sites].sort((a, b) => b[1] - a[1]).slice(0, 25);
    return `\n## Where ${style} changes allocate (sampled; bytes per change, function <- its caller)\n`
        + top.map(([site, bytes]) => `${(bytes / CHANGES).toFixed(0).padStart(6)}  ${site}`).join('\n');
}

interface Counter {
    frames: number;
    /** Called when `frames` reaches `target`. */
    target: number;
    reached: () => void;
}

/** Until the counter reaches `target` frames (or 10 s passed); nothing allocated per frame while it waits. */
function framesReach(counter: Counter, target: number): Promise<void> {
    return new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, 10_000);
        counter.target = target;
        counter.reached = () => {
            clearTimeout(timer);
            counter.target = Infinity;
            resolve();
        };
        if (counter.frames >= target)
            counter.reached();
    });
}

/** A binding that counts the frames it is handed and keeps nothing. */
function countingBinding(counter: Counter): FlashmqBinding {
    return {
        publishFrames(frames: Uint8Array, length = frames.byteLength): number {
            let count = 0;
            for (let pos = 0; pos < length; count++) {
                const tl = frames[pos + 1]! | (frames[pos + 2]! << 8) | (frames[pos + 3]! << 16);
                const pl = frames[pos + 5 + tl]! | (frames[pos + 6 + tl]! << 8) | (frames[pos + 7 + tl]! << 16);
                pos += 9 + tl + pl;
            }
            counter.frames += count;
            if (counter.frames >= counter.target)
                counter.reached();
            return count;
        },
        publish: () => undefined,
    } as unknown as FlashmqBinding;
}

async function main(): Promise<void> {
    if (!process.execArgv.some((a) => a.startsWith('--max-semi-space-size'))) {
        // Again, with semi-spaces that hold a whole round: its allocations are then the heap's growth.
        const child = spawn(process.execPath, ['--max-semi-space-size=128', '--min-semi-space-size=128', ...process.execArgv, __filename, ...process.argv.slice(2)],
            { stdio: 'inherit' });
        await new Promise((resolve) => child.on('exit', resolve));
        process.exitCode = child.exitCode ?? 1;
        return;
    }
    v8.setFlagsFromString('--expose-gc');
    const gc = vm.runInNewContext('gc') as () => void;
    const daemon = await startDbusDaemon();
    let driver: ChildProcess | undefined;
    try {
        driver = spawn(process.execPath, [__filename, '--drive', daemon.address], { stdio: ['pipe', 'pipe', 'inherit'] });
        const replies = readline.createInterface({ input: driver.stdout! });
        const waiting: Array<(line: string) => void> = [];
        const lines: string[] = [];
        replies.on('line', (line) => {
            const waiter = waiting.shift();
            if (waiter)
                waiter(line);
            else
                lines.push(line);
        });
        const next = (): Promise<string> => (lines.length > 0 ? Promise.resolve(lines.shift()!) : new Promise((resolve) => waiting.push(resolve)));
        if ((await next()) !== 'ready')
            throw new Error('the driver did not start');

        const bridge = new DbusBridge({ ...defaultBridgeOptions, address: daemon.address }, quiet, realTimers);
        const counter: Counter = { frames: 0, target: Infinity, reached: () => undefined };
        const broker = new Broker(countingBinding(counter), quiet, realTimers, { loginTimeoutMs: 1000 });
        new VenusPublisher(broker, bridge.cache, { portalId: 'c0619ab00000', chunkBytes: 64 * 1024 }, {
            alive: () => true, unixSeconds: () => Date.now() / 1000, yieldToLoop: (fn) => setImmediate(fn),
        }, quiet);
        bridge.start();
        await bridge.whenDiscovered();

        const profiles: string[] = [];
        // Collections that started inside a measured round (the forced ones before it are reported late, and left out).
        const window = { from: Infinity, to: -Infinity };
        let collections = 0;
        const observer = new PerformanceObserver((list) => {
            for (const entry of list.getEntries())
                if (entry.startTime >= window.from && entry.startTime <= window.to)
                    collections++;
        });
        observer.observe({ entryTypes: ['gc'] });

        console.log(`# The change path in one process (bridge, cache, publisher; a binding that counts), ${new Date().toISOString()}, Node ${process.version}`);
        console.log(`${CHANGES} changes per round at ${RATE}/s, one item per signal; median of ${ROUNDS} rounds (the first round of each style not counted)\n`);
        console.log('| signal | frames published / changes sent | JS heap bytes per change, median (each round) | CPU per change, median (µs) | collections in the measured rounds |');
        console.log('|---|---|---|---|---|');
        for (const style of ['items', 'properties'] as const) {
            const bytes: number[] = [];
            const cpu: number[] = [];
            let published = 0;
            let gcs = 0;
            for (let round = 0; round <= ROUNDS; round++) {
                const target = counter.frames + CHANGES;
                gc();
                await sleep(50);
                gc();
                const c0 = process.cpuUsage();
                window.from = performance.now();
                window.to = Infinity;
                collections = 0;
                const before = v8.getHeapStatistics().used_heap_size;
                const reached = framesReach(counter, target);
                driver.stdin!.write(`send ${CHANGES} ${RATE} ${style}\n`);
                await reached;
                const after = v8.getHeapStatistics().used_heap_size;
                window.to = performance.now();
                const c = process.cpuUsage(c0);
                await next();
                await sleep(20);
                if (round === 0)
                    continue;
                published += CHANGES - (target - counter.frames);
                gcs += collections; // the observer's entries of the round have arrived by now (after the sleep above)
                bytes.push((after - before) / CHANGES);
                cpu.push(((c.user + c.system) / CHANGES));
            }
            if (PROFILE)
                profiles.push(await profileRound(style, async () => {
                    const reached = framesReach(counter, counter.frames + CHANGES);
                    driver!.stdin!.write(`send ${CHANGES} ${RATE} ${style}\n`);
                    await reached;
                    await next();
                }));
            console.log(`| ${style === 'items' ? 'ItemsChanged' : 'PropertiesChanged'} | ${published}/${CHANGES * ROUNDS} | ${median(bytes).toFixed(0)} (${bytes.map((b) => b.toFixed(0)).join(', ')}) | `
                + `${median(cpu).toFixed(1)} | ${gcs} |`);
        }
        observer.disconnect();
        bridge.stop();
        for (const p of profiles)
            console.log(p);
    } finally {
        driver?.stdin?.write('quit\n');
        if (driver && driver.exitCode === null)
            await new Promise((resolve) => driver!.on('exit', resolve));
        await daemon.stop();
    }
}

const driving = option('drive');
(driving !== undefined ? drive(driving) : main()).catch((err: unknown) => {
    console.error(err);
    process.exitCode = 1;
});
