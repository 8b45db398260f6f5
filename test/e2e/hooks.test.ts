// The shim inside the real broker, driven by real MQTT clients: hooks into TypeScript and back.
import { strict as assert } from 'node:assert';
import { execFile, spawn } from 'node:child_process';
import { promisify } from 'node:util';

import type { MqttClient } from 'mqtt';

import type { RunningBroker } from '../helpers/flashmq';
import { describeWithBroker, sleep, startBroker } from '../helpers/flashmq';
import { closeAll, connect, Inbox } from '../helpers/mqtt';

const execFileAsync = promisify(execFile);

describeWithBroker('the plugin in a real broker: hooks', function () {
    let broker: RunningBroker;
    let control: MqttClient;
    let inbox: Inbox;

    async function command(text: string, waitReply?: string): Promise<string | undefined> {
        inbox.clear();
        await control.publishAsync('probe/cmd', text);
        if (!waitReply)
            return undefined;
        return (await inbox.waitFor(`probe/reply/${waitReply}`)).payload.toString();
    }

    async function state(): Promise<{ publishes: number; disconnects: string[]; periodic: number; reloads: number; option: string }> {
        return JSON.parse((await command('state', 'state'))!) as never;
    }

    async function stillServing(): Promise<void> {
        inbox.clear();
        await control.publishAsync('probe/echo', 'ping');
        const reply = await inbox.waitFor('probe/echo/reply');
        assert.equal(reply.payload.toString(), 'control:ping');
    }

    before(async () => {
        broker = await startBroker({ pluginOptions: { probe_state: 'from-config' }, env: { DFMQ_PROBE_ENV: 'seen' } });
        control = await connect(broker.port, { clientId: 'control' });
        inbox = await Inbox.subscribe(control, ['probe/reply/#', 'probe/echo/reply']);
    });

    after(async () => {
        await closeAll(control);
        await broker?.stop();
        broker?.cleanup();
    });

    it('loads the entry module and serves', async () => {
        await broker.waitForLog(/dbus-flashmq: JavaScript entry '.*probe-entry\.js' loaded in \d+ ms \(Node 18\.\d+\.\d+\)/);
        await broker.waitForLog(/probe: probe loaded/);
        assert.equal((await state()).option, 'from-config');
    });

    it('loads the entry as a module of its own, and hands it Node\'s built-ins as they are', async () => {
        const reply = JSON.parse((await command('module', 'module'))!) as Record<string, unknown>;
        assert.deepEqual(reply, {
            filename: true, cached: true, loaded: true, paths: true, fsSame: true, netSame: true, zlib: 'function', missing: 'MODULE_NOT_FOUND',
        });
    });

    it('delivers a TypeScript publish to a subscriber', async () => {
        const reply = await command('state', 'state');
        assert.ok(reply && reply.startsWith('{'));
    });

    it('hands a client publish to the TypeScript handler, which answers', async () => {
        await stillServing();
    });

    it('lets the TypeScript handler deny a publish', async () => {
        const sub = await connect(broker.port);
        const seen = await Inbox.subscribe(sub, 'probe/+/x');
        const before = (await state()).publishes;
        await control.publishAsync('probe/deny/x', 'no');
        await control.publishAsync('probe/allow/x', 'yes');
        await seen.waitFor('probe/allow/x');
        assert.deepEqual(await seen.collect('probe/deny/x', 200), []);
        assert.equal((await state()).publishes, before + 3, 'both publishes and the state command reached TypeScript');
        await closeAll(sub);
    });

    it('keeps publishes outside the forward filters away from JavaScript', async () => {
        const sub = await connect(broker.port);
        const seen = await Inbox.subscribe(sub, 'elsewhere/#');
        const before = (await state()).publishes;
        await control.publishAsync('elsewhere/a', '1');
        await seen.waitFor('elsewhere/a');
        assert.equal((await state()).publishes, before + 1, 'only the state command');
        await closeAll(sub);
    });

    it('works with mosquitto clients', async () => {
        const sub = spawn('mosquitto_sub', ['-p', String(broker.port), '-t', 'probe/echo/reply', '-C', '1', '-W', '5']);
        const exited = new Promise<number | null>((resolve) => sub.on('exit', resolve));
        let out = '';
        sub.stdout.on('data', (d: Buffer) => { out += d.toString(); });
        await sleep(300);
        await execFileAsync('mosquitto_pub', ['-p', String(broker.port), '-i', 'mosq-pub', '-t', 'probe/echo', '-m', 'from mosquitto']);
        assert.equal(await exited, 0);
        assert.equal(out.trim(), 'mosq-pub:from mosquitto');
    });

    describe('logins', () => {
        async function tryLogin(username: string): Promise<{ ok: boolean; ms: number; error?: string }> {
            const started = Date.now();
            try {
                const c = await connect(broker.port, { username, password: 'pw', clientId: `login-${username}` });
                await closeAll(c);
                return { ok: true, ms: Date.now() - started };
            } catch (err) {
                return { ok: false, ms: Date.now() - started, error: String(err) };
            }
        }

        it('accepts an asynchronous login when its promise resolves true', async () => {
            const r = await tryLogin('async-ok');
            assert.equal(r.ok, true, r.error);
            assert.ok(r.ms >= 90, `answered after the handler's 100 ms (${r.ms} ms)`);
        });

        it('denies an asynchronous login when its promise resolves false', async () => {
            const r = await tryLogin('async-deny');
            assert.equal(r.ok, false);
            assert.ok(r.ms >= 90);
        });

        it('accepts a promise that is already resolved', async () => {
            assert.equal((await tryLogin('microtask-ok')).ok, true);
        });

        it('denies synchronously', async () => {
            const r = await tryLogin('deny');
            assert.equal(r.ok, false);
            assert.match(r.error!, /Bad User Name or Password|Not authorized|134|135/i);
        });

        it('lets the broker hold a denial back for the delay given', async () => {
            const r = await tryLogin('delayed-deny');
            assert.equal(r.ok, false);
            assert.ok(r.ms >= 650, `denied after ${r.ms} ms`);
        });

        it('refuses a login never answered, at the login timeout', async () => {
            const r = await tryLogin('never');
            assert.equal(r.ok, false);
            assert.ok(r.ms >= 1400, `refused after ${r.ms} ms`);
            await broker.waitForLog(/'login-never' was not answered within 1500 ms; refused/);
        });

        it('refuses a login whose handler throws, logs it, and keeps serving', async () => {
            const r = await tryLogin('throw');
            assert.equal(r.ok, false);
            await broker.waitForLog(/login handler failed for client 'login-throw': Error: probe login handler throws on purpose/);
            assert.equal((await tryLogin('ok')).ok, true);
        });
    });

    describe('JavaScript that misbehaves', () => {
        it('logs a throw in a hook, denies that publish, and keeps serving', async () => {
            await command('throw');
            await broker.waitForLog(/publish handler failed on topic 'probe\/cmd' from client 'control': Error: probe publish handler throws on purpose/);
            await stillServing();
        });

        it('logs uncaught exceptions and unhandled rejections, and keeps serving', async () => {
            await command('throw-later');
            await command('reject');
            await broker.waitForLog(/uncaught exception in JavaScript \(the broker keeps running\): Error: probe timer throws on purpose/);
            await broker.waitForLog(/unhandled promise rejection in JavaScript \(the broker keeps running\): Error: probe rejects on purpose/);
            await stillServing();
        });

        it('keeps its safety net for uncaught errors when JavaScript removes every listener', async () => {
            await command('remove-net');
            await broker.waitForLog(/uncaught exception in JavaScript \(the broker keeps running\): Error: probe error without a net/);
            await stillServing();
        });

        for (const [cmd, what] of [['exit', /process\.exit\(3\)/], ['really-exit', /process\.reallyExit\(4\)/], ['abort', /process\.abort\(\)/], ['kill', /process\.kill\(\d+, 'SIGTERM'\) on the broker's own process/]] as const) {
            it(`refuses ${cmd} with a log line and keeps serving`, async () => {
                await command(cmd);
                await broker.waitForLog(new RegExp(`JavaScript called ${what.source}; refused, the broker keeps running`));
                assert.equal(broker.running, true);
                await stillServing();
            });
        }

        it("cannot change the broker's process state, and reads its environment", async () => {
            const result = JSON.parse((await command('process-state', 'process-state'))!) as Record<string, string>;
            assert.match(result.chdir!, /not supported/);
            assert.match(result.umask!, /not supported/);
            assert.equal(result.env, 'seen');
        });

        it('refuses signal listeners', async () => {
            assert.equal(await command('signal', 'signal'), '0');
            await broker.waitForLog(/JavaScript called process\.on\('SIGINT', \.\.\.\); refused/);
        });

        it('sends console output, stdout and warnings to the broker log at their levels', async () => {
            await command('console');
            await command('warning');
            await broker.waitForLog(/\[INFO\] .*\[js console\] probe console\.log 42/);
            await broker.waitForLog(/\[WARNING\] .*\[js console\] probe console\.warn/);
            await broker.waitForLog(/\[ERROR\] .*\[js console\] probe console\.error/);
            await broker.waitForLog(/\[INFO\] .*\[js stdout\] probe stdout line/);
            await broker.waitForLog(/\[WARNING\] .*JavaScript warning: Warning: probe warning text/);
            assert.doesNotMatch(broker.consoleOutput, /probe (console|stdout)/);
        });
    });

    describe('the event loop', () => {
        it('runs immediates, promise callbacks and timers created inside a hook', async () => {
            await control.publishAsync('probe/cmd', 'immediate');
            await control.publishAsync('probe/cmd', 'promise');
            await control.publishAsync('probe/cmd', 'timer 200');
            await inbox.waitFor('probe/reply/immediate');
            await inbox.waitFor('probe/reply/promise');
            const fired = Number((await inbox.waitFor('probe/reply/timer')).payload.toString());
            assert.ok(fired >= 199, `the timer fired after ${fired} ms`);
        });

        it('hands client disconnects and periodic events to TypeScript', async () => {
            const c = await connect(broker.port, { clientId: 'goes-away' });
            await c.endAsync();
            await sleep(1200); // plugin_timer_period 1
            const s = await state();
            assert.ok(s.disconnects.includes('goes-away'), JSON.stringify(s.disconnects));
            assert.ok(s.periodic >= 1);
        });
    });

    describe('clients', () => {
        it('tells a client address and disconnects a client', async () => {
            const victim = await connect(broker.port, { clientId: 'victim', username: 'vic', password: 'x' });
            const closed = new Promise<void>((resolve) => victim.once('close', () => resolve()));
            assert.equal(await command('address victim vic', 'address'), '127.0.0.1');
            assert.equal(await command('address victim other', 'address'), 'none');
            assert.equal(await command('disconnect victim vic', 'disconnect'), 'true');
            await closed;
            assert.equal(await command('disconnect victim vic', 'disconnect'), 'false');
            assert.ok((await state()).disconnects.includes('victim'), 'the disconnect JavaScript caused reached it too');
            await closeAll(victim);
        });
    });

    describe('rules answered in C++', () => {
        it('enforces read rules on every delivery', async () => {
            await command(`read-rules ${JSON.stringify([
                { filter: 'probe/secret/#' },
                { filter: 'probe/vip/#', usernames: ['plain'], gate: 'vip' },
            ])}`, 'read-rules');
            const plain = await connect(broker.port, { username: 'plain', password: 'x' });
            const other = await connect(broker.port, { username: 'other', password: 'x' });
            const plainIn = await Inbox.subscribe(plain, ['probe/secret/#', 'probe/public/#', 'probe/vip/#']);
            const otherIn = await Inbox.subscribe(other, ['probe/vip/#']);
            await control.publishAsync('probe/secret/a', 's');
            await control.publishAsync('probe/public/a', 'p');
            await control.publishAsync('probe/vip/a', 'v1');
            await plainIn.waitFor('probe/public/a');
            await otherIn.waitFor('probe/vip/a');
            assert.deepEqual(await plainIn.collect('probe/secret/a', 200), []);
            assert.deepEqual(plainIn.on('probe/vip/a'), [], 'the gate is closed for plain');

            await command('gate vip 60000', 'gate');
            await control.publishAsync('probe/vip/a', 'v2');
            const v2 = await plainIn.waitFor((m) => m.topic === 'probe/vip/a');
            assert.equal(v2.payload.toString(), 'v2');
            await command('read-rules []', 'read-rules');
            await closeAll(plain, other);
        });

        it('alters publishes that match the alterPublish filter', async () => {
            const sub = await connect(broker.port);
            const seen = await Inbox.subscribe(sub, ['probe/alter/#', 'probe/altered']);
            await control.publishAsync('probe/alter/unretain', 'r', { retain: true });
            await control.publishAsync('probe/alter/other', 'o');
            await seen.waitFor('probe/alter/unretain');
            await seen.waitFor('probe/altered');
            const late = await connect(broker.port);
            const lateIn = await Inbox.subscribe(late, 'probe/alter/#');
            assert.deepEqual(await lateIn.collect('probe/alter/unretain', 300), [], 'the retain flag was cleared');
            await closeAll(sub, late);
        });
    });

    it('delivers a chunked burst of 50,000 publishes without loss', async () => {
        const sub = await connect(broker.port);
        let count = 0;
        sub.on('message', (topic) => { if (topic.startsWith('probe/burst/') && topic !== 'probe/burst/done') count++; });
        const done = new Promise<string>((resolve) => sub.on('message', (topic, payload) => { if (topic === 'probe/burst/done') resolve(payload.toString()); }));
        await sub.subscribeAsync('probe/burst/#');
        await command('burst 50000 1000');
        const summary = JSON.parse(await done) as { count: number };
        assert.equal(summary.count, 50000);
        await sleep(100);
        assert.equal(count, 50000);
        await closeAll(sub);
    });
});
