// Benchmark of the simulator in scale mode (not a test: it prints numbers). Three processes, so each one's CPU is
// its own: a private dbus-daemon, the simulator (this process), and a consumer (this script again, with
// --consumer) that scans every service with GetItems and then counts the change signals it receives.
//
//   node dist/bench/sim-scale.js [--services 100 --paths 500 --churn 1000,5000 --seconds 10]
//
// Prints: time to start the simulation (every service on the bus with its name), the consumer's full scan, and
// for each churn rate the steady CPU of the simulator, the daemon and the consumer, and the changes received.
import type { ChildProcessWithoutNullStreams } from 'node:child_process';
import { spawn } from 'node:child_process';
import * as fs from 'node:fs';

import type { Message } from 'dbus-next';

import { call, connectClient, SignalRecorder, sleep, startDbusDaemon } from '../test/helpers/dbus-daemon';
import { Simulator } from '../ts/sim/index';
import { numberOption, option } from './args';

function cpuMs(pid: number): number {
    const fields = (fs.readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1] ?? '').split(' ');
    return (Number(fields[11]) + Number(fields[12])) * 10;
}

function rssMb(pid: number): number {
    const text = fs.readFileSync(`/proc/${pid}/status`, 'utf8');
    return Number(/VmRSS:\s+(\d+)/.exec(text)?.[1] ?? 0) / 1024;
}

const fmt = (n: number, digits = 1): string => n.toFixed(digits);

/** The consumer: scan, then report received changes per second as JSON lines. */
async function consumer(address: string): Promise<void> {
    const bus = await connectClient(address);
    let changes = 0;
    await SignalRecorder.create(bus, ['type=\'signal\',interface=\'com.victronenergy.BusItem\'']);
    bus.on('message', (m: Message) => {
        if (m.member === 'ItemsChanged')
            changes += Object.keys(m.body[0] as object).length;
        else if (m.member === 'PropertiesChanged')
            changes++;
    });
    const t0 = performance.now();
    const names = ((await call(bus, 'org.freedesktop.DBus', '/org/freedesktop/DBus', 'ListNames', { iface: 'org.freedesktop.DBus' })).body[0] as string[])
        .filter((n) => n.startsWith('com.victronenergy.'));
    let items = 0;
    for (const name of names)
        items += Object.keys((await call(bus, name, '/', 'GetItems', { timeoutMs: 60000 })).body[0] as object).length;
    process.stdout.write(`${JSON.stringify({ scan: { services: names.length, items, ms: performance.now() - t0 } })}\n`);
    setInterval(() => {
        process.stdout.write(`${JSON.stringify({ changes, at: Date.now() })}\n`);
    }, 1000);
}

class Consumer {
    private readonly child: ChildProcessWithoutNullStreams;
    private buffer = '';
    readonly lines: Array<Record<string, unknown>> = [];

    constructor(address: string) {
        this.child = spawn(process.execPath, [__filename, '--consumer', address]);
        this.child.stdout.setEncoding('utf8');
        this.child.stdout.on('data', (chunk: string) => {
            this.buffer += chunk;
            let nl: number;
            while ((nl = this.buffer.indexOf('\n')) >= 0) {
                this.lines.push(JSON.parse(this.buffer.slice(0, nl)) as Record<string, unknown>);
                this.buffer = this.buffer.slice(nl + 1);
            }
        });
        this.child.stderr.pipe(process.stderr);
    }

    get pid(): number {
        return this.child.pid ?? -1;
    }

    async next(key: string): Promise<Record<string, unknown>> {
        const seen = this.lines.length;
        for (;;) {
            const line = this.lines.slice(seen).find((l) => key in l) ?? (key === 'scan' ? this.lines.find((l) => key in l) : undefined);
            if (line)
                return line;
            await sleep(20);
        }
    }

    stop(): void {
        this.child.kill('SIGKILL');
    }
}

async function main(): Promise<void> {
    const services = numberOption('services', 100);
    const paths = numberOption('paths', 500);
    const churns = (option('churn') ?? '1000,5000').split(',').map(Number);
    const seconds = numberOption('seconds', 10);
    const daemon = await startDbusDaemon();
    console.log(`\n## Simulator, scale ${services} x ${paths} (${services * paths} items), ${seconds} s per churn rate`);
    try {
        const rows: string[] = [];
        let startRow = '';
        for (const churn of churns) {
            const cpu0 = process.cpuUsage();
            const t0 = performance.now();
            const sim = await Simulator.start({ busAddress: daemon.address, scale: { services, paths, churnPerSecond: churn } });
            const startMs = performance.now() - t0;
            const startCpu = process.cpuUsage(cpu0);
            const consumer = new Consumer(daemon.address);
            try {
                const scan = (await consumer.next('scan')).scan as { services: number; items: number; ms: number };
                if (!startRow) {
                    startRow = `start-up: ${fmt(startMs, 0)} ms (simulator CPU ${fmt((startCpu.user + startCpu.system) / 1000, 0)} ms), `
                        + `full scan by the consumer (ListNames + ${scan.services} x GetItems, ${scan.items} items): ${fmt(scan.ms, 0)} ms`;
                }
                await sleep(2000);
                const before = { sim: process.cpuUsage(), daemon: cpuMs(daemon.pid), consumer: cpuMs(consumer.pid), t: performance.now() };
                const first = await consumer.next('changes');
                await sleep(seconds * 1000);
                const last = await consumer.next('changes');
                const received = ((last.changes as number) - (first.changes as number)) / (((last.at as number) - (first.at as number)) / 1000);
                const elapsed = (performance.now() - before.t) / 1000;
                const simCpu = process.cpuUsage(before.sim);
                const pct = (ms: number): string => fmt(ms / 10 / elapsed);
                rows.push(`| ${churn} | ${pct((simCpu.user + simCpu.system) / 1000)} % | ${pct(cpuMs(daemon.pid) - before.daemon)} % `
                    + `| ${pct(cpuMs(consumer.pid) - before.consumer)} % | ${fmt(received, 0)} | ${fmt(rssMb(process.pid), 0)} MB |`);
            } finally {
                consumer.stop();
                await sim.stop();
            }
        }
        console.log(startRow);
        console.log('\n| churn /s | simulator CPU | dbus-daemon CPU | consumer CPU | changes received /s | simulator RSS |');
        console.log('|---|---|---|---|---|---|');
        rows.forEach((r) => console.log(r));
    } finally {
        await daemon.stop();
    }
}

if (process.argv[2] === '--consumer') {
    consumer(process.argv[3] ?? '').catch((err: unknown) => {
        console.error(err);
        process.exit(1);
    });
} else {
    main().catch((err: unknown) => {
        console.error(err);
        process.exitCode = 1;
    });
}
