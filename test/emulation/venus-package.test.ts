// The Venus package of each target (armhf, arm64) on a Venus-like root under qemu-user (test/helpers/emulated.ts):
// the bct recording's full publish byte for byte as on x86-64 and as the original's, a write, a reload, a password
// login (crypt_r through the root's libcrypt.so.2, as on Venus), a clean stop, and no file opened outside the package
// and that root. Needs the packages (scripts/package.sh --arch) and FlashMQ for each target (scripts/flashmq.sh
// --arch); `npm run test:emulation` builds what is missing first.
import { strict as assert } from 'node:assert';
import * as fs from 'node:fs';
import * as path from 'node:path';

import { Variant } from 'dbus-next';
import type { MqttClient } from 'mqtt';

import { Simulator } from '../../ts/sim';
import { conformanceDifferences, fullPublish } from '../helpers/conformance';
import type { DbusDaemon } from '../helpers/dbus-daemon';
import { call, closeClient, connectClient, startDbusDaemon } from '../helpers/dbus-daemon';
import type { EmulatedBroker } from '../helpers/emulated';
import { ARCHS, EMULATED_FLASHMQ, filesOpened, missingForEmulation, prepareGuest, startEmulatedBroker } from '../helpers/emulated';
import { brokerUser, flashmqBinary } from '../helpers/flashmq';
import { closeAll, connect, Inbox } from '../helpers/mqtt';
import { PORTAL_ID, recordingsDir, startGx } from '../helpers/venus';

const N = `N/${PORTAL_ID}`;
/** A crypt(3) hash (bcrypt, which only libxcrypt has) of 'hallo': the security-profile password of the device. */
const BCRYPT_HALLO = '$2b$04$.Wd.v7vwGPp6SJaFaJOGj.zySh7yPfMeHI4dGE/LWPBkV7izPZjVm';

/** Item topics only: the portal's own topics carry times. */
const items = (map: ReadonlyMap<string, string>): Map<string, string> =>
    new Map([...map].filter(([t]) => !/^N\/[^/]+\/(heartbeat|full_publish_completed|keepalive)$/.test(t)));

let hostRun: Map<string, string> | undefined;

/** The bct full publish of the x86-64 build, once for both targets. */
async function hostFullPublish(): Promise<Map<string, string>> {
    if (hostRun)
        return hostRun;
    const gx = await startGx({ recording: 'bct', pluginOptions: { skip_broker_registration: 'true' } });
    try {
        await gx.sim.addService({ name: 'com.victronenergy.system', items: [
            { path: '/DeviceInstance', value: new Variant('i', 0) }, { path: '/Serial', value: new Variant('s', PORTAL_ID) },
        ] });
        await gx.broker.waitForLog(/'com\.victronenergy\.system' scanned/);
        const client = await connect(gx.port, { protocolVersion: 4 });
        const inbox = await Inbox.subscribe(client, `${N}/#`);
        hostRun = items(await fullPublish(client, inbox, PORTAL_ID, 'host'));
        await closeAll(client);
        return hostRun;
    } finally {
        await gx.stop();
    }
}

