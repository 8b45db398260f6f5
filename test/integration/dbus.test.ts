// The D-Bus side against a real dbus-daemon (private bus) and the Venus simulator playing the shared recordings.
import { strict as assert } from 'node:assert';
import * as fs from 'node:fs';
import * as path from 'node:path';

import { Variant } from 'dbus-next';

import type { CacheEvent, ServiceState } from '../../ts/dbus/cache';
import { DbusBridge, defaultBridgeOptions } from '../../ts/dbus/bridge';
import type { LogLevelName } from '../../ts/log';
import { Logger } from '../../ts/log';
import { Simulator } from '../../ts/sim';
import { formatJson } from '../../ts/util/json-format';
import { realTimers } from '../../ts/util/timers';
import { startDbusDaemon } from '../helpers/dbus-daemon';
import { repoRoot } from '../helpers/flashmq';

const recordingsDir = process.env.DFMQ_RECORDINGS ?? path.resolve(repoRoot, 'test/fixtures/venus-recordings');

const systems = fs.existsSync(recordingsDir)
    ? fs.readdirSync(recordingsDir).filter((d) => fs.existsSync(path.join(recordingsDir, d, 'description')))
    : [];

async function until(check: () => boolean, what: string, timeoutMs = 5000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (!check()) {
        if (Date.now() > deadline)
            throw new Error(`timed out waiting for ${what}`);
        await new Promise((resolve) => setTimeout(resolve, 10));
    }
}

