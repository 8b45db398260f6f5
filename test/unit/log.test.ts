import { strict as assert } from 'node:assert';

import type { LogLevelName } from '../../ts/log';
import { describeError, Logger } from '../../ts/log';

describe('Logger', () => {
    function capture(debug = false): { lines: Array<[LogLevelName, string]>; log: Logger } {
        const lines: Array<[LogLevelName, string]> = [];
        return { lines, log: new Logger({ write: (l, t) => lines.push([l, t]) }, 'app', () => debug) };
    }

    it('prefixes the namespace, nested', () => {
        const { lines, log } = capture();
        log.child('dbus').warning('gone');
        assert.deepEqual(lines, [['warning', 'app:dbus: gone']]);
    });

    it('builds debug messages only when debug is on', () => {
        let built = 0;
        const off = capture(false);
        off.log.debug(() => `x${++built}`);
        assert.equal(built, 0);
        assert.deepEqual(off.lines, []);
        const on = capture(true);
        on.log.debug(() => `x${++built}`);
        assert.deepEqual(on.lines, [['debug', 'app: x1']]);
    });

    it('survives a message builder that throws', () => {
        const { lines, log } = capture();
        log.error(() => { throw new Error('oops'); });
        assert.match(lines[0]![1], /building this log message failed: Error: oops/);
    });

    it('describes any thrown value on one line', () => {
        assert.equal(describeError(new RangeError('r')), 'RangeError: r');
        assert.equal(describeError({ a: 1 }), 'thrown value {"a":1}');
        const cyclic: Record<string, unknown> = {};
        cyclic.self = cyclic;
        assert.equal(describeError(cyclic), 'thrown value [object Object]');
    });
});
