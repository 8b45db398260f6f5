// Benchmark of the D-Bus side (not a test: it prints numbers). The simulator runs in a child process on a private
// dbus-daemon, the bridge in this one, so the CPU figures are the bridge's alone.
//
//   npm run bench:dbus [-- --services 100 --paths 500 --churn 2000 --seconds 10 --rounds 3]
//
// Prints the time to discover and scan services × paths items, and the bridge's CPU time per 1,000 item changes at
// a given churn rate.
import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import * as path from 'node:path';

import { DbusBridge, defaultBridgeOptions } from '../ts/dbus/bridge';
import { nativeConnector } from '../ts/dbus/wire/client';
import { Logger } from '../ts/log';
import { realTimers } from '../ts/util/timers';
import { startDbusDaemon } from '../test/helpers/dbus-daemon';
import { numberOption } from './args';

const SERVICES = numberOption('services', 100);
const PATHS = numberOption('paths', 500);
const CHURN = numberOption('churn', 2000);
const SECONDS = numberOption('seconds', 10);
const ROUNDS = numberOption('rounds', 3);
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

async function main(): Promise<void> {
    const daemon = await startDbusDaemon();
    console.log(`# D-Bus side benchmark, ${new Date().toISOString()}`);
    try {
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

main().catch((err: unknown) => {
    console.error(err);
    process.exitCode = 1;
});
