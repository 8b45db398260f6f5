// Memory of the broker with the plugin (not a test: it prints numbers): RSS, peak RSS and address space (VmSize)
// idle, after the bct recording's full publish and after one of 50,000 items, for a few configurations of the
// plugin's memory options; and whether each configuration still runs under Venus' address-space limit
// (softlimit -a 150000000, applied here with prlimit --as).
//
//   npm run bench:memory [-- --limit 150000000]
import * as fs from 'node:fs';

import type { BrokerOptions } from '../test/helpers/flashmq';
import { flashmqBinary, sleep } from '../test/helpers/flashmq';
import { closeAll, connect, Inbox } from '../test/helpers/mqtt';
import type { SimulatedGx } from '../test/helpers/venus';
import { PORTAL_ID, startGx } from '../test/helpers/venus';
import { option } from './args';

const LIMIT = Number(option('limit') ?? 150_000_000);

interface Configuration {
    name: string;
    options: Record<string, string>;
}

const configurations: Configuration[] = [
    { name: 'defaults', options: {} },
    { name: 'small heap', options: { node_args: '--max-semi-space-size=1 --max-old-space-size=64' } },
    { name: 'small heap, 1 arena, 1+2 threads', options: { node_args: '--max-semi-space-size=1 --max-old-space-size=64', malloc_arena_max: '1', node_platform_threads: '1', threadpool_size: '2' } },
    { name: 'as above, --jitless', options: { node_args: '--max-semi-space-size=1 --max-old-space-size=64 --jitless', malloc_arena_max: '1', node_platform_threads: '1', threadpool_size: '2' } },
];

interface Load {
    name: string;
    recording?: string;
    scale?: { services: number; paths: number };
}

const loads: Load[] = [
    { name: 'idle (settings only)' },
    { name: 'bct', recording: 'bct' },
    { name: '50,000 items', scale: { services: 100, paths: 500 } },
];

function status(pid: number): { rss: number; anon: number; hwm: number; size: number; threads: number } {
    const text = fs.readFileSync(`/proc/${pid}/status`, 'utf8');
    const kb = (key: string): number => Number(new RegExp(`${key}:\\s+(\\d+)`).exec(text)?.[1] ?? NaN);
    return { rss: kb('VmRSS') / 1024, anon: kb('RssAnon') / 1024, hwm: kb('VmHWM') / 1024, size: kb('VmSize') / 1024, threads: kb('Threads') };
}

/** A keep-alive answered with its full publish: the load the plugin carries on a device in use. */
async function fullPublish(gx: SimulatedGx): Promise<number> {
    const client = await connect(gx.port);
    try {
        const inbox = await Inbox.subscribe(client, `N/${PORTAL_ID}/#`);
        await client.publishAsync(`R/${PORTAL_ID}/keepalive`, '');
        await inbox.waitFor((m) => m.topic === `N/${PORTAL_ID}/full_publish_completed`, 60_000);
        return inbox.messages.length;
    } finally {
        await closeAll(client);
    }
}

async function measure(config: Configuration, load: Load, wrapper?: string[]): Promise<string> {
    const broker: Partial<BrokerOptions> = { logLevel: 'notice' };
    if (wrapper)
        broker.wrapper = wrapper;
    let gx: SimulatedGx | undefined;
    try {
        gx = await startGx({
            ...(load.recording ? { recording: load.recording } : {}), ...(load.scale ? { scale: load.scale } : {}),
            broker, pluginOptions: { ...config.options, skip_broker_registration: 'true' },
        });
        await fullPublish(gx);
        await sleep(500);
        const s = status(gx.broker.proc.pid!);
        if (wrapper)
            return 'runs';
        return `${s.rss.toFixed(0)} (${s.anon.toFixed(0)}) / ${s.hwm.toFixed(0)} / ${s.size.toFixed(0)} (${s.threads})`;
    } catch (err) {
        if (wrapper)
            return `fails: ${(err instanceof Error ? err.message : String(err)).split('\n')[0]!.slice(0, 80)}`;
        throw err;
    } finally {
        await gx?.stop().catch(() => undefined);
    }
}

async function main(): Promise<void> {
    if (!flashmqBinary()) {
        console.log('SKIPPED: the benchmark needs flashmq (FLASHMQ_BIN, PATH or scripts/flashmq.sh) and the built plugin');
        return;
    }
    console.log(`# Memory of the broker with the plugin, ${new Date().toISOString()}, ${process.arch}`);
    console.log('\nRSS (of it anonymous, the rest is mapped files: mostly libnode\'s code) / peak RSS / VmSize in MiB (threads), after a full publish:\n');
    console.log(`| configuration | ${loads.map((l) => l.name).join(' | ')} | under prlimit --as=${LIMIT} (bct) |`);
    console.log(`|---|${loads.map(() => '---|').join('')}---|`);
    for (const config of configurations) {
        const cells: string[] = [];
        for (const load of loads)
            cells.push(await measure(config, load));
        cells.push(await measure(config, loads[1]!, ['prlimit', `--as=${LIMIT}`, '--']));
        console.log(`| ${config.name} | ${cells.join(' | ')} |`);
    }
    console.log('\nOptions: ' + configurations.map((c) => `${c.name}: ${Object.entries(c.options).map(([k, v]) => `plugin_opt_${k} ${v}`).join(', ') || '-'}`).join('; '));
}

main().catch((err: unknown) => {
    console.error(err);
    process.exitCode = 1;
});
