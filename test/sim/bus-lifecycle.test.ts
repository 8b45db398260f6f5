// Services coming and going, the bus daemon restarting, start-up failures, and scale mode on a private bus.
import { strict as assert } from 'node:assert';

import type { MessageBus } from 'dbus-next';
import { Variant } from 'dbus-next';

import type { DbusDaemon } from '../helpers/dbus-daemon';
import { call, callError, closeClient, connectClient, describeWithDbus, SignalRecorder, sleep, startDbusDaemon } from '../helpers/dbus-daemon';
import { scaleServiceName, Simulator } from '../../ts/sim/index';

const NAME = 'com.victronenergy.grid.lifecycle';

async function listNames(client: MessageBus): Promise<string[]> {
    return (await call(client, 'org.freedesktop.DBus', '/org/freedesktop/DBus', 'ListNames', { iface: 'org.freedesktop.DBus' })).body[0] as string[];
}

async function until(what: string, test: () => Promise<boolean>, timeoutMs = 10000): Promise<void> {
    const end = Date.now() + timeoutMs;
    while (!await test()) {
        if (Date.now() > end)
            throw new Error(`timed out waiting until ${what}`);
        await sleep(50);
    }
}

describeWithDbus('sim services coming and going', function () {
    this.timeout(30000);
    let daemon: DbusDaemon;
    let client: MessageBus;
    let owners: SignalRecorder;

    before(async () => {
        daemon = await startDbusDaemon();
        client = await connectClient(daemon.address);
        owners = await SignalRecorder.create(client, [
            'type=\'signal\',sender=\'org.freedesktop.DBus\',member=\'NameOwnerChanged\'',
            'type=\'signal\',interface=\'com.victronenergy.BusItem\'',
        ]);
    });

    after(async () => {
        if (client)
            await closeClient(client);
        await daemon?.stop();
    });

    it('vanish: NameOwnerChanged to ""; reappear: a new unique name with the current items', async () => {
        const sim = await Simulator.start({ busAddress: daemon.address });
        try {
            await sim.addService({ name: NAME, items: [{ path: '/Ac/Power', value: new Variant('d', 1) }, { path: '/DeviceInstance', value: new Variant('i', 30) }] });
            const first = sim.uniqueName(NAME);
            assert.match(first ?? '', /^:\d+\.\d+$/);
            sim.change(NAME, '/Ac/Power', new Variant('d', 2), 'none');

            await sim.vanish(NAME);
            const gone = await owners.wait((m) => m.member === 'NameOwnerChanged' && m.body[0] === NAME && m.body[2] === '', 5000, 'the name to go');
            assert.deepEqual(gone.body, [NAME, first, '']);
            assert.equal(sim.uniqueName(NAME), undefined);
            assert.equal(await callError(client, NAME, '/Ac/Power', 'GetValue'), 'org.freedesktop.DBus.Error.ServiceUnknown');
            assert.ok(!(await listNames(client)).includes(NAME));

            await sim.reappear(NAME);
            const second = sim.uniqueName(NAME);
            assert.notEqual(second, first);
            const back = await owners.wait((m) => m.member === 'NameOwnerChanged' && m.body[0] === NAME && m.body[2] === second, 5000, 'the name to come back');
            assert.deepEqual(back.body, [NAME, '', second]);
            const items = (await call(client, NAME, '/', 'GetItems')).body[0] as Record<string, { Value: Variant }>;
            assert.deepEqual(items['/Ac/Power']?.Value, new Variant('d', 2));
            assert.deepEqual(items['/DeviceInstance']?.Value, new Variant('i', 30));
        } finally {
            await sim.stop();
        }
    });

    it('stop() closes every connection: every name goes away', async () => {
        const sim = await Simulator.start({ busAddress: daemon.address, scale: { services: 5, paths: 20, churnPerSecond: 100 } });
        const names = sim.serviceNames;
        assert.deepEqual(names, [0, 1, 2, 3, 4].map(scaleServiceName));
        const listed = await listNames(client);
        assert.ok(names.every((n) => listed.includes(n)));
        await sim.stop();
        await until('the names are gone', async () => {
            const now = await listNames(client);
            return names.every((n) => !now.includes(n));
        });
    });

    it('refuses to start when a name is taken, and leaves nothing behind', async () => {
        const holder = await Simulator.start({ busAddress: daemon.address, settings: true });
        try {
            await assert.rejects(Simulator.start({ busAddress: daemon.address, recording: 'w', speed: 0 }), /cannot own com\.victronenergy\.settings/);
            assert.ok(!(await listNames(client)).includes('com.victronenergy.evcharger.evc_HQ2207QPZ33'));
        } finally {
            await holder.stop();
        }
    });

    it('refuses a bad bus address and an unknown recording', async () => {
        await assert.rejects(Simulator.start({ busAddress: 'nonsense' }), /busAddress/);
        await assert.rejects(Simulator.start({ busAddress: daemon.address, recording: 'no-such-system' }), /no recording 'no-such-system'/);
        await assert.rejects(Simulator.start({ busAddress: 'unix:path=/nonexistent/bus.sock', settings: true }), /connect|ENOENT/);
    });

    it('scale 10x50 with churn sends ItemsChanged batches from every service', async () => {
        const sim = await Simulator.start({ busAddress: daemon.address, scale: { services: 10, paths: 50, churnPerSecond: 100 } });
        try {
            assert.equal(sim.itemCount(), 500);
            const owners10 = new Set(sim.serviceNames.map((n) => sim.uniqueName(n)));
            const instance = await call(client, scaleServiceName(7), '/DeviceInstance', 'GetValue');
            assert.deepEqual(instance.body[0], new Variant('i', 7));
            await until('every service sent ItemsChanged', () => Promise.resolve(
                new Set(owners.messages.filter((m) => m.member === 'ItemsChanged' && owners10.has(m.sender)).map((m) => m.sender)).size === 10));
            const batch = owners.messages.find((m) => m.member === 'ItemsChanged' && owners10.has(m.sender));
            assert.equal(batch?.signature, 'a{sa{sv}}');
            const entries = Object.values(batch?.body[0] as Record<string, { Value: Variant }>);
            assert.ok(entries.length >= 5 && entries.every((e) => e.Value.signature === 'd'));
            assert.equal(owners.messages.filter((m) => m.member === 'PropertiesChanged' && owners10.has(m.sender)).length, 0);
        } finally {
            await sim.stop();
        }
    });

    it("signal style 'mixed': some services send ItemsChanged, the others PropertiesChanged", async () => {
        const sim = await Simulator.start({ busAddress: daemon.address, signalStyle: 'mixed', scale: { services: 8, paths: 30, churnPerSecond: 80, seed: 3 } });
        try {
            const all = new Set(sim.serviceNames.map((n) => sim.uniqueName(n)));
            const styleOf = new Map<string, Set<string>>();
            await until('both styles seen from every service', () => {
                styleOf.clear();
                for (const m of owners.messages.filter((x) => all.has(x.sender))) {
                    const styles = styleOf.get(m.sender) ?? new Set();
                    styles.add(m.member);
                    styleOf.set(m.sender, styles);
                }
                return Promise.resolve(styleOf.size === 8);
            });
            const styles = [...styleOf.values()];
            assert.ok(styles.every((s) => s.size === 1), 'each service sticks to one style');
            assert.ok(styles.some((s) => s.has('ItemsChanged')) && styles.some((s) => s.has('PropertiesChanged')));
        } finally {
            await sim.stop();
        }
    });
});

