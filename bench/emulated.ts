// The Venus packages under qemu-user (not a test: it prints numbers): per target, the archive's size, the start-up
// (broker start to "D-Bus discovery done") and the guest's address space and V8 heap after the bct recording (a full
// publish, 2,000 changes, a write) and after 50,000 items (a full publish), against Venus's limits.
//
//   npm run bench:emulated [-- --arch armhf]
//
// The address space is the guest's own view (/proc/self/maps inside the guest, read by the plugin's stats line).
// qemu runs under the stack limit Venus sets (softlimit -s 10000000), so FlashMQ's threads get the stacks they get
// on a device; but qemu ignores the guest's setrlimit, so the runtime's four threads keep 10 MB stacks instead of
// the 2 MiB the memory plan gives them on a device, and the guest's main stack is a fixed mapping of the limit's
// size where a device maps what is used. "On a device" corrects for those two, and only those.
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';

import { Variant } from 'dbus-next';

import { Simulator } from '../ts/sim';
import type { DbusDaemon } from '../test/helpers/dbus-daemon';
import { startDbusDaemon } from '../test/helpers/dbus-daemon';
import type { Arch } from '../test/helpers/emulated';
import { ARCHS, missingForEmulation, packageArchive, prepareGuest, startEmulatedBroker } from '../test/helpers/emulated';
import { closeAll, connect, Inbox } from '../test/helpers/mqtt';
import { PORTAL_ID, recordingsDir } from '../test/helpers/venus';
import { option } from './args';

const only = option('arch') as Arch | undefined;
const MiB = 1048576;
const LIMITS: Record<Arch, number> = { armhf: 150e6, arm64: 600e6 };
const VENUS_STACK = 10_000_000;
const RUNTIME_THREADS = 4; // one V8 worker, V8's delayed-task thread, two pool threads
const DEVICE_THREAD_STACK = 2 * MiB;

interface Mapping {
    size: number;
    perms: string;
    name: string;
}

function readMaps(text: string): Mapping[] {
    const out: Mapping[] = [];
    for (const line of text.split('\n')) {
        const m = /^([0-9a-f]+)-([0-9a-f]+) (\S+) \S+ \S+ \S+\s*(.*)$/.exec(line);
        if (m)
            out.push({ size: parseInt(m[2]!, 16) - parseInt(m[1]!, 16), perms: m[3]!, name: m[4]!.trim() });
    }
    return out;
}

interface Sample {
    guestMb: number;
    deviceMb: number;
    heapUsedMb: number;
    heapTotalMb: number;
    threadStacks: number;
}

/** The guest's maps (written by a probe entry into the guest root) and its stats line. */
function sample(root: string, statsLine: string): Sample {
    const maps = readMaps(fs.readFileSync(path.join(root, 'data/maps.txt'), 'utf8'));
    const total = maps.reduce((s, m) => s + m.size, 0);
    // Thread stacks: anonymous read-write mappings of the stack limit's size (rounded to pages), after a guard page.
    const stackSize = Math.ceil(VENUS_STACK / 4096) * 4096;
    const stacks = maps.filter((m) => m.name === '' && m.perms === 'rw-p' && Math.abs(m.size - stackSize) <= 65536);
    const mainStack = maps.find((m) => m.name === '[stack]')?.size ?? 0;
    const ours = Math.min(RUNTIME_THREADS, stacks.length);
    const device = total - mainStack + 132 * 1024 - ours * (stacks[0]?.size ?? 0) + ours * DEVICE_THREAD_STACK;
    const figures = JSON.parse(statsLine.slice(statsLine.indexOf('{'))) as Record<string, number>;
    return { guestMb: total / 1e6, deviceMb: device / 1e6, heapUsedMb: figures.heapUsedMb!, heapTotalMb: figures.heapTotalMb!, threadStacks: stacks.length };
}

const PROBE = `require('/data/dbus-flashmq-ts/dist/ts/index.js');
const fs = require('fs');
setInterval(() => fs.writeFileSync('/data/maps.txt', fs.readFileSync('/proc/self/maps', 'utf8')), 1000);
`;

