// The package on an emulated GX device under full-system qemu (test/helpers/gx-vm.ts): a real kernel enforcing Venus
// OS's limits on FlashMQ (1.23.2 by default, what Venus v3.7x ships), which runs as user flashmq under daemontools.
// Not a test: it prints numbers. Per target and load (the bct recording; 50,000 items), on a freshly booted device
// with the package installed as a user would: the service's start to FlashMQ's listener and to the plugin's
// "D-Bus discovery done", the broker's VmPeak, VmData and VmHWM (its /proc/<pid>/status) after a full publish, a
// burst of changes and a write, V8's heap at its largest (the plugin's stats lines), the plugin's memory line, the guest CPU time the broker spent per full publish, per
// 1,000 changes and per write, and how long the run took.
//
//   npm run bench:gx [-- --arch armhf|arm64] [--load bct|50k] [--flashmq 1.23.2] [--stock <libflashmq-dbus-plugin.so>]
//
// --stock <file> (of --arch's architecture) adds a baseline row: the same load on an image whose stock plugin is that
// file, without our package (the original plugin: it takes its portal id from /data/venus/unique-id and logs nothing
// when its discovery is done, so readiness is its retained N/<id>/system/0/Serial). Not tried yet: we have no ARM
// build of the original here.
//
// CPU figures are the guest's (utime + stime of the broker in /proc/<pid>/stat), under TCG emulation: compare rows
// with each other, not with a device.
import { Variant } from 'dbus-next';
import type { MqttClient } from 'mqtt';

import { Simulator } from '../ts/sim';
import { fullPublish } from '../test/helpers/conformance';
import type { GxArch, GxImage } from '../test/helpers/gx-vm';
import { brokerFacts, flashmqLog, GX_ARCHS, GxVm, lastStart, logEnd, missingForGxVm, packageFor, prepareImage, servicePid, turnOnLanMqtt, waitForLog } from '../test/helpers/gx-vm';
import { closeAll, connect, Inbox } from '../test/helpers/mqtt';
import { PORTAL_ID, recordingsDir } from '../test/helpers/venus';
import { option } from './args';

type Load = 'bct' | '50k';
const onlyArch = option('arch') as GxArch | undefined;
const onlyLoad = option('load') as Load | undefined;
const flashmq = option('flashmq') ?? '1.23.2';
const stock = option('stock');
const N = `N/${PORTAL_ID}`;
const BURST = 'com.victronenergy.battery.burst';
const BURST_PATHS = Array.from({ length: 40 }, (_, i) => `/Burst/Value${i}`);
const CHANGES: Record<Load, number> = { bct: 2000, '50k': 20_000 };
const USER_HZ = 100; // Linux's clock ticks in /proc/<pid>/stat, on ARM as everywhere

const mb = (kb: number): string => (kb * 1024 / 1e6).toFixed(1);

/** The broker's CPU time so far (utime + stime), seconds. */
async function cpuSeconds(vm: GxVm, pid: number): Promise<number> {
    const stat = await vm.sh(`cat /proc/${pid}/stat`);
    const fields = stat.slice(stat.lastIndexOf(')') + 2).trim().split(/\s+/);
    return (Number(fields[11]) + Number(fields[12])) / USER_HZ; // fields 14 and 15 of the whole line
}

/** Waits until a new subscriber gets the retained N/<id>/system/0/Serial (the original plugin has scanned the bus). */
async function waitForRetainedSerial(vm: GxVm, timeoutMs: number): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
        const client = await connect(vm.mqttPort, { protocolVersion: 4 }).catch(() => undefined);
        try {
            if (client) {
                const inbox = await Inbox.subscribe(client, `${N}/system/0/Serial`);
                await inbox.waitFor(`${N}/system/0/Serial`, 3000);
                return;
            }
        } catch {
            // not yet
        } finally {
            await closeAll(client);
        }
        if (Date.now() > deadline)
            throw new Error(`no retained ${N}/system/0/Serial within ${timeoutMs / 1000} s`);
        await new Promise((resolve) => setTimeout(resolve, 1000));
    }
}

