// A GX device under full-system qemu (test/helpers/gx-vm.ts, scripts/gx-vm.sh), per target: a real kernel enforcing
// Venus OS's limits on FlashMQ 1.23.2 (what Venus v3.7x ships), which runs as user flashmq under daemontools with
// Venus's run line. The stock device first (the stand-in for the stock plugin); then the package installed as a user
// would (unpacked into /data, install.sh, which restarts FlashMQ through svc -t), with the Venus simulator on this
// machine putting the bct recording on the device's bus: a full publish byte for byte as the original's, a write, a
// reload (svc -h), memory within the limits, a reboot (rcS.local brings the plugin back) and uninstall.sh (back to
// the stock plugin). With DFMQ_GX_FULL=1 (npm run test:gx) also a firmware update (another root image, /data kept)
// and 50,000 items: full publishes and a flood of changes under the same limits. Prints what the device reports.
//
//   npm run test:emulation     the short check, both targets (DFMQ_GX_ARCHS=armhf to pick one)
//   npm run test:gx            all of it
// DFMQ_GX_KEEP=1 leaves each VM's directory (its console log, the 9p share, the /data disk image) in the temp dir.
import { strict as assert } from 'node:assert';

import { Variant } from 'dbus-next';
import type { MqttClient } from 'mqtt';

import { Simulator } from '../../ts/sim';
import { conformanceDifferences, fullPublish, readConformance } from '../helpers/conformance';
import type { GxArch, GxImage } from '../helpers/gx-vm';
import { brokerFacts, flashmqLog, GxVm, lastStart, logEnd, missingForGxVm, packageFor, prepareImage, servicePid, turnOnLanMqtt, waitForLog } from '../helpers/gx-vm';
import { closeAll, connect, Inbox } from '../helpers/mqtt';
import { PORTAL_ID, recordingsDir } from '../helpers/venus';

const N = `N/${PORTAL_ID}`;
const ARCHS = (process.env.DFMQ_GX_ARCHS ?? 'armhf,arm64').split(',').filter((a): a is GxArch => a === 'armhf' || a === 'arm64');
const FULL = process.env.DFMQ_GX_FULL === '1';
/** Leave the VM's directory (console log, share, /data disk) for a look. */
const KEEP = process.env.DFMQ_GX_KEEP === '1';
const LIMIT_AS: Record<GxArch, number> = { armhf: 150_000_000, arm64: 600_000_000 };
const FLOOD = 'com.victronenergy.battery.flood';
const FLOOD_PATHS = Array.from({ length: 40 }, (_, i) => `/Flood/Value${i}`);

/** Item topics only: the portal's own topics carry times. */
const items = (map: ReadonlyMap<string, string>): Map<string, string> =>
    new Map([...map].filter(([t]) => !/^N\/[^/]+\/(heartbeat|full_publish_completed|keepalive)$/.test(t)));

const seconds = (ms: number): string => `${(ms / 1000).toFixed(1)} s`;
const mb = (kb: number): string => `${(kb * 1024 / 1e6).toFixed(1)} MB`;

const systemService = {
    name: 'com.victronenergy.system',
    items: [{ path: '/DeviceInstance', value: new Variant('i', 0) }, { path: '/Serial', value: new Variant('s', PORTAL_ID) }],
};

/**
 * Unpacks the package into /data and runs install.sh, as the README tells a user. First what a device has in /data
 * already: its portal id, and an empty security-profile password (the profile without a password: LAN clients log
 * in without one).
 */
async function install(vm: GxVm, archive: string): Promise<string> {
    const shared = vm.shareFile(archive);
    await vm.writeFile('/data/venus/unique-id', `${PORTAL_ID}\n`);
    await vm.writeFile('/data/conf/vncpassword.txt', '');
    // The plugin's stats lines (V8's heap) for the memory check.
    await vm.writeFile('/data/conf/dbus-flashmq-ts.options', 'plugin_opt_stats_interval_s 5\n');
    return vm.sh(`tar -xzf '${shared}' -C /data && rm -f '${shared}' && /data/dbus-flashmq-ts/install.sh`);
}

/** The broker's figures and its start, one line for the report. */
async function describeBroker(vm: GxVm, what: string): Promise<string[]> {
    const f = await brokerFacts(vm);
    const start = lastStart(await flashmqLog(vm));
    return [
        `${what}: pid ${f.pid} as ${f.user} (uid ${f.uid}), ${f.threads} threads; VmPeak ${mb(f.vmPeakKb)}, VmSize ${mb(f.vmSizeKb)}, VmData ${mb(f.vmDataKb)}, ` +
        `VmHWM ${mb(f.vmHwmKb)}; limits: address space ${f.limits.addressSpace}, data ${f.limits.data}, stack ${f.limits.stack}`,
        `${what}: service start to listening ${start.toListening?.toFixed(2) ?? '?'} s, to D-Bus discovery done ${start.toDiscovery?.toFixed(2) ?? '-'} s`,
        ...start.memoryLines.map((l) => `${what}: ${l}`),
    ];
}

