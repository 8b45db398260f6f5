// The demo as a user runs it (node dist/ts/demo/cli.js, what npm start ends in): it starts, serves a keep-alive
// with the recording's topics, answers the read and the write it prints, and on Ctrl-C leaves no process behind.
import { strict as assert } from 'node:assert';
import { spawn, spawnSync } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';

import { describeWithBroker, freePort, pluginPath, repoRoot, sleep } from '../helpers/flashmq';
import { closeAll, connect, Inbox } from '../helpers/mqtt';

const cli = path.join(repoRoot, 'dist/ts/demo/cli.js');

class DemoProcess {
    output = '';
    closed = false;
    readonly exited: Promise<number | null>;

    constructor(readonly proc: ChildProcess) {
        proc.stdout!.on('data', (d: Buffer) => { this.output += d.toString(); });
        proc.stderr!.on('data', (d: Buffer) => { this.output += d.toString(); });
        // 'close', not 'exit': the output pipes are drained by then.
        this.exited = new Promise((resolve) => proc.on('close', (code) => { this.closed = true; resolve(code); }));
    }

    /** The demo, with the plugin under test (DFMQ_PLUGIN, else the build tree's). */
    static start(args: string[], env: NodeJS.ProcessEnv = {}): DemoProcess {
        return new DemoProcess(spawn(process.execPath, [cli, '--plugin', pluginPath, ...args],
            { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, ...env } }));
    }

    async waitFor(pattern: RegExp, ms = 30_000): Promise<RegExpExecArray> {
        const deadline = Date.now() + ms;
        for (;;) {
            const m = pattern.exec(this.output);
            if (m)
                return m;
            if (Date.now() > deadline || this.closed)
                throw new Error(`no ${String(pattern)} in the demo's output:\n${this.output}`);
            await sleep(50);
        }
    }
}

/** Processes whose command line mentions `text`. */
function processesWith(text: string): string[] {
    const out = spawnSync('pgrep', ['-af', text], { encoding: 'utf8' }).stdout;
    return out.split('\n').filter((l) => l.trim() !== '' && !l.includes('pgrep'));
}

describeWithBroker('the demo (npm start)', function () {
    this.timeout(90_000);

    it('serves the bct recording on the given port, answers its printed commands, and cleans up on Ctrl-C', async () => {
        const port = await freePort();
        const demo = DemoProcess.start(['--port', String(port)]);
        try {
            await demo.waitFor(/ready in \d+ ms: portal id c0619ab1a2b3, MQTT on 127\.0\.0\.1:(\d+)/);
            // The commands follow the ready line, possibly in a later chunk of the pipe.
            await demo.waitFor(new RegExp(`mosquitto_sub -h 127\\.0\\.0\\.1 -p ${port} -v -t 'N/c0619ab1a2b3/#'`), 5000);
            const bus = (await demo.waitFor(/bus: unix:path=(\S+)\/bus\.sock/))[1]!;
            const dir = (await demo.waitFor(/config and log in (\S+)\)/))[1]!;
            assert.ok(processesWith(bus).length > 0, 'the dbus-daemon runs');
            assert.ok(processesWith(dir).length > 0, 'flashmq runs');

            const client = await connect(port);
            try {
                const inbox = await Inbox.subscribe(client, 'N/c0619ab1a2b3/#');
                await client.publishAsync('R/c0619ab1a2b3/keepalive', '');
                await inbox.waitFor((m) => m.topic === 'N/c0619ab1a2b3/full_publish_completed', 10_000);
                const topics = new Set(inbox.messages.map((m) => m.topic));
                assert.ok(topics.size > 3000, `${topics.size} topics`);
                assert.ok(topics.has('N/c0619ab1a2b3/settings/0/Settings/Gui/Brightness'));

                // The printed write, then the printed read.
                await client.publishAsync('W/c0619ab1a2b3/settings/0/Settings/Gui/Brightness', '{"value": 5}');
                await inbox.waitFor((m) => m.topic === 'N/c0619ab1a2b3/settings/0/Settings/Gui/Brightness' && m.payload.toString().includes('"value":5'), 5000);
                inbox.messages.length = 0;
                await client.publishAsync('R/c0619ab1a2b3/settings/0/Settings/Gui/Brightness', '');
                await inbox.waitFor((m) => m.topic === 'N/c0619ab1a2b3/settings/0/Settings/Gui/Brightness', 5000);
            } finally {
                await closeAll(client);
            }

            demo.proc.kill('SIGINT');
            assert.equal(await demo.exited, 0);
            assert.match(demo.output, /stopped; no process left behind/);
            assert.deepEqual(processesWith(bus), []);
            assert.deepEqual(processesWith(dir), []);
            assert.ok(!fs.existsSync(dir), 'the temporary directory is gone');
        } finally {
            demo.proc.kill('SIGKILL');
        }
    });

    it('says how to get flashmq when there is none, and starts nothing', async () => {
        const demo = DemoProcess.start([], { FLASHMQ_BIN: '/nonexistent/flashmq' });
        assert.equal(await demo.exited, 1);
        assert.match(demo.output, /flashmq was not found/);
        assert.match(demo.output, /scripts\/flashmq\.sh/);
        assert.doesNotMatch(demo.output, /starting a private dbus-daemon/);
    });

    it('stops everything when the broker cannot start', async () => {
        const port = await freePort();
        // An entry that does not exist makes flashmq stop at start: the demo must notice and clean up.
        const demo = DemoProcess.start(['--port', String(port), '--option', 'entry=/nonexistent/index.js']);
        const code = await demo.exited;
        assert.notEqual(code, 0, demo.output);
        assert.match(demo.output, /flashmq stopped unexpectedly/);
        assert.match(demo.output, /stopped; no process left behind/);
        const bus = /bus: unix:path=(\S+)\/bus\.sock/.exec(demo.output)?.[1];
        assert.ok(bus, demo.output);
        assert.deepEqual(processesWith(bus), []);
    });
});