describe('the D-Bus side on a private bus with the Venus simulator', function () {
    this.timeout(60_000);
    let daemon: Awaited<ReturnType<typeof startDbusDaemon>>;
    let sim: Simulator | undefined;
    let bridge: DbusBridge | undefined;
    let logs: Array<[LogLevelName, string]>;

    function newBridge(options: Partial<typeof defaultBridgeOptions> = {}): DbusBridge {
        logs = [];
        const log = new Logger({ write: (level, line) => logs.push([level, line]) }, 'dbus', () => false);
        bridge = new DbusBridge({ ...defaultBridgeOptions, address: daemon.address, ...options }, log, realTimers);
        return bridge;
    }

    before(async () => {
        daemon = await startDbusDaemon();
    });

    afterEach(async () => {
        bridge?.stop();
        bridge = undefined;
        await sim?.stop();
        sim = undefined;
    });

    after(async () => {
        await daemon?.stop();
    });

    for (const system of systems) {
        it(`discovers every service of the '${system}' recording with its type, instance and item count`, async () => {
            const s = await Simulator.start({ busAddress: daemon.address, recording: path.join(recordingsDir, system), speed: 0, recordingsDir });
            sim = s;
            const b = newBridge();
            b.start();
            await b.whenDiscovered();
            assert.ok(s.serviceNames.length > 1);
            for (const name of s.serviceNames) {
                const got = b.cache.get(name);
                assert.ok(got, `${name} was discovered`);
                const di: Variant | undefined = s.value(name, '/DeviceInstance');
                const want: string = di === undefined ? '0' : String(Math.trunc(Number(di.value)));
                assert.equal(got.instance, want, `${name} instance`);
                assert.equal(got.items.size, s.itemCount(name), `${name} items`);
                assert.equal(got.type, name.split('.')[2], `${name} type`);
            }
            const settings = b.cache.get('com.victronenergy.settings');
            assert.ok(settings, 'the settings service');
            assert.equal(settings.instance, '0');
            assert.ok([...settings.items.values()].some((i) => i.min !== undefined && i.max !== undefined), 'settings carry min and max');
            assert.deepEqual(logs.filter(([l]) => l === 'error' || l === 'warning'), []);
        });
    }

    it('puts the recorded values and types into the cache (bct against the original plugin\'s output)', async () => {
        const conformance = JSON.parse(fs.readFileSync(path.resolve(recordingsDir, '../conformance/original-bct-full-publish.json'), 'utf8')) as unknown;
        sim = await Simulator.start({ busAddress: daemon.address, recording: path.join(recordingsDir, 'bct'), speed: 0, recordingsDir });
        const b = newBridge();
        b.start();
        await b.whenDiscovered();
        const entries = conformanceEntries(conformance);
        assert.ok(entries.length > 2000, `read ${entries.length} topics from the conformance file`);
        let compared = 0;
        const mismatches: string[] = [];
        for (const [topic, payload] of entries) {
            const m = /^N\/[^/]+\/([^/]+)\/([^/]+)(\/.*)$/.exec(topic);
            if (!m)
                continue;
            const service = b.cache.find(m[1]!, m[2]!);
            assert.ok(service, `a service for ${topic}`);
            const item = service.items.get(m[3]!);
            assert.ok(item, `an item for ${topic}`);
            const value = /"value":(.*)}$/.exec(payload)?.[1];
            if (formatJson(item.value) !== value)
                mismatches.push(`${topic}: ${formatJson(item.value)} != ${value}`);
            compared++;
        }
        assert.equal(compared, entries.length);
        assert.deepEqual(mismatches, []);
    });

    it('keeps the cache current from change signals, both styles', async () => {
        sim = await Simulator.start({ busAddress: daemon.address, recording: path.join(recordingsDir, 'bct'), speed: 0, recordingsDir });
        const b = newBridge();
        const events: CacheEvent[] = [];
        b.cache.subscribe((e) => events.push(e.kind === 'changed' ? { ...e, items: [...e.items] } : e)); // a signal's event is reused
        b.start();
        await b.whenDiscovered();
        const name = 'com.victronenergy.vebus.ttyS4';
        sim.change(name, '/Ac/Out/L1/P', new Variant('d', 1234.5), 'items');
        sim.change(name, '/Mode', new Variant('u', 4), 'properties');
        await until(() => b.cache.get(name)!.items.get('/Mode')!.value === 4n, 'the PropertiesChanged');
        assert.equal(b.cache.get(name)!.items.get('/Ac/Out/L1/P')!.value, 1234.5);
        assert.ok(events.some((e) => e.kind === 'changed' && e.source === 'signal' && e.items.some((i) => i.path === '/Ac/Out/L1/P')));
    });

    it('follows the recording as it plays', async () => {
        sim = await Simulator.start({ busAddress: daemon.address, recording: path.join(recordingsDir, 'bct'), speed: 20, recordingsDir });
        const b = newBridge();
        let changes = 0;
        b.cache.subscribe((e) => { if (e.kind === 'changed') changes += e.items.length; });
        b.start();
        await b.whenDiscovered();
        await until(() => changes > 100, 'a hundred recorded changes');
    });

    it('forgets a service that vanishes and takes it back when it reappears', async () => {
        sim = await Simulator.start({ busAddress: daemon.address, recording: path.join(recordingsDir, 'bct'), speed: 0, recordingsDir });
        const b = newBridge();
        const removed: ServiceState[] = [];
        b.cache.subscribe((e) => { if (e.kind === 'removed') removed.push(e.service); });
        b.start();
        await b.whenDiscovered();
        const tank = [...b.cache.all()].find((s) => s.type === 'tank');
        assert.ok(tank);
        await sim.vanish(tank.name);
        await until(() => b.cache.get(tank.name) === undefined, 'the vanished service to go');
        assert.equal(removed[0]!.name, tank.name);
        assert.ok(removed[0]!.items.size > 0, 'the removal carries its items');
        await sim.reappear(tank.name);
        await until(() => b.cache.get(tank.name) !== undefined, 'the service to come back');
        assert.equal(b.cache.get(tank.name)!.instance, tank.instance);
    });

    it('scans a service without GetItems through GetValue on /', async () => {
        sim = await Simulator.start({ busAddress: daemon.address, speed: 0, settings: false, recordingsDir });
        await sim.addService({ name: 'com.victronenergy.legacy.t1', legacy: true, items: [
            { path: '/DeviceInstance', value: new Variant('i', 7) }, { path: '/Ac/Power', value: new Variant('d', 5) },
        ] });
        const b = newBridge();
        b.start();
        await b.whenDiscovered();
        assert.equal(b.cache.find('legacy', '7')!.items.get('/Ac/Power')!.value, 5);
    });

    it('does not let a hung service delay the others', async () => {
        sim = await Simulator.start({ busAddress: daemon.address, speed: 0, settings: false, recordingsDir });
        await sim.addService({ name: 'com.victronenergy.hung.a', hang: 'all', items: [{ path: '/DeviceInstance', value: new Variant('i', 1) }] });
        await sim.addService({ name: 'com.victronenergy.fine.b', items: [{ path: '/DeviceInstance', value: new Variant('i', 2) }] });
        const b = newBridge({ callTimeoutMs: 1500 });
        const started = Date.now();
        b.start();
        await until(() => b.cache.find('fine', '2') !== undefined, 'the well-behaved service');
        assert.ok(Date.now() - started < 1000, 'scanned long before the hung one times out');
        await b.whenDiscovered();
        assert.ok(logs.some(([l, m]) => l === 'error' && /scanning 'com.victronenergy.hung.a' failed: it did not answer within 1500 ms/.test(m)));
    });

    it('skips malformed and hostile input, logging once per cause, and nothing else is affected', async () => {
        sim = await Simulator.start({ busAddress: daemon.address, speed: 0, settings: false, recordingsDir });
        await sim.addService({ name: 'com.victronenergy.hostile.x', items: [
            { path: '/DeviceInstance', value: new Variant('i', 66) },
            { path: '/Dict', value: new Variant('a{iv}', { 1: new Variant('s', 'one') }) },
        ] });
        await sim.addService({ name: 'com.victronenergy.fine.y', items: [{ path: '/DeviceInstance', value: new Variant('i', 3) }, { path: '/A', value: new Variant('i', 1) }] });
        const b = newBridge();
        b.start();
        await b.whenDiscovered();
        for (let i = 0; i < 20; i++) {
            sim.rawSignal('com.victronenergy.hostile.x', '/', 'com.victronenergy.BusItem', 'ItemsChanged', 'a{sv}', [{ x: new Variant('i', 1) }]);
            sim.rawSignal('com.victronenergy.hostile.x', '/A', 'com.victronenergy.BusItem', 'PropertiesChanged', 'a{sv}', [{ Text: new Variant('s', 'no value') }]);
            sim.rawSignal('com.victronenergy.hostile.x', '/', 'com.victronenergy.BusItem', 'ItemsChanged', 'a{sa{sv}}', [{ '/S': { Value: new Variant('(ii)', [1, 2]) } }]);
        }
        sim.change('com.victronenergy.fine.y', '/A', new Variant('i', 2), 'properties');
        await until(() => b.cache.find('fine', '3')!.items.get('/A')!.value === 2n, 'the well-behaved change');
        const warnings = logs.filter(([l]) => l === 'warning').map(([, m]) => m);
        assert.equal(warnings.filter((m) => /signature 'a\{sv\}' where/.test(m)).length, 1, warnings.join('\n'));
        assert.equal(warnings.filter((m) => /without a Value/.test(m)).length, 1);
        assert.equal(warnings.filter((m) => /a struct/.test(m)).length, 1);
        assert.equal(warnings.filter((m) => /keys are 'i'/.test(m)).length, 1);
        assert.equal(formatJson(b.cache.find('hostile', '66')!.items.get('/Dict')!.value), '{"1":"one"}');
    });

    it('survives a dbus-daemon restart: every service gone, then reconnected and scanned again', async () => {
        sim = await Simulator.start({ busAddress: daemon.address, recording: path.join(recordingsDir, 'bct'), speed: 0, recordingsDir });
        const b = newBridge({ reconnect: { initialMs: 100, maxMs: 400 } });
        const discoveries: boolean[] = [];
        b.onDiscovered((first) => discoveries.push(first));
        b.start();
        await b.whenDiscovered();
        assert.deepEqual(discoveries, [true]);
        const before = b.cache.size;
        await sim.stop();
        sim = undefined;
        await daemon.restart();
        await until(() => b.cache.size === 0, 'every service to count as gone');
        sim = await Simulator.start({ busAddress: daemon.address, recording: path.join(recordingsDir, 'bct'), speed: 0, recordingsDir });
        await until(() => b.connected && b.cache.size === before, 'the rescan after reconnecting', 15_000);
        assert.ok(logs.some(([l, m]) => l === 'warning' && /lost the D-Bus connection/.test(m)));
        assert.ok(logs.filter(([, m]) => /connected to D-Bus/.test(m)).length >= 2);
        assert.equal(discoveries[0], true);
        assert.ok(discoveries.length >= 2 && discoveries.slice(1).every((first) => !first), `discoveries: ${discoveries.join(', ')}`);
    });

    it('reads and writes through the cache', async () => {
        sim = await Simulator.start({ busAddress: daemon.address, recording: path.join(recordingsDir, 'bct'), speed: 0, recordingsDir });
        const b = newBridge();
        b.start();
        await b.whenDiscovered();
        const name = 'com.victronenergy.settings';
        const setting = '/Settings/Gui/ElectricalPowerIndicator';
        assert.equal(await b.write(name, setting, { signature: 'i', value: 0 }), 0);
        await until(() => b.cache.get(name)!.items.get(setting)!.value === 0n, 'the PropertiesChanged of the write');
        const read = await b.read(name, setting);
        assert.equal(read[0]!.value, 0n);
        assert.equal(sim.writes.at(-1)!.path, setting);
    });
});

function conformanceEntries(data: unknown): Array<[string, string]> {
    if (Array.isArray(data))
        return data.map((e) => (Array.isArray(e) ? [String(e[0]), String(e[1])] : [String((e as { topic: string }).topic), String((e as { payload: string }).payload)]));
    if (typeof data === 'object' && data !== null) {
        const obj = data as Record<string, unknown>;
        const inner = obj.messages ?? obj.topics;
        if (inner !== undefined)
            return conformanceEntries(inner);
        return Object.entries(obj).map(([k, val]) => [k, String(val)]);
    }
    return [];
}
