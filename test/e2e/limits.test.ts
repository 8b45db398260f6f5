// The broker with the plugin under Venus's service limits (softlimit -d 150000000 -s 10000000 -a 150000000, the
// address space x4 on aarch64; this machine is 64-bit, so 600 MB), with default options, serving 50,000 items
// through full publishes, a flood of changes, writes, reads and a reload: still serving, and everything answered.
import { strict as assert } from 'node:assert';

import { Variant } from 'dbus-next';
import type { MqttClient } from 'mqtt';

import { describeWithBroker } from '../helpers/flashmq';
import { closeAll, connect, Inbox } from '../helpers/mqtt';
import type { SimulatedGx } from '../helpers/venus';
import { PORTAL_ID, startGx } from '../helpers/venus';

const N = `N/${PORTAL_ID}`;
const VENUS_LIMITS = ['prlimit', '--data=150000000', '--stack=10000000', '--as=600000000', '--'];
const BENCH = 'com.victronenergy.battery.limits';
const PATHS = Array.from({ length: 40 }, (_, i) => `/Limits/Value${i}`);

describeWithBroker("under Venus's service limits, with default options (end to end)", function () {
    this.timeout(180_000);
    let gx: SimulatedGx;
    let client: MqttClient;
    let inbox: Inbox;

    before(async () => {
        gx = await startGx({ scale: { services: 100, paths: 500 }, broker: { wrapper: VENUS_LIMITS, logLevel: 'info' } });
        await gx.sim.addService({ name: BENCH, items: [{ path: '/DeviceInstance', value: new Variant('i', 900) },
            ...PATHS.map((p) => ({ path: p, value: new Variant('d', 0.5) }))] });
        await gx.broker.waitForLog(new RegExp(`'${BENCH.replace(/\./g, '\\.')}' scanned`));
        client = await connect(gx.port, { protocolVersion: 4 });
        inbox = await Inbox.subscribe(client, `${N}/#`);
    });

    after(async () => {
        await closeAll(client);
        await gx?.stop();
    });

    it('sizes itself to the limits at start, and says so in one line', () => {
        const log = gx.broker.log();
        assert.match(log, /dbus-flashmq: memory: limits address space 600 MB, data 150 MB, stack 10 MB, .* old generation \d+ MiB \(what the data limit of 150 MB leaves beside about \d+ MB for the rest\), JIT on/);
        assert.doesNotMatch(log, /cannot hold the broker with the plugin/);
    });

    it('answers full publishes of 50,000 items', async () => {
        for (let round = 0; round < 3; round++) {
            inbox.clear();
            await client.publishAsync(`R/${PORTAL_ID}/keepalive`, JSON.stringify({ 'keepalive-options': [{ 'full-publish-completed-echo': `r${round}` }] }));
            await inbox.waitFor((m) => m.topic === `${N}/full_publish_completed` && m.payload.toString().includes(`"r${round}"`), 60_000);
            const items = inbox.messages.filter((m) => m.topic.startsWith(`${N}/battery/`) || m.topic.startsWith(`${N}/solarcharger/`)).length;
            assert.ok(inbox.messages.length > 50_000, `round ${round}: ${inbox.messages.length} messages (${items} of battery/solarcharger)`);
        }
    });

    it('delivers every change of a flood', async () => {
        inbox.clear();
        const total = 60_000;
        let received = 0;
        const count = (topic: string): void => {
            if (topic.startsWith(`${N}/battery/900/Limits/`))
                received++;
        };
        client.on('message', count);
        try {
            let sent = 0;
            const deadline = Date.now() + 90_000;
            while (received < total && Date.now() < deadline) {
                while (sent < total && sent - received < 2000) {
                    gx.sim.change(BENCH, PATHS[sent % PATHS.length]!, new Variant('d', sent + 0.25), 'items');
                    sent++;
                }
                await new Promise((resolve) => setImmediate(resolve));
            }
            assert.equal(received, total);
        } finally {
            client.off('message', count);
        }
    });

    it('answers writes and reads, and reloads', async () => {
        for (let i = 0; i < 20; i++) {
            inbox.clear();
            await client.publishAsync(`W/${PORTAL_ID}/battery/900/Limits/Value1`, `{"value":${i}.5}`);
            const echo = await inbox.waitFor(`${N}/battery/900/Limits/Value1`, 5000);
            assert.equal(echo.payload.toString(), `{"value":${i}.5}`);
        }
        inbox.clear();
        await client.publishAsync(`R/${PORTAL_ID}/battery/900/Limits`, '');
        await inbox.waitFor(`${N}/battery/900/Limits/Value39`, 5000);
        await gx.broker.reload();
        await gx.broker.waitForLog(/dbus-flashmq: configuration reloaded/);
        inbox.clear();
        await client.publishAsync(`R/${PORTAL_ID}/keepalive`, '');
        await inbox.waitFor(`${N}/full_publish_completed`, 60_000);
    });

    it('is still serving, and never ran out of memory', async () => {
        assert.ok(gx.broker.running);
        const late = await connect(gx.port, { protocolVersion: 4 });
        try {
            const lateInbox = await Inbox.subscribe(late, `${N}/battery/900/Limits/Value0`);
            await late.publishAsync(`R/${PORTAL_ID}/battery/900/Limits/Value0`, '');
            const answer = await lateInbox.waitFor(`${N}/battery/900/Limits/Value0`, 5000);
            assert.match(answer.payload.toString(), /^\{"value":[0-9.]+\}$/);
        } finally {
            await closeAll(late);
        }
        assert.doesNotMatch(gx.broker.log() + gx.broker.consoleOutput, /out of memory|OOM|Fatal|Aborted/i);
    });
});
