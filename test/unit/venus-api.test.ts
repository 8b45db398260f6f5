// The Venus MQTT API over an in-memory bus and a recording stand-in for the broker.
import { strict as assert } from 'node:assert';

import { DbusBridge, defaultBridgeOptions } from '../../ts/dbus/bridge';
import { Logger } from '../../ts/log';
import { Broker } from '../../ts/native/broker';
import type { ClientPublish } from '../../ts/native/broker';
import type { VenusApiOptions } from '../../ts/mqtt/venus-api';
import { VenusApi } from '../../ts/mqtt/venus-api';
import type { FakeService, FakeVariant } from '../fakes/fake-bus';
import { FakeBus } from '../fakes/fake-bus';
import { FakeBinding } from '../fakes/fake-binding';
import { FakeTimers } from '../fakes/fake-timers';

const v = (signature: string, value: unknown): FakeVariant => ({ signature, value });
const flush = async (): Promise<void> => {
    for (let i = 0; i < 10; i++)
        await new Promise((resolve) => setImmediate(resolve));
};

interface Sent {
    topic: string;
    payload: string;
    retain: boolean;
}

/** Decodes what went to the broker, single publishes and frames alike, in order. */
function sent(binding: FakeBinding): Sent[] {
    const out: Sent[] = [];
    let frameIndex = 0;
    let publishIndex = 0;
    // The fake keeps the two kinds apart; interleave them by the order they were recorded.
    for (const kind of binding.order) {
        if (kind === 'publish') {
            const p = binding.published[publishIndex++]!;
            out.push({ topic: p.topic, payload: Buffer.from(p.payload).toString(), retain: p.retain ?? false });
            continue;
        }
        const buf = Buffer.from(binding.frames[frameIndex++]!);
        for (let pos = 0; pos < buf.length;) {
            const flags = buf[pos]!;
            const tl = buf.readUInt32LE(pos + 1);
            const topic = buf.toString('utf8', pos + 5, pos + 5 + tl);
            const pl = buf.readUInt32LE(pos + 5 + tl);
            const payload = buf.toString('utf8', pos + 9 + tl, pos + 9 + tl + pl);
            out.push({ topic, payload, retain: (flags & 1) === 1 });
            pos += 9 + tl + pl;
        }
    }
    return out;
}

async function setup(extra: Partial<VenusApiOptions> = {}): Promise<{ bus: FakeBus; timers: FakeTimers; binding: FakeBinding; api: VenusApi; bridge: DbusBridge; mppt: FakeService; settings: FakeService; logs: string[] }> {
    const timers = new FakeTimers();
    const bus = new FakeBus(timers);
    const logs: string[] = [];
    const log = new Logger({ write: (level, line) => logs.push(`${level}: ${line}`) }, 't', () => true);
    const binding = new FakeBinding();
    const broker = new Broker(binding, log, timers, { loginTimeoutMs: 1000 });
    const system = bus.add('com.victronenergy.system', { '/DeviceInstance': v('i', 0), '/Serial': v('s', 'abc123') });
    void system;
    const mppt = bus.add('com.victronenergy.solarcharger.ttyS5', { '/DeviceInstance': v('u', 277), '/Yield/Power': v('d', 936), '/Dc/0/Voltage': v('d', 52.5) });
    const settings = bus.add('com.victronenergy.settings', { '/Settings/Services/AccessPointPassword': v('s', 'secret'), '/Settings/Gui/Brightness': v('i', 5) });
    bus.add('com.victronenergy.vebus.ttyS4', { '/DeviceInstance': v('i', 276), '/Interfaces/Mk2/Tunnel': v('i', 1), '/Mode': v('u', 3) });
    const bridge = new DbusBridge({ ...defaultBridgeOptions, address: 'fake' }, log, timers, bus.connector);
    const api = new VenusApi({ portalId: 'abc123', chunkBytes: 100, ...extra }, broker, bridge, timers, log, () => 1700000000.5);
    bridge.start();
    await bridge.whenDiscovered();
    return { bus, timers, binding, api, bridge, mppt, settings, logs };
}

