import { strict as assert } from 'node:assert';

import { defaultSettings, parseOptions } from '../../ts/config';

describe('plugin options', () => {
    it('gives the defaults for no options', () => {
        assert.deepEqual(parseOptions({}), { settings: defaultSettings, problems: [] });
    });

    const table: Array<[Record<string, string>, Partial<typeof defaultSettings>, RegExp[]]> = [
        [{ login_timeout_ms: '5000' }, { loginTimeoutMs: 5000 }, []],
        [{ login_timeout_ms: ' 250 ' }, { loginTimeoutMs: 250 }, []],
        [{ login_timeout_ms: '50' }, {}, [/login_timeout_ms: 50 is outside 100\.\.600000; using 20000/]],
        [{ login_timeout_ms: '1e3' }, {}, [/'1e3' is not a whole number/]],
        [{ debug: 'true' }, { debug: true }, []],
        [{ debug: 'OFF' }, { debug: false }, []],
        [{ debug: 'maybe' }, {}, [/plugin_opt_debug: 'maybe' is not true or false/]],
        [{ entry: '/x.js', node_args: '--a', ready_timeout_ms: '1', shutdown_timeout_ms: '2', node_platform_threads: '1' }, {}, []],
        [{ dbus_client: 'dbus-next' }, {}, [/plugin_opt_dbus_client: the plugin has one D-Bus client now \(its own\); ignored/]],
        [{ thread_stack_kb: '1024', malloc_arena_max: '1', threadpool_size: '1' }, {}, []],
        [{ read_items_per_second: '1000', all_read_items_per_second: '100000' }, { readItemsPerSecond: 1000, allReadItemsPerSecond: 100_000 }, []],
        [{ read_items_per_second: '0' }, {}, [/plugin_opt_read_items_per_second: 0 is outside 100\.\.100000000; using 5000/]],
        [{ colour: 'blue' }, {}, [/plugin_opt_colour is not an option of this plugin; ignored/]],
        [{ debug: 'x', login_timeout_ms: 'y' }, {}, [/login_timeout_ms/, /debug/]],
    ];
    for (const [options, changes, problems] of table) {
        it(`reads ${JSON.stringify(options)}`, () => {
            const parsed = parseOptions(options);
            assert.deepEqual(parsed.settings, { ...defaultSettings, ...changes });
            assert.equal(parsed.problems.length, problems.length, parsed.problems.join('; '));
            problems.forEach((re, i) => assert.match(parsed.problems[i]!, re));
        });
    }

    it('accepts extra option names it is told about', () => {
        assert.deepEqual(parseOptions({ probe_x: '1' }, new Set(['probe_x'])).problems, []);
    });
});