for (const arch of ARCHS) {
    const missing = missingForEmulation(arch);
    if (!flashmqBinary())
        missing.push('flashmq for this machine (the x86-64 run to compare with)');
    const describeIt = missing.length > 0 ? describe.skip : describe;
    if (missing.length > 0)
        console.log(`\n*** SKIPPED: the ${arch} package under emulation: missing ${missing.join(', ')} ***\n`);

    describeIt(`the ${arch} package on a Venus-like root under qemu`, function () {
        this.timeout(240_000);
        let daemon: DbusDaemon | undefined;
        let sim: Simulator | undefined;
        let root: string;
        let run: EmulatedBroker | undefined;
        let client: MqttClient | undefined;
        let inbox: Inbox;

        before(async () => {
            daemon = await startDbusDaemon();
            sim = await Simulator.start({ busAddress: daemon.address, speed: 0, recordingsDir, recording: `${recordingsDir}/bct` });
            await sim.addService({ name: 'com.victronenergy.system', items: [
                { path: '/DeviceInstance', value: new Variant('i', 0) }, { path: '/Serial', value: new Variant('s', PORTAL_ID) },
            ] });
            root = prepareGuest(arch, PORTAL_ID);
            // Where the plugin looks for it by default, as on a device.
            fs.mkdirSync(path.join(root, 'data/conf'), { recursive: true });
            fs.writeFileSync(path.join(root, 'data/conf/vncpassword.txt'), `${BCRYPT_HALLO}\n`);
            const busDir = path.dirname(/unix:path=([^,;]+)/.exec(daemon.address)![1]!);
            run = await startEmulatedBroker(arch, root, { dbus_address: daemon.address, skip_broker_registration: 'true', stats_interval_s: '2' }, [busDir]);
            await run.broker.waitForLog(/D-Bus discovery done in \d+ ms: 17 services/, 120_000);
            client = await connect(run.broker.port, { protocolVersion: 4 });
            inbox = await Inbox.subscribe(client, `${N}/#`);
        });

        after(async () => {
            await closeAll(client);
            if (run) {
                await run.broker.stop('SIGKILL');
                run.broker.cleanup();
            }
            await sim?.stop();
            await daemon?.stop();
            if (root)
                fs.rmSync(path.join(root, 'data/conf/vncpassword.txt'), { force: true });
        });

        it('loads its libnode, ICU and JavaScript from the package, and sizes itself', () => {
            const log = run!.broker.log();
            assert.match(log, /dbus-flashmq: Node 18\.\d+\.\d+ runtime initialised/);
            assert.match(log, /JavaScript entry '\/data\/dbus-flashmq-ts\/dist\/ts\/index\.js' loaded/);
            assert.match(log, /dbus-flashmq: memory: limits .* Chose 1 V8 worker/);
        });

        it(`runs in FlashMQ ${EMULATED_FLASHMQ} (Venus OS v3.7x's) as an unprivileged user, as v3.70 and later run it`, function () {
            assert.match(run!.broker.log(), new RegExp(`Starting FlashMQ version ${EMULATED_FLASHMQ.replace(/\./g, '\\.')}`));
            if (!brokerUser)
                this.skip(); // the tests do not run as root, or that user cannot reach the checkout (said at start)
            const status = fs.readFileSync(`/proc/${run!.broker.proc.pid!}/status`, 'utf8');
            assert.match(status, new RegExp(`^Uid:\\s+${brokerUser.uid}\\s`, 'm'));
            assert.match(status, new RegExp(`^Groups:\\s*(${brokerUser.gid}\\s*)?$`, 'm')); // none but its own, as setuidgid leaves it
        });

        it('publishes the bct recording byte for byte as the x86-64 build and as the original', async () => {
            const emulated = items(await fullPublish(client!, inbox, PORTAL_ID, arch, 120_000));
            const { ours, differences } = conformanceDifferences(emulated, PORTAL_ID);
            assert.deepEqual(differences, []);
            assert.equal(ours.size, 2778);
            const host = await hostFullPublish();
            assert.deepEqual([...emulated].sort(), [...host].sort());
        });

        it('writes a setting, and the change comes back', async () => {
            const topic = `${N}/settings/0/Settings/Generator0/TestRun/Duration`;
            inbox.clear();
            await client!.publishAsync(`W/${PORTAL_ID}/settings/0/Settings/Generator0/TestRun/Duration`, '{"value":123}');
            const echo = await inbox.waitFor((m) => m.topic === topic && /"value":123\}$/.test(m.payload.toString()), 30_000);
            assert.ok(echo);
            assert.ok(sim!.writes.some((w) => w.path === '/Settings/Generator0/TestRun/Duration'));
        });

        it('reloads on SIGHUP and keeps serving', async () => {
            const before = run!.broker.log().length;
            await run!.broker.reload();
            await run!.broker.waitForLog(/dbus-flashmq: configuration reloaded/, 30_000, before);
            inbox.clear();
            await client!.publishAsync(`R/${PORTAL_ID}/system/0/Serial`, '');
            await inbox.waitFor(`${N}/system/0/Serial`, 30_000);
        });

        it('lets a LAN client in by the security-profile password, and not by a wrong one (crypt_r in libcrypt.so.2)', async () => {
            // 127.0.0.1 counts as local (let in without a password) unless local_networks says otherwise; a password
            // login needs LAN MQTT on.
            fs.appendFileSync(path.join(run!.broker.dir, 'flashmq.conf'), 'plugin_opt_local_networks "10.255.255.255/32"\n');
            const before = run!.broker.log().length;
            await run!.broker.reload();
            await run!.broker.waitForLog(/dbus-flashmq: configuration reloaded/, 30_000, before);
            const bus = await connectClient(daemon!.address);
            try {
                await call(bus, 'com.victronenergy.settings', '/', 'AddSetting', {
                    iface: 'com.victronenergy.Settings', signature: 'ssvsvv',
                    body: ['/Settings/Services', 'MqttLocal', new Variant('i', 1), 'i', new Variant('i', 0), new Variant('i', 2)],
                });
            } finally {
                await closeClient(bus);
            }
            const topic = `${N}/settings/0/Settings/Services/MqttLocal`;
            const deadline = Date.now() + 30_000;
            for (;;) {
                inbox.clear();
                await client!.publishAsync(`R/${PORTAL_ID}/settings/0/Settings/Services/MqttLocal`, '');
                try {
                    await inbox.waitFor((m) => m.topic === topic && /"value":1\}$/.test(m.payload.toString()), 2000);
                    break;
                } catch (err) {
                    if (Date.now() > deadline)
                        throw err;
                }
            }
            const good = await connect(run!.broker.port, { username: 'someone', password: 'hallo', connectTimeout: 30_000 });
            await closeAll(good);
            const wrong = await connect(run!.broker.port, { username: 'someone', password: 'nope', connectTimeout: 30_000 }).then(
                async (c) => { await closeAll(c); return 'let in'; }, (err: unknown) => String(err));
            assert.match(wrong, /Bad User Name or Password|Not authori[sz]ed|refused/i);
        });

        it('reports its address space and V8 heap (the guest\'s own view)', async () => {
            const line = await run!.broker.waitForLog(/dbus-flashmq: stats process \{[^\n]*\}/, 30_000, run!.broker.log().length);
            const figures = JSON.parse(line.slice(line.indexOf('{'))) as Record<string, number>;
            console.log(`      ${arch}: address space ${figures.addressSpaceMb} MB, V8 heap ${figures.heapUsedMb} MB used of ${figures.heapTotalMb} MB, limit ${figures.heapLimitMb} MB`);
            assert.ok(figures.addressSpaceMb! > 50 && figures.heapUsedMb! > 1, line);
        });

        it('ends with exit code 0 on SIGTERM', async () => {
            await closeAll(client);
            client = undefined;
            const exit = await run!.broker.stop('SIGTERM', 60_000);
            assert.deepEqual(exit, { code: 0, signal: null }, run!.broker.log().slice(-2000));
        });

        it('opened no file but the package\'s (its code cache too), the Venus root\'s and its own configuration', () => {
            const opened = filesOpened(root, run!.straceLog);
            // (The loader stats /lib itself when libcrypt.so.2 is not there, on its way to /usr/lib.)
            const allowed = /^\/(lib|usr\/lib|etc|proc|dev|sys)(\/|$)|^\/usr\/bin\/flashmq$|^\/data(\/(dbus-flashmq-ts|dfmq-nodejs|venus|conf|apps|dbus-flashmq-ts-cache)(\/|$)|$)|^\/run\/dfmq-test-|^\/tmp\/dfmq-dbus-/;
            assert.deepEqual(opened.filter((f) => !allowed.test(f)), []);
            for (const file of ['/data/dbus-flashmq-ts/lib/libnode.so.108', '/data/dbus-flashmq-ts/lib/libicudata.so.72',
                '/data/dfmq-nodejs/cjs-module-lexer/lexer.js', '/data/dbus-flashmq-ts/dist/ts/index.js', '/usr/lib/libcrypt.so.2',
                '/data/conf/vncpassword.txt'])
                assert.ok(opened.includes(file), `${file} was opened: ${opened.filter((f) => f.startsWith('/data')).join(' ')}`);
            assert.ok(fs.statSync(run!.straceLog).size > 0);
        });
    });
}
