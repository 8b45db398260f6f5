// The plugin end to end on a simulated GX device: the real flashmq with our plugin, the Venus simulator playing the
// shared recordings on a private bus, and MQTT clients (mqtt.js and mosquitto clients).
import { strict as assert } from 'node:assert';
import { execFile, spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { promisify } from 'node:util';

import { Variant } from 'dbus-next';
import type { MqttClient } from 'mqtt';

import { instanceOf, serviceType } from '../../ts/dbus/naming';
import { fromVariant } from '../reference/from-variant';
import type { VeValue } from '../../ts/dbus/values';
import { isBlocked, itemPayload } from '../../ts/mqtt/payloads';
import { conformanceDifferences, fullPublish as fullPublishOf } from '../helpers/conformance';
import { call, closeClient, connectClient } from '../helpers/dbus-daemon';
import { brokerUser, describeWithBroker, repoRoot, sleep } from '../helpers/flashmq';
import { closeAll, connect, Inbox } from '../helpers/mqtt';
import type { SimulatedGx } from '../helpers/venus';
import { PORTAL_ID, recordingsDir, startGx } from '../helpers/venus';

const execFileAsync = promisify(execFile);
const N = `N/${PORTAL_ID}`;

/** What a full publish must hold, read from the bus independently of the plugin: topic -> payload. */
async function expectedNotifications(address: string): Promise<Map<string, string>> {
    const bus = await connectClient(address);
    const out = new Map<string, string>();
    try {
        const names = (await call(bus, 'org.freedesktop.DBus', '/org/freedesktop/DBus', 'ListNames', { iface: 'org.freedesktop.DBus' })).body[0] as string[];
        for (const name of names) {
            const type = serviceType(name);
            if (type === undefined)
                continue;
            const reply = await call(bus, name, '/', 'GetItems');
            const dict = reply.body[0] as Record<string, Record<string, Variant>>;
            const values = new Map<string, VeValue>();
            for (const [p, entry] of Object.entries(dict))
                values.set(p, fromVariant(entry.Value, () => undefined));
            const instance = instanceOf(new Map([...values].filter(([p]) => p === '/DeviceInstance' || p === '/Identifier')));
            for (const [p, entry] of Object.entries(dict)) {
                if (isBlocked(type, p))
                    continue;
                const item: { path: string; value: VeValue; min?: VeValue; max?: VeValue } = { path: p, value: values.get(p)! };
                if (entry.Min)
                    item.min = fromVariant(entry.Min, () => undefined);
                if (entry.Max)
                    item.max = fromVariant(entry.Max, () => undefined);
                out.set(`${N}/${type}/${instance}${p}`, itemPayload(type, item));
            }
        }
    } finally {
        await closeClient(bus);
    }
    return out;
}

function fullPublish(client: MqttClient, inbox: Inbox, echo: string): Promise<Map<string, string>> {
    return fullPublishOf(client, inbox, PORTAL_ID, echo);
}

function withoutPortalTopics(map: Map<string, string>): Map<string, string> {
    return new Map([...map].filter(([t]) => !/^N\/[^/]+\/(heartbeat|full_publish_completed|keepalive)$/.test(t)));
}

describeWithBroker('the plugin end to end on a simulated GX device', function () {
    this.timeout(90_000);

    describe('full publishes of the shared recordings', () => {
        it('reproduces the original plugin\'s bytes for every topic of the bct recording', async () => {
            const gx = await startGx({ recording: 'bct' });
            try {
                const client = await connect(gx.port);
                const inbox = await Inbox.subscribe(client, `${N}/#`);
                const got = await fullPublish(client, inbox, 'conformance');
                const { ours, differences } = conformanceDifferences(got, PORTAL_ID);
                assert.deepEqual(differences, []);
                assert.equal(ours.size, 2778);
                await closeAll(client);
            } finally {
                await gx.stop();
            }
        });

        const systems = fs.readdirSync(recordingsDir).filter((d) => fs.existsSync(path.join(recordingsDir, d, 'description')));
        for (const system of systems) {
            it(`publishes exactly what is on the bus for the '${system}' recording`, async () => {
                const gx = await startGx({ recording: system });
                try {
                    const client = await connect(gx.port);
                    const inbox = await Inbox.subscribe(client, `${N}/#`);
                    const got = withoutPortalTopics(await fullPublish(client, inbox, system));
                    const want = await expectedNotifications(gx.daemon.address);
                    assert.ok(want.size > 10);
                    assert.deepEqual([...got].sort(), [...want].sort());
                    await closeAll(client);
                } finally {
                    await gx.stop();
                }
            });
        }
    });

    it('brings 50,000 items to a mosquitto_sub through the default 1 MiB buffer, none lost', async () => {
        const gx = await startGx({ scale: { services: 100, paths: 500 } });
        try {
            const items = gx.sim.itemCount();
            assert.ok(items >= 50_000);
            const sub = spawn('mosquitto_sub', ['-p', String(gx.port), '-t', `${N}/#`, '-v']);
            let itemLines = 0;
            let completed = false;
            let buffered = '';
            const finished = new Promise<void>((resolve) => {
                sub.stdout.on('data', (d: Buffer) => {
                    buffered += d.toString();
                    const lines = buffered.split('\n');
                    buffered = lines.pop()!;
                    for (const line of lines) {
                        if (line.startsWith(`${N}/full_publish_completed `)) {
                            completed = true;
                            resolve();
                        } else if (/^N\/[^/]+\/battery\//.test(line)) {
                            itemLines++;
                        }
                    }
                });
            });
            await sleep(300);
            await execFileAsync('mosquitto_pub', ['-p', String(gx.port), '-t', `R/${PORTAL_ID}/keepalive`, '-m', '']);
            await Promise.race([finished, sleep(30_000)]);
            sub.kill();
            assert.equal(completed, true, 'full_publish_completed arrived');
            assert.equal(itemLines, items);
        } finally {
            await gx.stop();
        }
    });

    describe('on the bct recording', () => {
        let gx: SimulatedGx;
        let client: MqttClient;
        let inbox: Inbox;

        before(async () => {
            gx = await startGx({ recording: 'bct', pluginOptions: { keepalive_timeout_ms: '2500' } });
            await gx.sim.addService({ name: 'com.victronenergy.system', items: [
                { path: '/DeviceInstance', value: new Variant('i', 0) }, { path: '/Serial', value: new Variant('s', PORTAL_ID) },
            ] });
            await gx.sim.addService({ name: 'com.victronenergy.vebus.ttyO1', items: [
                { path: '/DeviceInstance', value: new Variant('q', 257) }, { path: '/Hub4/L1/AcPowerSetpoint', value: new Variant('i', 2734) },
                { path: '/ProductId', value: new Variant('u', 9764) },
            ] });
            await gx.broker.waitForLog(/'com.victronenergy.vebus.ttyO1' scanned/);
            client = await connect(gx.port, { clientId: 'tester' });
            inbox = await Inbox.subscribe(client, [`${N}/#`, 'reply/#']);
        });

        after(async () => {
            await closeAll(client);
            await gx?.stop();
        });

        async function waitExpired(): Promise<void> {
            await sleep(2700);
        }

        it('publishes changes only while alive', async () => {
            await waitExpired();
            inbox.clear();
            gx.sim.change('com.victronenergy.vebus.ttyS4', '/Dc/0/Voltage', new Variant('d', 50.5));
            assert.deepEqual(await inbox.collect(`${N}/vebus/276/Dc/0/Voltage`, 300), [], 'not alive: nothing');
            await client.publishAsync(`R/${PORTAL_ID}/keepalive`, '{"keepalive-options":["suppress-republish"]}');
            await sleep(100);
            assert.deepEqual(inbox.on(`${N}/vebus/276/Dc/0/Power`), [], 'suppress-republish: no full publish');
            gx.sim.change('com.victronenergy.vebus.ttyS4', '/Dc/0/Voltage', new Variant('d', 51.25));
            const m = await inbox.waitFor(`${N}/vebus/276/Dc/0/Voltage`);
            assert.equal(m.payload.toString(), '{"value":51.25}');
            await waitExpired();
            inbox.clear();
            gx.sim.change('com.victronenergy.vebus.ttyS4', '/Dc/0/Voltage', new Variant('d', 52));
            assert.deepEqual(await inbox.collect(`${N}/vebus/276/Dc/0/Voltage`, 300), [], 'expired: nothing again');
        });

        it('beats every 3 s while alive', async () => {
            inbox.clear();
            await client.publishAsync(`R/${PORTAL_ID}/keepalive`, '{"keepalive-options":["suppress-republish"]}');
            await sleep(200);
            await client.publishAsync(`R/${PORTAL_ID}/keepalive`, '{"keepalive-options":["suppress-republish"]}');
            await sleep(2000);
            await client.publishAsync(`R/${PORTAL_ID}/keepalive`, '{"keepalive-options":["suppress-republish"]}');
            await sleep(1300);
            const beats = inbox.on(`${N}/heartbeat`);
            assert.equal(beats.length, 2, beats.map((b) => b.at).join(' '));
            assert.match(beats[0]!.payload.toString(), /^\{"value":\d{10}\}$/);
            assert.ok(beats[1]!.at - beats[0]!.at >= 2900);
        });

        it('retains N/<id>/system/0/Serial only, and answers the legacy keep-alive on it', async () => {
            const late = await connect(gx.port);
            const lateInbox = await Inbox.subscribe(late, `${N}/#`);
            const serial = await lateInbox.waitFor(`${N}/system/0/Serial`);
            assert.equal(serial.retain, true);
            assert.equal(serial.payload.toString(), `{"value":"${PORTAL_ID}"}`);
            await sleep(200);
            assert.equal(lateInbox.messages.filter((m) => m.retain).length, 1);
            inbox.clear();
            await client.publishAsync(`R/${PORTAL_ID}/system/0/Serial`, '');
            await inbox.waitFor(`${N}/full_publish_completed`);
            assert.ok(inbox.on(`${N}/solarcharger/277/Yield/Power`).length >= 1);
            await closeAll(late);
        });

        it('serves every keep-alive beyond 3 a second with the next republish, each with its own echo', async () => {
            inbox.clear();
            const echoes = ['k1', 'k2', 'k3', 'k4', 'k5'];
            for (const e of echoes)
                await client.publishAsync(`R/${PORTAL_ID}/keepalive`, JSON.stringify({ 'keepalive-options': [{ 'full-publish-completed-echo': e }] }));
            for (const e of echoes)
                await inbox.waitFor((m) => m.topic === `${N}/full_publish_completed` && m.payload.toString().includes(`"full-publish-completed-echo":"${e}"`), 3000);
            // The first burst takes a few loop turns; the keep-alives that arrive meanwhile share the next one.
            const bursts = inbox.on(`${N}/vebus/276/Mode`).length;
            assert.ok(bursts >= 2 && bursts <= 4, `${bursts} republishes for 5 keep-alives`);
            assert.equal(inbox.on(`${N}/full_publish_completed`).length, 5);
        });

        it('reads an item even when not alive, a sub-tree, a whole service and an uncached leaf', async () => {
            await waitExpired();
            inbox.clear();
            await client.publishAsync(`R/${PORTAL_ID}/solarcharger/279/Dc/0/Voltage`, '');
            assert.equal((await inbox.waitFor(`${N}/solarcharger/279/Dc/0/Voltage`)).payload.toString(), '{"value":52.41999816894531}');
            inbox.clear();
            await client.publishAsync(`R/${PORTAL_ID}/solarcharger/279/Dc`, '');
            await inbox.waitFor(`${N}/solarcharger/279/Dc/0/Current`);
            await inbox.waitFor(`${N}/solarcharger/279/Dc/0/Voltage`);
            inbox.clear();
            await client.publishAsync(`R/${PORTAL_ID}/solarcharger/279/Dc/`, ''); // the same sub-tree, with a trailing slash
            await inbox.waitFor(`${N}/solarcharger/279/Dc/0/Current`);
            inbox.clear();
            await client.publishAsync(`R/${PORTAL_ID}/tank/21/`, '');
            await sleep(500);
            assert.equal(new Set(inbox.messages.filter((m) => m.topic.startsWith(`${N}/tank/21/`)).map((m) => m.topic)).size, 30);
            gx.sim.addItem('com.victronenergy.tank.adc_builtin0_1', { path: '/Hidden/Leaf', value: new Variant('i', 42) }, 'none');
            inbox.clear();
            await client.publishAsync(`R/${PORTAL_ID}/tank/21/Hidden/Leaf`, '');
            assert.equal((await inbox.waitFor(`${N}/tank/21/Hidden/Leaf`)).payload.toString(), '{"value":42}');
        });

        it('reads settings with min and max, as in the README', async () => {
            inbox.clear();
            await client.publishAsync(`R/${PORTAL_ID}/settings/0/Settings`, '');
            const m = await inbox.waitFor(`${N}/settings/0/Settings/Generator0/TestRun/Enabled`);
            assert.equal(m.payload.toString(), '{"max":1,"min":0,"value":0}');
        });

        it('writes with the D-Bus type the JSON token gives', async () => {
            const table: Array<[string, string, unknown]> = [
                ['{"value": -200}', 'i', -200], ['{"value":1.0}', 'd', 1], ['{"value":3000000000}', 'x', 3000000000n],
                ['{"value":null}', 'ai', []], ['{"value":[1,2]}', 'ai', [1, 2]], ['{"value":"s"}', 's', 's'], ['{"value":true}', 'b', true],
            ];
            const before = gx.sim.writes.length;
            for (const [payload] of table)
                await client.publishAsync(`W/${PORTAL_ID}/vebus/257/Hub4/L1/AcPowerSetpoint`, payload);
            const deadline = Date.now() + 5000;
            while (gx.sim.writes.length < before + table.length && Date.now() < deadline)
                await sleep(20);
            const writes = gx.sim.writes.slice(before);
            assert.deepEqual(writes.map((w) => [w.path, w.signature]), table.map(([, s]) => ['/Hub4/L1/AcPowerSetpoint', s]));
            assert.deepEqual(writes.map((w) => w.value), table.map(([, , v]) => v));
        });

        it('says how it is in its status file: ready, its version, the bus, the clients, its memory', async () => {
            const version = (JSON.parse(fs.readFileSync(path.join(repoRoot, 'package.json'), 'utf8')) as { version: string }).version;
            // The broker says how many clients it has every 10 s; the file is refreshed every 10 s.
            const deadline = Date.now() + 25_000;
            let status = gx.broker.status();
            while (!(status && (status.dbus as { services: number }).services >= 19 && typeof status.clients === 'number') && Date.now() < deadline) {
                await sleep(250);
                status = gx.broker.status();
            }
            assert.ok(status, 'a status file');
            assert.equal(status.state, 'ready');
            assert.equal(status.pid, gx.broker.proc.pid);
            assert.equal(status.version, version);
            assert.match(String(status.node), /^18\./);
            const dbus = status.dbus as { connected: boolean; services: number; items: number };
            assert.equal(dbus.connected, true);
            assert.ok(dbus.items > 3000, JSON.stringify(dbus));
            assert.ok((status.clients as number) >= 1);
            assert.ok((status.memory as { rssMb: number }).rssMb > 10);
            assert.ok(Math.abs((status.updated as number) - Date.now() / 1000) < 30);
            // One start line names the package, Node, what the broker can do, the limits and the memory plan.
            assert.match(gx.broker.log(), /\[NOTICE\].*dbus-flashmq: dbus-flashmq-ts \S+ started \(Node 18\.\d+\.\d+, plugin API 4, FlashMQ .*\); portal id .*; memory: limits .* Chose .* old generation \d+ MiB/);
        });

        it('runs in a broker of an unprivileged user, as Venus OS v3.70 and later run it', function () {
            if (!brokerUser)
                this.skip(); // the tests do not run as root, or that user cannot reach the checkout (said at start)
            const status = fs.readFileSync(`/proc/${gx.broker.proc.pid!}/status`, 'utf8');
            assert.match(status, new RegExp(`^Uid:\\s+${brokerUser.uid}\\s+${brokerUser.uid}\\s`, 'm'));
            assert.match(status, new RegExp(`^Gid:\\s+${brokerUser.gid}\\s+${brokerUser.gid}\\s`, 'm'));
            assert.match(status, /^Groups:\s*$/m);
        });

        it('gives back the memory the start-up scan took, once, a few seconds after discovery', async () => {
            const line = await gx.broker.waitForLog(/memory after start-up: V8 heap used ([\d.]+) -> ([\d.]+) MB, total ([\d.]+) -> ([\d.]+) MB; RSS [\d.]+ -> [\d.]+ MB; \d+ items \(\d+ ms\)/, 10_000);
            const [usedBefore, usedAfter, totalBefore, totalAfter] = /used ([\d.]+) -> ([\d.]+) MB, total ([\d.]+) -> ([\d.]+)/.exec(line)!.slice(1).map(Number);
            // What the plugin controls: V8 collects the scan's garbage and shrinks its heap, malloc is trimmed, and
            // libnode's start-up pages are handed back (how much RSS that saves is up to the kernel).
            assert.ok(usedAfter! < usedBefore!, line);
            assert.ok(totalAfter! <= totalBefore!, line);
            await gx.broker.waitForLog(/memory: malloc kept \d+ MB free before trimming; (libnode's and ICU's read-only pages \(\d+ MB mapped\) handed back|this kernel keeps)/);
            assert.ok(gx.broker.running);
        });

        it('refuses a write of megabytes without copying it whole, and still routes it to subscribers', async () => {
            const watcher = await connect(gx.port);
            try {
                const routed = await Inbox.subscribe(watcher, `W/${PORTAL_ID}/#`);
                const before = gx.sim.writes.length;
                const logBefore = gx.broker.log().length;
                const huge = `{"value":"${'a'.repeat(3 * 1024 * 1024)}"}`; // valid JSON, 3 MiB
                await client.publishAsync(`W/${PORTAL_ID}/settings/0/Settings/Gui/Brightness`, huge);
                const m = await routed.waitFor(() => true, 10_000);
                assert.equal(m.payload.length, huge.length, 'routed whole');
                await sleep(300);
                assert.equal(gx.sim.writes.length, before);
                assert.match(gx.broker.log().slice(logBefore), /refusing the write to .*larger than/);
                assert.ok(gx.broker.running);
            } finally {
                await closeAll(watcher);
            }
        });

        it('refuses bad writes with one log line each, and writes nothing', async () => {
            const before = gx.sim.writes.length;
            const logBefore = gx.broker.log().length;
            const bad = ['{"value":{"a":1}}', 'not json', '{"val":1}', '{"value":[1,"a"]}', '{"value":1e999}'];
            for (const payload of bad)
                await client.publishAsync(`W/${PORTAL_ID}/vebus/257/Hub4/L1/AcPowerSetpoint`, payload);
            await client.publishAsync(`W/${PORTAL_ID}/vebus/257/No/Such/Path`, '{"value":1}');
            await client.publishAsync(`W/${PORTAL_ID}/nothing/9/X`, '{"value":1}');
            await client.publishAsync(`R/${PORTAL_ID}/nothing/9/X`, '');
            await sleep(500);
            assert.equal(gx.sim.writes.length, before);
            const lines = gx.broker.log().slice(logBefore).split('\n').filter((l) => /\[ERROR\].*dbus-flashmq:request/.test(l));
            assert.equal(lines.length, bad.length + 3, lines.join('\n'));
        });

        it('answers MQTT 5 requests that carry a response topic', async () => {
            inbox.clear();
            const props = { responseTopic: 'reply/t1', correlationData: Buffer.from('corr-1') };
            await client.publishAsync(`W/${PORTAL_ID}/vebus/257/Hub4/L1/AcPowerSetpoint`, '{"value":5}', { properties: props });
            await client.publishAsync(`W/${PORTAL_ID}/vebus/257/Hub4/L1/AcPowerSetpoint`, '{"value":{}}', { properties: props });
            await client.publishAsync(`R/${PORTAL_ID}/vebus/257/Nope`, '', { properties: props });
            await sleep(500);
            const replies = inbox.on('reply/t1').map((r) => r.payload.toString());
            assert.equal(replies.length, 3, replies.join('\n'));
            assert.ok(replies.includes('{"success":false,"error":"an object cannot be written"}'));
            assert.ok(replies.includes('{"success":true,"code":0}'));
            assert.ok(replies.some((r) => /^\{"success":false,"error":"reading '\/Nope' of 'com\.victronenergy\.vebus\.ttyO1' failed: .*UnknownObject/.test(r)), replies.join('\n'));
            const first = inbox.on('reply/t1')[0]!;
            assert.deepEqual(first.packet.properties?.correlationData, Buffer.from('corr-1'));
        });

        it('strips the retain flag of client N/ and P/ publishes, and refuses client publishes on its own N/', async () => {
            const other = await connect(gx.port, { clientId: 'other' });
            await other.publishAsync(`P/${PORTAL_ID}/in/x`, 'p', { retain: true });
            await other.publishAsync(`N/${PORTAL_ID}/fake/0/X`, '{"value":1}', { retain: true });
            await sleep(200);
            const late = await connect(gx.port);
            const lateInbox = await Inbox.subscribe(late, [`P/${PORTAL_ID}/#`, `${N}/fake/#`]);
            assert.deepEqual(await lateInbox.collect(`P/${PORTAL_ID}/in/x`, 400), []);
            assert.deepEqual(lateInbox.on(`${N}/fake/0/X`), []);
            assert.deepEqual(inbox.on(`${N}/fake/0/X`), [], 'never routed');
            await closeAll(other, late);
        });

        it('sends an empty payload for every topic of a service that vanishes', async () => {
            inbox.clear();
            await gx.sim.vanish('com.victronenergy.tank.adc_builtin0_2');
            await sleep(500);
            const gone = inbox.messages.filter((m) => m.topic.startsWith(`${N}/tank/23/`));
            assert.equal(gone.length, 30);
            assert.ok(gone.every((m) => m.payload.length === 0));
            await gx.sim.reappear('com.victronenergy.tank.adc_builtin0_2');
        });

        it('works with the README\'s mosquitto commands', async () => {
            const sub = spawn('mosquitto_sub', ['-p', String(gx.port), '-t', `N/${PORTAL_ID}/+/+/ProductId`, '-v', '-W', '5']);
            let out = '';
            sub.stdout.on('data', (d: Buffer) => { out += d.toString(); });
            await sleep(300);
            await execFileAsync('mosquitto_pub', ['-p', String(gx.port), '-t', `R/${PORTAL_ID}/keepalive`, '-m', '']);
            await sleep(800);
            sub.kill();
            assert.match(out, new RegExp(`^N/${PORTAL_ID}/vebus/257/ProductId \\{"value":9764\\}$`, 'm'));
            assert.match(out, new RegExp(`^N/${PORTAL_ID}/solarcharger/277/ProductId \\{"value":\\d+\\}$`, 'm'));
            const before = gx.sim.writes.length;
            await execFileAsync('mosquitto_pub', ['-p', String(gx.port), '-t', `W/${PORTAL_ID}/vebus/257/Hub4/L1/AcPowerSetpoint`, '-m', '{"value": -200}']);
            await sleep(300);
            assert.deepEqual(gx.sim.writes.slice(before).map((w) => [w.signature, w.value]), [['i', -200]]);
        });
    });

    describe('a reload (SIGHUP)', () => {
        let gx: SimulatedGx | undefined;

        after(async () => {
            await gx?.stop();
        });

        it('applies what can change while running, and says which options take effect when FlashMQ restarts', async () => {
            gx = await startGx({ recording: 'bct', pluginOptions: { keepalive_timeout_ms: '60000' } });
            const client = await connect(gx.port);
            try {
                const inbox = await Inbox.subscribe(client, `${N}/heartbeat`);
                const config = path.join(gx.broker.dir, 'flashmq.conf');
                fs.writeFileSync(config, fs.readFileSync(config, 'utf8')
                    .replace('plugin_opt_keepalive_timeout_ms "60000"', 'plugin_opt_keepalive_timeout_ms "1500"')
                    .replace(`plugin_opt_portal_id "${PORTAL_ID}"`, 'plugin_opt_portal_id "other0portal"')
                    .replace('plugin_opt_status_file', 'plugin_opt_read_items_per_second "1000"\nplugin_opt_status_file'));
                const from = gx.broker.log().length;
                await gx.broker.reload();
                await gx.broker.waitForLog(/dbus-flashmq: configuration reloaded: applied plugin_opt_keepalive_timeout_ms, plugin_opt_read_items_per_second; plugin_opt_portal_id takes effect when FlashMQ restarts/, 5000, from);
                // Alive for 1.5 s now: the keep-alive's first heartbeat, and none 3 s later.
                await client.publishAsync(`R/${PORTAL_ID}/keepalive`, '{"keepalive-options":["suppress-republish"]}');
                await inbox.waitFor(`${N}/heartbeat`, 3000);
                await sleep(3500);
                assert.equal(inbox.on(`${N}/heartbeat`).length, 1);
                // The portal id stays what the broker started with.
                inbox.clear();
                await client.publishAsync(`R/${PORTAL_ID}/system/0/Serial`, '');
                await inbox.collect(`${N}/heartbeat`, 200);
                assert.ok(gx.broker.running);
            } finally {
                await closeAll(client);
            }
        });
    });
});
