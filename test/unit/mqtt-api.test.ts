import { strict as assert } from 'node:assert';

import type { KeepAliveHost } from '../../ts/keepalive/keepalive';
import { defaultKeepAliveLimits, KeepAlive } from '../../ts/keepalive/keepalive';
import type { KeepAliveOptions } from '../../ts/keepalive/options';
import { parseKeepAliveOptions } from '../../ts/keepalive/options';
import type { VeValue } from '../../ts/dbus/values';
import { UNKNOWN_TYPE } from '../../ts/dbus/values';
import { blockedPathOf, completionPayload, isBlocked, isRetained, itemPayload, retainedPathOf } from '../../ts/mqtt/payloads';
import { itemAddress, notificationTopic, typeLevel } from '../../ts/mqtt/topics';
import { FakeTimers } from '../fakes/fake-timers';

describe('topics (spec §3.3)', () => {
    it('builds notification topics', () => {
        assert.equal(notificationTopic('48e7da87942f', 'solarcharger', '258', '/Yield/Power'), 'N/48e7da87942f/solarcharger/258/Yield/Power');
    });

    const addresses: Array<[string, unknown]> = [
        ['W/id/settings/0/Settings/Gui/Brightness', { type: 'settings', instance: '0', path: '/Settings/Gui/Brightness' }],
        ['R/id/solarcharger/279/Dc', { type: 'solarcharger', instance: '279', path: '/Dc' }],
        ['R/id/settings/0/', { type: 'settings', instance: '0', path: '/' }],
        ['R/id/com.victronenergy.settings/0/Settings/A', { type: 'settings', instance: '0', path: '/Settings/A' }],
        ['R/id/vebus/0257/Mode', { type: 'vebus', instance: '0257', path: '/Mode' }],
        ['R/id/x/1/a//b', { type: 'x', instance: '1', path: '/a//b' }],
        ['R/id/settings/0', { problem: "'R/id/settings/0' does not name an item (<type>/<instance>/<path> expected)" }],
        ['R/id/foo.bar/0/x', { problem: "'foo.bar' in 'R/id/foo.bar/0/x' is not a service type" }],
        ['R/id//0/x', { problem: "'' in 'R/id//0/x' is not a service type" }],
    ];
    for (const [topic, expected] of addresses)
        it(`reads ${topic}`, () => assert.deepEqual(itemAddress(topic), expected));

    it('shortens full service names and refuses other dotted types', () => {
        assert.equal(typeLevel('com.victronenergy.vebus.ttyS4'), 'vebus');
        assert.equal(typeLevel('org.x'), undefined);
        assert.equal(typeLevel('battery'), 'battery');
    });
});

describe('notification payloads (spec §4)', () => {
    const table: Array<[string, string, VeValue, VeValue | undefined, VeValue | undefined, string]> = [
        ['a double', 'vebus', 936, undefined, undefined, '{"value":936.0}'],
        ['an integer', 'vebus', 936n, undefined, undefined, '{"value":936}'],
        ['invalid', 'vebus', null, undefined, undefined, '{"value":null}'],
        ['min and max, sorted', 'settings', 1n, 0n, 1n, '{"max":1,"min":0,"value":1}'],
        ['only a max', 'settings', 1n, undefined, 5n, '{"max":5,"value":1}'],
        ['an unknown value', 'x', UNKNOWN_TYPE, 0n, undefined, '{"min":0,"value":"unknown_type"}'],
        ['1e15', 'x', 1e15, undefined, undefined, '{"value":1e+15}'],
        ['NaN', 'x', NaN, undefined, undefined, '{"value":null}'],
    ];
    for (const [name, type, value, min, max, payload] of table) {
        it(`writes ${name}`, () => {
            const item: { path: string; value: VeValue; min?: VeValue; max?: VeValue } = { path: '/x', value };
            if (min !== undefined)
                item.min = min;
            if (max !== undefined)
                item.max = max;
            assert.equal(itemPayload(type, item), payload);
        });
    }

    it('masks the two secrets when they are strings, and only their values', () => {
        assert.equal(itemPayload('settings', { path: '/Settings/Ble/Service/Pincode', value: '123456' }), '{"value":"******"}');
        assert.equal(itemPayload('settings', { path: '/Settings/Services/AccessPointPassword', value: '', min: 'a' }), '{"min":"a","value":"******"}');
        assert.equal(itemPayload('settings', { path: '/Settings/Services/AccessPointPassword', value: null }), '{"value":null}');
        assert.equal(itemPayload('vebus', { path: '/Settings/Ble/Service/Pincode', value: 'x' }), '{"value":"x"}');
    });

    it('knows the blocked and the retained items', () => {
        assert.equal(isBlocked('vebus', '/Interfaces/Mk2/Tunnel'), true);
        assert.equal(isBlocked('paygo', '/LVD/Threshold'), true);
        assert.equal(isBlocked('vebus', '/Mode'), false);
        assert.equal(isRetained('system', '/Serial'), true);
        assert.equal(isRetained('system', '/Serial2'), false);
        assert.equal(isRetained('vebus', '/Serial'), false);
        assert.equal(isBlocked('paygo', '/Interfaces/Mk2/Tunnel'), false);
        assert.equal(blockedPathOf('vebus'), '/Interfaces/Mk2/Tunnel');
        assert.equal(blockedPathOf('paygo'), '/LVD/Threshold');
        assert.equal(blockedPathOf('system'), undefined);
        assert.equal(retainedPathOf('system'), '/Serial');
        assert.equal(retainedPathOf('vebus'), undefined);
    });

    it('writes completions with and without echo', () => {
        assert.equal(completionPayload(1700000000.9), '{"value":1700000000}');
        assert.equal(completionPayload(5, 'a"b'), '{"full-publish-completed-echo":"a\\"b","value":5}');
    });
});

