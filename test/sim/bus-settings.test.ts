// com.victronenergy.settings as localsettings answers it (spec section 5), through a plain dbus-next client.
import { strict as assert } from 'node:assert';
import * as fs from 'node:fs';

import type { Message as DbusMessage, MessageBus } from 'dbus-next';
import { MessageType, Variant } from 'dbus-next';

import type { DbusDaemon } from '../helpers/dbus-daemon';
import { call, callError, closeClient, connectClient, describeWithDbus, SignalRecorder, startDbusDaemon } from '../helpers/dbus-daemon';
import { defaultRecordingsDir, Simulator } from '../../ts/sim/index';

const SETTINGS = 'com.victronenergy.settings';
type Dict = Record<string, Variant>;

describeWithDbus('sim settings service on the bus', function () {
    this.timeout(20000);
    let daemon: DbusDaemon;
    let client: MessageBus;
    let sim: Simulator;
    let signals: SignalRecorder;
    const log: DbusMessage[] = [];

    before(async function () {
        if (!fs.existsSync(defaultRecordingsDir()))
            this.skip();
        daemon = await startDbusDaemon();
        client = await connectClient(daemon.address);
        client.on('message', (m: DbusMessage) => log.push(m));
        signals = await SignalRecorder.create(client, ['type=\'signal\',interface=\'com.victronenergy.BusItem\'']);
        sim = await Simulator.start({ busAddress: daemon.address, recording: 'bct', speed: 0 });
    });

    after(async () => {
        const owner = sim?.uniqueName(SETTINGS);
        // Whatever the tests did, localsettings never sends ItemsChanged.
        assert.deepEqual(signals?.messages.filter((m) => m.sender === owner && m.member === 'ItemsChanged') ?? [], []);
        await sim?.stop();
        if (client)
            await closeClient(client);
        await daemon?.stop();
    });

    async function items(): Promise<Record<string, Dict>> {
        const reply = await call(client, SETTINGS, '/', 'GetItems');
        assert.equal(reply.signature, 'a{sa{sv}}');
        return reply.body[0] as Record<string, Dict>;
    }

    async function value(path: string): Promise<Variant> {
        return (await call(client, SETTINGS, path, 'GetValue')).body[0] as Variant;
    }

    async function setValue(path: string, v: Variant): Promise<{ result: number; signal?: Dict }> {
        const reply = await call(client, SETTINGS, path, 'SetValue', { signature: 'v', body: [v] });
        const at = log.indexOf(reply);
        const owner = sim.uniqueName(SETTINGS);
        const signal = log.slice(0, at).reverse().find((m) => m.type === MessageType.SIGNAL && m.sender === owner && m.path === path && m.member === 'PropertiesChanged');
        const fresh = signal && !handled.has(signal) ? signal : undefined;
        if (fresh)
            handled.add(fresh);
        return { result: reply.body[0] as number, signal: fresh?.body[0] as Dict | undefined };
    }
    const handled = new Set<DbusMessage>();

    it('GetItems carries Value, Text and, where set, Max, Min and Default in their types', async () => {
        const all = await items();
        assert.deepEqual(all['/Settings/SystemSetup/HasDcSystem'], {
            Value: new Variant('i', 1), Text: new Variant('s', '1'), Max: new Variant('i', 1), Min: new Variant('i', 0), Default: new Variant('i', 0),
        });
        assert.deepEqual(all['/Settings/CGwacs/AcPowerSetPoint'], {
            Value: new Variant('d', 50), Text: new Variant('s', '50.0'), Max: new Variant('d', 1000000), Min: new Variant('d', -1000000), Default: new Variant('d', 50),
        });
        assert.deepEqual(all['/Settings/SystemSetup/BatteryService'], {
            Value: new Variant('s', 'default'), Text: new Variant('s', 'default'), Default: new Variant('s', 'default'),
        });
        assert.equal(all['/DeviceInstance'], undefined);
        assert.equal(Object.keys(all).length, sim.itemCount(SETTINGS));
    });

    it('applies the recording\'s setup: existing settings set, missing ones created', async () => {
        assert.deepEqual(await value('/Settings/SystemSetup/AcInput1'), new Variant('i', 1));
        assert.deepEqual(await value('/Settings/Relay/Function'), new Variant('i', 1));
        assert.deepEqual(await value('/Settings/SystemSetup/Batteries/Configuration/com_victronenergy_battery/289/Enabled'), new Variant('i', 1));
    });

    it('GetValue and GetText on a setting and on groups', async () => {
        assert.deepEqual((await call(client, SETTINGS, '/Settings/CGwacs/AcPowerSetPoint', 'GetText')).body, ['50.0']);
        const group = (await call(client, SETTINGS, '/Settings/SystemSetup', 'GetValue')).body[0] as Variant<Dict>;
        assert.equal(group.signature, 'a{sv}');
        assert.deepEqual(group.value.HasDcSystem, new Variant('i', 1));
        assert.deepEqual(group.value['Batteries/Configuration/com_victronenergy_battery/289/Enabled'], new Variant('i', 1));
        const texts = (await call(client, SETTINGS, '/Settings/SystemSetup', 'GetText')).body[0] as Variant<Record<string, string>>;
        assert.deepEqual([texts.signature, texts.value.HasDcSystem], ['a{ss}', '1']);
        const root = (await call(client, SETTINGS, '/', 'GetValue')).body[0] as Variant<Dict>;
        assert.deepEqual(root.value['Settings/SystemSetup/HasDcSystem'], new Variant('i', 1));
    });

    it('GetMin, GetMax, GetDefault: typed; i 0 without a range', async () => {
        const get = async (path: string, member: string): Promise<Variant> => (await call(client, SETTINGS, path, member)).body[0] as Variant;
        assert.deepEqual(await get('/Settings/CGwacs/AcPowerSetPoint', 'GetMin'), new Variant('d', -1000000));
        assert.deepEqual(await get('/Settings/CGwacs/AcPowerSetPoint', 'GetMax'), new Variant('d', 1000000));
        assert.deepEqual(await get('/Settings/CGwacs/AcPowerSetPoint', 'GetDefault'), new Variant('d', 50));
        assert.deepEqual(await get('/Settings/CGwacs/Hub4Mode', 'GetMin'), new Variant('i', 0));
        assert.deepEqual(await get('/Settings/CGwacs/Hub4Mode', 'GetMax'), new Variant('i', 0));
    });

    it('SetValue: converts to the type, checks the range: 0 or -1; a signal only for a change', async () => {
        const p = '/Settings/SystemSetup/HasDcSystem';
        assert.deepEqual(await setValue(p, new Variant('i', 5)), { result: -1, signal: undefined });
        assert.deepEqual(await setValue(p, new Variant('s', 'abc')), { result: -1, signal: undefined });
        assert.deepEqual(await setValue(p, new Variant('ai', [])), { result: -1, signal: undefined });
        assert.deepEqual(await setValue(p, new Variant('d', 0.7)), { result: 0, signal: { Value: new Variant('i', 0), Text: new Variant('s', '0') } });
        assert.deepEqual(await value(p), new Variant('i', 0));
        assert.deepEqual(await setValue(p, new Variant('i', 0)), { result: 0, signal: undefined });
        assert.deepEqual(await setValue(p, new Variant('s', '1')), { result: 0, signal: { Value: new Variant('i', 1), Text: new Variant('s', '1') } });
        assert.deepEqual(await setValue('/Settings/CGwacs/AcPowerSetPoint', new Variant('i', -300)), { result: 0, signal: { Value: new Variant('d', -300), Text: new Variant('s', '-300.0') } });
        assert.deepEqual(await setValue('/Settings/SystemSetup/BatteryService', new Variant('i', 5)), { result: 0, signal: { Value: new Variant('s', '5'), Text: new Variant('s', '5') } });
        const mine = sim.writes.filter((w) => w.service === SETTINGS).map((w) => [w.path, w.result]);
        assert.deepEqual(mine.slice(-3), [[p, 0], ['/Settings/CGwacs/AcPowerSetPoint', 0], ['/Settings/SystemSetup/BatteryService', 0]]);
        const after = await items();
        assert.deepEqual(after['/Settings/CGwacs/AcPowerSetPoint']?.Value, new Variant('d', -300));
    });

    it('AddSetting on a group creates the setting and announces it with its attributes', async () => {
        const reply = await call(client, SETTINGS, '/Settings', 'AddSetting', {
            iface: 'com.victronenergy.Settings', signature: 'ssvsvv',
            body: ['Sim', 'Level', new Variant('i', 3), 'i', new Variant('i', 0), new Variant('i', 10)],
        });
        assert.deepEqual(reply.body, [0]);
        const owner = sim.uniqueName(SETTINGS);
        const signal = await signals.wait((m) => m.sender === owner && m.path === '/Settings/Sim/Level', 5000, 'the new setting');
        assert.deepEqual(signal.body[0], {
            Value: new Variant('i', 3), Text: new Variant('s', '3'), Default: new Variant('i', 3), Min: new Variant('i', 0), Max: new Variant('i', 10),
        });
        assert.deepEqual((await items())['/Settings/Sim/Level'], {
            Value: new Variant('i', 3), Text: new Variant('s', '3'), Max: new Variant('i', 10), Min: new Variant('i', 0), Default: new Variant('i', 3),
        });
        const again = await call(client, SETTINGS, '/', 'AddSetting', {
            iface: 'com.victronenergy.Settings', signature: 'ssvsvv',
            body: ['Other', 'X', new Variant('i', 3), 'i', new Variant('i', 0), new Variant('i', 0)],
        });
        assert.deepEqual(again.body, [-9]);
    });

    it('AddSettings takes the type from the default and answers each request', async () => {
        const reply = await call(client, SETTINGS, '/', 'AddSettings', {
            iface: 'com.victronenergy.Settings', signature: 'aa{sv}',
            body: [[
                { path: new Variant('s', '/Settings/Sim/Float'), default: new Variant('d', 1.5), min: new Variant('d', 0), max: new Variant('d', 2) },
                { path: new Variant('s', '/Settings/Sim/Text'), default: new Variant('s', 'hello') },
                { path: new Variant('s', '/Settings/Sim/Bad'), default: new Variant('b', true) },
                { path: new Variant('i', 5), default: new Variant('i', 1) },
                { path: new Variant('s', '/Settings/SystemSetup/HasDcSystem'), default: new Variant('i', 0), min: new Variant('i', 0), max: new Variant('i', 1) },
            ]],
        });
        assert.equal(reply.signature, 'aa{sv}');
        assert.deepEqual(reply.body[0], [
            { path: new Variant('s', '/Settings/Sim/Float'), error: new Variant('i', 0), value: new Variant('d', 1.5) },
            { path: new Variant('s', '/Settings/Sim/Text'), error: new Variant('i', 0), value: new Variant('s', 'hello') },
            { path: new Variant('s', '/Settings/Sim/Bad'), error: new Variant('i', -3) },
            { path: new Variant('i', 5), error: new Variant('i', -4) },
            { path: new Variant('s', '/Settings/SystemSetup/HasDcSystem'), error: new Variant('i', 0), value: new Variant('i', 1) },
        ]);
        assert.deepEqual(await value('/Settings/Sim/Float'), new Variant('d', 1.5));
    });

    it('RemoveSettings: 0 or -1 each; the removed setting first announces itself invalid', async () => {
        await call(client, SETTINGS, '/', 'AddSettings', {
            iface: 'com.victronenergy.Settings', signature: 'aa{sv}', body: [[{ path: new Variant('s', '/Settings/Sim/Gone'), default: new Variant('i', 1) }]],
        });
        const reply = await call(client, SETTINGS, '/', 'RemoveSettings', { iface: 'com.victronenergy.Settings', signature: 'as', body: [['/Settings/Sim/Gone', '/Settings/Sim/Never']] });
        assert.deepEqual(reply.body, [[0, -1]]);
        const owner = sim.uniqueName(SETTINGS);
        const signal = await signals.wait((m) => m.sender === owner && m.path === '/Settings/Sim/Gone' && (m.body[0] as Dict).Text?.value === '', 5000, 'the removal');
        assert.deepEqual(signal.body[0], { Value: new Variant('ai', []), Text: new Variant('s', '') });
        assert.equal(await callError(client, SETTINGS, '/Settings/Sim/Gone', 'GetValue'), 'org.freedesktop.DBus.Error.UnknownObject');
    });

    it('refuses unknown paths, GetItems below /, and methods on the wrong interface', async () => {
        assert.equal(await callError(client, SETTINGS, '/Settings/Nope', 'GetValue'), 'org.freedesktop.DBus.Error.UnknownObject');
        assert.equal(await callError(client, SETTINGS, '/Settings', 'GetItems'), 'org.freedesktop.DBus.Error.UnknownMethod');
        assert.equal(await callError(client, SETTINGS, '/Settings/CGwacs/Hub4Mode', 'AddSetting', {
            iface: 'com.victronenergy.Settings', signature: 'ssvsvv', body: ['a', 'b', new Variant('i', 1), 'i', new Variant('i', 0), new Variant('i', 0)],
        }), 'org.freedesktop.DBus.Error.UnknownMethod');
        assert.equal(await callError(client, SETTINGS, '/Settings', 'AddSetting', {
            signature: 'ssvsvv', body: ['a', 'b', new Variant('i', 1), 'i', new Variant('i', 0), new Variant('i', 0)],
        }), 'org.freedesktop.DBus.Error.UnknownMethod');
        assert.equal(await callError(client, SETTINGS, '/Settings/CGwacs/Hub4Mode', 'GetDescription', { signature: 'si', body: ['en', 0] }), 'org.freedesktop.DBus.Error.UnknownMethod');
    });
});
