// Greedy and hostile clients, end to end (issue: fair keep-alives, writes that cannot hurt, bounded work, other
// clients left alone): one client floods keep-alives or reads while another expects prompt answers; clients that
// the plugin has no reason to touch keep their sessions and their retained last wills through settings churn,
// reloads and the removal of another token user.
import { strict as assert } from 'node:assert';
import * as fs from 'node:fs';
import * as path from 'node:path';

import type { MqttClient } from 'mqtt';

import { brokerScratchDir, describeWithBroker, sleep } from '../helpers/flashmq';
import { closeAll, connect, Inbox } from '../helpers/mqtt';
import type { SimulatedGx } from '../helpers/venus';
import { addSetting, PORTAL_ID, setSetting, startGx } from '../helpers/venus';

const BCRYPT_HALLO = '$2b$04$.Wd.v7vwGPp6SJaFaJOGj.zySh7yPfMeHI4dGE/LWPBkV7izPZjVm';
const COMPLETED = `N/${PORTAL_ID}/full_publish_completed`;

const percentile = (xs: number[], p: number): number => [...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.floor(xs.length * p))]!;

describeWithBroker('greedy clients (end to end)', function () {
    this.timeout(120_000);

    describe('floods', () => {
        let gx: SimulatedGx;
        const clients: MqttClient[] = [];

        before(async () => {
            gx = await startGx({ recording: 'bct', pluginOptions: { skip_broker_registration: 'true' } });
        });

        afterEach(async () => {
            await closeAll(...clients.splice(0));
        });

        after(async () => {
            await gx?.stop();
        });

        it('answers a keep-alive within about a second while another client floods them, and republishes at most 3 times a second', async () => {
            const flooder = await connect(gx.port, { clientId: 'flooder' });
            const polite = await connect(gx.port, { clientId: 'polite' });
            const counter = await connect(gx.port, { clientId: 'counter' });
            clients.push(flooder, polite, counter);
            const politeIn = await Inbox.subscribe(polite, COMPLETED);
            // One item's topic counts the full republishes (it is in every one, and does not change by itself).
            const marker = `N/${PORTAL_ID}/settings/0/Settings/Gui/Brightness`;
            const counted = await Inbox.subscribe(counter, marker);

            let flooding = true;
            let sent = 0;
            const flood = (async () => {
                while (flooding) {
                    const batch = [];
                    for (let i = 0; i < 50; i++)
                        batch.push(flooder.publishAsync(`R/${PORTAL_ID}/keepalive`, JSON.stringify({ 'keepalive-options': [{ 'full-publish-completed-echo': `flood-${sent++}` }] })));
                    await Promise.all(batch);
                    await sleep(5);
                }
            })();
            await sleep(500);
            const start = Date.now();
            counted.messages.length = 0;
            const latencies: number[] = [];
            for (let i = 0; i < 8; i++) {
                const echo = `polite-${i}`;
                const t0 = Date.now();
                await polite.publishAsync(`R/${PORTAL_ID}/keepalive`, JSON.stringify({ 'keepalive-options': [{ 'full-publish-completed-echo': echo }] }));
                await politeIn.waitFor((m) => m.payload.toString().includes(`"full-publish-completed-echo":"${echo}"`), 3000);
                latencies.push(Date.now() - t0);
                await sleep(250);
            }
            const seconds = (Date.now() - start) / 1000;
            flooding = false;
            await flood;
            assert.ok(sent > 1000, `the flood sent ${sent} keep-alives`);
            assert.ok(Math.max(...latencies) < 1500, `polite keep-alive latencies ${latencies.join(', ')} ms`);
            const republishes = counted.messages.length;
            assert.ok(republishes <= Math.ceil(seconds * 3) + 2, `${republishes} republishes in ${seconds.toFixed(1)} s`);
            assert.ok(republishes >= 1);
            assert.ok(gx.broker.running);
            console.log(`      (flood of ${sent} keep-alives; polite p50 ${percentile(latencies, 0.5)} ms, max ${Math.max(...latencies)} ms; ${republishes} republishes in ${seconds.toFixed(1)} s)`);
        });

        it('keeps answering a polite read while another client floods reads of a whole service, slows it to its budget of items, and refuses beyond its queue', async () => {
            const flooder = await connect(gx.port, { clientId: 'read-flooder' });
            const polite = await connect(gx.port, { clientId: 'read-polite' });
            clients.push(flooder, polite);
            const floodReplies = await Inbox.subscribe(flooder, 'reply/flood');
            const politeIn = await Inbox.subscribe(polite, 'reply/polite');
            // 3,000 reads of the whole settings service (about 300 items each) at once, as MQTT 5 requests.
            const floodStart = Date.now();
            for (let sent = 0; sent < 3000; sent += 500) {
                await Promise.all(Array.from({ length: 500 }, () =>
                    flooder.publishAsync(`R/${PORTAL_ID}/settings/0/`, '', { properties: { responseTopic: 'reply/flood' } })));
            }
            const t0 = Date.now();
            await polite.publishAsync(`R/${PORTAL_ID}/settings/0/Settings/Gui/Brightness`, '', { properties: { responseTopic: 'reply/polite' } });
            const answer = await politeIn.waitFor(() => true, 5000);
            assert.deepEqual(JSON.parse(answer.payload.toString()), { success: true, published: 1 });
            const politeMs = Date.now() - t0;
            assert.ok(politeMs < 2000, `the polite read took ${politeMs} ms`);
            // Every flood request is answered: served, or refused at once because its queue was full.
            await floodReplies.waitFor(() => floodReplies.messages.length >= 3000, 60_000);
            const floodSeconds = (Date.now() - floodStart) / 1000;
            const replies = floodReplies.messages.map((m) => JSON.parse(m.payload.toString()) as { success: boolean; error?: string; published?: number });
            // The served reads published no more than the client's budget of items allows (default: 20,000 ahead,
            // 5,000 a second), give or take the reads in flight when it ran out (8 at most, charged when done).
            const items = replies.reduce((sum, r) => sum + (r.published ?? 0), 0);
            assert.ok(items <= 20_000 + 5000 * floodSeconds + 8 * 400, `${items} items read in ${floodSeconds.toFixed(1)} s`);
            const refused = replies.filter((r) => !r.success);
            assert.ok(refused.length > 0 && refused.every((r) => /too many requests waiting/.test(r.error ?? '')), JSON.stringify(refused.slice(0, 2)));
            assert.ok(replies.some((r) => r.success));
            assert.ok(gx.broker.running);
            const lines = gx.broker.log().split('\n').filter((l) => /read-flooder/.test(l));
            assert.ok(lines.length < 100, `${lines.length} log lines about the flooder`);
            console.log(`      (polite read answered in ${politeMs} ms; ${replies.length - refused.length} flood reads served (${items} items in ${floodSeconds.toFixed(1)} s), ${refused.length} refused; ${lines.length} log lines)`);
        });
    });

    describe('clients the plugin has no reason to touch', () => {
        let gx: SimulatedGx;
        let dir: string;

        before(async () => {
            dir = brokerScratchDir('dfmq-greedy-');
            fs.writeFileSync(path.join(dir, 'vnc.txt'), `${BCRYPT_HALLO}\n`);
            fs.writeFileSync(path.join(dir, 'tokens.json'), JSON.stringify([
                { token_name: 'token/evcharger/HQ1', password_hash: BCRYPT_HALLO },
                { token_name: 'token/evcharger/HQ2', password_hash: BCRYPT_HALLO },
            ]));
            gx = await startGx({
                recording: 'bct',
                broker: { allowAnonymous: false },
                pluginOptions: {
                    local_networks: '192.0.2.0/24', password_file: path.join(dir, 'vnc.txt'), tokens_file: path.join(dir, 'tokens.json'),
                    skip_broker_registration: 'true',
                },
            });
            await gx.sim.addService({ name: 'com.victronenergy.platform', items: [] });
            await addSetting(gx, '/Settings/Services', 'MqttLocal', 1, 0, 2);
            await sleep(300);
        });

        after(async () => {
            await gx?.stop();
            fs.rmSync(dir, { recursive: true, force: true });
        });

        it('keeps their sessions and retained last wills through MqttLocal churn, reloads and another user\'s removal', async () => {
            const will = (id: string): { topic: string; payload: Buffer; retain: boolean; qos: 1 } =>
                ({ topic: `thirdparty/${id}/status`, payload: Buffer.from('offline'), retain: true, qos: 1 });
            const keeper = await connect(gx.port, { username: 'token/evcharger/HQ1', password: 'hallo', clientId: 'keeper', will: will('keeper') });
            const removed = await connect(gx.port, { username: 'token/evcharger/HQ2', password: 'hallo', clientId: 'removed', will: will('removed') });
            const lan = await connect(gx.port, { username: 'lan', password: 'hallo', clientId: 'lan', will: will('lan') });
            const watcher = await connect(gx.port, { username: 'token/evcharger/HQ1', password: 'hallo', clientId: 'watcher' });
            let keeperClosed = false;
            keeper.on('close', () => { keeperClosed = true; });
            await keeper.publishAsync('thirdparty/keeper/status', 'online', { retain: true, qos: 1 });
            const statuses = await Inbox.subscribe(watcher, 'thirdparty/+/status');
            const lanClosed = new Promise<void>((resolve) => lan.once('close', () => resolve()));
            const removedClosed = new Promise<void>((resolve) => removed.once('close', () => resolve()));

            // LAN MQTT to tokens only: the password client goes (its will is right to fire), the token user stays.
            await setSetting(gx, '/Settings/Services/MqttLocal', 2);
            await lanClosed;
            await statuses.waitFor((m) => m.topic === 'thirdparty/lan/status' && m.payload.toString() === 'offline', 5000);
            await setSetting(gx, '/Settings/Services/MqttLocal', 1);
            await setSetting(gx, '/Settings/Services/MqttLocal', 2);
            await setSetting(gx, '/Settings/Services/MqttLocal', 1);
            await gx.broker.reload();
            await gx.broker.reload();
            // Another token user removed: that one goes, nobody else.
            gx.sim.rawSignal('com.victronenergy.platform', '/', 'com.victronenergy.TokenUsers', 'UserRemoved', 's', ['token/evcharger/HQ2']);
            await removedClosed;
            await statuses.waitFor((m) => m.topic === 'thirdparty/removed/status' && m.payload.toString() === 'offline', 5000);
            await sleep(1000);

            assert.equal(keeperClosed, false, 'the untouched client was disconnected');
            assert.ok(keeper.connected);
            assert.ok(!statuses.messages.some((m) => m.topic === 'thirdparty/keeper/status' && m.payload.toString() === 'offline'), 'its will fired');
            // A newcomer still gets its retained status as it left it.
            const newcomer = await connect(gx.port, { username: 'token/evcharger/HQ1', password: 'hallo', clientId: 'newcomer' });
            const retained = await Inbox.subscribe(newcomer, 'thirdparty/keeper/status');
            const got = await retained.waitFor(() => true, 3000);
            assert.equal(got.payload.toString(), 'online');
            assert.equal(got.retain, true);
            await keeper.publishAsync('thirdparty/keeper/ping', 'still here', { qos: 1 });
            await closeAll(keeper, watcher, newcomer, lan, removed);
        });
    });
});
