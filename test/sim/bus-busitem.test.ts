// The BusItem interface of simulated services, as a plain dbus-next client sees it (spec sections 2, 3, 7).
import { strict as assert } from 'node:assert';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';

import type { Message as DbusMessage, MessageBus } from 'dbus-next';
import { Message, MessageType, Variant } from 'dbus-next';

import { FakeTimers } from '../fakes/fake-timers';
import type { DbusDaemon } from '../helpers/dbus-daemon';
import { call, callError, closeClient, connectClient, describeWithDbus, SignalRecorder, sleep, startDbusDaemon } from '../helpers/dbus-daemon';
import type { ServiceDefinition } from '../../ts/sim/index';
import { Simulator } from '../../ts/sim/index';

const UNKNOWN_METHOD = 'org.freedesktop.DBus.Error.UnknownMethod';
const UNKNOWN_OBJECT = 'org.freedesktop.DBus.Error.UnknownObject';

let counter = 0;
function serviceName(): string {
    counter++;
    return `com.victronenergy.test.t${counter}`;
}

function standardItems(): ServiceDefinition['items'] {
    return [
        { path: '/Ac/Power', value: new Variant('d', 936), text: '936W' },
        { path: '/Ac/L1/Power', value: new Variant('d', 312.5) },
        { path: '/Ac/L2/Power', value: new Variant('ai', []) },
        { path: '/DeviceInstance', value: new Variant('i', 3) },
        { path: '/ProductId', value: new Variant('q', 45058) },
        { path: '/Mgmt/ProcessName', value: new Variant('s', 'sim') },
        { path: '/Counter', value: new Variant('i', 100) },
        { path: '/Setpoint', value: new Variant('d', 10) },
    ];
}

type Dict = Record<string, Variant>;

