// Who may connect, publish and receive, end to end: the real flashmq with our plugin on a simulated GX device, real
// clients that count as local or not (plugin_opt_local_networks decides what 127.0.0.1 is), token users, the
// security-profile password, each LAN MQTT mode, and a real FlashMQ bridge logged in as the VRM bridge.
import { strict as assert } from 'node:assert';
import * as fs from 'node:fs';
import * as path from 'node:path';

import { Variant } from 'dbus-next';
import type { MqttClient } from 'mqtt';

import { brokerScratchDir, describeWithBroker, sleep, startBroker } from '../helpers/flashmq';
import { closeAll, connect, Inbox } from '../helpers/mqtt';
import type { SimulatedGx } from '../helpers/venus';
import { addSetting, PORTAL_ID, setSetting, startGx } from '../helpers/venus';

const N = `N/${PORTAL_ID}`;
const BCRYPT_HALLO = '$2b$04$.Wd.v7vwGPp6SJaFaJOGj.zySh7yPfMeHI4dGE/LWPBkV7izPZjVm';

async function tryConnect(port: number, username: string, password: string, clientId?: string): Promise<{ client?: MqttClient; ms: number; error?: string }> {
    const t0 = Date.now();
    try {
        const client = await connect(port, { username, password, clientId: clientId ?? `c-${username}-${Math.random().toString(16).slice(2, 6)}`, connectTimeout: 10_000 });
        return { client, ms: Date.now() - t0 };
    } catch (err) {
        return { ms: Date.now() - t0, error: String(err) };
    }
}

function tempFiles(): { dir: string; tokens: string; password: string; apps: string } {
    const dir = brokerScratchDir('dfmq-sec-');
    return { dir, tokens: path.join(dir, 'tokens.json'), password: path.join(dir, 'vncpassword.txt'), apps: path.join(dir, 'apps') };
}

