// The way back on an emulated GX device (test/helpers/gx-vm.ts: a real kernel, daemontools, FlashMQ 1.23.2 as user
// flashmq under Venus's limits, the stand-in for the stock plugin): the package installed as a user would, then a
// fault written over the installed package in the guest, as a bad unpack or a firmware update would leave it, and
// FlashMQ restarted through its service (svc -t). The watchdog (scripts/venus/watchdog.sh, a daemontools service of
// its own) must bring the device back on the stock plugin: the conf in /run/flashmq gone, the stand-in loaded, one
// line in syslog, the marker in /data/dbus-flashmq-ts/.fallback. Measured per fault: seconds from svc -t until a
// client's CONNECT is answered and a publish/subscribe round trip passes through the broker (on the stock plugin:
// ours cannot serve with these faults). Between faults the package is repaired and install.sh run by hand (which
// clears the marker and tries again).
//
// The short check (npm run test:emulation, CI): armhf, a missing libnode, then, repaired, a reboot (install.sh --boot
// honours the marker: still the stock plugin) and install.sh by hand (ours again). With DFMQ_GX_FULL=1 (npm run test:gx): on
// each target of DFMQ_GX_ARCHS, also a missing plugin, a plugin cut short, the other architecture's plugin, an entry
// that throws at load, and JavaScript stuck at load (a busy loop: FlashMQ up, MQTT not served, the status never
// "ready"), the last with the readiness bound shortened to 60 s for the test (the device's is 300 s) and the clock
// set a day ahead meanwhile. Prints what each fault did.
import { strict as assert } from 'node:assert';
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';

import { Variant } from 'dbus-next';

import { Simulator } from '../../ts/sim';
import type { GxArch } from '../helpers/gx-vm';
import { flashmqLog, GxVm, logEnd, missingForGxVm, mqttRoundTrip, packageFor, pluginServing, prepareImage, turnOnLanMqtt, waitForLog, waitUntilServing } from '../helpers/gx-vm';
import { sleep } from '../helpers/flashmq';
import { PORTAL_ID, recordingsDir } from '../helpers/venus';

const ARCHS = (process.env.DFMQ_GX_ARCHS ?? 'armhf,arm64').split(',').filter((a): a is GxArch => a === 'armhf' || a === 'arm64');
const FULL = process.env.DFMQ_GX_FULL === '1';
const KEEP = process.env.DFMQ_GX_KEEP === '1';
const P = '/data/dbus-flashmq-ts';
const SO = `${P}/libdbus-flashmq-ts.so`;
/** The watchdog's bounds on the device (watchdog.sh's defaults). */
const RESTARTS = /FlashMQ restarted 3 times within 300 s with dbus-flashmq-ts /;
/** The readiness bound for the stuck plugin here (the device's is 300 s: waiting that long tells nothing more). */
const TEST_READY_S = 60;

interface Fault {
    name: string;
    /** Files of the package the fault changes (kept, and put back afterwards). */
    files: string[];
    /** Shell commands in the guest that break the installed package. */
    inject: (other: string | undefined) => string;
    reason: RegExp;
    short?: boolean;
    /** The readiness bound shortened for this fault, and the clock set a day ahead once FlashMQ restarted. */
    stuck?: boolean;
    /** Needs the other architecture's plugin in the share. */
    otherArch?: boolean;
}

const js = (text: string): string => `cat > ${P}/dist/ts/index.js.tmp <<'EOF'\n${text}\nEOF\nmv ${P}/dist/ts/index.js.tmp ${P}/dist/ts/index.js`;

