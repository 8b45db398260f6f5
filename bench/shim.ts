// Benchmark of the shim (not a test: it prints numbers). Runs the real flashmq with and without the plugin, side
// by side in one run, so ratios are comparable on a noisy machine.
//
//   npm run bench:shim [-- --messages 100000 --rounds 3]
//
// Prints: start-up time and idle memory; broker CPU per client publish (no plugin, plugin with the publish kept
// in C++, plugin with the publish handed to a JavaScript handler); publish calls per second from TypeScript,
// single and batched; memory after repeated reloads.
import { spawn } from 'node:child_process';
import * as fs from 'node:fs';

import type { BrokerOptions, RunningBroker } from '../test/helpers/flashmq';
import { flashmqBinary, pluginPath, sleep, startBroker } from '../test/helpers/flashmq';
import { closeAll, connect, Inbox } from '../test/helpers/mqtt';
import { numberOption } from './args';

const MESSAGES = numberOption('messages', 100_000);
const ROUNDS = numberOption('rounds', 3);

function procStatus(pid: number): { rssMb: number; vmMb: number; threads: number } {
    const text = fs.readFileSync(`/proc/${pid}/status`, 'utf8');
    const kb = (key: string): number => Number(new RegExp(`${key}:\\s+(\\d+)`).exec(text)?.[1] ?? 0);
    return { rssMb: kb('VmRSS') / 1024, vmMb: kb('VmSize') / 1024, threads: kb('Threads') };
}

function cpuMs(pid: number): number {
    const fields = fs.readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
    return (Number(fields[11]) + Number(fields[12])) * 10;
}

const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
const fmt = (n: number, digits = 1): string => n.toFixed(digits);

async function timedStart(options: BrokerOptions): Promise<{ broker: RunningBroker; ms: number }> {
    const t0 = performance.now();
    const broker = await startBroker(options);
    return { broker, ms: performance.now() - t0 };
}

async function stop(broker: RunningBroker): Promise<void> {
    await broker.stop('SIGTERM');
    broker.cleanup();
}

const configs: Array<{ name: string; options: BrokerOptions; topic: string }> = [
    { name: 'no plugin', options: { plugin: null, entry: null }, topic: 'bench/x' },
    { name: 'plugin, publish not forwarded', options: { entry: null, pluginOptions: { portal_id: 'bench' } }, topic: 'bench/x' },
    { name: 'plugin, publish to a JS handler', options: {}, topic: 'probe/bench/in' },
];

async function startupAndIdle(): Promise<void> {
    console.log('\n## Start-up (spawn to listening) and idle memory, thread_count 1');
    console.log('| configuration | start-up ms (median) | RSS MB after 2 s idle | VmSize MB | threads |');
    console.log('|---|---|---|---|---|');
    for (const c of configs.slice(0, 2)) {
        const times: number[] = [];
        let status = { rssMb: 0, vmMb: 0, threads: 0 };
        for (let i = 0; i < ROUNDS + 2; i++) {
            const { broker, ms } = await timedStart(c.options);
            times.push(ms);
            if (i === 0) {
                await sleep(2000);
                status = procStatus(broker.proc.pid!);
            }
            await stop(broker);
        }
        console.log(`| ${c.name} | ${fmt(median(times))} | ${fmt(status.rssMb)} | ${fmt(status.vmMb)} | ${status.threads} |`);
    }
}

async function publishCpu(): Promise<void> {
    console.log(`\n## Broker CPU per client publish (${MESSAGES} QoS 0 publishes from mosquitto_pub -l, one mosquitto_sub subscriber)`);
    console.log('| configuration | broker CPU ms (median) | µs per publish | ratio to no plugin |');
    console.log('|---|---|---|---|');
    const lines = `${Array.from({ length: MESSAGES }, (_, i) => `m${i}`).join('\n')}\n`;
    let base = 0;
    for (const c of configs) {
        const samples: number[] = [];
        for (let r = 0; r < ROUNDS; r++) {
            const broker = await startBroker({ ...c.options, logLevel: 'warning' });
            const sub = spawn('mosquitto_sub', ['-p', String(broker.port), '-t', c.topic, '-C', String(MESSAGES), '-q', '0']);
            sub.stdout.resume();
            const subDone = new Promise<void>((resolve) => sub.on('exit', () => resolve()));
            await sleep(300);
            const before = cpuMs(broker.proc.pid!);
            const pub = spawn('mosquitto_pub', ['-p', String(broker.port), '-t', c.topic, '-l', '-q', '0']);
            pub.stdin.end(lines);
            await new Promise((resolve) => pub.on('exit', resolve));
            await Promise.race([subDone, sleep(20_000)]);
            samples.push(cpuMs(broker.proc.pid!) - before);
            sub.kill();
            await stop(broker);
        }
        const ms = median(samples);
        if (c.name === 'no plugin')
            base = ms;
        console.log(`| ${c.name} | ${ms} | ${fmt((ms * 1000) / MESSAGES, 2)} | ${base ? fmt(ms / base, 2) : '-'} |`);
    }
}

