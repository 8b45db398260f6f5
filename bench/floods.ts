// Benchmark of the plugin under floods from one greedy client (not a test: it prints numbers). For each flood, on the
// bct recording: the broker's CPU and a well-behaved client's keep-alive latency (to its own completion echo), p50
// and p99, one keep-alive every 400 ms (below the 3 republishes a second); with no flood first, as the reference.
//
//   npm run bench:floods [-- --seconds 5] [--only <part of a flood's name>]
import * as fs from 'node:fs';

import type { MqttClient } from 'mqtt';

import { flashmqBinary, sleep } from '../test/helpers/flashmq';
import { closeAll, connect, Inbox } from '../test/helpers/mqtt';
import { PORTAL_ID, startGx } from '../test/helpers/venus';
import { numberOption, option } from './args';

const SECONDS = numberOption('seconds', 5);
const ONLY = option('only');

function cpuMs(pid: number): number {
    const f = fs.readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
    return (Number(f[11]) + Number(f[12])) * 10;
}

const percentile = (xs: number[], p: number): number => [...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.floor(xs.length * p))] ?? NaN;

interface Flood {
    name: string;
    /** One round of the flood: a batch of publishes. */
    round(client: MqttClient, i: number): Array<Promise<unknown>>;
}

const W = `W/${PORTAL_ID}/settings/0/Settings/Gui/Brightness`;
const big = Buffer.alloc(200_000, 0x5b);
const deep = `{"value":${'['.repeat(10_000)}${']'.repeat(10_000)}}`;

const floods: Flood[] = [
    { name: 'none (reference)', round: () => [] },
    {
        name: 'keep-alives with echoes',
        round: (c, i) => Array.from({ length: 50 }, (_, k) =>
            c.publishAsync(`R/${PORTAL_ID}/keepalive`, JSON.stringify({ 'keepalive-options': [{ 'full-publish-completed-echo': `f${i}-${k}` }] }))),
    },
    { name: 'reads of a whole service (settings, ~300 items)', round: (c) => Array.from({ length: 50 }, () => c.publishAsync(`R/${PORTAL_ID}/settings/0/`, '')) },
    {
        name: 'malformed writes (bad JSON, objects, mixed arrays, unknown paths)',
        round: (c, i) => Array.from({ length: 50 }, (_, k) => c.publishAsync(
            [W, `W/${PORTAL_ID}/nope/0/X`, W, W][k % 4]!, ['{"value":', '{"value":{"a":1}}', '{"value":[1,"a"]}', '{"value":"a\\u0000b"}'][(i + k) % 4]!)),
    },
    { name: 'oversized write payloads (200 kB)', round: (c) => Array.from({ length: 10 }, () => c.publishAsync(W, big)) },
    { name: 'deeply nested writes (10,000 levels)', round: (c) => Array.from({ length: 20 }, () => c.publishAsync(W, deep)) },
    { name: 'odd topics (R/, W/, I/ junk)', round: (c, i) => Array.from({ length: 50 }, (_, k) => c.publishAsync([`R/${PORTAL_ID}/${'x/'.repeat(k)}`, `W/${PORTAL_ID}//../${i}`, `I/local/in/${k}`, `R/${PORTAL_ID}`][k % 4]!, 'x')) },
];

async function run(flood: Flood): Promise<string> {
    const gx = await startGx({ recording: 'bct', broker: { logLevel: 'notice' }, pluginOptions: { skip_broker_registration: 'true' } });
    const clients: MqttClient[] = [];
    try {
        const greedy = await connect(gx.port, { clientId: 'greedy' });
        const polite = await connect(gx.port, { clientId: 'polite' });
        clients.push(greedy, polite);
        const inbox = await Inbox.subscribe(polite, `N/${PORTAL_ID}/full_publish_completed`);
        let flooding = true;
        let sent = 0;
        const flooder = (async () => {
            for (let i = 0; flooding; i++) {
                const batch = flood.round(greedy, i);
                sent += batch.length;
                await Promise.all(batch);
                await sleep(batch.length === 0 ? 50 : 1);
            }
        })();
        await sleep(500);
        const c0 = cpuMs(gx.broker.proc.pid!);
        const t0 = Date.now();
        const latencies: number[] = [];
        let missed = 0;
        for (let i = 0; Date.now() - t0 < SECONDS * 1000; i++) {
            const echo = `polite-${i}`;
            const start = performance.now();
            await polite.publishAsync(`R/${PORTAL_ID}/keepalive`, JSON.stringify({ 'keepalive-options': [{ 'full-publish-completed-echo': echo }] }));
            try {
                await inbox.waitFor((m) => m.payload.toString().includes(`"${echo}"`), 5000);
                latencies.push(performance.now() - start);
            } catch {
                missed++;
            }
            await sleep(400);
        }
        const cpu = cpuMs(gx.broker.proc.pid!) - c0;
        const seconds = (Date.now() - t0) / 1000;
        flooding = false;
        await flooder;
        const up = gx.broker.running ? '' : ' (broker died!)';
        return `| ${flood.name} | ${(sent / (seconds + 0.5)).toFixed(0)} | ${((cpu / (seconds * 1000)) * 100).toFixed(0)} % | ${percentile(latencies, 0.5).toFixed(1)} / ${percentile(latencies, 0.99).toFixed(1)} | ${missed}${up} |`;
    } finally {
        await closeAll(...clients);
        await gx.stop();
    }
}

async function main(): Promise<void> {
    if (!flashmqBinary()) {
        console.log('SKIPPED: the benchmark needs flashmq (FLASHMQ_BIN, PATH or scripts/flashmq.sh) and the built plugin');
        return;
    }
    console.log(`# Floods from one greedy client, bct recording, ${SECONDS} s each, ${new Date().toISOString()}`);
    console.log('\n| flood | greedy publishes per second | broker CPU | polite keep-alive p50 / p99 (ms) | polite keep-alives unanswered in 5 s |');
    console.log('|---|---|---|---|---|');
    for (const flood of floods.filter((f) => ONLY === undefined || f.name === 'none (reference)' || f.name.includes(ONLY)))
        console.log(await run(flood));
}

main().catch((err: unknown) => {
    console.error(err);
    process.exitCode = 1;
});
