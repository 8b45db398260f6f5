import { strict as assert } from 'node:assert';
import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';

import { DbusBridge, defaultBridgeOptions } from '../../ts/dbus/bridge';
import { Logger } from '../../ts/log';
import { GuiCustomizations } from '../../ts/mqtt/gui-customizations';
import { VrmMode } from '../../ts/security/acl';
import { VrmDuties } from '../../ts/security/vrm';
import type { FakeService, FakeVariant } from '../fakes/fake-bus';
import { FakeBus } from '../fakes/fake-bus';
import { FakeTimers } from '../fakes/fake-timers';

const v = (signature: string, value: unknown): FakeVariant => ({ signature, value });
const flush = async (): Promise<void> => {
    for (let i = 0; i < 10; i++)
        await new Promise((resolve) => setImmediate(resolve));
};

describe('the VRM bridge duties (spec §7.8, §7.9)', () => {
    async function setup(registration = true): Promise<{ bus: FakeBus; timers: FakeTimers; vrm: VrmDuties; platform: FakeService; logs: string[] }> {
        const timers = new FakeTimers();
        const bus = new FakeBus(timers);
        const platform = bus.add('com.victronenergy.platform', {
            '/Mqtt/RegisterOnVrm': v('i', 0),
            '/Mqtt/Bridges/GXdbus/Connected': v('ai', []), '/Mqtt/Bridges/GXdbus/ConnectionStatus': v('s', ''),
            '/Mqtt/Bridges/GXrpc/Connected': v('ai', []), '/Mqtt/Bridges/GXrpc/ConnectionStatus': v('s', ''),
        });
        const logs: string[] = [];
        const log = new Logger({ write: (l, t) => logs.push(`${l}: ${t}`) }, 't');
        const bridge = new DbusBridge({ ...defaultBridgeOptions, address: 'fake' }, log, timers, bus.connector);
        const vrm = new VrmDuties(bridge, timers, log, () => 0.5, { registration, debounceMs: 2000, reregisterMaxDelayMs: 600_000 });
        bridge.start();
        await bridge.whenDiscovered();
        timers.advance(0);
        await flush();
        return { bus, timers, vrm, platform, logs };
    }

    const writes = (p: FakeService): Array<[string, string, unknown]> => p.writes.map((w) => [w.path, w.value.signature, w.value.value]);

    it('asks venus-platform to register once the platform service is there', async () => {
        const { platform } = await setup();
        assert.deepEqual(writes(platform), [['/Mqtt/RegisterOnVrm', 's', '1']]);
        assert.ok(platform.writes.length === 1);
    });

    it('does not register when told not to', async () => {
        const { platform } = await setup(false);
        assert.deepEqual(writes(platform), []);
    });

    it('writes bridge states 2 s after the last change, deactivating bridges the portal mode does not use', async () => {
        const { vrm, platform, timers } = await setup(false);
        vrm.setPortalMode(1n);
        vrm.onBridgeMessage('$SYS/broker/bridge/GXdbus/connected', '1');
        vrm.onBridgeMessage('$SYS/broker/bridge/GXdbus/connection_status', 'Connected');
        timers.advance(1999);
        await flush();
        assert.deepEqual(writes(platform), []);
        timers.advance(1);
        await flush();
        assert.equal(writes(platform).length, 4);
        const byPath = new Map(writes(platform).map(([p, s, val]) => [p, [s, val]]));
        assert.deepEqual(byPath.get('/Mqtt/Bridges/GXdbus/Connected'), ['b', true]);
        assert.deepEqual(byPath.get('/Mqtt/Bridges/GXdbus/ConnectionStatus'), ['s', 'Connected']);
        assert.deepEqual(byPath.get('/Mqtt/Bridges/GXrpc/Connected'), ['ai', []]);
        assert.deepEqual(byPath.get('/Mqtt/Bridges/GXrpc/ConnectionStatus'), ['s', 'deactivated']);
        platform.writes.length = 0;
        vrm.onBridgeMessage('$SYS/broker/bridge/GXdbus/connection_status', 'Connected');
        timers.advance(5000);
        await flush();
        assert.deepEqual(writes(platform), [], 'nothing changed, nothing written');
        vrm.setPortalMode(2n);
        timers.advance(2000);
        await flush();
        assert.deepEqual(new Map(writes(platform).map(([p, s, val]) => [p, [s, val]])).get('/Mqtt/Bridges/GXrpc/ConnectionStatus'), ['s', 'pending'],
            'a portal mode change alone re-writes (the original overlooks it)');
        assert.equal(vrm.portalMode, VrmMode.Full);
    });

    it('registers again after a connected bridge drops, after a random delay', async () => {
        const { vrm, platform, timers, logs } = await setup();
        platform.writes.length = 0;
        vrm.onBridgeMessage('$SYS/broker/bridge/GXdbus/connected', '1');
        vrm.onBridgeMessage('$SYS/broker/bridge/GXdbus/connected', '0');
        assert.ok(logs.some((l) => /registering with VRM in 300 s \(bridge GXdbus lost its connection\)/.test(l)));
        vrm.onBridgeMessage('$SYS/broker/bridge/GXrpc/connected', '1');
        vrm.onBridgeMessage('$SYS/broker/bridge/GXrpc/connected', '0');
        assert.ok(logs.some((l) => /a registration is already under way/.test(l)));
        timers.advance(300_000);
        await flush();
        assert.equal(writes(platform).filter(([p]) => p === '/Mqtt/RegisterOnVrm').length, 1);
    });

    it('deactivates both bridges at shutdown', async () => {
        const { vrm, platform } = await setup(false);
        await vrm.stop();
        assert.deepEqual(writes(platform).filter(([p]) => p.endsWith('Status')).map(([, , val]) => val), ['deactivated', 'deactivated']);
    });

    it('ignores other bridges and other $SYS topics', async () => {
        const { vrm, platform, timers } = await setup(false);
        vrm.onBridgeMessage('$SYS/broker/bridge/mine/connected', '1');
        vrm.onBridgeMessage('$SYS/broker/uptime', '5');
        timers.advance(5000);
        await flush();
        assert.deepEqual(writes(platform), []);
    });
});

