// The demo's pure parts: its command line, the commands it prints, and the flashmq.conf it (and the test helpers)
// write.
import { strict as assert } from 'node:assert';

import { exampleCommands, parseDemoArgs, UsageError } from '../../ts/demo/cli';
import { flashmqConfig, quoteValue } from '../../ts/demo/flashmq-config';

describe('the demo command line', () => {
    const table: Array<[string[], Partial<Exclude<ReturnType<typeof parseDemoArgs>, 'help'>> | 'help' | RegExp]> = [
        [[], { recording: 'bct', churn: 100, speed: 1, portalId: 'c0619ab1a2b3' }],
        [['--recording', 'ess'], { recording: 'ess' }],
        [['--scale', '100x500', '--churn', '2000'], { scale: { services: 100, paths: 500 }, churn: 2000, recording: undefined }],
        [['--port', '1883', '--speed', '0'], { port: 1883, speed: 0 }],
        [['--option', 'debug=true', '--option', 'node_args=--max-old-space-size=32'], { pluginOptions: { debug: 'true', node_args: '--max-old-space-size=32' } }],
        [['--help'], 'help'],
        [['--scale', '100'], /--scale takes/],
        [['--scale', '0x5'], /--scale takes/],
        [['--recording', 'bct', '--scale', '1x1'], /exclude each other/],
        [['--port', '70000'], /not a number from 1 to 65535/],
        [['--port'], /needs a value/],
        [['--portal-id', 'a/b'], /not a portal id/],
        [['--option', 'no-equals'], /name=value/],
        [['--colour'], /unknown option/],
    ];
    for (const [argv, expected] of table) {
        it(`reads ${JSON.stringify(argv)}`, () => {
            if (expected instanceof RegExp) {
                assert.throws(() => parseDemoArgs(argv), (err: unknown) => err instanceof UsageError && expected.test(err.message));
                return;
            }
            const parsed = parseDemoArgs(argv);
            if (expected === 'help') {
                assert.equal(parsed, 'help');
                return;
            }
            assert.notEqual(parsed, 'help');
            for (const [key, value] of Object.entries(expected))
                assert.deepEqual((parsed as unknown as Record<string, unknown>)[key], value, key);
        });
    }

    it('prints commands for the given port and portal id, a write only where the settings service runs', () => {
        const recording = exampleCommands(1234, 'abc', false);
        assert.ok(recording.every((c) => c.includes('-p 1234')));
        assert.ok(recording.some((c) => c.startsWith('mosquitto_sub') && c.includes("'N/abc/#'")));
        assert.ok(recording.some((c) => c.includes("'R/abc/keepalive'")));
        assert.ok(recording.some((c) => c.includes("'W/abc/settings/0/Settings/Gui/Brightness'")));
        assert.ok(!exampleCommands(1, 'abc', true).some((c) => c.includes("'W/")));
    });
});

describe('the flashmq.conf we write', () => {
    it('loads the plugin with its options quoted, one thread, a listener on 127.0.0.1', () => {
        const text = flashmqConfig({ port: 1884, logFile: '/tmp/x/log', plugin: '/p/lib.so', pluginOptions: { portal_id: 'abc', node_args: '--a "b"' } });
        assert.equal(text, [
            'thread_count 1', 'allow_anonymous true', 'log_level info', 'log_file /tmp/x/log', 'plugin_timer_period 1',
            'plugin /p/lib.so', 'plugin_opt_portal_id "abc"', 'plugin_opt_node_args "--a \\"b\\""',
            'listen {', '  protocol mqtt', '  inet_protocol ip4', '  inet4_bind_address 127.0.0.1', '  port 1884', '}', '',
        ].join('\n'));
    });

    it('writes a broker without the plugin, extra lines, an IPv6 listener', () => {
        const text = flashmqConfig({ port: 1, logFile: 'l', plugin: null, pluginOptions: { ignored: 'x' }, bindAddress: '::1', extra: ['a 1\nb 2'], listener: ['tcp_nodelay true'], allowAnonymous: false });
        assert.ok(!/^plugin /m.test(text) && !text.includes('plugin_opt_'));
        assert.ok(text.includes('allow_anonymous false\n'));
        assert.ok(text.includes('\na 1\nb 2\n'));
        assert.ok(text.includes('  inet_protocol ip6\n  inet6_bind_address ::1\n'));
        assert.ok(text.includes('  tcp_nodelay true\n}'));
    });

    const refused: Array<[string, Parameters<typeof flashmqConfig>[0]]> = [
        ['a value with a newline', { port: 1, logFile: 'l', plugin: 'p', pluginOptions: { a: 'x\nplugin_opt_b y' } }],
        ['an option name with a space', { port: 1, logFile: 'l', plugin: 'p', pluginOptions: { 'a b': 'x' } }],
        ['a log file with a newline', { port: 1, logFile: 'l\nthread_count 4', plugin: null }],
    ];
    for (const [what, config] of refused)
        it(`refuses ${what}`, () => assert.throws(() => flashmqConfig(config)));

    it('quotes backslashes and quotes', () => {
        assert.equal(quoteValue('a\\b"c'), '"a\\\\b\\"c"');
    });
});