describe('keep-alive options (spec §6.2)', () => {
    const table: Array<[string, KeepAliveOptions]> = [
        ['', { suppressRepublish: false }],
        ['{}', { suppressRepublish: false }],
        ['null', { suppressRepublish: false }],
        ['garbage', { suppressRepublish: false }],
        ['5', { suppressRepublish: false }],
        ['"x"', { suppressRepublish: false }],
        ['["system/#"]', { suppressRepublish: false }],
        ['{"keepalive-options":["suppress-republish"]}', { suppressRepublish: true }],
        ['xx suppress-republish yy', { suppressRepublish: true }],
        ['{"keepalive-options":[{"full-publish-completed-echo":"abc"}]}', { suppressRepublish: false, echo: 'abc' }],
        ['{"keepalive-options":[{"full-publish-completed-echo":"a"},{"full-publish-completed-echo":"b"}]}', { suppressRepublish: false, echo: 'b' }],
        ['{"keepalive-options":[{"full-publish-completed-echo":"a"},{"other":1},{"full-publish-completed-echo":"c"}]}', { suppressRepublish: false, echo: 'a' }],
        ['{"keepalive-options":[{"other":1},{"full-publish-completed-echo":"c"}]}', { suppressRepublish: false }],
        ['{"keepalive-options":["x",{"full-publish-completed-echo":"c"}]}', { suppressRepublish: false, echo: 'c' }],
        ['{"keepalive-options":[{"full-publish-completed-echo":5}]}', { suppressRepublish: false }],
        ['{"keepalive-options":{"full-publish-completed-echo":"a"}}', { suppressRepublish: false }],
    ];
    for (const [payload, options] of table)
        it(`reads ${JSON.stringify(payload)}`, () => assert.deepEqual(parseKeepAliveOptions(Buffer.from(payload)), options));
});

