import { strict as assert } from 'node:assert';

import type { CacheEvent } from '../../ts/dbus/cache';
import { DbusBridge, defaultBridgeOptions, MATCH_RULES, scanOrder } from '../../ts/dbus/bridge';
import type { LogLevelName } from '../../ts/log';
import { Logger } from '../../ts/log';
import { UNKNOWN_TYPE } from '../../ts/dbus/values';
import { body } from '../fakes/body';
import type { FakeVariant } from '../fakes/fake-bus';
import { FakeBus } from '../fakes/fake-bus';
import { FakeTimers } from '../fakes/fake-timers';

const v = (signature: string, value: unknown): FakeVariant => ({ signature, value });
const flush = async (): Promise<void> => {
    for (let i = 0; i < 5; i++)
        await new Promise((resolve) => setImmediate(resolve));
};

function setup(): { bus: FakeBus; timers: FakeTimers; bridge: DbusBridge; events: CacheEvent[]; logs: Array<[LogLevelName, string]> } {
    const timers = new FakeTimers();
    const bus = new FakeBus(timers);
    const logs: Array<[LogLevelName, string]> = [];
    const log = new Logger({ write: (level, line) => logs.push([level, line]) }, 'dbus', () => true);
    const bridge = new DbusBridge({ ...defaultBridgeOptions, address: 'unix:path=/fake', callTimeoutMs: 1000 }, log, timers, bus.connector);
    const events: CacheEvent[] = [];
    // Events are valid during the call (a signal's is reused): kept as copies.
    bridge.cache.subscribe((e) => events.push(e.kind === 'changed' ? { ...e, items: [...e.items] } : e));
    return { bus, timers, bridge, events, logs };
}

const SYSTEM = 'com.victronenergy.system';
const MPPT = 'com.victronenergy.solarcharger.ttyS5';