describe('GUI customizations (spec §8.1)', () => {
    let dir: string;
    const published: Array<[string, string]> = [];
    const gui = (): GuiCustomizations => new GuiCustomizations(path.join(dir, 'enabled'), 'id1', { publish: (t, p) => published.push([t, p]) }, new Logger({ write: () => undefined }, 't'));

    beforeEach(() => {
        dir = fs.mkdtempSync(path.join(os.tmpdir(), 'dfmq-gui-'));
        published.length = 0;
    });
    afterEach(() => fs.rmSync(dir, { recursive: true, force: true }));

    function app(name: string, content: Buffer): void {
        fs.mkdirSync(path.join(dir, 'enabled', name, 'gui-v2'), { recursive: true });
        fs.writeFileSync(path.join(dir, 'enabled', name, 'gui-v2', `${name}.json`), content);
    }

    it('publishes nothing without the directory', async () => {
        await gui().publishAll();
        assert.deepEqual(published, []);
    });

    it('announces the apps with their hash and chunk count, and serves their chunks', async () => {
        const big = Buffer.alloc(9000, 7);
        app('Beta', big);
        app('Alpha', Buffer.from('{"a":1}'));
        fs.mkdirSync(path.join(dir, 'enabled', 'Broken'), { recursive: true });
        const g = gui();
        await g.publishAll();
        const sha = (b: Buffer): string => createHash('sha256').update(b).digest('hex');
        assert.deepEqual(published, [
            ['N/id1/GuiCustomizations/Applist', JSON.stringify([{ name: 'Alpha', sha256: sha(Buffer.from('{"a":1}')) }, { name: 'Beta', sha256: sha(big) }])],
            ['N/id1/GuiCustomizations/Apps/Alpha/info', `{"chunk_count":1,"fetch_prefix":"R/id1/GuiCustomizations/Apps/Alpha/Chunks/","sha256":"${sha(Buffer.from('{"a":1}'))}"}`],
            ['N/id1/GuiCustomizations/Apps/Beta/info', `{"chunk_count":3,"fetch_prefix":"R/id1/GuiCustomizations/Apps/Beta/Chunks/","sha256":"${sha(big)}"}`],
        ]);
        published.length = 0;
        assert.equal(await g.read('R/id1/GuiCustomizations/Apps/Beta/Chunks/2'), 1);
        assert.deepEqual(published, [['N/id1/GuiCustomizations/Apps/Beta/Chunks/2', JSON.stringify({ base64: big.subarray(8192).toString('base64') })]]);
        assert.equal(await g.read('R/id1/GuiCustomizations/Apps/Beta/Chunks/3'), 0, 'past the last chunk: nothing');
        await assert.rejects(g.read('R/id1/GuiCustomizations/Apps/Nope/Chunks/0'), /no GUI app 'Nope'/);
        await assert.rejects(g.read('R/id1/GuiCustomizations/Apps/Beta/Chunks/x'), /not a chunk number/);
        published.length = 0;
        assert.equal(await g.read('R/id1/GuiCustomizations/Apps/Alp'), 1);
        assert.deepEqual(published.map(([t]) => t), ['N/id1/GuiCustomizations/Apps/Alpha/info']);
    });

    it('notices a changed app', async () => {
        app('A', Buffer.from('one'));
        const g = gui();
        await g.publishAll();
        const before = published[0]![1];
        published.length = 0;
        await new Promise((resolve) => setTimeout(resolve, 20));
        app('A', Buffer.from('two two'));
        const later = new Date(Date.now() + 5000);
        fs.utimesSync(path.join(dir, 'enabled', 'A', 'gui-v2', 'A.json'), later, later);
        await g.publishAll();
        assert.notEqual(published[0]![1], before);
    });
});
