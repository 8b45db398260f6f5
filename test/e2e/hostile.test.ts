// Hostile input, end to end: 100,000 random and malformed R/, W/, I/ and P/ publishes and a storm of bad logins from
// several clients at once. The broker must stay up and keep serving a well-behaved client, and the simulator must
// see no D-Bus write that a valid, permitted request did not ask for.
import { strict as assert } from 'node:assert';
import * as fs from 'node:fs';
import * as path from 'node:path';

import type { MqttClient } from 'mqtt';

import { brokerScratchDir, describeWithBroker, sleep } from '../helpers/flashmq';
import { closeAll, connect, Inbox } from '../helpers/mqtt';
import { addSetting, PORTAL_ID, startGx } from '../helpers/venus';

/** A small deterministic random source, so a failure can be replayed. */
function rng(seed: number): () => number {
    let s = seed >>> 0;
    return () => {
        s = (s + 0x6d2b79f5) >>> 0;
        let t = s;
        t = Math.imul(t ^ (t >>> 15), t | 1);
        t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
        return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
    };
}

const REAL_ITEMS = [
    'settings/0/Settings/Gui/Brightness', 'vebus/276/Mode', 'solarcharger/277/Yield/Power', 'platform/0/Security/Api', 'tank/21/Level',
];

function hostileMessage(random: () => number): [string, Buffer] {
    const pick = <T>(xs: readonly T[]): T => xs[Math.floor(random() * xs.length)]!;
    const junk = (n: number): string => Array.from({ length: n }, () => String.fromCharCode(33 + Math.floor(random() * 90))).join('').replace(/[+#]/g, 'x');
    const levels = (): string => Array.from({ length: 1 + Math.floor(random() * 8) }, () => pick(['', 'a', '..', 'Settings', junk(3), '0', '-1', 'ÿ'])).join('/');
    const payloads: Array<() => Buffer> = [
        () => Buffer.from(''),
        () => Buffer.from(junk(20)),
        () => Buffer.from('{"value":'),
        () => Buffer.from(`${'['.repeat(1000)}1${']'.repeat(1000)}`),
        () => Buffer.from(`{"value":${'['.repeat(40)}1${']'.repeat(40)}}`),
        () => Buffer.from('{"value":{"nested":true}}'),
        () => Buffer.from('{"value":[1,"a",null]}'),
        () => Buffer.from('{"value":99999999999999999999999}'),
        () => Buffer.from('{"value":1e400}'),
        () => Buffer.from('{"value":"\\u0000"}'),
        () => Buffer.from('{"value":"\\ud800"}'),
        () => Buffer.from([0xff, 0xfe, 0x7b]),
        () => Buffer.alloc(200_000, 0x5b),
        () => Buffer.from('{"keepalive-options":[{"full-publish-completed-echo":5}]}'),
    ];
    const topics: Array<() => string> = [
        () => `W/${PORTAL_ID}/${pick(REAL_ITEMS)}`,
        () => `W/${PORTAL_ID}/${levels()}`,
        () => `R/${PORTAL_ID}/${levels()}`,
        () => `R/${PORTAL_ID}/${pick(REAL_ITEMS)}/${junk(2)}`,
        () => `R/${PORTAL_ID}/GuiCustomizations/Apps/${junk(4)}/Chunks/${pick(['0', '-1', '99999999999999999999', 'x'])}`,
        () => `I/local/${pick(['in', 'out', 'x'])}/${levels()}`,
        () => `P/${PORTAL_ID}/${levels()}`,
        () => `N/${PORTAL_ID}/${levels()}`,
        () => `W/${junk(6)}/${levels()}`,
        () => `R/${PORTAL_ID}/keepalive`,
        () => levels() || 'x',
    ];
    const topic = pick(topics)();
    return [topic.length === 0 ? 'x' : topic, pick(payloads)()];
}

describeWithBroker('hostile input (end to end)', function () {
    this.timeout(240_000);

    it('survives 100,000 hostile publishes and a login storm, keeps serving, and writes only what was asked', async () => {
        const dir = brokerScratchDir('dfmq-hostile-');
        fs.writeFileSync(path.join(dir, 'vnc.txt'), '$2b$04$.Wd.v7vwGPp6SJaFaJOGj.zySh7yPfMeHI4dGE/LWPBkV7izPZjVm\n');
        const gx = await startGx({
            recording: 'bct',
            broker: { allowAnonymous: false, logLevel: 'notice' },
            pluginOptions: { local_networks: '192.0.2.0/24', password_file: path.join(dir, 'vnc.txt'), skip_broker_registration: 'true' },
        });
        const clients: MqttClient[] = [];
        try {
            await addSetting(gx, '/Settings/Services', 'MqttLocal', 1, 0, 2);
            await sleep(300);

            const polite = await connect(gx.port, { username: 'polite', password: 'hallo', clientId: 'polite' });
            clients.push(polite);
            const politeIn = await Inbox.subscribe(polite, `N/${PORTAL_ID}/full_publish_completed`);
            const attackers = await Promise.all([0, 1, 2, 3].map((i) => connect(gx.port, { username: `attacker${i}`, password: 'hallo', clientId: `attacker${i}`, reconnectPeriod: 0 })));
            clients.push(...attackers);
            const writesBefore = gx.sim.writes.length;

            // A login storm beside: wrong passwords, bridge names, token names, binary junk.
            let loginsTried = 0;
            const storm = (async () => {
                const random = rng(7);
                while (loginsTried < 400) {
                    const batch = Array.from({ length: 40 }, () => {
                        loginsTried++;
                        const user = ['GXdbus', 'token/a/b', 'admin', '', 'x'.repeat(300), 'dbus-mqtt-integrations'][Math.floor(random() * 6)]!;
                        return connect(gx.port, { username: user, password: String(random()), connectTimeout: 10_000, reconnectPeriod: 0 })
                            .then((c) => closeAll(c), () => undefined);
                    });
                    await Promise.all(batch);
                }
            })();

            // The flood, from four clients at once, while the polite client keeps asking for keep-alives.
            const latencies: number[] = [];
            let flooding = true;
            const politeLoop = (async () => {
                for (let i = 0; flooding; i++) {
                    const echo = `polite-${i}`;
                    const t0 = Date.now();
                    await polite.publishAsync(`R/${PORTAL_ID}/keepalive`, JSON.stringify({ 'keepalive-options': [{ 'full-publish-completed-echo': echo }] }));
                    await politeIn.waitFor((m) => m.payload.toString().includes(`"${echo}"`), 15_000);
                    latencies.push(Date.now() - t0);
                    await sleep(200);
                }
            })();
            await Promise.all(attackers.map(async (client, i) => {
                const random = rng(100 + i);
                for (let n = 0; n < 25_000; n++) {
                    const [topic, payload] = hostileMessage(random);
                    client.publish(topic, payload, { qos: 0, retain: random() < 0.05 });
                    if (n % 500 === 499)
                        await new Promise((resolve) => setImmediate(resolve));
                }
                await client.publishAsync('done/flood', '');
            }));
            await sleep(1000);
            flooding = false;
            await politeLoop;
            await storm;

            // The broker is up and answers; nothing was written that was not asked for.
            assert.equal(gx.broker.running, true);
            const after = await connect(gx.port, { username: 'after', password: 'hallo' });
            const afterIn = await Inbox.subscribe(after, `N/${PORTAL_ID}/#`);
            await after.publishAsync(`R/${PORTAL_ID}/keepalive`, '');
            await afterIn.waitFor(`N/${PORTAL_ID}/full_publish_completed`, 10_000);
            await closeAll(after);
            const unexpected = gx.sim.writes.slice(writesBefore);
            assert.deepEqual(unexpected.map((w) => `${w.service} ${w.path} ${String(w.value)}`), [], 'no D-Bus write came from the flood');
            assert.ok(latencies.length >= 3, `the polite client was served ${latencies.length} times`);
            latencies.sort((a, b) => a - b);
            assert.ok(latencies[Math.floor(latencies.length / 2)]! < 5000, `keep-alive latency median ${latencies[Math.floor(latencies.length / 2)]} ms`);
            assert.ok(loginsTried >= 400);
        } finally {
            await closeAll(...clients);
            await gx.stop();
            fs.rmSync(dir, { recursive: true, force: true });
        }
    });
});