describe('the D-Bus bridge (with an in-memory bus)', () => {
    it('discovers every Venus service at start, with its instance and items', async () => {
        const { bus, bridge } = setup();
        bus.add(SYSTEM, { '/DeviceInstance': v('i', 0), '/Serial': v('s', 'c0619ab1a2b3') });
        bus.add(MPPT, { '/DeviceInstance': v('q', 258), '/Yield/Power': v('d', 1.5) });
        bus.add('org.other.service', { '/x': v('i', 1) });
        bridge.start();
        await bridge.whenDiscovered();
        assert.equal(bridge.cache.size, 2);
        assert.equal(bridge.cache.find('solarcharger', '258')!.items.get('/Yield/Power')!.value, 1.5);
        assert.equal(bridge.cache.find('system', '0')!.items.get('/Serial')!.value, 'c0619ab1a2b3');
        const conn = [...bus.connections][0]!;
        assert.deepEqual(conn.matches, MATCH_RULES);
        assert.ok(bus.calls.every((c) => c.destination !== 'org.other.service'));
        assert.ok(bus.calls.filter((c) => c.member === 'GetItems').every((c) => c.destination.startsWith(':1.')), 'scans go to the owner');
    });

    it('scans the system service first (the retained Serial), then the settings, then the rest as listed', () => {
        const table: Array<[string[], string[]]> = [
            [[], []],
            [[MPPT, 'com.victronenergy.settings', SYSTEM], [SYSTEM, 'com.victronenergy.settings', MPPT]],
            [['com.victronenergy.b', SYSTEM, 'com.victronenergy.a'], [SYSTEM, 'com.victronenergy.b', 'com.victronenergy.a']],
            [['com.victronenergy.b', 'com.victronenergy.a'], ['com.victronenergy.b', 'com.victronenergy.a']],
            [['com.victronenergy.system.x', SYSTEM], [SYSTEM, 'com.victronenergy.system.x']],
        ];
        for (const [listed, expected] of table)
            assert.deepEqual(scanOrder(listed), expected, listed.join(' '));
    });

    it('asks for the system service\'s items before any other\'s', async () => {
        const { bus, bridge } = setup();
        for (let i = 0; i < 40; i++)
            bus.add(`com.victronenergy.tank.t${i}`, { '/DeviceInstance': v('i', i) });
        bus.add(SYSTEM, { '/DeviceInstance': v('i', 0), '/Serial': v('s', 'c0619ab1a2b3') });
        bridge.start();
        await bridge.whenDiscovered();
        const scans = bus.calls.filter((c) => c.member === 'GetItems');
        assert.equal(scans.length, 41);
        assert.equal(scans[0]!.destination, bus.services.get(SYSTEM)!.owner);
    });

    it('falls back to GetValue on / for services without GetItems', async () => {
        const { bus, bridge } = setup();
        bus.add('com.victronenergy.legacy', { '/DeviceInstance': v('i', 4), '/A/B': v('i', 1) }, 'legacy');
        bridge.start();
        await bridge.whenDiscovered();
        const s = bridge.cache.find('legacy', '4')!;
        assert.equal(s.items.get('/A/B')!.value, 1n);
    });

    it('does not let a hung service hold up the others, and scans it again later', async () => {
        const { bus, bridge, timers, logs } = setup();
        const hung = bus.add('com.victronenergy.hung', { '/DeviceInstance': v('i', 9) }, 'hang');
        bus.add(MPPT, { '/DeviceInstance': v('i', 258) });
        bridge.start();
        await flush();
        assert.ok(bridge.cache.find('solarcharger', '258'), 'scanned while the other hangs');
        let discovered = false;
        void bridge.whenDiscovered().then(() => { discovered = true; });
        await flush();
        assert.equal(discovered, false);
        timers.advance(1000);
        await flush();
        assert.equal(discovered, true, 'discovery ends when the hung scan times out');
        assert.ok(logs.some(([l, m]) => l === 'error' && /scanning 'com.victronenergy.hung' failed: it did not answer within 1000 ms/.test(m)));
        hung.mode = 'normal';
        timers.advance(2000);
        await flush();
        assert.equal(bridge.cache.find('hung', '9')!.name, 'com.victronenergy.hung');
    });

    it('keeps the cache current from ItemsChanged and PropertiesChanged', async () => {
        const { bus, bridge, events } = setup();
        const mppt = bus.add(MPPT, { '/DeviceInstance': v('i', 258), '/Yield/Power': v('d', 1) });
        bridge.start();
        await bridge.whenDiscovered();
        bus.itemsChanged(mppt, { '/Yield/Power': v('d', 2), '/New': v('s', 'x') });
        bus.propertiesChanged(mppt, '/Yield/Power', v('ai', []));
        const items = bridge.cache.find('solarcharger', '258')!.items;
        assert.equal(items.get('/Yield/Power')!.value, null);
        assert.equal(items.get('/New')!.value, 'x');
        const changes = events.filter((e) => e.kind === 'changed');
        assert.equal(changes.length, 2);
        assert.deepEqual(changes[0]!.kind === 'changed' && changes[0]!.items.map((i) => i.path), ['/Yield/Power', '/New']);
    });

    it('ignores item signals from senders that own no Venus service', async () => {
        const { bus, bridge } = setup();
        bus.add(MPPT, { '/DeviceInstance': v('i', 258), '/A': v('i', 1) });
        bridge.start();
        await bridge.whenDiscovered();
        bus.signal({ sender: ':1.999', path: '/A', interface: 'com.victronenergy.BusItem', member: 'PropertiesChanged', ...body('a{sv}', [{ Value: v('i', 66) }]) });
        assert.equal(bridge.cache.find('solarcharger', '258')!.items.get('/A')!.value, 1n);
    });

    it('merges changes that arrive before a scan lands', async () => {
        const { bus, bridge } = setup();
        const mppt = bus.add(MPPT, { '/DeviceInstance': v('i', 258), '/A': v('i', 1) });
        mppt.holdReplies = true;
        bridge.start();
        await flush();
        bus.itemsChanged(mppt, { '/OnlySignalled': v('i', 7) });
        assert.equal(bridge.cache.size, 0);
        mppt.held.forEach((reply) => reply());
        await bridge.whenDiscovered();
        const items = bridge.cache.find('solarcharger', '258')!.items;
        assert.equal(items.get('/OnlySignalled')!.value, 7n);
    });

    it('follows services that appear, go and change owner', async () => {
        const { bus, bridge, events } = setup();
        bridge.start();
        await bridge.whenDiscovered();
        const first = bus.appear(MPPT, { '/DeviceInstance': v('i', 258), '/A': v('i', 1) });
        await flush();
        assert.equal(bridge.cache.find('solarcharger', '258')!.items.get('/A')!.value, 1n);
        bus.vanish(MPPT);
        assert.equal(bridge.cache.size, 0);
        const removed = events.find((e) => e.kind === 'removed');
        assert.equal(removed?.service.items.get('/A')!.value, 1n);

        bus.appear(MPPT, { '/DeviceInstance': v('i', 258) });
        await flush();
        const replacement = bus.add(MPPT, { '/DeviceInstance': v('i', 300) });
        bus.signal({ sender: 'org.freedesktop.DBus', path: '/org/freedesktop/DBus', interface: 'org.freedesktop.DBus', member: 'NameOwnerChanged', ...body('sss', [MPPT, first.owner, replacement.owner]) });
        await flush();
        assert.equal(bridge.cache.find('solarcharger', '258'), undefined);
        assert.ok(bridge.cache.find('solarcharger', '300'), 'a new owner is a new incarnation, with its own instance');
        assert.deepEqual(events.map((e) => e.kind), ['added', 'removed', 'added', 'removed', 'added']);
    });

    it('logs malformed input once per cause and skips it', async () => {
        const { bus, bridge, logs } = setup();
        const mppt = bus.add(MPPT, { '/DeviceInstance': v('i', 258) });
        bridge.start();
        await bridge.whenDiscovered();
        for (let i = 0; i < 100; i++) {
            bus.signal({ sender: mppt.owner, path: '/', interface: 'com.victronenergy.BusItem', member: 'ItemsChanged', ...body('a{sv}', [{}]) });
            bus.signal({ sender: mppt.owner, path: '/x', interface: 'com.victronenergy.BusItem', member: 'PropertiesChanged', ...body('a{sv}', [{ Text: v('s', '') }]) });
            bus.itemsChanged(mppt, { '/Weird': v('(ii)', [1, 2]) });
        }
        const lines = logs.filter(([level]) => level === 'warning').map(([, m]) => m);
        assert.equal(lines.length, 3, lines.join('\n'));
        assert.match(lines[0]!, /signature 'a\{sv\}' where 'a\{sa\{sv\}\}' was expected/);
        assert.match(lines[1]!, /PropertiesChanged without a Value/);
        assert.match(lines[2]!, /sent a struct/);
        assert.equal(bridge.cache.find('solarcharger', '258')!.items.get('/Weird')!.value, UNKNOWN_TYPE);
    });

    it('retries a service whose scan answer is malformed', async () => {
        const { bus, bridge, timers } = setup();
        const broken = bus.add(MPPT, { '/DeviceInstance': v('i', 258) }, 'broken');
        bridge.start();
        await bridge.whenDiscovered();
        assert.equal(bridge.cache.size, 0);
        broken.mode = 'normal';
        timers.advance(2000);
        await flush();
        assert.equal(bridge.cache.size, 1);
    });

    it('treats every service as gone when the connection drops, and reconnects with backoff', async () => {
        const { bus, bridge, timers, events, logs } = setup();
        bus.add(MPPT, { '/DeviceInstance': v('i', 258) });
        bridge.start();
        await bridge.whenDiscovered();
        bus.down = true;
        bus.dropConnections();
        assert.equal(bridge.cache.size, 0);
        assert.equal(events.at(-1)!.kind, 'removed');
        assert.ok(logs.some(([l, m]) => l === 'warning' && /lost the D-Bus connection/.test(m)));
        timers.advance(500);
        await flush();
        timers.advance(1000);
        await flush();
        assert.equal(bridge.connected, false);
        bus.down = false;
        timers.advance(2000);
        await flush();
        assert.equal(bridge.connected, true);
        assert.equal(bridge.cache.size, 1, 'scanned again');
        assert.equal(bridge.stats().reconnects, 1);
        assert.equal(logs.filter(([, m]) => /cannot connect to D-Bus/.test(m)).length, 1, 'one line for a failing reconnect, not one per attempt');
    });

    it('does not hold the broker back when the bus is not there at start', async () => {
        const { bus, bridge, timers } = setup();
        bus.down = true;
        bridge.start();
        await bridge.whenDiscovered();
        assert.equal(bridge.connected, false);
        bus.down = false;
        bus.add(MPPT, { '/DeviceInstance': v('i', 258) });
        timers.advance(500);
        await flush();
        assert.equal(bridge.cache.size, 1);
    });

    it('passes on token users removed by a Venus service only', async () => {
        const { bus, bridge } = setup();
        const platform = bus.add('com.victronenergy.platform', {});
        bridge.start();
        await bridge.whenDiscovered();
        const removed: string[] = [];
        bridge.onUserRemoved((u) => removed.push(u));
        bus.signal({ sender: platform.owner, path: '/', interface: 'com.victronenergy.TokenUsers', member: 'UserRemoved', ...body('s', ['token/evcharger/HQ1']) });
        bus.signal({ sender: ':1.999', path: '/', interface: 'com.victronenergy.TokenUsers', member: 'UserRemoved', ...body('s', ['token/x/spoofed']) });
        bus.signal({ sender: platform.owner, path: '/', interface: 'com.victronenergy.TokenUsers', member: 'UserRemoved', ...body('i', [5]) });
        assert.deepEqual(removed, ['token/evcharger/HQ1']);
    });

    it('reads an item or a sub-tree into the cache, and writes', async () => {
        const { bus, bridge } = setup();
        const mppt = bus.add(MPPT, { '/DeviceInstance': v('i', 258), '/Yield/Power': v('d', 1), '/Yield/User': v('d', 2) });
        bridge.start();
        await bridge.whenDiscovered();
        mppt.items.set('/Yield/Power', v('d', 5));
        mppt.items.set('/Yield/System', v('d', 3));
        const one = await bridge.read(MPPT, '/Yield/Power');
        assert.deepEqual(one.map((i) => [i.path, i.value]), [['/Yield/Power', 5]]);
        const tree = await bridge.read(MPPT, '/Yield');
        assert.deepEqual(tree.map((i) => i.path).sort(), ['/Yield/Power', '/Yield/System', '/Yield/User']);
        assert.equal(bridge.cache.get(MPPT)!.items.get('/Yield/System')!.value, 3);
        assert.equal(await bridge.write(MPPT, '/Yield/Power', { signature: 'i', value: 7 }), 0);
        assert.deepEqual(mppt.writes.map((w) => [w.path, w.value.signature, w.value.value]), [['/Yield/Power', 'i', 7]]);
        await assert.rejects(bridge.read('com.victronenergy.none', '/x'), /not on the bus/);
    });

    it('stops cleanly: no reconnect, no timers', async () => {
        const { bus, bridge, timers } = setup();
        bus.add('com.victronenergy.hung', {}, 'hang');
        bridge.start();
        await flush();
        bridge.stop();
        timers.advance(100_000);
        await flush();
        assert.equal(bus.connections.size, 0);
        assert.equal(bridge.connected, false);
    });
});