async function measure(arch: GxArch, load: Load, image: GxImage, ours: boolean): Promise<string[]> {
    const started = Date.now();
    let vm: GxVm | undefined;
    let sim: Simulator | undefined;
    let client: MqttClient | undefined;
    try {
        vm = await GxVm.boot({ image });
        sim = await Simulator.start({ busAddress: vm.busAddress, speed: 0, recordingsDir, settings: true,
            ...(load === 'bct' ? { recording: `${recordingsDir}/bct` } : { scale: { services: 100, paths: 500 } }) });
        await sim.addService({ name: 'com.victronenergy.system', items: [
            { path: '/DeviceInstance', value: new Variant('i', 0) }, { path: '/Serial', value: new Variant('s', PORTAL_ID) }] });
        await sim.addService({ name: BURST, items: [{ path: '/DeviceInstance', value: new Variant('i', 901) },
            ...BURST_PATHS.map((p) => ({ path: p, value: new Variant('d', 0.5) }))] });
        await turnOnLanMqtt(vm);
        await vm.writeFile('/data/venus/unique-id', `${PORTAL_ID}\n`);
        await vm.writeFile('/data/conf/vncpassword.txt', '');
        if (ours) {
            // The plugin's stats lines give V8's heap (its peak is read from them at the end).
            await vm.writeFile('/data/conf/dbus-flashmq-ts.options', 'plugin_opt_stats_interval_s 5\n');
            const after = await logEnd(vm);
            const archive = vm.shareFile(packageFor(arch)!);
            await vm.sh(`tar -xzf '${archive}' -C /data && rm -f '${archive}' && /data/dbus-flashmq-ts/install.sh`);
            await waitForLog(vm, /dbus-flashmq: .*D-Bus discovery done/, { after, timeoutMs: 600_000 });
        } else {
            await vm.sh('svc -t /service/flashmq'); // a start with the services on the bus, as ours gets
            await new Promise((resolve) => setTimeout(resolve, 2000));
            await waitForRetainedSerial(vm, 600_000);
        }
        const start = lastStart(await flashmqLog(vm));
        const pid = (await servicePid(vm))!;
        client = await connect(vm.mqttPort, { protocolVersion: 4 });
        const inbox = await Inbox.subscribe(client, `${N}/#`);

        let cpu = await cpuSeconds(vm, pid);
        const rounds = load === 'bct' ? 3 : 2;
        for (let round = 0; round < rounds; round++)
            await fullPublish(client, inbox, PORTAL_ID, `bench-${round}`, 600_000);
        const perPublish = (await cpuSeconds(vm, pid) - cpu) / rounds;

        inbox.clear();
        cpu = await cpuSeconds(vm, pid);
        let received = 0;
        const count = (topic: string): void => {
            if (topic.startsWith(`${N}/battery/901/Burst/`))
                received++;
        };
        client.on('message', count);
        const total = CHANGES[load];
        let sent = 0;
        const deadline = Date.now() + 600_000;
        while (received < total && Date.now() < deadline) {
            while (sent < total && sent - received < 2000) {
                sim.change(BURST, BURST_PATHS[sent % BURST_PATHS.length]!, new Variant('d', sent + 0.25), 'items');
                sent++;
            }
            await new Promise((resolve) => setTimeout(resolve, 5));
        }
        client.off('message', count);
        const perThousand = (await cpuSeconds(vm, pid) - cpu) / (received / 1000);

        cpu = await cpuSeconds(vm, pid);
        const writes = 20;
        for (let i = 0; i < writes; i++) {
            inbox.clear();
            await client.publishAsync(`W/${PORTAL_ID}/battery/901/Burst/Value0`, `{"value":${i + 0.5}}`);
            await inbox.waitFor((m) => m.topic === `${N}/battery/901/Burst/Value0` && m.payload.toString() === `{"value":${i + 0.5}}`, 60_000);
        }
        const perWrite = (await cpuSeconds(vm, pid) - cpu) / writes;

        await new Promise((resolve) => setTimeout(resolve, 5000)); // the plugin's start-up trim comes 3 s after discovery
        const f = await brokerFacts(vm);
        const heap = { used: 0, total: 0, limit: 0 };
        for (const line of await flashmqLog(vm)) {
            const m = /dbus-flashmq: stats process (\{.*\})/.exec(line.text);
            if (!m)
                continue;
            const s = JSON.parse(m[1]!) as { heapUsedMb: number; heapTotalMb: number; heapLimitMb: number };
            heap.used = Math.max(heap.used, s.heapUsedMb);
            heap.total = Math.max(heap.total, s.heapTotalMb);
            heap.limit = s.heapLimitMb;
        }
        return [
            start.toListening?.toFixed(2) ?? '?', start.toDiscovery?.toFixed(2) ?? '-',
            mb(f.vmPeakKb), mb(f.vmDataKb), mb(f.vmHwmKb), ours ? `${heap.used.toFixed(1)} / ${heap.total.toFixed(1)} (${heap.limit.toFixed(0)})` : '-',
            perPublish.toFixed(2), `${perThousand.toFixed(2)}${received < total ? ` (${received} of ${total} delivered)` : ''}`, perWrite.toFixed(3),
            `${((Date.now() - started) / 1000).toFixed(0)} s`,
            start.memoryLines.map((l) => l.replace('dbus-flashmq: memory: ', '')).join(' / ') || '-',
        ];
    } catch (err) {
        const console_ = vm?.consoleLog().slice(-1500) ?? '';
        return [`failed: ${(err instanceof Error ? err.message : String(err)).split('\n')[0]}${console_ ? ` (console: ${console_.split('\n').slice(-3).join(' | ')})` : ''}`];
    } finally {
        await closeAll(client);
        await sim?.stop();
        await vm?.cleanup();
    }
}

