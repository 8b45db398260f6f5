import { strict as assert } from 'node:assert';

import type { CacheEvent } from '../../ts/dbus/cache';
import { ItemCache } from '../../ts/dbus/cache';
import type { ItemUpdate, ParsedBody } from '../../ts/dbus/items';
import { normalizePath, parseGetValueItem, parseGetValueTree, parseItemsDict, parsePropertiesChanged, SignalParser } from '../../ts/dbus/items';
import { instanceOf, serviceType } from '../../ts/dbus/naming';
import type { VeValue } from '../../ts/dbus/values';
import { UNKNOWN_TYPE } from '../../ts/dbus/values';
import { formatJson } from '../../ts/util/json-format';
import { BodyReader } from '../../ts/dbus/wire/decode';
import { encodeBody } from '../../ts/dbus/wire/encode';
import { body } from '../fakes/body';

const v = (signature: string, value: unknown): { signature: string; value: unknown } => ({ signature, value });

describe('service names and instances (spec §3.2, §3.3)', () => {
    const types: Array<[string, string | undefined]> = [
        ['com.victronenergy.vebus.ttyS4', 'vebus'],
        ['com.victronenergy.settings', 'settings'],
        ['com.victronenergy.pvinverter.cgwacs_ttyUSB0_mb1', 'pvinverter'],
        ['com.victronenergy.', undefined],
        ['com.victronenergyX.y', undefined],
        ['org.freedesktop.DBus', undefined],
        [':1.42', undefined],
    ];
    for (const [name, type] of types)
        it(`gives '${name}' the type ${String(type)}`, () => assert.equal(serviceType(name), type));

    const instances: Array<[string, Array<[string, VeValue]>, string]> = [
        ['an integer /DeviceInstance', [['/DeviceInstance', 276n]], '276'],
        ['a negative one', [['/DeviceInstance', -1n]], '-1'],
        ['a double, truncated', [['/DeviceInstance', 3.9]], '3'],
        ['a negative double, truncated toward zero', [['/DeviceInstance', -3.9]], '-3'],
        ['a boolean', [['/DeviceInstance', true]], '1'],
        ['a string, which is no number', [['/DeviceInstance', '5']], '0'],
        ['an invalid one', [['/DeviceInstance', null]], '0'],
        ['one beyond int32, cast like C', [['/DeviceInstance', 4294967297n]], '1'],
        ['/DeviceInstance before /Identifier', [['/Identifier', 'x'], ['/DeviceInstance', 7n]], '7'],
        ['a string /Identifier', [['/Identifier', 'HQ2101ABC']], 'HQ2101ABC'],
        ['an integer /Identifier', [['/Identifier', 42n]], '42'],
        ['a double /Identifier', [['/Identifier', 1e6]], '1e+06'],
        ['a boolean /Identifier', [['/Identifier', false]], 'false'],
        ['an invalid /Identifier', [['/Identifier', null]], 'null'],
        ['nothing', [['/Serial', 'x']], '0'],
    ];
    for (const [name, items, instance] of instances)
        it(`takes ${name} as instance '${instance}'`, () => assert.equal(instanceOf(new Map(items)), instance));
});