const FAULTS: Fault[] = [
    {
        name: 'a missing libnode (lib/libnode.so.108 removed)', files: ['lib/libnode.so.108'], short: true, reason: RESTARTS,
        inject: () => `rm -f ${P}/lib/libnode.so.108`,
    },
    {
        name: 'a missing plugin (libdbus-flashmq-ts.so removed)', files: ['libdbus-flashmq-ts.so'], reason: RESTARTS,
        inject: () => `rm -f ${SO}`,
    },
    {
        name: 'a corrupt plugin (libdbus-flashmq-ts.so cut to 64 KiB)', files: ['libdbus-flashmq-ts.so'], reason: RESTARTS,
        inject: () => `head -c 65536 ${SO} > ${SO}.tmp && mv ${SO}.tmp ${SO}`,
    },
    {
        name: 'the other architecture\'s plugin (libdbus-flashmq-ts.so of the other package)', files: ['libdbus-flashmq-ts.so'], reason: RESTARTS, otherArch: true,
        inject: (other) => `cp ${other!} ${SO}.tmp && mv ${SO}.tmp ${SO}`,
    },
    {
        name: 'an entry that throws at load (dist/ts/index.js)', files: ['dist/ts/index.js'], reason: RESTARTS,
        inject: () => js('\'use strict\';\nthrow new Error(\'an injected fault: the entry throws at load\');'),
    },
    {
        name: 'JavaScript stuck at load (dist/ts/index.js a busy loop): not serving within the bound', files: ['dist/ts/index.js'], stuck: true,
        reason: new RegExp(`dbus-flashmq-ts \\S+ did not serve within ${TEST_READY_S} s of FlashMQ's start \\(status: \\w+\\)`),
        inject: () => js('\'use strict\';\nfor (;;) { /* an injected fault: stuck at load */ }'),
    },
];

const seconds = (ms: number): string => `${(ms / 1000).toFixed(1)} s`;

/** Unpacks the package into /data and runs install.sh, as the README tells a user (see gx-vm.test.ts). */
async function install(vm: GxVm, archive: string): Promise<string> {
    const shared = vm.shareFile(archive);
    await vm.writeFile('/data/venus/unique-id', `${PORTAL_ID}\n`);
    await vm.writeFile('/data/conf/vncpassword.txt', '');
    return vm.sh(`tar -xzf '${shared}' -C /data && rm -f '${shared}' && ${P}/install.sh`);
}

/** Probes until MQTT is available (see mqttRoundTrip): when, or undefined after timeoutMs. */
async function untilMqtt(vm: GxVm, timeoutMs: number): Promise<number | undefined> {
    const deadline = Date.now() + timeoutMs;
    while (Date.now() < deadline) {
        const t = Date.now();
        if (await mqttRoundTrip(vm, 4000))
            return Date.now();
        await sleep(Math.max(0, 500 - (Date.now() - t)));
    }
    return undefined;
}