async function measure(arch: Arch, workload: 'bct' | '50,000 items'): Promise<string[]> {
    let daemon: DbusDaemon | undefined;
    let sim: Simulator | undefined;
    const cells: string[] = [];
    try {
        daemon = await startDbusDaemon();
        sim = await Simulator.start({ busAddress: daemon.address, speed: 0, recordingsDir,
            ...(workload === 'bct' ? { recording: `${recordingsDir}/bct` } : { scale: { services: 100, paths: 500 } }) });
        await sim.addService({ name: 'com.victronenergy.battery.emu', items: [{ path: '/DeviceInstance', value: new Variant('i', 901) },
            ...Array.from({ length: 40 }, (_, i) => ({ path: `/V${i}`, value: new Variant('d', 0.5) }))] });
        const root = prepareGuest(arch, PORTAL_ID);
        fs.writeFileSync(path.join(root, 'data/dbus-flashmq-ts/dist/probe.js'), PROBE);
        const busDir = path.dirname(/unix:path=([^,;]+)/.exec(daemon.address)![1]!);
        const t0 = performance.now();
        const run = await startEmulatedBroker(arch, root, {
            dbus_address: daemon.address, skip_broker_registration: 'true', stats_interval_s: '1', entry: '/data/dbus-flashmq-ts/dist/probe.js',
        }, [busDir], [], ['prlimit', `--stack=${VENUS_STACK}`, '--']);
        try {
            await run.broker.waitForLog(/D-Bus discovery done/, 300_000);
            cells.push(`${((performance.now() - t0) / 1000).toFixed(1)} s`);
            const client = await connect(run.broker.port, { protocolVersion: 4 });
            const inbox = await Inbox.subscribe(client, `N/${PORTAL_ID}/#`);
            await client.publishAsync(`R/${PORTAL_ID}/keepalive`, '');
            await inbox.waitFor(`N/${PORTAL_ID}/full_publish_completed`, 300_000);
            inbox.clear();
            for (let i = 0; i < 2000; i++) {
                sim.change('com.victronenergy.battery.emu', `/V${i % 40}`, new Variant('d', i + 0.5), 'items');
                if (i % 100 === 99)
                    await new Promise((resolve) => setTimeout(resolve, 20));
            }
            await client.publishAsync(`W/${PORTAL_ID}/battery/901/V0`, '{"value":7.5}');
            await inbox.waitFor((m) => m.topic === `N/${PORTAL_ID}/battery/901/V0` && m.payload.toString() === '{"value":7.5}', 60_000);
            await closeAll(client);
            await new Promise((resolve) => setTimeout(resolve, 5000)); // the start-up trim, and a stats line after it
            const line = await run.broker.waitForLog(/dbus-flashmq: stats process \{[^\n]*\}/, 10_000, run.broker.log().length);
            const s = sample(root, line);
            cells.push(`${s.guestMb.toFixed(0)} (${s.threadStacks} thread stacks)`, `${s.deviceMb.toFixed(0)}`, `${s.heapUsedMb} / ${s.heapTotalMb}`);
        } finally {
            await run.broker.stop('SIGTERM', 60_000);
            run.broker.cleanup();
        }
    } catch (err) {
        cells.push(`failed: ${(err instanceof Error ? err.message : String(err)).split('\n')[0]}`);
    } finally {
        await sim?.stop();
        await daemon?.stop();
    }
    return cells;
}

async function main(): Promise<void> {
    const archs = only ? [only] : [...ARCHS];
    const rows: string[] = [];
    for (const arch of archs) {
        const missing = missingForEmulation(arch);
        if (missing.length > 0) {
            console.log(`SKIPPED ${arch}: missing ${missing.join(', ')}`);
            continue;
        }
        const archive = packageArchive(arch)!;
        const unpacked = execFileSync('sh', ['-c', `tar -tvzf '${archive}' | awk '{ s += $3 } END { print s }'`], { encoding: 'utf8' }).trim();
        for (const workload of ['bct', '50,000 items'] as const) {
            const cells = await measure(arch, workload);
            rows.push(`| ${arch} | ${(fs.statSync(archive).size / 1e6).toFixed(1)} MB (${(Number(unpacked) / 1e6).toFixed(0)} MB unpacked) | ${workload} | ${cells.join(' | ')} | ${LIMITS[arch] / 1e6} MB |`);
        }
    }
    console.log(`# The Venus packages under qemu-user, ${new Date().toISOString()}; MB = 1,000,000 bytes`);
    console.log('\n| target | archive | load | start-up to discovery | guest address space, MB | on a device, MB | V8 heap used / total, MB | Venus limit |');
    console.log('|---|---|---|---|---|---|---|---|');
    for (const row of rows)
        console.log(row);
}

main().catch((err: unknown) => {
    console.error(err);
    process.exitCode = 1;
});
