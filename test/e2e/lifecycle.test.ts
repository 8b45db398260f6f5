// The shim's life cycle inside the real broker: start, readiness, reload, shutdown, and the failures that must
// stop the broker from starting (with a clear line) or must not stop it at all.
import { strict as assert } from 'node:assert';
import * as fs from 'node:fs';
import { spawnSync } from 'node:child_process';
import * as path from 'node:path';

import type { RunningBroker } from '../helpers/flashmq';
import { brokerScratchDir, canConnect, describeWithBroker, flashmqVersion, freePort, pluginPath, repoRoot, sleep, startBroker } from '../helpers/flashmq';
import { closeAll, connect, Inbox } from '../helpers/mqtt';

function cpuSeconds(pid: number): number {
    const fields = fs.readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
    return (Number(fields[11]) + Number(fields[12])) / 100; // utime + stime, in clock ticks of 10 ms
}

/** Scratch directories of the tests, removed after each. */
const scratchDirs: string[] = [];

function scratchFile(name: string): string {
    const dir = brokerScratchDir('dfmq-file-', true); // the probe in the broker writes its markers here
    scratchDirs.push(dir);
    return path.join(dir, name);
}

describeWithBroker('the plugin in a real broker: life cycle', function () {
    const brokers: RunningBroker[] = [];

    afterEach(() => {
        for (const dir of scratchDirs.splice(0))
            fs.rmSync(dir, { recursive: true, force: true });
    });
    async function start(...args: Parameters<typeof startBroker>): Promise<RunningBroker> {
        const b = await startBroker(...args);
        brokers.push(b);
        return b;
    }

    afterEach(async () => {
        for (const b of brokers.splice(0)) {
            await b.stop('SIGKILL');
            b.cleanup();
        }
    });

    async function probeState(port: number): Promise<{ loadedAt: number; reloads: number; publishes: number; option: string | null }> {
        const c = await connect(port);
        const inbox = await Inbox.subscribe(c, 'probe/reply/state');
        await c.publishAsync('probe/cmd', 'state');
        const m = await inbox.waitFor('probe/reply/state');
        await closeAll(c);
        return JSON.parse(m.payload.toString()) as never;
    }

    it('keeps the TypeScript state across a reload (SIGHUP) and hands over the new options', async () => {
        const broker = await start({ pluginOptions: { probe_state: 'one' } });
        const before = await probeState(broker.port);
        fs.writeFileSync(path.join(broker.dir, 'flashmq.conf'),
            fs.readFileSync(path.join(broker.dir, 'flashmq.conf'), 'utf8').replace('plugin_opt_probe_state "one"', 'plugin_opt_probe_state "two"'));
        await broker.reload();
        await broker.waitForLog(/probe\/reply\/reloaded|Doing reload in thread 0/);
        await sleep(200);
        const after = await probeState(broker.port);
        assert.equal(after.loadedAt, before.loadedAt, 'the same JavaScript world');
        assert.equal(after.reloads, before.reloads + 1);
        assert.equal(after.publishes, before.publishes + 1);
        assert.equal(after.option, 'two');
        assert.equal(broker.log().match(/JavaScript entry .* loaded/g)?.length, 1, 'the entry was loaded once');
    });

    it('exits cleanly with code 0 on SIGTERM, after the TypeScript shutdown work', async () => {
        const marker = scratchFile('shutdown.json');
        const broker = await start({ pluginOptions: { probe_shutdown_file: marker } });
        const exit = await broker.stop('SIGTERM');
        assert.deepEqual(exit, { code: 0, signal: null });
        assert.ok(fs.existsSync(marker), 'the shutdown handler finished its asynchronous work');
        assert.match(broker.log(), /Quitting FlashMQ/);
        assert.doesNotMatch(broker.log(), /did not finish its shutdown work/);
    });

    it('exits cleanly with code 0 on SIGINT', async () => {
        const broker = await start();
        assert.deepEqual(await broker.stop('SIGINT'), { code: 0, signal: null });
    });

    it('stops waiting for shutdown work after shutdown_timeout_ms', async () => {
        const marker = scratchFile('never.json');
        const broker = await start({ pluginOptions: { probe_shutdown_file: marker, shutdown_timeout_ms: '50' } });
        assert.deepEqual(await broker.stop('SIGTERM'), { code: 0, signal: null });
        assert.match(broker.log(), /JavaScript did not finish its shutdown work within 50 ms/);
        assert.equal(fs.existsSync(marker), false);
    });

    it('keeps serving when JavaScript dies through Node\'s fatal path, refuses what needs it, and a reload restarts it at once', async () => {
        // The automatic restart is a minute away here (test/e2e/healing.test.ts has it), so the broker without
        // JavaScript can be looked at, and the reload restarts it before that.
        const broker = await start({ pluginOptions: { restart_delay_ms: '60000' } });
        const control = await connect(broker.port, { clientId: 'ctl' });
        const inbox = await Inbox.subscribe(control, ['probe/echo/reply', 'plain/#']);
        await control.publishAsync('probe/cmd', 'fatal');
        await broker.waitForLog(/JavaScript stopped: JavaScript ended itself through Node's fatal path \(exit code \d+\)\. Restarting it in 60000 ms/);

        await control.publishAsync('plain/topic', 'still routed');
        await inbox.waitFor('plain/topic');
        await control.publishAsync('probe/echo', 'x');
        assert.deepEqual(await inbox.collect('probe/echo/reply', 300), [], 'publishes JavaScript handled are denied');
        await assert.rejects(connect(broker.port, { username: 'someone', password: 'pw' }), 'logins are refused');
        await broker.waitForLog(/refusing login of client '.*': the JavaScript side is not running/);
        const anonymous = await connect(broker.port);
        await closeAll(anonymous);

        await broker.reload();
        await broker.waitForLog(/JavaScript was not running; starting it again for the reload/);
        await broker.waitForLog(/probe loaded[\s\S]*probe loaded/);
        await control.publishAsync('probe/echo', 'back');
        assert.equal((await inbox.waitFor('probe/echo/reply')).payload.toString(), 'ctl:back');
        await closeAll(control);
        assert.deepEqual(await broker.stop('SIGTERM'), { code: 0, signal: null });
        assert.equal(broker.log().match(/probe loaded/g)?.length, 2, 'the pending restart was dropped');
    });

    // FlashMQ waits 30 s for each worker thread's clean-up at quit, then tears the process down under a thread
    // that has not finished. The plugin's shutdown stays well inside: at most 10 s of JavaScript shutdown work,
    // whatever the option says, and a watchdog that terminates JavaScript 1 s after that.
    it('bounds the shutdown whatever shutdown_timeout_ms says: work that never finishes, a huge timeout, exit 0', async () => {
        const broker = await start({ pluginOptions: { probe_shutdown: 'never', shutdown_timeout_ms: '600000' } });
        await broker.waitForLog(/plugin_opt_shutdown_timeout_ms 600000 is more than the shutdown can take inside FlashMQ's wait for its threads \(30 s\); using 10000/);
        const t0 = Date.now();
        const exit = await broker.stop('SIGTERM', 25_000);
        const took = Date.now() - t0;
        assert.deepEqual(exit, { code: 0, signal: null });
        assert.match(broker.log(), /JavaScript did not finish its shutdown work within 10000 ms/);
        assert.ok(took >= 10_000 && took < 13_000, `the broker took ${took} ms to exit`);
        assert.doesNotMatch(broker.log(), /threads failed to terminate/);
    });

    it('terminates a shutdown handler that never returns, and exits with 0', async () => {
        const broker = await start({ pluginOptions: { probe_shutdown: 'spin', shutdown_timeout_ms: '200' } });
        const t0 = Date.now();
        const exit = await broker.stop('SIGTERM', 10_000);
        const took = Date.now() - t0;
        assert.deepEqual(exit, { code: 0, signal: null });
        assert.match(broker.log(), /JavaScript still runs 1200 ms into the shutdown; terminating it/);
        assert.ok(took < 4000, `the broker took ${took} ms to exit`);
    });

    it("hands the broker's own bridge state messages ($SYS, empty client id) to TypeScript", async () => {
        const closedPort = await freePort();
        const broker = await start({
            extraConfig: ['bridge {', '  address 127.0.0.1', `  port ${closedPort}`, '  clientid_prefix GXdbus', '  publish nothing/#', '}'].join('\n'),
        });
        const deadline = Date.now() + 5000;
        for (;;) {
            const c = await connect(broker.port);
            const inbox = await Inbox.subscribe(c, 'probe/reply/state');
            await c.publishAsync('probe/cmd', 'state');
            const sys = (JSON.parse((await inbox.waitFor('probe/reply/state')).payload.toString()) as { sys: Array<[string, string, string]> }).sys;
            await closeAll(c);
            const status = sys.find(([, topic]) => topic === '$SYS/broker/bridge/GXdbus/connection_status');
            const connected = sys.find(([, topic]) => topic === '$SYS/broker/bridge/GXdbus/connected');
            if (status && connected) {
                assert.equal(status[0], '', 'no client id');
                assert.equal(connected[2], '0');
                break;
            }
            assert.ok(Date.now() < deadline, `no bridge state reached TypeScript: ${JSON.stringify(sys)}`);
            await sleep(200);
        }
    });

    it('finds the entry next to the plugin in an installed layout', async () => {
        const prefix = brokerScratchDir('dfmq-install-');
        scratchDirs.push(prefix);
        const libDir = path.join(prefix, 'lib/dbus-flashmq-ts');
        fs.mkdirSync(path.join(libDir, 'dist'), { recursive: true });
        fs.copyFileSync(pluginPath, path.join(libDir, 'libdbus-flashmq-ts.so'));
        fs.cpSync(path.join(repoRoot, 'dist/ts'), path.join(libDir, 'dist/ts'), { recursive: true });
        fs.symlinkSync(path.join(repoRoot, 'node_modules'), path.join(libDir, 'node_modules'));
        try {
            const broker = await start({ plugin: path.join(libDir, 'libdbus-flashmq-ts.so'), entry: null, pluginOptions: { portal_id: 'e2e0portal' } });
            await broker.waitForLog(new RegExp(`JavaScript entry '${path.join(libDir, 'dist/ts/index.js').replace(/[./]/g, '\\$&')}' loaded`));
        } finally {
            fs.rmSync(prefix, { recursive: true, force: true });
        }
    });

    it('refuses thread_count 2 with a line that names the setting', async () => {
        const broker = await start({ threadCount: 2, noWait: true });
        await broker.exited;
        assert.match(broker.log(), /Error initializing auth back-end: dbus-flashmq needs 'thread_count 1' in flashmq\.conf/);
        assert.equal(await canConnect(broker.port), false);
    });

    it('does not start when the entry throws while loading, and says why in one line', async () => {
        const entry = scratchFile('broken.js');
        fs.writeFileSync(entry, 'throw new Error("broken entry on purpose");\n');
        const broker = await start({ entry, noWait: true });
        await broker.exited;
        const lines = broker.log().split('\n').filter((l) => l.includes('broken entry on purpose'));
        assert.equal(lines.length, 1);
        assert.match(lines[0]!, /Error initializing auth back-end: dbus-flashmq: Cannot load the JavaScript entry '.*broken\.js': Error: broken entry on purpose/);
    });

    it('does not start when the entry file is missing', async () => {
        const broker = await start({ entry: '/nonexistent/entry.js', noWait: true });
        await broker.exited;
        assert.match(broker.log(), /plugin_opt_entry '\/nonexistent\/entry\.js' is not a readable file/);
    });

    it('does not start with Node options Node refuses', async () => {
        const broker = await start({ pluginOptions: { node_args: '--no-such-node-option' }, noWait: true });
        await broker.exited;
        assert.match(broker.log(), /Node\.js refused its start-up options; .*--no-such-node-option.*\(check plugin_opt_node_args\)/);
    });

    it("unblocks SIGPROF on the broker's thread with --prof in node_args, for V8's sampler, and only then", async () => {
        // FlashMQ blocks every signal on its worker threads; V8's sampler ticks by sending SIGPROF to the JavaScript one.
        const sigprofBlocked = (pid: number): boolean => {
            const names: string[] = [];
            for (const task of fs.readdirSync(`/proc/${pid}/task`)) {
                names.push(fs.readFileSync(`/proc/${pid}/task/${task}/comm`, 'utf8').trim());
                if (names.at(-1) !== 'FlashMQ T 0')
                    continue;
                const mask = /^SigBlk:\s*([0-9a-f]+)$/m.exec(fs.readFileSync(`/proc/${pid}/task/${task}/status`, 'utf8'))![1]!;
                return (BigInt(`0x${mask}`) & (1n << 26n)) !== 0n; // SIGPROF is 27
            }
            throw new Error(`no thread 'FlashMQ T 0' among ${names.join(', ')}`);
        };
        // Each broker answers first: a FlashMQ older than 1.26 listens before its worker thread exists.
        const plain = await start();
        assert.equal((await probeState(plain.port)).reloads, 0);
        assert.equal(sigprofBlocked(plain.proc.pid!), true);
        const profiled = await start({ pluginOptions: { node_args: `--prof --logfile=${scratchFile('v8.log')} --no-logfile-per-isolate` } });
        assert.equal((await probeState(profiled.port)).reloads, 0);
        assert.equal(sigprofBlocked(profiled.proc.pid!), false);
    });

    it('finds the product entry next to the plugin in the build tree', async () => {
        const broker = await start({ entry: null, pluginOptions: { portal_id: 'e2e0portal' } });
        await broker.waitForLog(new RegExp(`JavaScript entry '${path.join(repoRoot, 'dist/ts/index.js').replace(/[./]/g, '\\$&')}' loaded`));
        await broker.waitForLog(/dbus-flashmq: (dbus-flashmq-ts \S+ )?started \(.*Node 18\./); // with or without the package's name
    });

    it('does not start without a portal id, and says where it looked', async () => {
        const broker = await start({ entry: null, pluginOptions: { unique_id_file: '/nonexistent/unique-id' }, noWait: true });
        await broker.exited;
        assert.match(broker.log(), /Error initializing auth back-end: dbus-flashmq: Cannot load the JavaScript entry '.*index\.js': Error: cannot read the portal id from '\/nonexistent\/unique-id' \(ENOENT\); set plugin_opt_portal_id or plugin_opt_unique_id_file/);
    });

    // FlashMQ 1.26 and newer hold their listeners until the plugin is ready; Venus OS's 1.21 and 1.23 cannot.
    const holdsListeners = !/^1\.(1\d|2[0-5])\./.test(flashmqVersion());

    it('says once, on a FlashMQ older than 1.26, that it cannot hold the listeners until it is ready', async function () {
        if (holdsListeners)
            this.skip();
        const broker = await start({ pluginOptions: { probe_never_ready: 'true' } });
        await broker.waitForLog(/this broker cannot hold its listeners until JavaScript is ready \(FlashMQ < 1\.26\)/);
        assert.equal(await canConnect(broker.port), true);
    });

    it('opens the listeners only after TypeScript says it is ready', async function () {
        if (!holdsListeners)
            this.skip();
        const marker = scratchFile('ready');
        const broker = await start({ pluginOptions: { probe_ready_delay_ms: '700', probe_ready_file: marker }, noWait: true });
        await broker.waitForLog(/probe loaded/);
        // The marker is written just before TypeScript says it is ready: between the two, the broker may still be
        // opening its listeners, so a refused connection with the marker there proves nothing either way.
        let refusedBeforeReady = false;
        while (!(await canConnect(broker.port))) {
            if (!fs.existsSync(marker))
                refusedBeforeReady = true;
            await sleep(20);
        }
        assert.ok(fs.existsSync(marker), 'listening only once ready');
        assert.ok(refusedBeforeReady, 'not listening while not ready');
    });

    it('opens the listeners anyway after ready_timeout_ms, with a warning', async function () {
        if (!holdsListeners)
            this.skip();
        const broker = await start({ pluginOptions: { probe_never_ready: 'true', ready_timeout_ms: '400' }, noWait: true });
        const deadline = Date.now() + 5000;
        while (!(await canConnect(broker.port)) && Date.now() < deadline)
            await sleep(20);
        assert.equal(await canConnect(broker.port), true);
        await broker.waitForLog(/JavaScript did not report ready within 400 ms; opening the listeners anyway/);
    });

    it('does not spin when idle', async () => {
        const broker = await start();
        await sleep(300);
        const before = cpuSeconds(broker.proc.pid!);
        await sleep(2000);
        const used = cpuSeconds(broker.proc.pid!) - before;
        assert.ok(used < 0.2, `used ${used.toFixed(3)} s of CPU in 2 s idle`);
    });

    it('binds every broker function it calls when it is first opened: a host that lacks one cannot load it at all', () => {
        // FlashMQ's second open (RTLD_NOW) binds nothing more, since libnode keeps the plugin loaded: only -z now makes
        // a missing host function fail the load instead of the first call. A process that is no broker shows it.
        const child = spawnSync(process.execPath, ['-e', `process.dlopen({ exports: {} }, ${JSON.stringify(pluginPath)}, ` +
            'require("node:os").constants.dlopen.RTLD_LAZY)'], { encoding: 'utf8', timeout: 30_000 });
        assert.notEqual(child.status, 0);
        assert.match(child.stderr, /undefined symbol: flashmq_[a-z_0-9]+/);
    });
});