describe('service bodies (spec §2.3, §2.5)', () => {
    it('takes Value, Min and Max of GetItems / ItemsChanged and ignores Text and the rest', () => {
        const parsed = parseItemsDict(body('a{sa{sv}}', [{
            '/Ac/Power': { Value: v('d', 936), Text: v('s', '936W') },
            'Settings/X': { Value: v('i', 1), Min: v('i', 0), Max: v('i', 1), Default: v('i', 1) },
            '/OnlyText': { Text: v('s', 'x') },
        }]), () => undefined);
        assert.equal(parsed.refused, undefined);
        assert.deepEqual(parsed.items, [
            { path: '/Ac/Power', value: 936 },
            { path: '/Settings/X', value: 1n, min: 0n, max: 1n },
            { path: '/OnlyText' },
        ]);
    });

    it('refuses a wrong signature as a whole, and a body that cannot be read', () => {
        assert.match(parseItemsDict(body('a{sv}', [{}]), () => undefined).refused!, /'a\{sv\}' where 'a\{sa\{sv\}\}'/);
        const whole = body('a{sa{sv}}', [{ '/a': { Value: v('d', 1) }, '/b': { Value: v('i', 2) } }]);
        const bytes = Buffer.from(encodeBody('a{sa{sv}}', [{ '/a': { Value: v('d', 1) }, '/b': { Value: v('i', 2) } }]));
        assert.deepEqual(parseItemsDict(whole, () => undefined).items, [{ path: '/a', value: 1 }, { path: '/b', value: 2n }]);
        const cut = { ...whole, reader: () => new BodyReader(bytes, 0, 0, bytes.length - 3, true) };
        assert.match(parseItemsDict(cut, () => undefined).refused!, /a dict of items that cannot be read: /);
        const badSignature = Buffer.from(bytes);
        badSignature[badSignature.indexOf('d'.charCodeAt(0), 12)] = 'z'.charCodeAt(0);
        const bad = { ...whole, reader: () => new BodyReader(badSignature, 0, 0, badSignature.length, true) };
        assert.match(parseItemsDict(bad, () => undefined).refused!, /cannot be read/);
    });

    it('takes PropertiesChanged on the item path, and refuses one without a Value', () => {
        assert.deepEqual(parsePropertiesChanged(body('a{sv}', [{ Value: v('ai', []), Text: v('s', '---') }]), '/Ac/L2/Power', () => undefined).items,
            [{ path: '/Ac/L2/Power', value: null }]);
        assert.match(parsePropertiesChanged(body('a{sv}', [{ Text: v('s', '1') }]), '/x', () => undefined).refused!, /without a Value/);
        assert.match(parsePropertiesChanged(body('sa{sv}as', ['x', {}, []]), '/x', () => undefined).refused!, /signature/);
    });

    /** What a SignalParser read, as the allocating parsers give it (no keys for what an update does not carry). */
    function signalParsed(parser: SignalParser, taken: boolean): ParsedBody {
        if (!taken)
            return { items: [], refused: parser.refused! };
        assert.equal(parser.refused, undefined);
        return {
            items: parser.items.slice(0, parser.count).map((u) => {
                const out: ItemUpdate = { path: u.path };
                if (u.value !== undefined)
                    out.value = u.value;
                if (u.min !== undefined)
                    out.min = u.min;
                if (u.max !== undefined)
                    out.max = u.max;
                return out;
            }),
        };
    }

    it('reads change signals into reused updates exactly as the allocating parsers do', () => {
        const bytes = Buffer.from(encodeBody('a{sa{sv}}', [{ '/a': { Value: v('d', 1) }, '/b': { Value: v('i', 2) } }]));
        const cut = { signature: 'a{sa{sv}}', values: () => [], reader: () => new BodyReader(bytes, 0, 0, bytes.length - 3, true) };
        const itemsBodies = [
            body('a{sa{sv}}', [{ '/Ac/Power': { Value: v('d', 936), Text: v('s', '936W') }, 'Settings//X': { Value: v('i', 1), Min: v('i', 0), Max: v('i', 1), Default: v('i', 1) },
                '/OnlyText': { Text: v('s', 'x') }, '/Invalid': { Value: v('ai', []) } }]),
            body('a{sa{sv}}', [{ '/One': { Value: v('s', 'x') } }]),
            body('a{sa{sv}}', [{}]),
            body('a{sv}', [{}]),
            cut,
        ];
        const propertiesBodies: Array<[ReturnType<typeof body>, string]> = [
            [body('a{sv}', [{ Value: v('ai', []), Text: v('s', '---') }]), '/Ac/L2/Power'],
            [body('a{sv}', [{ Text: v('s', '1'), Value: v('d', 2.5) }]), 'Relative//Path'],
            [body('a{sv}', [{ Text: v('s', '1') }]), '/x'],
            [body('sa{sv}as', ['x', {}, []]), '/x'],
        ];
        const parser = new SignalParser();
        for (let round = 0; round < 2; round++) { // the second round reuses the updates of the first
            for (const b of itemsBodies) {
                const problems: string[] = [];
                const expected = parseItemsDict(b, (c) => problems.push(c));
                assert.deepEqual(signalParsed(parser, parser.itemsChanged(b, (c) => problems.push(c))), expected);
            }
            for (const [b, path] of propertiesBodies)
                assert.deepEqual(signalParsed(parser, parser.propertiesChanged(b, path, () => undefined)), parsePropertiesChanged(b, path, () => undefined));
        }
    });

    it('reuses its update objects from signal to signal, and lets those of a huge signal go', () => {
        const parser = new SignalParser();
        assert.ok(parser.itemsChanged(body('a{sa{sv}}', [{ '/a': { Value: v('d', 1), Min: v('d', 0) } }]), () => undefined));
        const first = parser.items[0];
        assert.ok(parser.itemsChanged(body('a{sa{sv}}', [{ '/b': { Max: v('d', 9) } }]), () => undefined));
        assert.equal(parser.items[0], first, 'the same object');
        assert.deepEqual(first, { path: '/b', value: undefined, min: undefined, max: 9 }, 'nothing of the signal before stays');
        const huge = Object.fromEntries(Array.from({ length: 1000 }, (_, i) => [`/p${i}`, { Value: v('i', i) }]));
        assert.ok(parser.itemsChanged(body('a{sa{sv}}', [huge]), () => undefined));
        assert.equal(parser.count, 1000);
        assert.equal(parser.items[999]!.value, 999n);
        assert.ok(parser.propertiesChanged(body('a{sv}', [{ Value: v('i', 1) }]), '/x', () => undefined));
        assert.equal(parser.count, 1);
        assert.ok(parser.items.length <= 256, `${parser.items.length} updates kept`);
    });

    it('takes GetValue trees with relative keys under their base', () => {
        assert.deepEqual(parseGetValueTree(body('v', [v('a{sv}', { 'Ac/Power': v('d', 1), DeviceInstance: v('i', 3) })]), '/', () => undefined).items,
            [{ path: '/Ac/Power', value: 1 }, { path: '/DeviceInstance', value: 3n }]);
        assert.deepEqual(parseGetValueTree(body('v', [v('a{sv}', { 'L1/Power': v('d', 2) })]), '/Ac', () => undefined).items,
            [{ path: '/Ac/L1/Power', value: 2 }]);
        assert.match(parseGetValueTree(body('v', [v('i', 1)]), '/Ac', () => undefined).refused!, /did not answer with a tree/);
        assert.deepEqual(parseGetValueItem(body('v', [v('s', 'x')]), '/Serial', () => undefined).items, [{ path: '/Serial', value: 'x' }]);
    });

    it('collapses slashes in paths', () => {
        assert.equal(normalizePath('a//b'), '/a/b');
        assert.equal(normalizePath('/a'), '/a');
        assert.equal(normalizePath('//'), '/');
    });
});

