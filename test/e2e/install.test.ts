// The installed layout: cmake --install into a temporary prefix, then the real flashmq loads the plugin from there
// and serves a simulated GX device, with nothing taken from the repository (its entry, its npm packages, its
// libnode all come from the prefix).
import { strict as assert } from 'node:assert';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';

import { brokerScratchDir, describeWithBroker, pluginPath, repoRoot } from '../helpers/flashmq';
import { closeAll, connect, Inbox } from '../helpers/mqtt';
import { PORTAL_ID, startGx } from '../helpers/venus';

describeWithBroker('the installed layout', function () {
    this.timeout(120_000);
    let prefix: string;
    let dir: string;

    before(() => {
        prefix = brokerScratchDir('dfmq-install-');
        const r = spawnSync('cmake', ['--install', path.join(repoRoot, 'build-plugin'), '--prefix', prefix], { encoding: 'utf8' });
        assert.equal(r.status, 0, `${r.stdout}\n${r.stderr}`);
        dir = path.join(prefix, 'lib', 'dbus-flashmq-ts');
        // The plugin under test, when it is not the build tree's (DFMQ_PLUGIN), in the installed layout.
        if (process.env.DFMQ_PLUGIN)
            fs.copyFileSync(pluginPath, path.join(dir, 'libdbus-flashmq-ts.so'));
    });

    after(() => {
        fs.rmSync(prefix, { recursive: true, force: true });
    });

    it('holds the plugin, the compiled TypeScript without the development tools, and a config; no npm package', () => {
        for (const file of ['libdbus-flashmq-ts.so', 'dist/ts/index.js', 'dist/ts/plugin.js', 'flashmq.conf.example'])
            assert.ok(fs.existsSync(path.join(dir, file)), file);
        // The plugin needs no npm package at run time (the simulator's dbus-next is a development tool).
        for (const absent of ['dist/ts/sim', 'dist/ts/demo', 'dist/test', 'node_modules/dbus-next', 'node_modules/mocha', 'node_modules/typescript'])
            assert.ok(!fs.existsSync(path.join(dir, absent)), absent);
        assert.match(fs.readFileSync(path.join(dir, 'flashmq.conf.example'), 'utf8'), new RegExp(`^plugin ${dir.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}/libdbus-flashmq-ts\\.so$`, 'm'));
        // The plugin's libnode: from the prefix when bundled, else a system library; never the repository's.
        const ldd = spawnSync('ldd', [path.join(dir, 'libdbus-flashmq-ts.so')], { encoding: 'utf8' }).stdout;
        const libnode = /libnode\.so\.\d+ => (\S+)/.exec(ldd)?.[1];
        assert.ok(libnode && !libnode.startsWith(repoRoot), ldd);
    });

    it('is loaded by flashmq from the prefix and serves a keep-alive with every topic', async () => {
        const gx = await startGx({ recording: 'bct', broker: { plugin: path.join(dir, 'libdbus-flashmq-ts.so') } });
        try {
            assert.match(gx.broker.log(), new RegExp(`JavaScript entry '${dir.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}/dist/ts/index\\.js' loaded`));
            const client = await connect(gx.port);
            const inbox = await Inbox.subscribe(client, `N/${PORTAL_ID}/#`);
            await client.publishAsync(`R/${PORTAL_ID}/keepalive`, '');
            await inbox.waitFor((m) => m.topic === `N/${PORTAL_ID}/full_publish_completed`, 10_000);
            assert.ok(new Set(inbox.messages.map((m) => m.topic)).size > 3000);
            await closeAll(client);
        } finally {
            await gx.stop();
        }
    });
});