describe('the keep-alive state machine (spec §6, fair)', () => {
    class Host implements KeepAliveHost {
        log: string[] = [];
        finish: Array<() => void> = [];
        synchronous = true;
        fullPublish(done: () => void): void {
            this.log.push('full');
            if (this.synchronous)
                done();
            else
                this.finish.push(done);
        }
        publishCompletion(echo: string | undefined): void {
            this.log.push(`done:${echo ?? '-'}`);
        }
        publishHeartbeat(): void {
            this.log.push('heartbeat');
        }
    }

    function setup(): { host: Host; timers: FakeTimers; ka: KeepAlive; alive: boolean[] } {
        const host = new Host();
        const timers = new FakeTimers();
        const ka = new KeepAlive(host, timers);
        const alive: boolean[] = [];
        ka.onAliveChange((a) => alive.push(a));
        return { host, timers, ka, alive };
    }

    it('republishes, completes, makes alive for 60 s and beats every 3 s while alive', () => {
        const { host, timers, ka, alive } = setup();
        ka.keepAlive('c1', { suppressRepublish: false, echo: 'e1' });
        assert.deepEqual(host.log, ['full', 'done:e1', 'heartbeat']);
        assert.equal(ka.alive, true);
        host.log = [];
        timers.advance(9000);
        assert.deepEqual(host.log, ['heartbeat', 'heartbeat', 'heartbeat']);
        timers.advance(51_000);
        assert.equal(ka.alive, false);
        assert.deepEqual(alive, [true, false]);
        host.log = [];
        timers.advance(10_000);
        assert.deepEqual(host.log, [], 'no heartbeat once expired');
    });

    it('suppresses the republish but still keeps alive, and extends the window', () => {
        const { host, timers, ka } = setup();
        ka.keepAlive('c1', { suppressRepublish: true });
        assert.deepEqual(host.log, ['heartbeat']);
        timers.advance(50_000);
        ka.keepAlive('c1', { suppressRepublish: true });
        timers.advance(50_000);
        assert.equal(ka.alive, true);
        timers.advance(10_001);
        assert.equal(ka.alive, false);
    });

    it('does at most 3 republishes a second and serves the others in the next, each with its own completion', () => {
        const { host, timers, ka } = setup();
        for (let i = 1; i <= 6; i++)
            ka.keepAlive(`c${i}`, { suppressRepublish: false, echo: `e${i}` });
        assert.deepEqual(host.log.filter((l) => l !== 'heartbeat'), ['full', 'done:e1', 'full', 'done:e2', 'full', 'done:e3']);
        assert.equal(ka.waiting, 3);
        host.log = [];
        timers.advance(1000);
        assert.deepEqual(host.log.filter((l) => l !== 'heartbeat'), ['full', 'done:e4', 'done:e5', 'done:e6'], 'one burst, one completion per echo');
        assert.equal(ka.stats.republishes, 4);
    });

    it('lets no flooding client push out another client\'s request', () => {
        const { host, timers, ka } = setup();
        for (let i = 0; i < 1000; i++)
            ka.keepAlive('flood', { suppressRepublish: false, echo: `f${i}` });
        ka.keepAlive('polite', { suppressRepublish: false, echo: 'mine' });
        assert.ok(ka.waiting <= 9, `bounded: ${ka.waiting}`);
        host.log = [];
        timers.advance(1000);
        assert.ok(host.log.includes('done:mine'), 'served by the next republish');
        assert.ok(ka.stats.republishes <= 4);
    });

    it('serves requests that arrive during a republish with the next one', () => {
        const { host, ka } = setup();
        host.synchronous = false;
        ka.keepAlive('a', { suppressRepublish: false, echo: 'a' });
        ka.keepAlive('b', { suppressRepublish: false, echo: 'b' });
        assert.deepEqual(host.log.filter((l) => l !== 'heartbeat'), ['full']);
        host.finish.shift()!();
        assert.deepEqual(host.log.filter((l) => l !== 'heartbeat'), ['full', 'done:a', 'full']);
        host.finish.shift()!();
        assert.deepEqual(host.log.filter((l) => l !== 'heartbeat'), ['full', 'done:a', 'full', 'done:b']);
    });

    it('sends the first heartbeat after the completion of the republish the keep-alive started, as the original', () => {
        const { host, ka } = setup();
        host.synchronous = false;
        ka.keepAlive('a', { suppressRepublish: false, echo: 'a' });
        ka.keepAlive('b', { suppressRepublish: true });
        assert.deepEqual(host.log, ['full'], 'no heartbeat inside the republish');
        host.finish.shift()!();
        assert.deepEqual(host.log, ['full', 'done:a', 'heartbeat']);
    });

    it('holds a periodic heartbeat that falls inside a republish until the republish is done', () => {
        const { host, timers, ka } = setup();
        ka.keepAlive('a', { suppressRepublish: true });
        host.synchronous = false;
        timers.advance(2000);
        ka.keepAlive('a', { suppressRepublish: false });
        host.log = [];
        timers.advance(1000);
        assert.deepEqual(host.log, [], 'the 3 s heartbeat waits');
        host.finish.shift()!();
        assert.deepEqual(host.log, ['done:-', 'heartbeat']);
        host.log = [];
        timers.advance(3000);
        assert.deepEqual(host.log, ['heartbeat'], 'and the beat goes on');
    });

    it('runs the work of a legacy keep-alive after its republish, completion and heartbeat; at once when suppressed', () => {
        const { host, ka } = setup();
        host.synchronous = false;
        ka.keepAlive('a', { suppressRepublish: false }, () => host.log.push('read'));
        assert.deepEqual(host.log, ['full']);
        host.finish.shift()!();
        assert.deepEqual(host.log, ['full', 'done:-', 'heartbeat', 'read']);
        host.log = [];
        ka.keepAlive('a', { suppressRepublish: true }, () => host.log.push('read'));
        assert.deepEqual(host.log, ['read']);
    });

    it('waits behind the rate limit with the work of a legacy keep-alive, and keeps a bounded number of them', () => {
        const { host, timers, ka } = setup();
        for (let i = 0; i < 3; i++)
            ka.keepAlive('a', { suppressRepublish: false });
        host.log = [];
        let ran = 0;
        for (let i = 0; i < 100; i++)
            ka.keepAlive('a', { suppressRepublish: false }, () => ran++);
        assert.equal(ran, 100 - defaultKeepAliveLimits.waitingTasks, 'beyond the bound, at once');
        timers.advance(1000);
        assert.equal(ran, 100);
        assert.deepEqual(host.log.filter((l) => l !== 'heartbeat'), ['full', 'done:-']);
    });

    it('sends one completion without echo for requests without one', () => {
        const { host, ka } = setup();
        host.synchronous = false;
        ka.keepAlive('x', { suppressRepublish: false });
        ka.keepAlive('y', { suppressRepublish: false });
        ka.keepAlive('z', { suppressRepublish: false });
        host.finish.shift()!();
        host.finish.shift()!();
        assert.deepEqual(host.log.filter((l) => l !== 'heartbeat'), ['full', 'done:-', 'full', 'done:-']);
    });

    it('stops everything', () => {
        const { host, timers, ka } = setup();
        ka.keepAlive('c', { suppressRepublish: false });
        ka.stop();
        host.log = [];
        timers.advance(100_000);
        ka.keepAlive('c', { suppressRepublish: false });
        assert.deepEqual(host.log, []);
    });
});