async function publishRate(): Promise<void> {
    const n = 200_000;
    console.log(`\n## Publish calls from TypeScript (${n} messages of 1 byte, no subscriber)`);
    console.log('| path | ms (median) | calls per second |');
    console.log('|---|---|---|');
    const broker = await startBroker({ logLevel: 'warning' });
    const c = await connect(broker.port);
    const inbox = await Inbox.subscribe(c, 'probe/reply/#');
    const labels: Record<string, string> = {
        single: 'publish() per message',
        batched: 'FrameBatch.add() + one publishFrames() call',
        cached: 'cached frames + one publishFrames() call',
    };
    for (const mode of ['single', 'batched', 'cached']) {
        const samples: number[] = [];
        for (let r = 0; r < ROUNDS + 1; r++) {
            inbox.clear();
            await c.publishAsync('probe/cmd', `${mode} ${n}`);
            const m = await inbox.waitFor(`probe/reply/${mode}`, 20_000);
            if (r > 0) // the first round warms up the JIT
                samples.push(Number(m.payload.toString()));
        }
        const ms = median(samples);
        console.log(`| ${labels[mode]} | ${fmt(ms)} | ${fmt(n / ms / 1000, 2)} M/s |`);
    }
    await closeAll(c);
    await stop(broker);
}

async function loopLatency(): Promise<void> {
    const rounds = 30;
    console.log(`\n## Latency of the loop integration (${rounds} rounds each)`);
    console.log('| what | median | max |');
    console.log('|---|---|---|');
    const broker = await startBroker({ logLevel: 'warning' });
    const c = await connect(broker.port);
    const inbox = await Inbox.subscribe(c, 'probe/reply/#');
    const lateness: number[] = [];
    for (let i = 0; i < rounds; i++) {
        inbox.clear();
        await c.publishAsync('probe/cmd', 'timer 20');
        lateness.push(Number((await inbox.waitFor('probe/reply/timer')).payload.toString()) - 20);
    }
    console.log(`| a 20 ms timer set inside a hook fires late by (ms, as JavaScript measures it) | ${median(lateness)} | ${Math.max(...lateness)} |`);
    for (const [what, username] of [['login answered synchronously', 'sync-ok'], ['login answered by a resolved promise', 'microtask-ok'], ['login answered by a 100 ms promise', 'async-ok']]) {
        const times: number[] = [];
        for (let i = 0; i < rounds; i++) {
            const t0 = performance.now();
            const client = await connect(broker.port, { username, password: 'x' });
            times.push(performance.now() - t0);
            await closeAll(client);
        }
        console.log(`| ${what}: connect to CONNACK (ms) | ${fmt(median(times))} | ${fmt(Math.max(...times))} |`);
    }
    await closeAll(c);
    await stop(broker);
}

async function reloads(): Promise<void> {
    const cycles = 50;
    console.log(`\n## Memory across reloads (${cycles} SIGHUPs; the JavaScript world is kept)`);
    const broker = await startBroker({ entry: null, logLevel: 'warning', pluginOptions: { portal_id: 'bench' } });
    await sleep(500);
    const before = procStatus(broker.proc.pid!);
    for (let i = 0; i < cycles; i++) {
        broker.proc.kill('SIGHUP');
        await sleep(60);
    }
    await sleep(500);
    const after = procStatus(broker.proc.pid!);
    console.log(`RSS ${fmt(before.rssMb)} MB -> ${fmt(after.rssMb)} MB, threads ${before.threads} -> ${after.threads}`);
    await stop(broker);
}

async function main(): Promise<void> {
    if (!flashmqBinary() || !fs.existsSync(pluginPath)) {
        console.log('SKIPPED: the benchmark needs flashmq (FLASHMQ_BIN, PATH or scripts/flashmq.sh) and the built plugin (npm run build)');
        return;
    }
    console.log(`# dbus-flashmq shim benchmark, ${new Date().toISOString()}, ${ROUNDS} rounds`);
    await startupAndIdle();
    await publishCpu();
    await publishRate();
    await loopLatency();
    await reloads();
}

main().catch((err: unknown) => {
    console.error(err);
    process.exitCode = 1;
});