async function main(): Promise<void> {
    const archs = onlyArch ? [onlyArch] : [...GX_ARCHS];
    const loads: Load[] = onlyLoad ? [onlyLoad] : ['bct', '50k'];
    const rows: string[] = [];
    for (const arch of archs) {
        const missing = missingForGxVm(arch);
        if (!packageFor(arch))
            missing.push(`the ${arch} package (scripts/package.sh --arch ${arch})`);
        if (missing.length > 0) {
            console.log(`SKIPPED ${arch}: missing ${missing.join(', ')}`);
            continue;
        }
        const image = prepareImage({ arch, flashmq });
        const baseline = stock !== undefined ? prepareImage({ arch, flashmq, stock }) : undefined;
        for (const load of loads) {
            rows.push(`| ${arch} | ${load === 'bct' ? 'bct' : '50,000 items'} | ours | ${(await measure(arch, load, image, true)).join(' | ')} |`);
            if (baseline)
                rows.push(`| ${arch} | ${load === 'bct' ? 'bct' : '50,000 items'} | stock | ${(await measure(arch, load, baseline, false)).join(' | ')} |`);
        }
    }
    console.log(`# The package on a GX device under full-system qemu (FlashMQ ${flashmq}, Venus's limits enforced by the kernel), ${new Date().toISOString()}`);
    console.log('MB = 1,000,000 bytes; times from the service\'s start (its run script); CPU: the broker\'s guest CPU seconds (TCG).');
    console.log('\n| target | load | plugin | start to listening, s | start to discovery, s | VmPeak, MB | VmData, MB | VmHWM, MB | V8 heap used / total at most (limit), MB | CPU per full publish, s | CPU per 1,000 changes, s | CPU per write, s | run | memory line |');
    console.log('|---|---|---|---|---|---|---|---|---|---|---|---|---|---|');
    for (const row of rows)
        console.log(row);
}

main().catch((err: unknown) => {
    console.error(err);
    process.exitCode = 1;
});
