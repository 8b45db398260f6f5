// Benchmark of the D-Bus side (not a test: it prints numbers). The simulator runs in a child process on a private
// dbus-daemon, the bridge in this one, so the CPU figures are the bridge's alone.
//
//   npm run bench:dbus [-- --services 100 --paths 500 --churn 2000 --seconds 10 --rounds 3]
//   npm run bench:dbus -- --big-only [--big-replies 16 --big-mb 4 --big-single-mb 32]
//
// Prints the memory outside V8's heap while big GetItems replies arrive (big-replies at once of big-mb MB each, then
// one of big-single-mb MB), the time to discover and scan services × paths items, and the bridge's CPU time per 1,000 item
// changes at a given churn rate.
import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import * as path from 'node:path';
import { PerformanceObserver } from 'node:perf_hooks';
import * as v8 from 'node:v8';
import * as vm from 'node:vm';

import { Variant } from 'dbus-next';

import { DbusBridge, defaultBridgeOptions } from '../ts/dbus/bridge';
import { nativeConnector } from '../ts/dbus/wire/client';
import { Logger } from '../ts/log';
import { realTimers } from '../ts/util/timers';
import { startDbusDaemon } from '../test/helpers/dbus-daemon';
import { parseSingleType } from '../ts/dbus/signature';
import { Simulator } from '../ts/sim';
import { flag, numberOption, option } from './args';

const SERVICES = numberOption('services', 100);
const PATHS = numberOption('paths', 500);
const CHURN = numberOption('churn', 2000);
const SECONDS = numberOption('seconds', 10);
const ROUNDS = numberOption('rounds', 3);
const BIG_REPLIES = numberOption('big-replies', 16);
const BIG_MB = numberOption('big-mb', 4);
const BIG_SINGLE_MB = numberOption('big-single-mb', 32);
const BIG_SERVICE = 'com.victronenergy.bench.big';
const cli = path.resolve(__dirname, '../ts/sim/cli.js');
const quiet = new Logger({ write: () => undefined }, 'bench');
const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));
const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

async function countVenusNames(address: string): Promise<number> {
    const conn = await nativeConnector()(address, 5000);
    try {
        const reply = await conn.call({ destination: 'org.freedesktop.DBus', path: '/org/freedesktop/DBus', interface: 'org.freedesktop.DBus', member: 'ListNames' }, 5000);
        return (reply.values()[0] as string[]).filter((n) => n.startsWith('com.victronenergy.')).length;
    } finally {
        conn.close();
    }
}

async function startSimulator(address: string, churn: number): Promise<ChildProcess> {
    const child = spawn(process.execPath, [cli, '--bus', address, '--scale', `${SERVICES}x${PATHS}`, '--churn', String(churn)], { stdio: ['pipe', 'ignore', 'inherit'] });
    const deadline = Date.now() + 120_000;
    while ((await countVenusNames(address)) < SERVICES) {
        if (Date.now() > deadline || child.exitCode !== null)
            throw new Error('the simulator did not come up');
        await sleep(200);
    }
    return child;
}

async function stopSimulator(child: ChildProcess): Promise<void> {
    const exited = new Promise((resolve) => child.on('exit', resolve));
    child.kill('SIGTERM');
    await exited;
}

/** The child process's part for the big replies: per size in `mbs`, a service whose GetItems reply is about that
 *  many MB (64 items of a string each, empty texts), on the bus at `address`; says 'ready' on stdout. */
async function serveBig(address: string, mbs: number[]): Promise<void> {
    const sim = await Simulator.start({ busAddress: address, speed: 0 });
    for (const mb of mbs) {
        const value = 'x'.repeat(Math.round((mb * 1e6) / 64));
        await sim.addService({ name: `${BIG_SERVICE}${mb}`, items: Array.from({ length: 64 }, (_, i) => ({ path: `/Big/${i}`, value: new Variant('s', value), text: '' })) });
    }
    process.stdout.write('ready\n');
    process.on('SIGTERM', () => void sim.stop().then(() => process.exit(0)));
}

const MB = (bytes: number): string => (bytes / 1e6).toFixed(1);

/**
 * Memory outside V8's heap while big replies arrive: `count` GetItems calls at once to a service whose reply is
 * about `mb` MB; each reply is walked (skipped through) when its caller resumes, then dropped, as a scan does with
 * the reply it parsed. What is allocated and dropped stays counted until V8 collects it (a collection is started
 * when external memory grew by about 64 MB), so the peak is what is held plus what awaits collection.
 */
