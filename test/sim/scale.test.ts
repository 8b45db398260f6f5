import { strict as assert } from 'node:assert';

import { FakeTimers } from '../fakes/fake-timers';
import { Churner, scaleDefinitions, scaleServiceName } from '../../ts/sim/scale';
import type { ItemChange } from '../../ts/sim/service';

describe('sim scale mode', () => {
    it('builds N services of M paths with distinct device instances', () => {
        const defs = scaleDefinitions({ services: 5, paths: 500 });
        assert.deepEqual(defs.map((d) => d.name), [0, 1, 2, 3, 4].map(scaleServiceName));
        assert.equal(scaleServiceName(3), 'com.victronenergy.battery.sim3');
        for (const [k, def] of defs.entries()) {
            assert.equal(def.items.length, 500);
            assert.equal(new Set(def.items.map((i) => i.path)).size, 500, 'paths are unique');
            const instance = def.items.find((i) => i.path === '/DeviceInstance');
            assert.deepEqual([instance?.value.signature, instance?.value.value], ['i', k]);
            assert.ok(def.items.every((i) => /^(\/[A-Za-z0-9_]+)+$/.test(i.path)));
        }
        const signatures = new Set(defs[0]?.items.map((i) => i.value.signature));
        for (const signature of ['d', 'i', 's', 'q', 'u', 'ai'])
            assert.ok(signatures.has(signature), `has '${signature}' values`);
    });

    it('is deterministic for a seed and small path counts cut the list', () => {
        assert.deepEqual(scaleDefinitions({ services: 2, paths: 50, seed: 4 }), scaleDefinitions({ services: 2, paths: 50, seed: 4 }));
        assert.notDeepEqual(scaleDefinitions({ services: 2, paths: 50, seed: 4 }), scaleDefinitions({ services: 2, paths: 50, seed: 5 }));
        assert.equal(scaleDefinitions({ services: 1, paths: 3 })[0]?.items.length, 3);
    });

    it('churns at the requested rate, one batch per service per tick, spread over the tick', () => {
        const defs = scaleDefinitions({ services: 10, paths: 50 });
        const timers = new FakeTimers();
        const batches: Array<{ service: string; at: number; changes: ItemChange[] }> = [];
        const churner = new Churner(defs, (service, changes) => batches.push({ service, at: timers.now(), changes }), { churnPerSecond: 100, timers });
        churner.start();
        timers.advance(10000);
        churner.stop();
        assert.equal(churner.produced, 1000);
        assert.equal(batches.length, 100, 'each of 10 services once per second');
        const firstSecond = batches.filter((b) => b.at <= 1000);
        assert.equal(new Set(firstSecond.map((b) => b.service)).size, 10);
        assert.equal(new Set(firstSecond.map((b) => b.at)).size, 10, 'the services have different phases');
        for (const batch of batches) {
            assert.equal(new Set(batch.changes.map((c) => c.path)).size, batch.changes.length, 'no path twice in a batch');
            assert.ok(batch.changes.every((c) => c.value.signature === 'd'));
        }
        assert.equal(timers.pendingCount, 0);
    });

    it('changes values (a churned value differs from the one before)', () => {
        const defs = scaleDefinitions({ services: 1, paths: 20 });
        const timers = new FakeTimers();
        const current = new Map(defs[0]?.items.map((i) => [i.path, i.value.value as unknown]));
        let same = 0;
        const churner = new Churner(defs, (_service, changes) => {
            for (const change of changes) {
                if (current.get(change.path) === change.value.value)
                    same++;
                current.set(change.path, change.value.value);
            }
        }, { churnPerSecond: 5, timers });
        churner.start();
        timers.advance(5000);
        churner.stop();
        assert.equal(churner.produced, 25);
        assert.equal(same, 0);
    });

    it('keeps fractions: 5 changes per second over 10 services is one change every 2 s each', () => {
        const defs = scaleDefinitions({ services: 10, paths: 30 });
        const timers = new FakeTimers();
        let n = 0;
        const churner = new Churner(defs, (_s, changes) => { n += changes.length; }, { churnPerSecond: 5, timers });
        churner.start();
        timers.advance(4000);
        churner.stop();
        assert.equal(n, 20);
    });

    it('changes each path at most once per batch: the rate is capped at the changing paths per tick', () => {
        const defs = scaleDefinitions({ services: 1, paths: 20 });
        const doubles = defs[0]?.items.filter((i) => i.value.signature === 'd').length ?? 0;
        const timers = new FakeTimers();
        const churner = new Churner(defs, () => undefined, { churnPerSecond: 1000, timers });
        churner.start();
        timers.advance(1000);
        churner.stop();
        assert.ok(doubles > 0 && doubles < 20);
        assert.equal(churner.produced, doubles);
    });

    it('does nothing at churn 0', () => {
        const timers = new FakeTimers();
        const churner = new Churner(scaleDefinitions({ services: 2, paths: 10 }), () => assert.fail('no changes expected'), { churnPerSecond: 0, timers });
        churner.start();
        assert.equal(timers.pendingCount, 0);
    });
});