for (const arch of ARCHS) {
    const faults = FULL ? FAULTS : FAULTS.filter((f) => f.short);
    const missing = missingForGxVm(arch);
    const archive = packageFor(arch);
    if (!archive)
        missing.push(`the ${arch} package (scripts/package.sh --arch ${arch})`);
    // The short check runs on armhf alone (most devices; one boot more in CI), unless only arm64 is asked for.
    const wanted = FULL || arch === 'armhf' || !ARCHS.includes('armhf');
    const describeIt = missing.length > 0 ? describe.skip : wanted ? describe : describe.skip;
    if (missing.length > 0)
        console.log(`\n*** SKIPPED: the way back on the ${arch} GX device: missing ${missing.join(', ')} ***\n`);

    describeIt(`the way back on a GX device (${arch}): the watchdog returns FlashMQ to its stock plugin`, function () {
        this.timeout(600_000);
        const report: string[] = [];
        let started = 0;
        let vm: GxVm | undefined;
        let sim: Simulator | undefined;
        let otherSo: string | undefined;
        let scratch: string | undefined;

        before(async function () {
            this.timeout(1_800_000);
            started = Date.now();
            const image = prepareImage({ arch });
            vm = await GxVm.boot({ image });
            sim = await Simulator.start({ busAddress: vm.busAddress, speed: 0, recordingsDir, settings: true });
            await sim.addService({ name: 'com.victronenergy.system', items: [{ path: '/DeviceInstance', value: new Variant('i', 0) }, { path: '/Serial', value: new Variant('s', PORTAL_ID) }] });
            await turnOnLanMqtt(vm);
            // The other architecture's plugin, for the fault that needs it.
            const other = packageFor(arch === 'armhf' ? 'arm64' : 'armhf');
            if (FULL && other) {
                scratch = fs.mkdtempSync(path.join(os.tmpdir(), 'dfmq-gx-fallback-'));
                otherSo = path.join(scratch, 'other-libdbus-flashmq-ts.so');
                fs.writeFileSync(otherSo, execFileSync('tar', ['-xzOf', other, 'dbus-flashmq-ts/libdbus-flashmq-ts.so'], { maxBuffer: 256 << 20 }));
            }
        });

        afterEach(async function () {
            if (this.currentTest?.state !== 'failed' || !vm)
                return;
            console.log(`--- console (last 3000 characters):\n${vm.consoleLog().slice(-3000)}`);
            if (vm.running) {
                console.log(`--- FlashMQ's log (last 40 lines):\n${(await flashmqLog(vm).catch(() => [])).slice(-40).map((l) => l.text).join('\n')}`);
                console.log(`--- syslog:\n${await vm.sh('tail -n 20 /var/log/messages').catch(() => '')}`);
            }
        });

        after(async () => {
            await sim?.stop();
            await vm?.cleanup({ keep: KEEP });
            if (scratch)
                fs.rmSync(scratch, { recursive: true, force: true });
            report.push(`the whole ${arch} run: ${seconds(Date.now() - started)}`);
            console.log(report.map((l) => `      ${arch} ${l}`).join('\n'));
        });

        it('installs the package: the watchdog runs, and the plugin reports ready for the broker\'s process in its status file', async () => {
            const out = await install(vm!, archive!);
            assert.match(out, /installed \(Venus OS v3\.70/);
            const serving = await waitUntilServing(vm!);
            assert.equal(serving.state, 'ready');
            assert.match(await vm!.sh('svstat /service/dbus-flashmq-ts'), /: up \(pid \d+\)/);
            assert.match(await vm!.sh('ls -ld /run/dbus-flashmq-ts'), /^drwxr-xr-x\s+\d+\s+flashmq\s/);
            assert.ok(await mqttRoundTrip(vm!, 10_000), 'MQTT available through our plugin');
        });

        /** Puts back the files a fault changed (as unpacking the archive again would). */
        async function repair(v: GxVm, fault: Fault): Promise<void> {
            await v.sh(`for f in ${fault.files.join(' ')}; do cp -p /data/fault-backup/$(basename $f) ${P}/$f; done && rm -rf /data/fault-backup`);
        }

        /** Tried again by hand: the marker goes, ours serves again, with the watchdog's own run script. */
        async function tryAgain(v: GxVm): Promise<void> {
            const again = await v.sh(`${P}/install.sh`);
            assert.match(again, /trying again after the fallback to the stock plugin at /);
            assert.equal((await v.run(`test -e ${P}/.fallback`)).code, 1, 'the marker is gone');
            await waitUntilServing(v);
            assert.doesNotMatch(await v.sh('cat /service/dbus-flashmq-ts/run'), /DFMQ_WATCHDOG/, 'the watchdog\'s own run script again');
        }

        const faultTest = (fault: Fault, repairAfter: boolean): void => {
            it(`comes back on the stock plugin after ${fault.name}`, async function () {
                if (fault.otherArch && !otherSo)
                    this.skip();
                const v = vm!;
                const files = fault.files.map((f) => `${P}/${f}`).join(' ');
                await v.sh(`rm -rf /data/fault-backup && mkdir -p /data/fault-backup && cp -p ${files} /data/fault-backup/`);
                if (fault.stuck) {
                    // The readiness bound shortened for the test: the watchdog's run script, started again.
                    await v.sh(`sed -i 's|^exec /bin/sh |exec env DFMQ_WATCHDOG_READY_S=${TEST_READY_S} /bin/sh |' /service/dbus-flashmq-ts/run && svc -t /service/dbus-flashmq-ts`);
                }
                const other = fault.otherArch ? v.shareFile(otherSo!) : undefined;
                await v.sh(`${fault.inject(other)}${other ? ` && rm -f ${other}` : ''}`);
                const after = await logEnd(v);
                const t0 = Date.now();
                await v.sh('svc -t /service/flashmq');
                if (fault.stuck) {
                    // A clock set a day ahead (NTP at boot): the watchdog counts the kernel's uptime, not the clock.
                    await sleep(5000);
                    await v.sh('date -u -s "$(date -u -d "@$(( $(date +%s) + 86400 ))" "+%Y-%m-%d %H:%M:%S")" >/dev/null');
                }
                const back = await untilMqtt(v, fault.stuck ? 240_000 : 120_000);
                assert.ok(back, `MQTT not available again: ${JSON.stringify(await pluginServing(v))}`);
                const unavailable = back - t0;

                // Served by the stock plugin (ours cannot serve with this fault), brought back by the watchdog, for
                // the reason of this fault.
                await waitForLog(v, /stock-standin: .* loaded/, { after, timeoutMs: 10_000 });
                assert.equal((await v.sh('ls /run/flashmq')).trim(), '');
                const marker = await v.sh(`cat ${P}/.fallback`);
                const reason = /^reason=(.*)$/m.exec(marker)?.[1] ?? '';
                assert.match(reason, fault.reason);
                assert.equal(/^manifest_sha256=(.*)$/m.exec(marker)?.[1], (await v.sh(`sha256sum < ${P}/MANIFEST`)).split(' ')[0]);
                const syslog = await v.sh('grep "dbus-flashmq-ts: " /var/log/messages');
                assert.ok(syslog.includes(`dbus-flashmq-ts: ${reason}: FlashMQ is back on its stock plugin`), syslog);
                const log = (await flashmqLog(v)).filter((l) => l.at > after);
                const starts = log.filter((l) => l.text.startsWith('*** starting flashmq ***')).length;
                if (fault.stuck) {
                    assert.ok(unavailable >= TEST_READY_S * 1000, `back after ${seconds(unavailable)}, before the bound`);
                    assert.ok(unavailable < (TEST_READY_S + 60) * 1000, `back after ${seconds(unavailable)}`);
                }
                report.push(`${fault.name}: ${starts} FlashMQ starts, then the stock plugin; MQTT unavailable ${seconds(unavailable)} ` +
                    `(svc -t to a client's CONNACK and round trip); "${reason}${/killed/.test(syslog) ? ' (killed: svc -t did not end it)' : ''}"`);
                if (repairAfter) {
                    await repair(v, fault);
                    await tryAgain(v);
                }
            });
        };

        // The first fault is left in place for a reboot; the next test repairs it.
        faultTest(faults[0]!, false);

        it('after a fallback, a reboot keeps the stock plugin (install.sh --boot honours the marker), also once repaired; install.sh by hand tries again', async () => {
            const v = vm!;
            await repair(v, faults[0]!); // repaired, but nobody asked to try again
            // FlashMQ's starts so far: the log is kept in /data.
            const starts = async (): Promise<number> => (await flashmqLog(v)).filter((l) => l.text.startsWith('*** starting flashmq ***')).length;
            const before = await starts();
            const t0 = Date.now();
            await v.reboot();
            while (await starts() <= before) {
                assert.ok(Date.now() - t0 < 180_000, 'FlashMQ did not start after the reboot');
                await sleep(1000);
            }
            await waitForLog(v, /stock-standin: .* loaded/, { timeoutMs: 60_000 });
            assert.ok(await untilMqtt(v, 60_000));
            report.push(`reboot after a fallback: booted in ${seconds(v.bootedAt - t0)}, MQTT on the stock plugin`);
            assert.equal((await v.sh('ls /run/flashmq')).trim(), '');
            assert.match(await v.sh('cat /data/rcS.local'), /install\.sh --boot {3}# dbus-flashmq-ts$/m, 'the boot line stays');
            assert.match((await v.sh('grep "dbus-flashmq-ts: " /var/log/messages | tail -n 1')).trim(),
                /dbus-flashmq-ts: not switching FlashMQ to \S+: it fell back to the stock plugin at .*; \/data\/dbus-flashmq-ts\/install\.sh tries again$/);
            await tryAgain(v);
        });

        for (const fault of faults.slice(1))
            faultTest(fault, true);

        it('uninstall.sh removes the watchdog with the rest', async () => {
            const out = await vm!.sh(`${P}/uninstall.sh`);
            assert.match(out, /uninstalled/);
            assert.doesNotMatch(await vm!.sh('ls -a /service'), /dbus-flashmq-ts/);
            assert.doesNotMatch(await vm!.sh('ps'), /watchdog\.sh/);
            assert.ok(await untilMqtt(vm!, 60_000));
        });
    });
}