async function bigReplies(address: string, rows: Array<[number, number]>): Promise<void> {
    v8.setFlagsFromString('--expose-gc');
    const gc = vm.runInNewContext('gc') as () => void;
    const child = spawn(process.execPath, [__filename, '--serve-big', address, rows.map(([, mb]) => mb).join(',')], { stdio: ['ignore', 'pipe', 'inherit'] });
    const conn = await (async () => {
        await new Promise<void>((resolve, reject) => {
            child.stdout.on('data', (d: Buffer) => { if (d.toString().includes('ready')) resolve(); });
            child.on('exit', () => reject(new Error('the big service ended')));
        });
        return nativeConnector()(address, 5000);
    })().catch((err: unknown) => {
        child.kill('SIGTERM');
        throw err;
    });
    console.log('\n## Memory outside V8\'s heap while big GetItems replies arrive at once (MB = 1,000,000 bytes; peaks sampled every ms and as each reply is taken)');
    console.log('| replies at once × size | time (ms) | external: before / peak / after / after a GC | arrayBuffers: before / peak / after | RSS: before / peak | V8 collections (major) |');
    console.log('|---|---|---|---|---|---|');
    try {
        const type = parseSingleType('a{sa{sv}}');
        for (const [count, mb] of rows) {
            const request = { destination: `${BIG_SERVICE}${mb}`, path: '/', interface: 'com.victronenergy.BusItem', member: 'GetItems' };
            // One call first, not measured: code paths warm up, and the service has its reply cached.
            const bytes = (await conn.call(request, 60_000)).reader().end;
            gc();
            await sleep(100); // backing stores are freed on another thread
            gc();
            const base = process.memoryUsage();
            const peak = { external: base.external, arrayBuffers: base.arrayBuffers, rss: base.rss };
            const sample = (): void => {
                const m = process.memoryUsage();
                peak.external = Math.max(peak.external, m.external);
                peak.arrayBuffers = Math.max(peak.arrayBuffers, m.arrayBuffers);
                peak.rss = Math.max(peak.rss, m.rss);
            };
            let collections = 0;
            let major = 0;
            const observer = new PerformanceObserver((list) => {
                for (const entry of list.getEntries()) {
                    collections++;
                    if ((entry.detail as { kind?: number } | undefined)?.kind === 4 /* NODE_PERFORMANCE_GC_MAJOR */)
                        major++;
                }
            });
            observer.observe({ entryTypes: ['gc'] });
            const sampler = setInterval(sample, 1);
            const t0 = performance.now();
            await Promise.all(Array.from({ length: count }, () => conn.call(request, 60_000).then((reply) => {
                sample();
                reply.reader().skip(type);
            })));
            const ms = performance.now() - t0;
            clearInterval(sampler);
            sample();
            const after = process.memoryUsage();
            await sleep(50);
            observer.disconnect();
            gc();
            await sleep(100);
            gc();
            const collected = process.memoryUsage();
            console.log(`| ${count} × ${MB(bytes)} MB | ${ms.toFixed(0)} | ${MB(base.external)} / ${MB(peak.external)} / ${MB(after.external)} / ${MB(collected.external)} | `
                + `${MB(base.arrayBuffers)} / ${MB(peak.arrayBuffers)} / ${MB(after.arrayBuffers)} | ${MB(base.rss)} / ${MB(peak.rss)} | ${collections} (${major}) |`);
        }
    } finally {
        conn.close();
        const exited = new Promise((resolve) => child.on('exit', resolve));
        child.kill('SIGTERM');
        await exited;
    }
}

async function main(): Promise<void> {
    const daemon = await startDbusDaemon();
    console.log(`# D-Bus side benchmark, ${new Date().toISOString()}`);
    try {
        await bigReplies(daemon.address, [[BIG_REPLIES, BIG_MB], [1, BIG_SINGLE_MB]]);
        if (flag('big-only'))
            return;
        console.log(`\n## Discovery and scan of ${SERVICES} services × ${PATHS} paths (${SERVICES * PATHS} items)`);
        console.log(`| rounds | items in the cache | time to discover and scan, median (ms) | bridge CPU, median (ms) |`);
        console.log('|---|---|---|---|');
        let sim = await startSimulator(daemon.address, 0);
        const times: number[] = [];
        const cpu: number[] = [];
        let items = 0;
        for (let r = 0; r < ROUNDS; r++) {
            const bridge = new DbusBridge({ ...defaultBridgeOptions, address: daemon.address }, quiet, realTimers);
            const c0 = process.cpuUsage();
            const t0 = performance.now();
            bridge.start();
            await bridge.whenDiscovered();
            times.push(performance.now() - t0);
            const c = process.cpuUsage(c0);
            cpu.push((c.user + c.system) / 1000);
            items = bridge.cache.itemCount();
            bridge.stop();
            await sleep(300);
        }
        console.log(`| ${ROUNDS} | ${items} | ${median(times).toFixed(0)} (${times.map((t) => t.toFixed(0)).join(', ')}) | ${median(cpu).toFixed(0)} |`);
        await stopSimulator(sim);

        console.log(`\n## Bridge CPU per 1,000 item changes (churn ${CHURN}/s over ${SERVICES} services, ${SECONDS} s)`);
        console.log('| item changes received | per second | bridge CPU (ms) | CPU per 1,000 changes (ms) | per change (µs) |');
        console.log('|---|---|---|---|---|');
        sim = await startSimulator(daemon.address, CHURN);
        {
            const bridge = new DbusBridge({ ...defaultBridgeOptions, address: daemon.address }, quiet, realTimers);
            let changes = 0;
            bridge.cache.subscribe((e) => { if (e.kind === 'changed') changes += e.items.length; });
            bridge.start();
            await bridge.whenDiscovered();
            await sleep(1000);
            changes = 0;
            const c0 = process.cpuUsage();
            await sleep(SECONDS * 1000);
            const c = process.cpuUsage(c0);
            const ms = (c.user + c.system) / 1000;
            console.log(`| ${changes} | ${(changes / SECONDS).toFixed(0)} | ${ms.toFixed(0)} | ${(ms / (changes / 1000)).toFixed(1)} | ${((ms * 1000) / changes).toFixed(1)} |`);
            bridge.stop();
            await sleep(500);
        }
        await stopSimulator(sim);
    } finally {
        await daemon.stop();
    }
}

const serving = option('serve-big');
(serving !== undefined ? serveBig(serving, process.argv[process.argv.indexOf('--serve-big') + 2]!.split(',').map(Number)) : main()).catch((err: unknown) => {
    console.error(err);
    process.exitCode = 1;
});