function publish(api: VenusApi, topic: string, payload = '', extra: Partial<ClientPublish> = {}): unknown {
    return api.onPublish({ clientId: 'c1', username: '', topic, payload: Buffer.from(payload), qos: 0, retain: false, ...extra });
}

describe('the Venus MQTT API', () => {
    it('asks the broker for the publishes it decides on, and for N/ only those of its own portal id', async () => {
        const { api } = await setup();
        assert.deepEqual(api.forwardFilters(), ['R/#', 'W/#', 'N/abc123/#', 'P/#', 'I/#', '$SYS/broker/bridge/#']);
        assert.deepEqual(api.alterFilters(), ['N/abc123/#', 'P/abc123/#', 'R/abc123/#', 'W/abc123/#']);
    });

    it('publishes only the retained Serial while not alive', async () => {
        const { binding } = await setup();
        assert.deepEqual(sent(binding), [{ topic: 'N/abc123/system/0/Serial', payload: '{"value":"abc123"}', retain: true }]);
    });

    it('answers a keep-alive with a full publish in chunks, the completion last, and heartbeats', async () => {
        const { binding, api } = await setup();
        binding.clear();
        publish(api, 'R/abc123/keepalive', '{"keepalive-options":[{"full-publish-completed-echo":"e1"}]}');
        await flush();
        const out = sent(binding);
        assert.ok(binding.frames.length > 2, 'several chunks');
        assert.deepEqual(out.map((m) => m.topic).sort(), [
            'N/abc123/full_publish_completed', 'N/abc123/heartbeat', 'N/abc123/settings/0/Settings/Gui/Brightness',
            'N/abc123/settings/0/Settings/Services/AccessPointPassword', 'N/abc123/solarcharger/277/Dc/0/Voltage',
            'N/abc123/solarcharger/277/DeviceInstance', 'N/abc123/solarcharger/277/Yield/Power', 'N/abc123/system/0/DeviceInstance',
            'N/abc123/system/0/Serial', 'N/abc123/vebus/276/DeviceInstance', 'N/abc123/vebus/276/Mode',
        ]);
        // As the original: the completion, then the first heartbeat (a client library takes a heartbeat before the
        // completion for an item).
        assert.deepEqual(out.slice(-2).map((m) => m.topic), ['N/abc123/full_publish_completed', 'N/abc123/heartbeat']);
        assert.equal(out.at(-2)!.payload, '{"full-publish-completed-echo":"e1","value":1700000000}');
        const byTopic = new Map(out.map((m) => [m.topic, m]));
        assert.equal(byTopic.get('N/abc123/solarcharger/277/Yield/Power')!.payload, '{"value":936.0}');
        assert.equal(byTopic.get('N/abc123/settings/0/Settings/Services/AccessPointPassword')!.payload, '{"value":"******"}');
        assert.equal(byTopic.get('N/abc123/heartbeat')!.payload, '{"value":1700000000}');
        assert.equal(byTopic.get('N/abc123/system/0/Serial')!.retain, true);
        assert.equal(out.filter((m) => m.retain).length, 1);
    });

    for (const chunkBytes of [1, 60, 100, 150, 250, 100_000]) {
        it(`publishes every item exactly once, the blocked one never, in chunks of ${chunkBytes} bytes`, async () => {
            const { binding, api } = await setup({ chunkBytes });
            binding.clear();
            publish(api, 'R/abc123/keepalive', '');
            await flush();
            const topics = sent(binding).map((m) => m.topic).filter((t) => !t.endsWith('/heartbeat') && !t.endsWith('/full_publish_completed'));
            assert.equal(new Set(topics).size, topics.length, `no topic twice: ${topics.join(', ')}`);
            assert.deepEqual([...topics].sort(), [
                'N/abc123/settings/0/Settings/Gui/Brightness', 'N/abc123/settings/0/Settings/Services/AccessPointPassword',
                'N/abc123/solarcharger/277/Dc/0/Voltage', 'N/abc123/solarcharger/277/DeviceInstance', 'N/abc123/solarcharger/277/Yield/Power',
                'N/abc123/system/0/DeviceInstance', 'N/abc123/system/0/Serial', 'N/abc123/vebus/276/DeviceInstance', 'N/abc123/vebus/276/Mode',
            ]);
            assert.deepEqual(sent(binding).filter((m) => m.retain).map((m) => m.topic), ['N/abc123/system/0/Serial']);
        });
    }

    it('formats every payload once the first discovery is done, ahead of any keep-alive, the blocked item\'s never', async () => {
        const { bridge, binding } = await setup();
        await flush();
        const payloads = new Map<string, string | undefined>();
        for (const service of bridge.cache.all())
            for (const item of service.items.values())
                payloads.set(`${service.name}${item.path}`, item.payload);
        assert.equal(payloads.get('com.victronenergy.solarcharger.ttyS5/Yield/Power'), '{"value":936.0}');
        assert.equal(payloads.get('com.victronenergy.settings/Settings/Services/AccessPointPassword'), '{"value":"******"}');
        assert.equal(payloads.get('com.victronenergy.vebus.ttyS4/Interfaces/Mk2/Tunnel'), undefined, 'blocked: never published');
        assert.deepEqual([...payloads].filter(([, p]) => p === undefined).map(([k]) => k), ['com.victronenergy.vebus.ttyS4/Interfaces/Mk2/Tunnel']);
        assert.deepEqual(sent(binding).map((m) => m.topic), ['N/abc123/system/0/Serial'], 'formatted, not published');
    });

    for (const itemsPerTurn of [1, 2, 5, 1000]) {
        it(`formats payloads ${itemsPerTurn} per turn of the loop and skips a service gone meanwhile${itemsPerTurn === 2 ? ', a full publish meanwhile sending the same' : ''}`, async () => {
            const { bridge, binding, api, bus } = await setup({ chunkBytes: 60 });
            await flush();
            const before = new Map<string, string>();
            for (const service of bridge.cache.all())
                for (const item of service.items.values()) {
                    if (item.payload !== undefined)
                        before.set(`${service.name}${item.path}`, item.payload);
                    item.payload = undefined;
                }
            api.publisher.preparePayloads(itemsPerTurn);
            binding.clear();
            if (itemsPerTurn === 2)
                publish(api, 'R/abc123/keepalive', '');
            bus.vanish('com.victronenergy.vebus.ttyS4');
            await flush();
            await flush();
            const after = new Map<string, string | undefined>();
            for (const service of bridge.cache.all())
                for (const item of service.items.values())
                    after.set(`${service.name}${item.path}`, item.payload);
            assert.ok(after.size >= 7);
            for (const [key, payload] of after)
                assert.equal(payload, before.get(key), key);
            assert.ok(![...after.keys()].some((k) => k.startsWith('com.victronenergy.vebus.')), 'the service is gone');
            if (itemsPerTurn === 2) {
                // A full publish that ran while the payloads were being prepared.
                const byTopic = new Map(sent(binding).map((m) => [m.topic, m.payload]));
                assert.equal(byTopic.get('N/abc123/solarcharger/277/Yield/Power'), '{"value":936.0}');
                assert.equal(byTopic.get('N/abc123/solarcharger/277/Dc/0/Voltage'), '{"value":52.5}');
                assert.ok(byTopic.has('N/abc123/full_publish_completed'));
            }
        });
    }

    it('holds a keep-alive\'s republish until the first discovery is done (FlashMQ before 1.26 lets clients in early)', async () => {
        const timers = new FakeTimers();
        const bus = new FakeBus(timers);
        const log = new Logger({ write: () => undefined }, 't', () => false);
        const binding = new FakeBinding();
        const broker = new Broker(binding, log, timers, { loginTimeoutMs: 1000 });
        bus.add('com.victronenergy.system', { '/DeviceInstance': v('i', 0), '/Serial': v('s', 'abc123') });
        const slow = bus.add('com.victronenergy.solarcharger.ttyS5', { '/DeviceInstance': v('u', 277), '/Yield/Power': v('d', 936) });
        slow.holdReplies = true;
        const bridge = new DbusBridge({ ...defaultBridgeOptions, address: 'fake' }, log, timers, bus.connector);
        const api = new VenusApi({ portalId: 'abc123', chunkBytes: 100 }, broker, bridge, timers, log, () => 1700000000.5);
        bridge.start();
        await flush();
        // The system service is scanned: its retained Serial is out, the discovery is not done.
        assert.deepEqual(sent(binding).map((m) => m.topic), ['N/abc123/system/0/Serial']);
        publish(api, 'R/abc123/keepalive', '');
        await flush();
        assert.ok(!sent(binding).some((m) => m.topic === 'N/abc123/full_publish_completed'), 'no completion over half the items');
        for (const release of slow.held.splice(0))
            release();
        await flush();
        const out = sent(binding).map((m) => m.topic);
        const completion = out.indexOf('N/abc123/full_publish_completed');
        assert.ok(completion > 0, out.join(' '));
        assert.ok(out.slice(0, completion).includes('N/abc123/solarcharger/277/Yield/Power'), 'the republish holds every service');
    });

    it('publishes changes only while alive', async () => {
        const { binding, api, bus, mppt, timers } = await setup();
        binding.clear();
        bus.itemsChanged(mppt, { '/Yield/Power': v('d', 1) });
        assert.deepEqual(sent(binding), []);
        publish(api, 'R/abc123/keepalive', '{"keepalive-options":["suppress-republish"]}');
        binding.clear();
        bus.itemsChanged(mppt, { '/Yield/Power': v('d', 2) });
        bus.propertiesChanged(mppt, '/Dc/0/Voltage', v('ai', []));
        assert.deepEqual(sent(binding), [
            { topic: 'N/abc123/solarcharger/277/Yield/Power', payload: '{"value":2.0}', retain: false },
            { topic: 'N/abc123/solarcharger/277/Dc/0/Voltage', payload: '{"value":null}', retain: false },
        ]);
        timers.advance(60_000);
        binding.clear();
        bus.itemsChanged(mppt, { '/Yield/Power': v('d', 3) });
        assert.deepEqual(sent(binding), []);
    });

    it('sends an empty payload for every topic of a service that goes, alive or not, except blocked and retained', async () => {
        const { binding, bus } = await setup();
        binding.clear();
        bus.vanish('com.victronenergy.vebus.ttyS4');
        bus.vanish('com.victronenergy.system');
        assert.deepEqual(sent(binding), [
            { topic: 'N/abc123/vebus/276/DeviceInstance', payload: '', retain: false },
            { topic: 'N/abc123/vebus/276/Mode', payload: '', retain: false },
            { topic: 'N/abc123/system/0/DeviceInstance', payload: '', retain: false },
        ]);
    });

    it('reads an item, a sub-tree and a whole service, published even when not alive', async () => {
        const { binding, api, mppt } = await setup();
        binding.clear();
        mppt.items.set('/Yield/Power', v('d', 100));
        publish(api, 'R/abc123/solarcharger/277/Yield/Power');
        await flush();
        assert.deepEqual(sent(binding), [{ topic: 'N/abc123/solarcharger/277/Yield/Power', payload: '{"value":100.0}', retain: false }]);
        binding.clear();
        publish(api, 'R/abc123/solarcharger/277/Dc');
        await flush();
        assert.deepEqual(sent(binding).map((m) => m.topic), ['N/abc123/solarcharger/277/Dc/0/Voltage']);
        binding.clear();
        publish(api, 'R/abc123/solarcharger/277/');
        await flush();
        assert.equal(sent(binding).length, 3);
        binding.clear();
        publish(api, 'R/abc123/solarcharger/277/Dc/'); // one trailing slash names the sub-tree (the original refuses it)
        await flush();
        assert.deepEqual(sent(binding).map((m) => m.topic), ['N/abc123/solarcharger/277/Dc/0/Voltage']);
        binding.clear();
        publish(api, 'R/abc123/solarcharger/277/Dc//');
        await flush();
        assert.deepEqual(sent(binding), [], 'two slashes are not a path');
    });

    it('holds a client\'s reads back once they published its budget of items (plugin_opt_read_items_per_second)', async () => {
        const { binding, api, timers } = await setup({ readItemsPerSecond: 1 }); // 4 items ahead, then 1 a second
        binding.clear();
        publish(api, 'R/abc123/solarcharger/277/'); // the whole service: 3 items
        await flush();
        publish(api, 'R/abc123/solarcharger/277/'); // 3 more: 2 in debt
        await flush();
        assert.equal(sent(binding).length, 6);
        publish(api, 'R/abc123/solarcharger/277/Dc');
        await flush();
        assert.equal(sent(binding).length, 6, 'held back while in debt');
        timers.advance(3000);
        await flush();
        assert.equal(sent(binding).length, 7);
    });

    it('writes with the D-Bus type the JSON token says, and only to cached items', async () => {
        const { api, settings, logs } = await setup();
        const cases: Array<[string, string, unknown]> = [['{"value":1}', 'i', 1], ['{"value":1.0}', 'd', 1], ['{"value":3000000000}', 'x', 3000000000n], ['{"value":null}', 'ai', []]];
        for (const [payload] of cases)
            assert.equal(publish(api, 'W/abc123/settings/0/Settings/Gui/Brightness', payload), true, 'the request is routed');
        await flush();
        assert.deepEqual(settings.writes.map((w) => [w.value.signature, w.value.value]), cases.map(([, s, val]) => [s, val]));
        publish(api, 'W/abc123/settings/0/Settings/Gui/Nothing', '{"value":1}');
        publish(api, 'W/abc123/settings/0/Settings/Gui/Brightness', '{"value":{"a":1}}');
        publish(api, 'W/abc123/settings/0/Settings/Gui/Brightness', 'not json');
        publish(api, 'W/abc123/settings/0/Settings/Gui/Brightness', '{"val":1}');
        publish(api, 'W/abc123/nothing/0/X', '{"value":1}');
        await flush();
        assert.equal(settings.writes.length, 4, 'no stray write');
        assert.equal(logs.filter((l) => /^error: .*refusing the write|^error: .*no service/.test(l)).length, 5, logs.join('\n'));
    });

    it('replies to MQTT 5 requests that ask, with their correlation data', async () => {
        const { binding, api } = await setup();
        binding.clear();
        const props = { responseTopic: 'reply/me', correlationData: Buffer.from('c-1') };
        publish(api, 'W/abc123/settings/0/Settings/Gui/Brightness', '{"value":2}', { properties: props });
        publish(api, 'W/abc123/settings/0/Settings/Gui/Brightness', '{"value":[1,"a"]}', { properties: props });
        publish(api, 'R/abc123/nothing/0/X', '', { properties: props });
        publish(api, 'R/abc123/solarcharger/277/Yield/Power', '', { properties: props });
        await flush();
        const replies = binding.published.filter((p) => p.topic === 'reply/me');
        assert.deepEqual(replies.map((r) => JSON.parse(String(r.payload)) as unknown), [
            { success: false, error: "D-Bus arrays hold one type; this one mixes 'i' and 's'" },
            { success: false, error: 'no service is known as nothing/0' },
            { success: true, code: 0 },
            { success: true, published: 1 },
        ]);
        assert.deepEqual(replies[0]!.properties?.correlationData, Buffer.from('c-1'));
    });

    it('routes requests for other portal ids without acting on them', async () => {
        const { api, binding } = await setup();
        binding.clear();
        assert.equal(publish(api, 'R/other/keepalive'), true);
        assert.equal(publish(api, 'X'), true);
        await flush();
        assert.deepEqual(sent(binding), []);
    });
});