describeWithDbus('sim BusItem services on the bus', function () {
    this.timeout(20000);
    let daemon: DbusDaemon;
    let client: MessageBus;
    let sim: Simulator;
    let signals: SignalRecorder;
    const log: DbusMessage[] = [];

    before(async () => {
        daemon = await startDbusDaemon();
        client = await connectClient(daemon.address);
        client.on('message', (m: DbusMessage) => log.push(m));
        signals = await SignalRecorder.create(client, ['type=\'signal\',interface=\'com.victronenergy.BusItem\'']);
        sim = await Simulator.start({ busAddress: daemon.address });
    });

    after(async () => {
        await sim?.stop();
        if (client)
            await closeClient(client);
        await daemon?.stop();
    });

    async function service(extra: Partial<ServiceDefinition> = {}): Promise<string> {
        const name = serviceName();
        await sim.addService({ name, items: standardItems(), ...extra });
        return name;
    }

    describe('reading', () => {
        let name: string;
        before(async () => {
            name = await service();
        });

        it('GetItems on / gives every item with its full path, Value and Text', async () => {
            const reply = await call(client, name, '/', 'GetItems');
            assert.equal(reply.signature, 'a{sa{sv}}');
            const items = reply.body[0] as Record<string, Dict>;
            assert.deepEqual(Object.keys(items), standardItems().map((i) => i.path));
            assert.deepEqual(items['/Ac/Power'], { Value: new Variant('d', 936), Text: new Variant('s', '936W') });
            assert.deepEqual(items['/Ac/L1/Power'], { Value: new Variant('d', 312.5), Text: new Variant('s', '312.5') });
            assert.deepEqual(items['/Ac/L2/Power'], { Value: new Variant('ai', []), Text: new Variant('s', '---') });
            assert.deepEqual(items['/ProductId'], { Value: new Variant('q', 45058), Text: new Variant('s', '0xB002') });
        });

        it('GetValue and GetText on / give a{sv} and a{ss} with keys without the leading slash', async () => {
            const values = await call(client, name, '/', 'GetValue');
            assert.equal(values.signature, 'v');
            const v = values.body[0] as Variant<Dict>;
            assert.equal(v.signature, 'a{sv}');
            assert.deepEqual(Object.keys(v.value), ['Ac/Power', 'Ac/L1/Power', 'Ac/L2/Power', 'DeviceInstance', 'ProductId', 'Mgmt/ProcessName', 'Counter', 'Setpoint']);
            assert.deepEqual(v.value.DeviceInstance, new Variant('i', 3));
            const texts = (await call(client, name, '/', 'GetText')).body[0] as Variant<Record<string, string>>;
            assert.equal(texts.signature, 'a{ss}');
            assert.equal(texts.value['Ac/Power'], '936W');
        });

        it('GetValue and GetText on a tree node use keys relative to the node', async () => {
            const ac = (await call(client, name, '/Ac', 'GetValue')).body[0] as Variant<Dict>;
            assert.equal(ac.signature, 'a{sv}');
            assert.deepEqual(ac.value, { Power: new Variant('d', 936), 'L1/Power': new Variant('d', 312.5), 'L2/Power': new Variant('ai', []) });
            const l1 = (await call(client, name, '/Ac/L1', 'GetValue')).body[0] as Variant<Dict>;
            assert.deepEqual(l1.value, { Power: new Variant('d', 312.5) });
            const texts = (await call(client, name, '/Ac', 'GetText')).body[0] as Variant<Record<string, string>>;
            assert.deepEqual([texts.signature, texts.value], ['a{ss}', { Power: '936W', 'L1/Power': '312.5', 'L2/Power': '---' }]);
        });

        it('GetValue and GetText on an item give v and s', async () => {
            const value = await call(client, name, '/Ac/Power', 'GetValue');
            assert.deepEqual([value.signature, value.body[0]], ['v', new Variant('d', 936)]);
            const text = await call(client, name, '/Ac/Power', 'GetText');
            assert.deepEqual([text.signature, text.body[0]], ['s', '936W']);
            const invalid = await call(client, name, '/Ac/L2/Power', 'GetValue');
            assert.deepEqual(invalid.body[0], new Variant('ai', []));
            const description = await call(client, name, '/Ac/Power', 'GetDescription', { signature: 'si', body: ['en', 0] });
            assert.deepEqual(description.body, ['']);
        });

        it('answers calls without an interface', async () => {
            const value = await call(client, name, '/Counter', 'GetValue', { iface: null });
            assert.deepEqual(value.body[0], new Variant('i', 100));
        });

        const errors: Array<[string, string, string, string, unknown[]]> = [
            ['an unknown path', '/Nope', 'GetValue', '', []],
            ['an unknown path below an item', '/Ac/Power/X', 'GetValue', '', []],
            ['SetValue on a tree node', '/Ac', 'SetValue', 'v', [new Variant('i', 1)]],
            ['SetValue on /', '/', 'SetValue', 'v', [new Variant('i', 1)]],
            ['GetItems on a tree node', '/Ac', 'GetItems', '', []],
            ['GetItems on an item', '/Ac/Power', 'GetItems', '', []],
            ['GetMin on an item', '/Ac/Power', 'GetMin', '', []],
            ['an unknown method', '/', 'Frobnicate', '', []],
        ];
        for (const [what, p, member, signature, body] of errors) {
            it(`refuses ${what}`, async () => {
                const expected = p.startsWith('/Nope') || p === '/Ac/Power/X' ? UNKNOWN_OBJECT : UNKNOWN_METHOD;
                assert.equal(await callError(client, name, p, member, { signature, body }), expected);
            });
        }

        it('refuses other interfaces and wrong argument counts', async () => {
            assert.equal(await callError(client, name, '/Ac/Power', 'Get', { iface: 'org.freedesktop.DBus.Properties', signature: 'ss', body: ['a', 'b'] }), UNKNOWN_METHOD);
            assert.equal(await callError(client, name, '/Ac/Power', 'GetValue', { signature: 'i', body: [1] }), 'org.freedesktop.DBus.Python.TypeError');
            assert.equal(await callError(client, name, '/Ac/Power', 'SetValue', { signature: 'vv', body: [new Variant('i', 1), new Variant('i', 2)] }), 'org.freedesktop.DBus.Python.TypeError');
        });

        it('is introspectable', async () => {
            const root = (await call(client, name, '/', 'Introspect', { iface: 'org.freedesktop.DBus.Introspectable' })).body[0] as string;
            for (const child of ['Ac', 'DeviceInstance', 'ProductId', 'Mgmt', 'Counter'])
                assert.match(root, new RegExp(`<node name="${child}"/>`));
            assert.match(root, /interface name="com.victronenergy.BusItem"/);
            const ac = (await call(client, name, '/Ac', 'Introspect', { iface: 'org.freedesktop.DBus.Introspectable' })).body[0] as string;
            assert.match(ac, /<node name="L1"\/>/);
            assert.doesNotMatch(ac, /<node name="Mgmt"\/>/);
        });

        it('answers Peer.Ping', async () => {
            const reply = await call(client, name, '/', 'Ping', { iface: 'org.freedesktop.DBus.Peer' });
            assert.equal(reply.type, MessageType.METHOD_RETURN);
        });
    });

    describe('SetValue', () => {
        async function setValue(name: string, p: string, value: Variant, signature = 'v'): Promise<{ result: number; replyIndex: number }> {
            const before = log.length;
            const reply = await call(client, name, p, 'SetValue', { signature, body: [signature === 'v' ? value : value.value] });
            assert.equal(reply.signature, 'i');
            const ret = log.slice(before).find((m) => m.type === MessageType.METHOD_RETURN && m === reply);
            assert.ok(ret);
            return { result: reply.body[0] as number, replyIndex: log.indexOf(reply) };
        }

        function propertiesChangedBefore(name: string, p: string, replyIndex: number): Dict | undefined {
            const owner = sim.uniqueName(name);
            const signal = log.slice(0, replyIndex).reverse().find((m) => m.type === MessageType.SIGNAL && m.path === p && m.member === 'PropertiesChanged' && m.sender === owner);
            return signal?.body[0] as Dict | undefined;
        }

        it('stores a new value and sends PropertiesChanged on the item before the reply: 0', async () => {
            const name = await service();
            const { result, replyIndex } = await setValue(name, '/Setpoint', new Variant('d', 12.5));
            assert.equal(result, 0);
            assert.deepEqual(propertiesChangedBefore(name, '/Setpoint', replyIndex), { Value: new Variant('d', 12.5), Text: new Variant('s', '12.5') });
            assert.deepEqual((await call(client, name, '/Setpoint', 'GetValue')).body[0], new Variant('d', 12.5));
            const write = sim.writes[sim.writes.length - 1];
            assert.deepEqual(write && [write.service, write.path, write.signature, write.value, write.result], [name, '/Setpoint', 'd', 12.5, 0]);
        });

        it('an equal value (100.0 for 100) answers 0 without a signal, and the type stays', async () => {
            const name = await service();
            const { result, replyIndex } = await setValue(name, '/Counter', new Variant('d', 100));
            assert.equal(result, 0);
            assert.equal(propertiesChangedBefore(name, '/Counter', replyIndex), undefined);
            assert.deepEqual((await call(client, name, '/Counter', 'GetValue')).body[0], new Variant('i', 100));
        });

        it('not writeable: 1; not coercible to the valuetype: 1; refused by the callback: 2', async () => {
            const name = serviceName();
            await sim.addService({
                name,
                items: [
                    { path: '/ReadOnly', value: new Variant('i', 1), writeable: false },
                    { path: '/Typed', value: new Variant('i', 1), valueType: 'int' },
                    { path: '/Guarded', value: new Variant('i', 1), onWrite: (_p, v) => (v.value as number) < 10 },
                ],
            });
            assert.equal((await setValue(name, '/ReadOnly', new Variant('i', 2))).result, 1);
            assert.equal((await setValue(name, '/Typed', new Variant('s', 'abc'))).result, 1);
            assert.equal((await setValue(name, '/Typed', new Variant('d', 4.7))).result, 0);
            assert.deepEqual((await call(client, name, '/Typed', 'GetValue')).body[0], new Variant('i', 4));
            assert.equal((await setValue(name, '/Guarded', new Variant('i', 20))).result, 2);
            assert.deepEqual((await call(client, name, '/Guarded', 'GetValue')).body[0], new Variant('i', 1));
            assert.equal((await setValue(name, '/Guarded', new Variant('i', 5))).result, 0);
            assert.deepEqual(sim.writes.filter((w) => w.service === name).map((w) => w.result), [1, 1, 0, 2, 0]);
        });

        it('without a valuetype the item takes the written type (velib): s, x as i, [] invalidates', async () => {
            const name = await service();
            await setValue(name, '/Setpoint', new Variant('s', '-202'));
            assert.deepEqual((await call(client, name, '/Setpoint', 'GetValue')).body[0], new Variant('s', '-202'));
            await setValue(name, '/Setpoint', new Variant('x', -201n));
            assert.deepEqual((await call(client, name, '/Setpoint', 'GetValue')).body[0], new Variant('i', -201));
            const { replyIndex } = await setValue(name, '/Setpoint', new Variant('ai', []));
            assert.deepEqual(propertiesChangedBefore(name, '/Setpoint', replyIndex), { Value: new Variant('ai', []), Text: new Variant('s', '---') });
            assert.deepEqual((await call(client, name, '/Setpoint', 'GetText')).body[0], '---');
        });

        it('accepts a double-wrapped variant and a bare value, like dbus-python', async () => {
            const name = await service();
            assert.equal((await setValue(name, '/Setpoint', new Variant('v', new Variant('d', 3)))).result, 0);
            assert.deepEqual((await call(client, name, '/Setpoint', 'GetValue')).body[0], new Variant('d', 3));
            assert.equal(sim.writes[sim.writes.length - 1]?.signature, 'v');
            assert.equal((await setValue(name, '/Setpoint', new Variant('d', 4), 'd')).result, 0);
            assert.deepEqual((await call(client, name, '/Setpoint', 'GetValue')).body[0], new Variant('d', 4));
        });

        it('an item that does not announce writes stores them silently', async () => {
            const name = serviceName();
            await sim.addService({ name, items: [{ path: '/Hub4/L1/AcPowerSetpoint', value: new Variant('d', 0), announceWrites: false }] });
            const { result, replyIndex } = await setValue(name, '/Hub4/L1/AcPowerSetpoint', new Variant('d', -200));
            assert.equal(result, 0);
            assert.equal(propertiesChangedBefore(name, '/Hub4/L1/AcPowerSetpoint', replyIndex), undefined);
            assert.deepEqual((await call(client, name, '/Hub4/L1/AcPowerSetpoint', 'GetValue')).body[0], new Variant('d', -200));
        });

        it('GetItems shows the written value', async () => {
            const name = await service();
            await setValue(name, '/Counter', new Variant('i', 7));
            const items = (await call(client, name, '/', 'GetItems')).body[0] as Record<string, Dict>;
            assert.deepEqual(items['/Counter'], { Value: new Variant('i', 7), Text: new Variant('s', '7') });
        });
    });

    describe('device-side changes', () => {
        function signalsOf(name: string): DbusMessage[] {
            const owner = sim.uniqueName(name);
            return signals.messages.filter((m) => m.sender === owner);
        }

        async function marker(name: string): Promise<void> {
            // A signal sent after the changes: once it is here, everything sent before it is here too.
            sim.rawSignal(name, '/Marker', 'com.victronenergy.BusItem', 'Marker', '', []);
            const owner = sim.uniqueName(name);
            await signals.wait((m) => m.sender === owner && m.member === 'Marker', 5000, 'the marker');
        }

        it("'items': one ItemsChanged on / with the changed items", async () => {
            const name = await service();
            sim.changeMany(name, [
                { path: '/Ac/Power', value: new Variant('d', 1500.5), text: '1500W' },
                { path: '/Ac/L2/Power', value: new Variant('d', 2) },
            ], 'items');
            await marker(name);
            const got = signalsOf(name).filter((m) => m.member !== 'Marker');
            assert.equal(got.length, 1);
            assert.deepEqual([got[0]?.path, got[0]?.member, got[0]?.signature], ['/', 'ItemsChanged', 'a{sa{sv}}']);
            assert.deepEqual(got[0]?.body[0], {
                '/Ac/Power': { Value: new Variant('d', 1500.5), Text: new Variant('s', '1500W') },
                '/Ac/L2/Power': { Value: new Variant('d', 2), Text: new Variant('s', '2.0') },
            });
            assert.deepEqual((await call(client, name, '/Ac/Power', 'GetValue')).body[0], new Variant('d', 1500.5));
        });

        it("'properties': PropertiesChanged on each item's path", async () => {
            const name = await service();
            sim.change(name, '/Ac/Power', new Variant('d', 999), 'properties', '999W');
            sim.change(name, '/Ac/L1/Power', new Variant('ai', []), 'properties');
            await marker(name);
            const got = signalsOf(name).filter((m) => m.member !== 'Marker');
            assert.deepEqual(got.map((m) => [m.path, m.member, m.signature]), [
                ['/Ac/Power', 'PropertiesChanged', 'a{sv}'], ['/Ac/L1/Power', 'PropertiesChanged', 'a{sv}'],
            ]);
            assert.deepEqual(got[0]?.body[0], { Value: new Variant('d', 999), Text: new Variant('s', '999W') });
            assert.deepEqual(got[1]?.body[0], { Value: new Variant('ai', []), Text: new Variant('s', '---') });
        });

        it("'none': the value changes silently", async () => {
            const name = await service();
            sim.change(name, '/Counter', new Variant('i', 5), 'none');
            await marker(name);
            assert.deepEqual(signalsOf(name).map((m) => m.member), ['Marker']);
            assert.deepEqual((await call(client, name, '/Counter', 'GetValue')).body[0], new Variant('i', 5));
        });

        it('items appear and go away, announced or not', async () => {
            const name = await service();
            sim.addItem(name, { path: '/New/Silent', value: new Variant('i', 1) });
            sim.addItem(name, { path: '/New/Loud', value: new Variant('i', 2) }, 'items');
            sim.removeItem(name, '/Ac/L1/Power', 'items');
            sim.removeItem(name, '/Counter');
            await marker(name);
            const got = signalsOf(name).filter((m) => m.member === 'ItemsChanged').map((m) => m.body[0] as Record<string, Dict>);
            assert.deepEqual(got, [
                { '/New/Loud': { Value: new Variant('i', 2), Text: new Variant('s', '2') } },
                { '/Ac/L1/Power': { Value: new Variant('ai', []), Text: new Variant('s', '---') } },
            ]);
            const items = (await call(client, name, '/', 'GetItems')).body[0] as Record<string, Dict>;
            assert.ok(items['/New/Silent'] && items['/New/Loud']);
            assert.ok(!items['/Ac/L1/Power'] && !items['/Counter']);
            assert.equal(await callError(client, name, '/Counter', 'GetValue'), UNKNOWN_OBJECT);
            assert.equal(await callError(client, name, '/Ac/L1', 'GetValue'), UNKNOWN_OBJECT);
        });
    });

    describe('unusual services', () => {
        it('legacy: GetItems is an unknown method; GetValue on / works', async () => {
            const name = await service({ legacy: true });
            assert.equal(await callError(client, name, '/', 'GetItems'), UNKNOWN_METHOD);
            const values = (await call(client, name, '/', 'GetValue')).body[0] as Variant<Dict>;
            assert.deepEqual(values.value.Counter, new Variant('i', 100));
        });

        it('hang GetItems: never answers GetItems, answers the rest', async () => {
            const name = await service({ hang: 'GetItems' });
            await assert.rejects(call(client, name, '/', 'GetItems', { timeoutMs: 500 }), /no reply within 500 ms/);
            assert.deepEqual((await call(client, name, '/Counter', 'GetValue')).body[0], new Variant('i', 100));
        });

        it('hang all: never answers anything', async () => {
            const name = await service({ hang: 'all' });
            await assert.rejects(call(client, name, '/Counter', 'GetValue', { timeoutMs: 300 }), /no reply/);
            await assert.rejects(call(client, name, '/', 'GetItems', { timeoutMs: 300 }), /no reply/);
        });

        it('override: any reply, a raw reply with NaN, an error, or none', async () => {
            const name = await service({
                override: (msg) => {
                    if (msg.member === 'GetItems')
                        return Message.newMethodReturn(msg, 's', ['not a dict']);
                    if (msg.path === '/Ac/Power')
                        return { signature: 'a{sa{sv}}', values: [{ '/Ac/Power': { Value: new Variant('d', NaN) } }] };
                    if (msg.path === '/Counter')
                        return { errorName: 'org.freedesktop.DBus.Python.TypeError', text: 'unhashable type' };
                    if (msg.path === '/Setpoint')
                        return 'no-reply';
                    return undefined;
                },
            });
            const items = await call(client, name, '/', 'GetItems');
            assert.deepEqual([items.signature, items.body], ['s', ['not a dict']]);
            const nan = await call(client, name, '/Ac/Power', 'GetValue');
            assert.equal(nan.signature, 'a{sa{sv}}');
            assert.ok(Number.isNaN(((nan.body[0] as Record<string, Dict>)['/Ac/Power']?.Value as Variant).value));
            assert.equal(await callError(client, name, '/Counter', 'GetValue'), 'org.freedesktop.DBus.Python.TypeError');
            await assert.rejects(call(client, name, '/Setpoint', 'GetValue', { timeoutMs: 300 }), /no reply/);
            assert.deepEqual((await call(client, name, '/DeviceInstance', 'GetValue')).body[0], new Variant('i', 3));
        });

        it('raw signals: odd dict keys, PropertiesChanged without Value, NaN, a wrong signature', async () => {
            const name = await service();
            const owner = sim.uniqueName(name);
            sim.rawSignal(name, '/', 'com.victronenergy.BusItem', 'ItemsChanged', 'a{ia{sv}}', [new Map([[7, { Value: new Variant('i', 1) }]])]);
            sim.rawSignal(name, '/Ac/Power', 'com.victronenergy.BusItem', 'PropertiesChanged', 'a{sv}', [{ Text: new Variant('s', 'x') }]);
            sim.rawSignal(name, '/Ac/Power', 'com.victronenergy.BusItem', 'PropertiesChanged', 'a{sv}', [{ Value: new Variant('d', NaN) }]);
            sim.rawSignal(name, '/', 'com.victronenergy.BusItem', 'ItemsChanged', 's', ['garbage']);
            const last = await signals.wait((m) => m.sender === owner && m.signature === 's', 5000, 'the last raw signal');
            assert.deepEqual(last.body, ['garbage']);
            const got = signals.messages.filter((m) => m.sender === owner);
            assert.deepEqual(got.map((m) => m.signature), ['a{ia{sv}}', 'a{sv}', 'a{sv}', 's']);
            assert.deepEqual(got[1]?.body[0], { Text: new Variant('s', 'x') });
            assert.ok(Number.isNaN(((got[2]?.body[0] as Dict).Value as Variant).value));
        });
    });

    describe('playback', () => {
        it('plays a recording on the bus, tick by tick, and restores the initial state at the loop', async () => {
            const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'dfmq-play-'));
            const file = path.join(dir, 'rec.csv');
            fs.writeFileSync(file, [
                'com.victronenergy.solarcharger.play',
                '/Yield/Power\tDOUBLE\t100.0\t100W',
                '/State\tUINT32\t3\tBulk',
                '/DeviceInstance\tUINT32\t288\t288',
                '',
                '1\t/Yield/Power\tDOUBLE\t120.0\t120W',
                '1\t/State\tUINT32\t4\tAbsorption',
                '2\t/Yield/Power\tDOUBLE\t130.0\t130W',
            ].join('\n'));
            const timers = new FakeTimers();
            const player = await Simulator.start({ busAddress: daemon.address, recording: file, settings: false, timers });
            try {
                const name = 'com.victronenergy.solarcharger.play';
                const owner = player.uniqueName(name);
                const mine = (): DbusMessage[] => signals.messages.filter((m) => m.sender === owner && m.member === 'ItemsChanged');
                timers.advance(1000);
                await sleep(100);
                assert.equal(mine().length, 0, 'tick 0 has no changes');
                timers.advance(1000);
                const first = await signals.wait((m) => m.sender === owner && m.member === 'ItemsChanged', 5000, 'tick 1');
                assert.deepEqual(first.body[0], {
                    '/Yield/Power': { Value: new Variant('d', 120), Text: new Variant('s', '120W') },
                    '/State': { Value: new Variant('u', 4), Text: new Variant('s', 'Absorption') },
                });
                timers.advance(1000);
                await signals.wait(() => mine().length === 2, 5000, 'tick 2');
                timers.advance(1000);
                await signals.wait(() => mine().length === 3, 5000, 'the loop');
                assert.deepEqual(mine()[2]?.body[0], {
                    '/Yield/Power': { Value: new Variant('d', 100), Text: new Variant('s', '100W') },
                    '/State': { Value: new Variant('u', 3), Text: new Variant('s', 'Bulk') },
                });
                assert.deepEqual((await call(client, name, '/State', 'GetValue')).body[0], new Variant('u', 3));
            } finally {
                await player.stop();
                fs.rmSync(dir, { recursive: true, force: true });
            }
        });
    });
});
