// What a client sees that connects the moment the broker starts (the Marine MFD app, Home Assistant's library after a
// GX reboot). FlashMQ 1.26 opens its listeners only once the plugin is ready; Venus OS ships 1.21 (v3.6x) and 1.23
// (v3.7x), which let clients in while the plugin still discovers the bus. Either way the client gets the retained
// N/<id>/system/0/Serial, and a keep-alive sent at once is answered with every topic before its
// full_publish_completed, never half of them. Run it against another FlashMQ with FLASHMQ_BIN.
import { strict as assert } from 'node:assert';

import { Variant } from 'dbus-next';
import type { MqttClient } from 'mqtt';

import { Simulator } from '../../ts/sim';
import type { DbusDaemon } from '../helpers/dbus-daemon';
import { startDbusDaemon } from '../helpers/dbus-daemon';
import type { RunningBroker } from '../helpers/flashmq';
import { canConnect, describeWithBroker, flashmqVersion, sleep, startBroker } from '../helpers/flashmq';
import { closeAll, connect, Inbox } from '../helpers/mqtt';
import { PORTAL_ID, recordingsDir } from '../helpers/venus';

const N = `N/${PORTAL_ID}`;

describeWithBroker(`start-up as an eager client sees it (FlashMQ ${flashmqVersion()})`, function () {
    this.timeout(60_000);
    let daemon: DbusDaemon | undefined;
    let sim: Simulator | undefined;
    let broker: RunningBroker | undefined;
    let client: MqttClient | undefined;

    before(async () => {
        daemon = await startDbusDaemon();
        sim = await Simulator.start({ busAddress: daemon.address, speed: 0, recordingsDir, recording: `${recordingsDir}/bct` });
        await sim.addService({ name: 'com.victronenergy.system', items: [
            { path: '/DeviceInstance', value: new Variant('i', 0) }, { path: '/Serial', value: new Variant('s', PORTAL_ID) },
        ] });
    });

    after(async () => {
        await closeAll(client);
        if (broker) {
            await broker.stop();
            broker.cleanup();
        }
        await sim?.stop();
        await daemon?.stop();
    });

    it('gets the retained Serial and, for a keep-alive sent at once, every topic before the completion', async () => {
        broker = await startBroker({
            entry: null, logLevel: 'info', noWait: true,
            pluginOptions: { portal_id: PORTAL_ID, dbus_address: daemon!.address, skip_broker_registration: 'true' },
        });
        const deadline = Date.now() + 30_000;
        while (!(await canConnect(broker.port))) {
            assert.ok(broker.running && Date.now() < deadline, `the broker did not listen; log:\n${broker.log().slice(-2000)}`);
            await sleep(5);
        }
        client = await connect(broker.port, { protocolVersion: 4 });
        const inbox = await Inbox.subscribe(client, `${N}/#`);
        await client.publishAsync(`R/${PORTAL_ID}/keepalive`, '');
        const done = await inbox.waitFor(`${N}/full_publish_completed`, 30_000);
        const before = new Set(inbox.messages.slice(0, inbox.messages.indexOf(done)).map((m) => m.topic));
        assert.ok(before.has(`${N}/system/0/Serial`), 'the Serial came before the completion');
        assert.ok(before.has(`${N}/battery/0/Dc/0/Voltage`), 'the recording\'s items too');

        // Every topic a keep-alive gets now, once the discovery is surely done, came in that first republish.
        await broker.waitForLog(/D-Bus discovery done/, 20_000);
        inbox.clear();
        await client.publishAsync(`R/${PORTAL_ID}/keepalive`, '');
        const again = await inbox.waitFor(`${N}/full_publish_completed`, 10_000);
        const later = new Set(inbox.messages.slice(0, inbox.messages.indexOf(again)).map((m) => m.topic));
        const missing = [...later].filter((t) => !before.has(t) && !/\/(heartbeat|full_publish_completed)$/.test(t));
        assert.deepEqual(missing, [], `${missing.length} topics of ${later.size} missing from the first republish`);

        // A new subscriber gets the Serial from the broker's retained store.
        const late = await connect(broker.port, { protocolVersion: 4 });
        try {
            const lateInbox = await Inbox.subscribe(late, `${N}/system/0/Serial`);
            const serial = await lateInbox.waitFor(`${N}/system/0/Serial`, 5000);
            assert.equal(serial.retain, true);
            assert.equal(serial.payload.toString(), `{"value":"${PORTAL_ID}"}`);
        } finally {
            await closeAll(late);
        }
    });
});