describeWithBroker('who may connect, publish and receive (end to end)', function () {
    this.timeout(120_000);

    describe('LAN clients (127.0.0.1 counted as not local)', () => {
        let gx: SimulatedGx;
        let files: ReturnType<typeof tempFiles>;

        before(async () => {
            files = tempFiles();
            fs.writeFileSync(files.password, `${BCRYPT_HALLO}\n`);
            fs.writeFileSync(files.tokens, JSON.stringify([{ token_name: 'token/evcharger/HQ1', password_hash: BCRYPT_HALLO }]));
            gx = await startGx({
                recording: 'bct',
                broker: { allowAnonymous: false },
                pluginOptions: { local_networks: '192.0.2.0/24', tokens_file: files.tokens, password_file: files.password, skip_broker_registration: 'true' },
            });
            await gx.sim.addService({ name: 'com.victronenergy.platform', extraInterfaces: ['com.victronenergy.platform'], items: [
                { path: '/Security/Api', value: new Variant('s', '') },
            ] });
            await addSetting(gx, '/Settings/Services', 'MqttLocal', 1, 0, 2);
            await gx.broker.waitForLog(/'com.victronenergy.platform' scanned/);
            await sleep(300);
        });

        after(async () => {
            await gx?.stop();
            fs.rmSync(files.dir, { recursive: true, force: true });
        });

        it('lets in the security-profile password and token users, and answers others late', async () => {
            const good = await tryConnect(gx.port, 'someone', 'hallo');
            assert.ok(good.client, good.error);
            const token = await tryConnect(gx.port, 'token/evcharger/HQ1', 'hallo');
            assert.ok(token.client, token.error);
            const [wrong, wrongToken, unknownToken] = await Promise.all([
                tryConnect(gx.port, 'someone', 'nope'), tryConnect(gx.port, 'token/evcharger/HQ1', 'nope'), tryConnect(gx.port, 'token/x/y', 'hallo'),
            ]);
            for (const r of [wrong, wrongToken, unknownToken]) {
                assert.equal(r.client, undefined);
                assert.ok(r.ms >= 900 && r.ms < 7000, `refused after ${r.ms} ms`);
            }
            const bridge = await tryConnect(gx.port, 'GXdbus', 'hallo');
            assert.equal(bridge.client, undefined);
            assert.ok(bridge.ms < 900, `a bridge impostor is refused at once (${bridge.ms} ms)`);
            await closeAll(good.client, token.client);
        });

        it('keeps a LAN client from the security API, lets a privileged one write it, and hides secret writes', async () => {
            const lan = await tryConnect(gx.port, 'token/evcharger/HQ1', 'hallo');
            const admin = await tryConnect(gx.port, 'admin', 'hallo');
            const watcher = await tryConnect(gx.port, 'watcher', 'hallo');
            const seen = await Inbox.subscribe(watcher.client!, 'W/#');
            const before = gx.sim.writes.length;
            await lan.client!.publishAsync(`W/${PORTAL_ID}/platform/0/Security/Api`, '{"value":"evil"}');
            await sleep(400);
            assert.equal(gx.sim.writes.length, before, 'not written');
            await admin.client!.publishAsync(`W/${PORTAL_ID}/platform/0/Security/Api`, '{"value":"ok"}');
            const deadline = Date.now() + 3000;
            while (gx.sim.writes.length === before && Date.now() < deadline)
                await sleep(20);
            assert.equal(gx.sim.writes.at(-1)?.path, '/Security/Api');
            await admin.client!.publishAsync(`W/${PORTAL_ID}/settings/0/Settings/Some/Password`, '{"value":"x"}');
            await admin.client!.publishAsync(`W/${PORTAL_ID}/settings/0/Settings/Gui/Brightness`, '{"value":3}');
            await seen.waitFor(`W/${PORTAL_ID}/settings/0/Settings/Gui/Brightness`);
            assert.deepEqual(seen.messages.map((m) => m.topic).filter((t) => /Security|Password/.test(t)), [], 'secret writes are not delivered');
            await closeAll(lan.client, admin.client, watcher.client);
        });

        it('gives integration topics only to their token user', async () => {
            const mine = await tryConnect(gx.port, 'token/evcharger/HQ1', 'hallo');
            const other = await tryConnect(gx.port, 'plain', 'hallo');
            const mineIn = await Inbox.subscribe(mine.client!, 'I/local/#');
            const otherIn = await Inbox.subscribe(other.client!, 'I/local/#');
            await mine.client!.publishAsync('I/local/in/evcharger/HQ1/x', 'to the integrations service');
            await mine.client!.publishAsync('I/local/out/evcharger/HQ1/x', 'not allowed');
            await sleep(400);
            assert.deepEqual(otherIn.messages.map((m) => m.topic), [], 'a LAN client receives no integration topics');
            assert.deepEqual(mineIn.messages.map((m) => m.topic), [], 'nobody may publish on out but the integrations service');
            await closeAll(mine.client, other.client);
        });

        it('follows the LAN MQTT mode: tokens only throws out password logins, off throws out token users too', async () => {
            const pw = await tryConnect(gx.port, 'pw', 'hallo', 'pw-client');
            const token = await tryConnect(gx.port, 'token/evcharger/HQ1', 'hallo', 'token-client');
            const pwClosed = new Promise<void>((resolve) => pw.client!.once('close', () => resolve()));
            const tokenClosed = new Promise<void>((resolve) => token.client!.once('close', () => resolve()));
            let tokenGone = false;
            void tokenClosed.then(() => { tokenGone = true; });
            await setSetting(gx, '/Settings/Services/MqttLocal', 2);
            await pwClosed;
            await sleep(300);
            assert.equal(tokenGone, false, 'token users stay');
            const refused = await tryConnect(gx.port, 'pw2', 'hallo');
            assert.equal(refused.client, undefined, 'no new password logins');
            const stillToken = await tryConnect(gx.port, 'token/evcharger/HQ1', 'hallo', 'token-client-2');
            assert.ok(stillToken.client, 'token users may still log in');
            await setSetting(gx, '/Settings/Services/MqttLocal', 0);
            await tokenClosed;
            await setSetting(gx, '/Settings/Services/MqttLocal', 1);
            await closeAll(pw.client, token.client, stillToken.client);
        });

        it('throws out a token user removed by venus-platform', async () => {
            const token = await tryConnect(gx.port, 'token/evcharger/HQ1', 'hallo', 'removed-user');
            const closed = new Promise<void>((resolve) => token.client!.once('close', () => resolve()));
            gx.sim.rawSignal('com.victronenergy.platform', '/', 'com.victronenergy.TokenUsers', 'UserRemoved', 's', ['token/evcharger/HQ1']);
            await closed;
            await gx.broker.waitForLog(/disconnecting client 'removed-user' of removed token user 'token\/evcharger\/HQ1'/);
            await closeAll(token.client);
        });
    });

    describe('local clients', () => {
        it('lets a local client in with anything, and the integrations service only from localhost', async () => {
            const gx = await startGx({ recording: 'bct', broker: { allowAnonymous: false }, pluginOptions: { skip_broker_registration: 'true' } });
            try {
                const local = await tryConnect(gx.port, 'anyone', 'anything');
                assert.ok(local.client, local.error);
                const integrations = await tryConnect(gx.port, 'dbus-mqtt-integrations', '');
                assert.ok(integrations.client, integrations.error);
                const inbox = await Inbox.subscribe(integrations.client, 'I/local/in/#');
                await local.client.publishAsync('I/local/in/evcharger/HQ9/x', 'from a local client');
                await inbox.waitFor('I/local/in/evcharger/HQ9/x');
                await closeAll(local.client, integrations.client);
            } finally {
                await gx.stop();
            }
        });
    });

    describe('the VRM bridge (a real FlashMQ bridge to a "cloud" broker)', () => {
        let cloudPort: number;
        let cloud: Awaited<ReturnType<typeof startBroker>>;
        let gx: SimulatedGx;
        let cloudClient: MqttClient;
        let cloudIn: Inbox;

        before(async () => {
            cloud = await startBroker({ plugin: null, entry: null });
            cloudPort = cloud.port;
            gx = await startGx({
                recording: 'bct',
                broker: {
                    extraConfig: ['bridge {', '  address 127.0.0.1', `  port ${cloudPort}`, '  local_username GXdbus', '  clientid_prefix GXdbus',
                        `  publish N/${PORTAL_ID}/#`, `  subscribe R/${PORTAL_ID}/#`, `  subscribe W/${PORTAL_ID}/#`, '}'].join('\n'),
                },
                pluginOptions: {},
            });
            await gx.sim.addService({ name: 'com.victronenergy.platform', extraInterfaces: ['com.victronenergy.platform'], items: [
                { path: '/Mqtt/RegisterOnVrm', value: new Variant('i', 0) },
                ...['GXdbus', 'GXrpc'].flatMap((b) => [
                    { path: `/Mqtt/Bridges/${b}/Connected`, value: new Variant('ai', []) },
                    { path: `/Mqtt/Bridges/${b}/ConnectionStatus`, value: new Variant('s', '') },
                ]),
            ] });
            await addSetting(gx, '/Settings/Network', 'VrmPortal', 1, 0, 2);
            cloudClient = await connect(cloudPort);
            cloudIn = await Inbox.subscribe(cloudClient, `${N}/#`);
        });

        after(async () => {
            await closeAll(cloudClient);
            await gx?.stop();
            await cloud?.stop();
            cloud?.cleanup();
        });

        async function platformWrite(pathEnd: string, predicate: (value: unknown) => boolean, timeoutMs = 8000): Promise<void> {
            const deadline = Date.now() + timeoutMs;
            while (Date.now() < deadline) {
                if (gx.sim.writes.some((w) => w.service === 'com.victronenergy.platform' && w.path.endsWith(pathEnd) && predicate(w.value)))
                    return;
                await sleep(50);
            }
            throw new Error(`no write to ${pathEnd}: ${JSON.stringify(gx.sim.writes.filter((w) => w.service === 'com.victronenergy.platform').map((w) => [w.path, w.value]))}`);
        }

        it('asks venus-platform to register with VRM and reports the bridge as connected', async () => {
            await platformWrite('/Mqtt/RegisterOnVrm', (v) => v === '1');
            await platformWrite('/Mqtt/Bridges/GXdbus/Connected', (v) => v === true);
            await platformWrite('/Mqtt/Bridges/GXdbus/ConnectionStatus', (v) => typeof v === 'string' && /connected/i.test(v));
            await platformWrite('/Mqtt/Bridges/GXrpc/ConnectionStatus', (v) => v === 'deactivated');
        });

        it('sends N/ to VRM only after VRM asked, and serves VRM\'s keep-alive over the bridge', async () => {
            const local = await connect(gx.port);
            await local.publishAsync(`R/${PORTAL_ID}/keepalive`, '');
            await sleep(800);
            assert.deepEqual(cloudIn.messages.map((m) => m.topic).slice(0, 3), [], 'no interest shown yet: nothing flows to VRM');
            await cloudClient.publishAsync(`R/${PORTAL_ID}/keepalive`, '{"keepalive-options":[{"full-publish-completed-echo":"vrm"}]}');
            await cloudIn.waitFor((m) => m.topic === `${N}/full_publish_completed` && m.payload.toString().includes('vrm'), 10_000);
            assert.ok(cloudIn.on(`${N}/vebus/276/Mode`).length >= 1);
            await closeAll(local);
        });

        it('refuses VRM writes while the portal is read-only, and takes them in full mode', async () => {
            const before = gx.sim.writes.length;
            await cloudClient.publishAsync(`W/${PORTAL_ID}/settings/0/Settings/Gui/Brightness`, '{"value":4}');
            await sleep(800);
            assert.equal(gx.sim.writes.filter((w) => w.service === 'com.victronenergy.settings').length,
                gx.sim.writes.slice(0, before).filter((w) => w.service === 'com.victronenergy.settings').length, 'read-only: not written');
            await setSetting(gx, '/Settings/Network/VrmPortal', 2);
            await sleep(300);
            await cloudClient.publishAsync(`W/${PORTAL_ID}/settings/0/Settings/Gui/Brightness`, '{"value":4}');
            const deadline = Date.now() + 5000;
            while (!gx.sim.writes.some((w) => w.path === '/Settings/Gui/Brightness' && w.value === 4) && Date.now() < deadline)
                await sleep(50);
            assert.ok(gx.sim.writes.some((w) => w.path === '/Settings/Gui/Brightness' && w.value === 4), 'full: written');
            await platformWrite('/Mqtt/Bridges/GXrpc/ConnectionStatus', (v) => v === 'pending' || v === 'Not connected');
        });

        it('keeps a broker that lost its bridge running, and reports it', async () => {
            await cloud.stop();
            await platformWrite('/Mqtt/Bridges/GXdbus/Connected', (v) => v === false, 15_000);
            const still = await connect(gx.port);
            await closeAll(still);
        });
    });
});