describe('the item cache', () => {
    function cacheWithEvents(): { cache: ItemCache; events: CacheEvent[]; reports: string[] } {
        const reports: string[] = [];
        const cache = new ItemCache({ maxQueuedPaths: 3 }, (m) => reports.push(m));
        const events: CacheEvent[] = [];
        cache.subscribe((e) => events.push(e.kind === 'changed' ? { ...e, items: [...e.items] } : e)); // a signal's event is reused
        return { cache, events, reports };
    }
    const S = 'com.victronenergy.solarcharger.ttyS5';

    it('adds a scanned service with its instance and items', () => {
        const { cache, events } = cacheWithEvents();
        cache.applyScan(S, [{ path: '/DeviceInstance', value: 258n }, { path: '/Yield/Power', value: 12.5 }]);
        assert.equal(events.length, 1);
        assert.equal(events[0]!.kind, 'added');
        const s = cache.get(S)!;
        assert.equal(s.type, 'solarcharger');
        assert.equal(s.instance, '258');
        assert.equal(s.items.get('/Yield/Power')!.value, 12.5);
        assert.equal(cache.find('solarcharger', '258'), s);
        assert.equal(cache.find('solarcharger', '0258'), undefined);
    });

    it('merges value, min and max separately, keeping what an update does not carry', () => {
        const { cache, events } = cacheWithEvents();
        cache.applyScan('com.victronenergy.settings', [{ path: '/Settings/A', value: 1n, min: 0n, max: 5n }]);
        cache.applySignal('com.victronenergy.settings', [{ path: '/Settings/A', value: 2n }]);
        cache.applySignal('com.victronenergy.settings', [{ path: '/Settings/A', max: 9n }]);
        const item = cache.get('com.victronenergy.settings')!.items.get('/Settings/A')!;
        assert.deepEqual([item.value, item.min, item.max], [2n, 0n, 9n]);
        assert.deepEqual(events.map((e) => e.kind), ['added', 'changed', 'changed']);
        assert.equal(item.payload, undefined, 'what was derived from the old value is dropped');
    });

    it('gives an item first seen with only min/max the unknown value (spec Q10)', () => {
        const { cache } = cacheWithEvents();
        cache.applyScan(S, [{ path: '/x', min: 1n }]);
        assert.equal(cache.get(S)!.items.get('/x')!.value, UNKNOWN_TYPE);
    });

    it('keeps changes that arrive before the scan and merges them under it', () => {
        const { cache, events } = cacheWithEvents();
        cache.applySignal(S, [{ path: '/A', value: 1n }, { path: '/OnlyInSignal', value: 'x' }]);
        cache.applySignal(S, [{ path: '/A', value: 2n }, { path: '/B', value: 3n, min: 0n }]);
        assert.equal(events.length, 0);
        assert.equal(cache.queuedPaths(S), 3);
        cache.applyScan(S, [{ path: '/A', value: 5n }, { path: '/B', value: 4n }, { path: '/DeviceInstance', value: 1n }]);
        const items = cache.get(S)!.items;
        assert.equal(items.get('/A')!.value, 5n, 'the scan is newer than the signals before it');
        assert.equal(items.get('/B')!.value, 4n);
        assert.equal(items.get('/B')!.min, 0n, 'what only the signal carried is kept');
        assert.equal(items.get('/OnlyInSignal')!.value, 'x', 'no change is lost');
        assert.equal(cache.queuedPaths(S), 0);
    });

    it('bounds what it keeps for a service that has not been scanned', () => {
        const { cache, reports } = cacheWithEvents();
        cache.applySignal(S, [{ path: '/1', value: 1n }, { path: '/2', value: 1n }, { path: '/3', value: 1n }, { path: '/4', value: 1n }]);
        cache.applySignal(S, [{ path: '/1', value: 2n }]);
        assert.equal(cache.queuedPaths(S), 3);
        assert.match(reports[0]!, /more than 3 paths before its scan/);
    });

    it('keeps the instance while the service lives, and announces its removal with its items', () => {
        const { cache, events } = cacheWithEvents();
        cache.applyScan(S, [{ path: '/DeviceInstance', value: 1n }]);
        cache.applySignal(S, [{ path: '/DeviceInstance', value: 2n }]);
        assert.equal(cache.get(S)!.instance, '1');
        cache.remove(S);
        const removed = events.at(-1)!;
        assert.equal(removed.kind, 'removed');
        assert.equal(removed.service.items.get('/DeviceInstance')!.value, 2n);
        assert.equal(cache.get(S), undefined);
        assert.equal(cache.find('solarcharger', '1'), undefined);
    });

    it('routes colliding type/instance topics to the newest service, and back when it goes', () => {
        const { cache, reports } = cacheWithEvents();
        cache.applyScan('com.victronenergy.tank.a', [{ path: '/DeviceInstance', value: 20n }]);
        cache.applyScan('com.victronenergy.tank.b', [{ path: '/DeviceInstance', value: 20n }]);
        assert.equal(cache.find('tank', '20')!.name, 'com.victronenergy.tank.b');
        assert.match(reports[0]!, /both use tank\/20/);
        cache.remove('com.victronenergy.tank.b');
        assert.equal(cache.find('tank', '20')!.name, 'com.victronenergy.tank.a');
    });

    it('isolates a failing listener', () => {
        const { cache, reports } = cacheWithEvents();
        let after = 0;
        cache.subscribe(() => { throw new Error('listener bug'); });
        cache.subscribe(() => { after++; });
        cache.applyScan(S, []);
        assert.equal(after, 1);
        assert.match(reports[0]!, /listener bug/);
    });

    it('announces a signal\'s changes in one event and list, reused: only the first `count` updates, the list sized to them', () => {
        const cache = new ItemCache();
        const seen: Array<{ event: CacheEvent; paths: string[] }> = [];
        cache.subscribe((e) => {
            if (e.kind === 'changed')
                seen.push({ event: e, paths: e.items.map((i) => i.path) });
        });
        cache.applyScan(S, [{ path: '/a', value: 1n }]);
        cache.applySignal(S, [{ path: '/a', value: 2n }, { path: '/b', value: 3n }, { path: '/not-this', value: 4n }], 2);
        cache.applySignal(S, [{ path: '/b', value: 5n }]);
        cache.applySignal(S, [], 0);
        assert.deepEqual(seen.map((s) => s.paths), [['/a', '/b'], ['/b']], 'no event for nothing');
        assert.equal(seen[0]!.event, seen[1]!.event, 'one event object');
        const event = seen[1]!.event;
        assert.ok(event.kind === 'changed' && event.source === 'signal');
        assert.equal(event.service.name, '', 'between signals it holds no service');
        assert.equal(cache.get(S)!.items.has('/not-this'), false);
        assert.equal(cache.get(S)!.items.get('/b')!.value, 5n);
    });

    it('merges reads and returns the items read', () => {
        const { cache, events } = cacheWithEvents();
        cache.applyScan(S, [{ path: '/a', value: 1n }]);
        const items = cache.applyRead(S, [{ path: '/a', value: 2n }, { path: '/new', value: 3.5 }]);
        assert.deepEqual(items.map((i) => [i.path, formatJson(i.value)]), [['/a', '2'], ['/new', '3.5']]);
        const last = events.at(-1)!;
        assert.ok(last.kind === 'changed' && last.source === 'read');
        assert.deepEqual(cache.applyRead('com.victronenergy.unknown', [{ path: '/a', value: 1n }]), []);
    });
});
