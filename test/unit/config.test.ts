import { strict as assert } from 'node:assert';

import { defaultSettings, parseOptions, reloadPlan } from '../../ts/config';

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
        [{ restart_delay_ms: '500', restart_limit: '3' }, {}, []],
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

    it('reads the status file\'s path, empty for none', () => {
        assert.equal(defaultSettings.statusFile, '/run/dbus-flashmq-ts/status');
        assert.equal(parseOptions({ status_file: '' }).settings.statusFile, '');
        assert.equal(parseOptions({ status_file: ' /tmp/s ' }).settings.statusFile, '/tmp/s');
    });

    describe('what a reload applies', () => {
        const table: Array<[string, Record<string, string>, Record<string, string>, string[], string[]]> = [
            ['nothing changed', { debug: 'true' }, { debug: 'true' }, [], []],
            ['an option given', {}, { debug: 'true' }, ['debug'], []],
            ['an option gone', { stats_interval_s: '5' }, {}, ['stats_interval_s'], []],
            ['run-time options', { login_timeout_ms: '1000', local_networks: '10.0.0.0/8' },
                { login_timeout_ms: '2000', local_networks: '10.0.0.0/16', read_items_per_second: '100', keepalive_timeout_ms: '5000',
                    tokens_file: '/t', password_file: '/p', dbus_call_timeout_ms: '500', status_file: '', shutdown_timeout_ms: '100' },
                ['dbus_call_timeout_ms', 'keepalive_timeout_ms', 'local_networks', 'login_timeout_ms', 'password_file', 'read_items_per_second',
                    'shutdown_timeout_ms', 'status_file', 'tokens_file'], []],
            ['options of the start', { portal_id: 'a' }, { portal_id: 'b', dbus_address: 'unix:path=/x', node_args: '--jitless', apps_dir: '/a' },
                [], ['apps_dir', 'dbus_address', 'node_args', 'portal_id']],
            ['both', { debug: 'false' }, { debug: 'true', threadpool_size: '3' }, ['debug'], ['threadpool_size']],
        ];
        for (const [what, before, after, applied, afterRestart] of table) {
            it(what, () => assert.deepEqual(reloadPlan(before, after), { applied, afterRestart }));
        }
    });

    it('accepts extra option names it is told about', () => {
        assert.deepEqual(parseOptions({ probe_x: '1' }, new Set(['probe_x'])).problems, []);
    });
});
