// Conformance of message order, where real clients depend on it (the Python library behind a Home Assistant
// integration creates an entity for a heartbeat that comes before full_publish_completed):
//   - the keep-alive that makes the system alive: its full publish, full_publish_completed, then the first heartbeat;
//   - the legacy keep-alive R/<id>/system/0/Serial: the read's answer N/<id>/system/0/Serial after
//     full_publish_completed.
// Runs against our plugin; with DFMQ_ORIGINAL_PLUGIN=<path of the original .so> the same assertions also run
// against the original (which reads its portal id from /data/venus/unique-id, written when missing).
import { strict as assert } from 'node:assert';
import * as fs from 'node:fs';

import { Variant } from 'dbus-next';
import type { MqttClient } from 'mqtt';

import { Simulator } from '../../ts/sim';
import type { DbusDaemon } from '../helpers/dbus-daemon';
import { startDbusDaemon } from '../helpers/dbus-daemon';
import type { RunningBroker } from '../helpers/flashmq';
import { describeWithBroker, pluginPath, startBroker } from '../helpers/flashmq';
import type { Received } from '../helpers/mqtt';
import { closeAll, connect, Inbox } from '../helpers/mqtt';
import { PORTAL_ID, recordingsDir } from '../helpers/venus';

interface Subject {
    name: string;
    so: string;
    original: boolean;
}

const subjects: Subject[] = [{ name: 'ours', so: pluginPath, original: false }];
if (process.env.DFMQ_ORIGINAL_PLUGIN)
    subjects.push({ name: 'the original', so: process.env.DFMQ_ORIGINAL_PLUGIN, original: true });

/** The original's portal id is the device's; ours is told the same one. */
function portalIdFor(subject: Subject): string {
    if (!subject.original)
        return PORTAL_ID;
    const file = '/data/venus/unique-id';
    if (!fs.existsSync(file)) {
        fs.mkdirSync('/data/venus', { recursive: true });
        fs.writeFileSync(file, `${PORTAL_ID}\n`);
    }
    return fs.readFileSync(file, 'utf8').split('\n')[0]!.trim();
}

const index = (messages: Received[], pred: (m: Received) => boolean): number => messages.findIndex(pred);

for (const subject of subjects) {
    describeWithBroker(`message order as the original's (${subject.name})`, function () {
        this.timeout(30_000);
        const id = portalIdFor(subject);
        const N = `N/${id}`;
        let daemon: DbusDaemon | undefined;
        let sim: Simulator | undefined;
        let broker: RunningBroker | undefined;
        let client: MqttClient | undefined;
        let inbox: Inbox;

        before(async () => {
            daemon = await startDbusDaemon();
            sim = await Simulator.start({ busAddress: daemon.address, speed: 0, recordingsDir, recording: `${recordingsDir}/bct` });
            await sim.addService({ name: 'com.victronenergy.system', items: [
                { path: '/DeviceInstance', value: new Variant('i', 0) }, { path: '/Serial', value: new Variant('s', id) },
            ] });
            broker = await startBroker({
                plugin: subject.so, entry: null, logLevel: 'info', env: { DBUS_SYSTEM_BUS_ADDRESS: daemon.address },
                pluginOptions: subject.original ? { skip_broker_registration: 'true' }
                    : { portal_id: id, dbus_address: daemon.address, skip_broker_registration: 'true' },
            });
            // Ready: the retained Serial is published once com.victronenergy.system is scanned, alive or not; the
            // recording's services are scanned with it (ours also says so in its log).
            client = await connect(broker.port, { protocolVersion: 4 });
            inbox = await Inbox.subscribe(client, `${N}/#`);
            await inbox.waitFor(`${N}/system/0/Serial`, 15_000);
            if (!subject.original)
                await broker.waitForLog(/D-Bus discovery done/, 15_000);
            else
                await new Promise((resolve) => setTimeout(resolve, 1500));
        });

        after(async () => {
            await closeAll(client);
            await broker?.stop();
            broker?.cleanup();
            await sim?.stop();
            await daemon?.stop();
        });

        it('sends full_publish_completed before the first heartbeat on the keep-alive that makes the system alive', async () => {
            inbox.clear();
            await client!.publishAsync(`R/${id}/keepalive`, '');
            await inbox.waitFor(`${N}/heartbeat`, 10_000);
            const m = inbox.messages;
            const completed = index(m, (x) => x.topic === `${N}/full_publish_completed`);
            const beat = index(m, (x) => x.topic === `${N}/heartbeat`);
            assert.ok(completed >= 0, 'full_publish_completed arrived');
            assert.ok(completed < beat, `full_publish_completed (#${completed}) before the heartbeat (#${beat})`);
            assert.ok(completed > 2000, `the full publish came first (${completed} messages)`);
        });

        it('answers the legacy keep-alive R/<id>/system/0/Serial after full_publish_completed', async () => {
            await new Promise((resolve) => setTimeout(resolve, 1100)); // a fresh second of the republish limit
            inbox.clear();
            await client!.publishAsync(`R/${id}/system/0/Serial`, '');
            await inbox.waitFor(`${N}/full_publish_completed`, 10_000);
            const completed = index(inbox.messages, (x) => x.topic === `${N}/full_publish_completed`);
            await inbox.waitFor((x) => x.topic === `${N}/system/0/Serial` && inbox.messages.indexOf(x) > completed, 5000);
            const serials = inbox.messages.map((x, i) => (x.topic === `${N}/system/0/Serial` ? i : -1)).filter((i) => i >= 0);
            assert.equal(serials.filter((i) => i < completed).length, 1, 'the full publish holds Serial once');
            assert.equal(serials.filter((i) => i > completed).length, 1, 'the read answers after full_publish_completed');
        });
    });
}