async function dumpOnFailure(ctx: Mocha.Context, vm: GxVm | undefined): Promise<void> {
    if (ctx.currentTest?.state !== 'failed' || !vm)
        return;
    console.log(`--- console (last 3000 characters):\n${vm.consoleLog().slice(-3000)}`);
    if (vm.running)
        console.log(`--- FlashMQ's log (last 40 lines):\n${(await flashmqLog(vm).catch(() => [])).slice(-40).map((l) => l.text).join('\n')}`);
}

for (const arch of ARCHS) {
    const missing = missingForGxVm(arch);
    const archive = packageFor(arch);
    if (!archive)
        missing.push(`the ${arch} package (scripts/package.sh --arch ${arch})`);
    const describeIt = missing.length > 0 ? describe.skip : describe;
    if (missing.length > 0)
        console.log(`\n*** SKIPPED: the ${arch} GX device under full-system qemu: missing ${missing.join(', ')} ***\n`);

    describeIt(`a GX device (${arch}) under full-system qemu: install, serve, reboot${FULL ? ', update' : ''}, uninstall`, function () {
        this.timeout(300_000);
        const report: string[] = [];
        let started = 0;
        let update: GxImage | undefined;
        let vm: GxVm | undefined;
        let sim: Simulator | undefined;
        let client: MqttClient | undefined;
        let inbox: Inbox;
        let installedPid: number | undefined;

        before(async function () {
            this.timeout(1_800_000); // the first run builds FlashMQ for the target
            started = Date.now();
            const image = prepareImage({ arch });
            if (FULL)
                update = prepareImage({ arch, venus: 'v3.71' });
            const t0 = Date.now();
            vm = await GxVm.boot({ image });
            report.push(`boot: ${seconds(Date.now() - t0)} (kernel ${image.env.KERNEL}, FlashMQ ${image.env.FLASHMQ}, ${image.env.STOCK_PLUGIN})`);
            sim = await Simulator.start({ busAddress: vm.busAddress, speed: 0, recordingsDir, recording: `${recordingsDir}/bct` });
            await sim.addService(systemService);
            await turnOnLanMqtt(vm);
        });

        afterEach(async function () {
            await dumpOnFailure(this, vm);
        });

        after(async () => {
            await closeAll(client);
            await sim?.stop();
            await vm?.cleanup({ keep: KEEP });
            if (KEEP && vm)
                report.push(`kept (console, share, /data disk): ${vm.dir}`);
            report.push(`the whole ${arch} run: ${seconds(Date.now() - started)}`);
            console.log(report.map((l) => `      ${arch} ${l}`).join('\n'));
        });

        it('runs the stock broker as user flashmq under Venus\'s limits', async () => {
            await waitForLog(vm!, /stock-standin: .* loaded/, { timeoutMs: 60_000 });
            const f = await brokerFacts(vm!);
            assert.equal(f.user, 'flashmq');
            assert.deepEqual(f.limits, { addressSpace: LIMIT_AS[arch], data: 150_000_000, stack: 10_000_000 });
            report.push(...await describeBroker(vm!, 'stock'));
        });

        it('installs the package: install.sh restarts FlashMQ through svc -t with our plugin', async () => {
            const stockPid = await servicePid(vm!);
            const after = await logEnd(vm!);
            const t0 = Date.now();
            const out = await install(vm!, archive!);
            assert.match(out, /installed \(Venus OS v3\.70, FlashMQ 1\.23/);
            await waitForLog(vm!, /dbus-flashmq: .*D-Bus discovery done/, { after, timeoutMs: 180_000 });
            report.push(`install to discovery done: ${seconds(Date.now() - t0)}`);
            installedPid = await servicePid(vm!);
            assert.notEqual(installedPid, stockPid);
            assert.equal((await brokerFacts(vm!)).user, 'flashmq');
            report.push(...await describeBroker(vm!, 'installed'));
            client = await connect(vm!.mqttPort, { protocolVersion: 4 });
            inbox = await Inbox.subscribe(client, `${N}/#`);
        });

        it('publishes the bct recording in full, byte for byte as the original', async () => {
            const t0 = Date.now();
            const got = items(await fullPublish(client!, inbox, PORTAL_ID, `${arch}-1`, 180_000));
            report.push(`bct full publish: ${seconds(Date.now() - t0)}, ${got.size} topics`);
            const { ours, differences } = conformanceDifferences(got, PORTAL_ID);
            assert.deepEqual(differences, []);
            assert.equal(ours.size, Object.keys(readConformance().topics).length);
        });

        it('writes a setting, and the change comes back on N/', async () => {
            inbox.clear();
            await client!.publishAsync(`W/${PORTAL_ID}/settings/0/Settings/Generator0/TestRun/Duration`, '{"value":123}');
            await inbox.waitFor((m) => m.topic === `${N}/settings/0/Settings/Generator0/TestRun/Duration` && /"value":123\}$/.test(m.payload.toString()), 60_000);
            assert.ok(sim!.writes.some((w) => w.path === '/Settings/Generator0/TestRun/Duration'));
        });

        it('reloads on SIGHUP (svc -h) and keeps serving', async () => {
            const after = await logEnd(vm!);
            await vm!.sh('svc -h /service/flashmq');
            await waitForLog(vm!, /dbus-flashmq: configuration reloaded/, { after, timeoutMs: 60_000 });
            inbox.clear();
            await client!.publishAsync(`R/${PORTAL_ID}/system/0/Serial`, '');
            await inbox.waitFor(`${N}/system/0/Serial`, 60_000);
        });

        it('stayed within the kernel\'s limits: the same broker process all along', async () => {
            const f = await brokerFacts(vm!);
            assert.equal(f.pid, installedPid, 'FlashMQ was restarted (it died?)');
            assert.ok(f.vmPeakKb * 1024 <= LIMIT_AS[arch] && f.vmDataKb * 1024 <= 150_000_000);
            // The memory plan told the truth at start: no claim that the limits cannot hold the broker, and what it
            // counted for everything but V8's heap is no less than what the broker has taken beside that heap.
            const after = await logEnd(vm!);
            await waitForLog(vm!, /dbus-flashmq: stats process \{/, { after, timeoutMs: 60_000 }); // V8's heap now
            const log = await flashmqLog(vm!);
            const plan = lastStart(log).memoryLines.join('\n');
            assert.doesNotMatch(plan, /cannot hold/);
            const [, limit, rest] = /what the (address space|data) limit of \d+ MB leaves beside about (\d+) MB for the rest/.exec(plan) ?? [];
            assert.ok(rest, plan);
            const heapMb = Math.max(...log.map((l) => Number(/stats process \{.*"heapTotalMb":([\d.]+)/.exec(l.text)?.[1] ?? 0)));
            assert.ok(heapMb > 0, 'the stats lines give V8\'s heap');
            const [what, kb] = limit === 'data' ? ['VmData', f.vmDataKb] : ['VmPeak', f.vmPeakKb];
            assert.ok(kb * 1024 - heapMb * 1e6 <= Number(rest) * 1e6, `${what} ${mb(kb)} MB less V8's heap ${heapMb} MB, against ${rest} MB planned beside it`);
            report.push(...await describeBroker(vm!, 'after bct, a write, a reload'));
        });

        it('serves again after a reboot (/data/rcS.local brings the plugin back)', async () => {
            await closeAll(client);
            client = undefined;
            const after = await logEnd(vm!); // the log is in /data: what the broker said before the reboot stays
            const t0 = Date.now();
            await vm!.reboot();
            report.push(`reboot: ${seconds(vm!.bootedAt - t0)} to booted`);
            await waitForLog(vm!, /dbus-flashmq: .*D-Bus discovery done/, { after, timeoutMs: 180_000 });
            client = await connect(vm!.mqttPort, { protocolVersion: 4 });
            inbox = await Inbox.subscribe(client, `${N}/#`);
            const { differences } = conformanceDifferences(items(await fullPublish(client, inbox, PORTAL_ID, `${arch}-2`, 180_000)), PORTAL_ID);
            assert.deepEqual(differences, []);
            report.push(...await describeBroker(vm!, 'after the reboot'));
        });

        (FULL ? it : it.skip)('is still ours after a firmware update (a new root image, /data kept)', async () => {
            await closeAll(client);
            client = undefined;
            const after = await logEnd(vm!);
            await vm!.firmwareUpdate(update!);
            assert.equal((await vm!.sh('head -n 1 /opt/victronenergy/version')).trim(), 'v3.71');
            await waitForLog(vm!, /dbus-flashmq: .*D-Bus discovery done/, { after, timeoutMs: 180_000 });
            client = await connect(vm!.mqttPort, { protocolVersion: 4 });
            inbox = await Inbox.subscribe(client, `${N}/#`);
            await client.publishAsync(`R/${PORTAL_ID}/system/0/Serial`, '');
            await inbox.waitFor(`${N}/system/0/Serial`, 60_000);
        });

        it('uninstall.sh returns FlashMQ to the stock plugin', async () => {
            const after = await logEnd(vm!);
            const out = await vm!.sh('/data/dbus-flashmq-ts/uninstall.sh');
            assert.match(out, /uninstalled/);
            await waitForLog(vm!, /stock-standin: .* loaded/, { after, timeoutMs: 60_000 });
            assert.equal((await vm!.sh('ls /run/flashmq')).trim(), '');
            assert.doesNotMatch(await vm!.sh('cat /data/rcS.local 2>/dev/null || true'), /dbus-flashmq-ts/);
            await closeAll(client);
            client = await connect(vm!.mqttPort, { protocolVersion: 4 });
            inbox = await Inbox.subscribe(client, `${N}/#`);
            await client.publishAsync(`R/${PORTAL_ID}/keepalive`, '');
            assert.deepEqual(await inbox.collect(`${N}/full_publish_completed`, 5000), []);
        });
    });

    (FULL ? describeIt : describe.skip)(`a GX device (${arch}) under full-system qemu: 50,000 items`, function () {
        this.timeout(600_000);
        const report: string[] = [];
        let started = 0;
        let vm: GxVm | undefined;
        let sim: Simulator | undefined;
        let client: MqttClient | undefined;
        let inbox: Inbox;
        let installedPid: number | undefined;

        before(async function () {
            this.timeout(1_800_000);
            started = Date.now();
            vm = await GxVm.boot({ image: prepareImage({ arch }) });
            sim = await Simulator.start({ busAddress: vm.busAddress, speed: 0, recordingsDir, settings: true, scale: { services: 100, paths: 500 } });
            await sim.addService(systemService);
            await turnOnLanMqtt(vm);
            await sim.addService({ name: FLOOD, items: [{ path: '/DeviceInstance', value: new Variant('i', 900) },
                ...FLOOD_PATHS.map((p) => ({ path: p, value: new Variant('d', 0.5) }))] });
            const after = await logEnd(vm);
            const t0 = Date.now();
            await install(vm, archive!);
            await waitForLog(vm, /dbus-flashmq: .*D-Bus discovery done/, { after, timeoutMs: 480_000 });
            report.push(`install to discovery done: ${seconds(Date.now() - t0)}`);
            installedPid = await servicePid(vm);
            report.push(...await describeBroker(vm, '50,000 items, started'));
            client = await connect(vm.mqttPort, { protocolVersion: 4 });
            inbox = await Inbox.subscribe(client, `${N}/#`);
        });

        afterEach(async function () {
            await dumpOnFailure(this, vm);
        });

        after(async () => {
            await closeAll(client);
            await sim?.stop();
            await vm?.cleanup({ keep: KEEP });
            if (KEEP && vm)
                report.push(`kept (console, share, /data disk): ${vm.dir}`);
            report.push(`the whole ${arch} 50,000-item run: ${seconds(Date.now() - started)}`);
            console.log(report.map((l) => `      ${arch} ${l}`).join('\n'));
        });

        it('answers full publishes of 50,000 items', async () => {
            for (let round = 0; round < 2; round++) {
                const t0 = Date.now();
                const got = await fullPublish(client!, inbox, PORTAL_ID, `scale-${round}`, 480_000);
                report.push(`full publish ${round + 1}: ${seconds(Date.now() - t0)}, ${got.size} topics`);
                assert.ok(got.size > 50_000, `${got.size} topics`);
            }
        });

        it('delivers every change of a flood', async () => {
            inbox.clear();
            const total = 20_000;
            let received = 0;
            const count = (topic: string): void => {
                if (topic.startsWith(`${N}/battery/900/Flood/`))
                    received++;
            };
            client!.on('message', count);
            const t0 = Date.now();
            try {
                let sent = 0;
                const deadline = Date.now() + 300_000;
                while (received < total && Date.now() < deadline) {
                    while (sent < total && sent - received < 2000) {
                        sim!.change(FLOOD, FLOOD_PATHS[sent % FLOOD_PATHS.length]!, new Variant('d', sent + 0.25), 'items');
                        sent++;
                    }
                    await new Promise((resolve) => setTimeout(resolve, 5));
                }
                report.push(`flood of ${total} changes: ${seconds(Date.now() - t0)}, ${received} delivered`);
                assert.equal(received, total);
            } finally {
                client!.off('message', count);
            }
        });

        it('stayed within the kernel\'s limits: the same broker process all along', async () => {
            const f = await brokerFacts(vm!);
            assert.equal(f.pid, installedPid, 'FlashMQ was restarted (it died?)');
            report.push(...await describeBroker(vm!, '50,000 items, after full publishes and the flood'));
        });
    });
}