describeWithDbus('sim and a bus daemon restart', function () {
    this.timeout(30000);

    it('the services come back on the restarted daemon with their items', async () => {
        const daemon = await startDbusDaemon();
        const lines: string[] = [];
        const sim = await Simulator.start({ busAddress: daemon.address, recording: 'w', speed: 0, log: (l) => lines.push(l) });
        try {
            sim.change('com.victronenergy.evcharger.evc_HQ2207QPZ33', '/Ac/Power', new Variant('d', 1234.5), 'none');
            await daemon.restart();
            const client = await connectClient(daemon.address);
            try {
                await until('both services are back', async () => {
                    const names = await listNames(client);
                    return names.includes('com.victronenergy.settings') && names.includes('com.victronenergy.evcharger.evc_HQ2207QPZ33');
                });
                const power = await call(client, 'com.victronenergy.evcharger.evc_HQ2207QPZ33', '/Ac/Power', 'GetValue');
                assert.deepEqual(power.body[0], new Variant('d', 1234.5));
                assert.ok(lines.some((l) => /connection lost/.test(l)));
                assert.ok(lines.some((l) => /back on the bus/.test(l)));
            } finally {
                await closeClient(client);
            }
        } finally {
            await sim.stop();
            await daemon.stop();
        }
    });

    it('with reconnect off the services stay away', async () => {
        const daemon = await startDbusDaemon();
        const sim = await Simulator.start({ busAddress: daemon.address, settings: true, reconnect: false });
        try {
            await daemon.restart();
            const client = await connectClient(daemon.address);
            try {
                await sleep(500);
                assert.ok(!(await listNames(client)).includes('com.victronenergy.settings'));
            } finally {
                await closeClient(client);
            }
        } finally {
            await sim.stop();
            await daemon.stop();
        }
    });
});
