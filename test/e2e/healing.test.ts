// JavaScript that heals, inside the real broker: after Node's fatal path, a storm of uncaught errors or V8 at its
// heap limit, the plugin restarts its JavaScript by itself (with backoff), frees what the old one held, says so in
// the status file while it is down, and after too many restarts ends the broker cleanly for its service to restart.
import { strict as assert } from 'node:assert';
import * as fs from 'node:fs';
import * as net from 'node:net';
import * as path from 'node:path';

import type { MqttClient } from 'mqtt';

import type { RunningBroker } from '../helpers/flashmq';
import { brokerScratchDir, describeWithBroker, sleep, startBroker } from '../helpers/flashmq';
import { closeAll, connect, Inbox } from '../helpers/mqtt';

function openFds(pid: number): number {
    return fs.readdirSync(`/proc/${pid}/fd`).length;
}

describeWithBroker('the plugin in a real broker: JavaScript that heals', function () {
    const brokers: RunningBroker[] = [];
    const clients: MqttClient[] = [];
    const scratchDirs: string[] = [];
    const servers: net.Server[] = [];

    afterEach(async () => {
        await closeAll(...clients.splice(0));
        for (const b of brokers.splice(0)) {
            await b.stop('SIGKILL');
            b.cleanup();
        }
        for (const s of servers.splice(0))
            s.close();
        for (const dir of scratchDirs.splice(0))
            fs.rmSync(dir, { recursive: true, force: true });
    });

    function scratch(): string {
        const dir = brokerScratchDir('dfmq-heal-', true);
        scratchDirs.push(dir);
        return dir;
    }

    async function start(pluginOptions: Record<string, string> = {}): Promise<{ broker: RunningBroker; control: MqttClient; inbox: Inbox; statusFile: string }> {
        const statusFile = path.join(scratch(), 'status');
        const broker = await startBroker({ pluginOptions: { status_file: statusFile, ...pluginOptions } });
        brokers.push(broker);
        const control = await connect(broker.port, { clientId: 'control' });
        clients.push(control);
        const inbox = await Inbox.subscribe(control, ['probe/reply/#', 'probe/echo/reply']);
        return { broker, control, inbox, statusFile };
    }

    async function serves(control: MqttClient, inbox: Inbox, text = 'ping'): Promise<void> {
        inbox.clear();
        await control.publishAsync('probe/echo', text);
        assert.equal((await inbox.waitFor('probe/echo/reply', 5000)).payload.toString(), `control:${text}`);
    }

    const loads = (broker: RunningBroker): number => broker.log().match(/probe: probe loaded/g)?.length ?? 0;

    it("restarts JavaScript by itself after Node's fatal path, says so in the status file meanwhile, and serves again", async () => {
        const { broker, control, inbox, statusFile } = await start();
        await serves(control, inbox);
        await control.publishAsync('probe/cmd', 'fatal');
        const stopped = await broker.waitForLog(/dbus-flashmq: JavaScript stopped: JavaScript ended itself through Node's fatal path \(exit code \d+\)\. Restarting it in 1000 ms \(restart 1 of at most 5 within 10 minutes\); until then logins are refused and the publishes JavaScript handles are denied/);
        assert.ok(stopped);
        const status = JSON.parse(fs.readFileSync(statusFile, 'utf8')) as { state: string; since: number; pid: number; reason: string };
        assert.equal(status.state, 'restarting');
        assert.equal(status.pid, broker.proc.pid);
        assert.ok(Math.abs(status.since - Date.now() / 1000) < 10, `since ${status.since}`);
        assert.match(status.reason, /Node's fatal path/);

        await broker.waitForLog(/dbus-flashmq: JavaScript restarted in \d+ ms; it was stopped for \d+ ms/, 10_000);
        assert.equal(loads(broker), 2);
        await serves(control, inbox, 'back');
        const login = await connect(broker.port, { username: 'someone', password: 'pw', clientId: 'after-restart' });
        clients.push(login);
        assert.deepEqual(await broker.stop('SIGTERM'), { code: 0, signal: null });
    });

    it('restarts JavaScript after a storm of uncaught errors, with one line saying so', async () => {
        const { broker, control, inbox } = await start();
        await control.publishAsync('probe/cmd', 'storm 200');
        await broker.waitForLog(/dbus-flashmq: JavaScript stopped: 51 uncaught errors within [\d.]+ s \(51 since it started\)\. Restarting it in 1000 ms/);
        await broker.waitForLog(/JavaScript restarted in \d+ ms/, 10_000);
        const logged = broker.log().match(/uncaught exception in JavaScript \(the broker keeps running\): Error: probe storm error/g)?.length ?? 0;
        assert.equal(logged, 51, 'the errors after the 51st are not logged');
        await serves(control, inbox);
    });

    it('gives up after too many restarts within 10 minutes: one line, the status file, and the broker ends cleanly', async () => {
        const { broker, control, statusFile } = await start({ restart_limit: '2', restart_delay_ms: '50' });
        for (let i = 1; i <= 2; i++) {
            const from = broker.log().length;
            await control.publishAsync('probe/cmd', 'fatal');
            await broker.waitForLog(new RegExp(`Restarting it in ${50 * 2 ** (i - 1)} ms \\(restart ${i} of at most 2 within 10 minutes\\)`), 5000, from);
            await broker.waitForLog(/JavaScript restarted in \d+ ms/, 5000, from);
        }
        await control.publishAsync('probe/cmd', 'fatal');
        await broker.waitForLog(/dbus-flashmq: JavaScript stopped again \(JavaScript ended itself through Node's fatal path \(exit code \d+\)\) after 2 restarts within 10 minutes; giving up: ending the broker \(SIGTERM\) so that its service starts it afresh/);
        const exit = await Promise.race([broker.exited, sleep(15_000).then(() => 'still running')]);
        assert.deepEqual(exit, { code: 0, signal: null });
        assert.match(broker.log(), /Quitting FlashMQ/);
        const status = JSON.parse(fs.readFileSync(statusFile, 'utf8')) as { state: string; reason: string };
        assert.equal(status.state, 'degraded');
        assert.match(status.reason, /^gave up after 2 restarts within 10 minutes; last: JavaScript ended itself/);
    });

    it("frees the old environment's sockets and file descriptors on every restart", async () => {
        const dir = scratch();
        const socketPath = path.join(dir, 'held.sock');
        const closed: number[] = [];
        let accepted = 0;
        const server = net.createServer((socket) => {
            const n = ++accepted;
            socket.on('close', () => closed.push(n));
            socket.on('error', () => undefined);
        });
        servers.push(server);
        await new Promise<void>((resolve) => server.listen(socketPath, resolve));
        fs.chmodSync(socketPath, 0o777); // the broker may run as another user
        const { broker, control, inbox } = await start({ restart_limit: '10', restart_delay_ms: '10' });
        const pid = broker.proc.pid!;
        await serves(control, inbox);
        const baseline = openFds(pid);
        for (let i = 1; i <= 3; i++) {
            inbox.clear();
            await control.publishAsync('probe/cmd', `hold-socket ${socketPath}`);
            assert.equal((await inbox.waitFor('probe/reply/hold-socket')).payload.toString(), 'connected');
            // The socket, and libuv's spare descriptor (/dev/null) that a loop opens with its first stream.
            assert.equal(openFds(pid), baseline + 2, 'the socket and the loop\'s spare are two more descriptors');
            const from = broker.log().length;
            await control.publishAsync('probe/cmd', 'fatal');
            await broker.waitForLog(/JavaScript restarted in \d+ ms/, 10_000, from);
            await serves(control, inbox);
            const deadline = Date.now() + 3000;
            while (closed.length < i && Date.now() < deadline)
                await sleep(20);
            assert.deepEqual(closed, Array.from({ length: i }, (_, k) => k + 1), 'the old environment closed its socket');
            assert.equal(openFds(pid), baseline, `restart ${i}: descriptors back to ${baseline}`);
        }
    });

    it('restarts JavaScript when V8 reaches its heap limit, instead of letting V8 end the broker', async () => {
        const { broker, control, inbox } = await start({ node_args: '--max-old-space-size=16' });
        await control.publishAsync('probe/cmd', 'hog');
        await broker.waitForLog(/dbus-flashmq: V8's heap reached its limit: [\d.]+ MB used of [\d.]+ MB \(heap total [\d.]+ MB; old generation 16 MiB\); V8 gets [\d.]+ MB more while JavaScript is restarted/, 20_000);
        await broker.waitForLog(/JavaScript stopped: V8's heap reached its limit\. Restarting it in 1000 ms/);
        await broker.waitForLog(/JavaScript restarted in \d+ ms/, 10_000);
        await serves(control, inbox, 'after the heap');

        // Once more with the allocations spread over the loop, not in one call.
        const from = broker.log().length;
        await control.publishAsync('probe/cmd', 'hog-async');
        await broker.waitForLog(/JavaScript stopped: V8's heap reached its limit\. Restarting it in 2000 ms \(restart 2 of at most 5/, 20_000, from);
        await broker.waitForLog(/JavaScript restarted in \d+ ms/, 10_000, from);
        await serves(control, inbox, 'after the heap again');
        assert.equal(broker.running, true);
        assert.deepEqual(await broker.stop('SIGTERM'), { code: 0, signal: null });
    });

    it("gives JavaScript an Error when the broker refuses a publish with a C++ exception, and goes on", async () => {
        const { broker, control, inbox } = await start();
        const v5 = await connect(broker.port, { clientId: 'v5', protocolVersion: 5 });
        clients.push(v5);
        const v5inbox = await Inbox.subscribe(v5, 'probe/big/#');
        inbox.clear();
        await control.publishAsync('probe/cmd', 'publish-big-property probe/big/one');
        const answer = (await inbox.waitFor('probe/reply/publish-big-property')).payload.toString();
        assert.equal(answer, 'Error: String too long.', 'FlashMQ\'s own exception, as a JavaScript Error');
        assert.equal(broker.running, true);
        await serves(control, inbox);
        assert.deepEqual(await v5inbox.collect('probe/big/one', 200), []);
    });
});
