// Benchmark of the access rules (not a test: it prints numbers), side by side in one run:
//   - delivery rate to 10 subscribers with the plugin loaded versus no plugin: the cost of the read ACL, which
//     every delivery to every subscriber passes (answered in C++);
//   - logins under a brute-force attempt: attempts answered per second, broker CPU, and how long a legitimate
//     local client waits to log in meanwhile;
//   - a token user's password guessed by 100 clients from one address while the token user logs in with the right
//     one from another address every 250 ms, and a logged-in client's keep-alive round trip meanwhile: how many right
//     logins got in, and the keep-alive p50/p99.
//
//   npm run bench:security [-- --messages 50000 --subscribers 10 --seconds 10]
import { spawn } from 'node:child_process';
import * as net from 'node:net';
import type { ChildProcess } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';

import type { BrokerOptions } from '../test/helpers/flashmq';
import { brokerScratchDir, flashmqBinary, sleep, startBroker } from '../test/helpers/flashmq';
import type { IClientOptions } from 'mqtt';
import { MqttClient } from 'mqtt';

import { closeAll, connect, Inbox } from '../test/helpers/mqtt';
import { addSetting, startGx } from '../test/helpers/venus';
import { numberOption } from './args';

const BCRYPT_HALLO = '$2b$04$.Wd.v7vwGPp6SJaFaJOGj.zySh7yPfMeHI4dGE/LWPBkV7izPZjVm';
// bcrypt cost 12: about 200 ms a check here, as cost 10 takes on a GX device's Cortex-A7.
const BCRYPT12_HALLO = '$2b$12$KJHoID/5soDn4r4ct/vUSuklnxsOwE28VwoINS74XHbJqBNiuRM76';

const MESSAGES = numberOption('messages', 50_000);
const SUBSCRIBERS = numberOption('subscribers', 10);
const SECONDS = numberOption('seconds', 10);
const ROUNDS = numberOption('rounds', 3);

function cpuMs(pid: number): number {
    const f = fs.readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
    return (Number(f[11]) + Number(f[12])) * 10;
}

const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

async function deliveryRate(options: BrokerOptions, topic: string): Promise<{ ms: number; cpu: number; delivered: number }> {
    const broker = await startBroker({ ...options, logLevel: 'warning', extraConfig: 'client_max_write_buffer_size 16777216\n' });
    const subs: ChildProcess[] = [];
    let delivered = 0;
    let lastDelivery = 0;
    for (let i = 0; i < SUBSCRIBERS; i++) {
        const sub = spawn('mosquitto_sub', ['-p', String(broker.port), '-t', topic, '-u', `sub${i}`, '-P', 'x']);
        sub.stdout.on('data', (chunk: Buffer) => {
            for (let k = chunk.indexOf(10); k >= 0; k = chunk.indexOf(10, k + 1))
                delivered++;
            lastDelivery = performance.now();
        });
        subs.push(sub);
    }
    await sleep(500);
    // mqtt.js, not mosquitto_pub -l: the latter (2.0.11) drops the last few thousand lines at the end of its input.
    const publisher = await connect(broker.port, { username: 'pub', password: 'x', protocolVersion: 4 });
    const c0 = cpuMs(broker.proc.pid!);
    const t0 = performance.now();
    for (let i = 0; i < MESSAGES; i++) {
        const sent = publisher.publishAsync(topic, `{"value":${i}.5}`);
        if (i % 200 === 199)
            await sent;
    }
    // Done when every delivery arrived, or nothing arrived for 5 s (QoS 0: the broker may drop for slow readers).
    while (delivered < MESSAGES * SUBSCRIBERS && performance.now() - lastDelivery < 5000)
        await sleep(20);
    const ms = lastDelivery - t0;
    const cpu = cpuMs(broker.proc.pid!) - c0;
    for (const s of subs)
        s.kill();
    await closeAll(publisher);
    await broker.stop();
    broker.cleanup();
    return { ms, cpu, delivered };
}

async function bruteForce(port: number, pid: number): Promise<{ attempts: number; cpu: number; legit: number[]; legitFailed: number }> {
    let attempts = 0;
    let running = true;
    const c0 = cpuMs(pid);
    const workers = Array.from({ length: 50 }, async (_, w) => {
        for (let i = 0; running; i++) {
            try {
                const c = await connect(port, { username: `guess${w}`, password: `pw-${w}-${i}`, reconnectPeriod: 0, connectTimeout: 10_000 });
                await closeAll(c);
            } catch {
                // refused, as expected
            }
            attempts++;
        }
    });
    const legit: number[] = [];
    let legitFailed = 0;
    const prober = (async () => {
        while (running) {
            const t0 = performance.now();
            try {
                const c = await connect(port, { username: 'token/bench/legit', password: 'hallo', reconnectPeriod: 0, connectTimeout: 10_000 });
                legit.push(performance.now() - t0);
                await closeAll(c);
            } catch {
                legitFailed++;
            }
            await sleep(250);
        }
    })();
    await sleep(SECONDS * 1000);
    running = false;
    const cpu = cpuMs(pid) - c0;
    await Promise.all([...workers, prober]);
    return { attempts, cpu, legit, legitFailed };
}

/** An MQTT connection from a chosen local address (127.0.0.0/8 is all this machine's): another source for the broker. */
function connectFrom(localAddress: string, port: number, options: IClientOptions): Promise<MqttClient> {
    return new Promise((resolve, reject) => {
        const client = new MqttClient(() => net.connect({ host: '127.0.0.1', port, localAddress }),
            { protocolVersion: 4, reconnectPeriod: 0, connectTimeout: 10_000, ...options });
        client.once('connect', () => resolve(client));
        client.once('error', (err) => { client.end(true); reject(err); });
        client.once('close', () => reject(new Error('closed before it connected')));
    });
}

const percentile = (xs: number[], p: number): number => [...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.floor(xs.length * p))] ?? NaN;

async function tokenGuessing(port: number, portalId: string): Promise<{ guesses: number; right: number; rightRefused: number; rightMs: number[]; keepAlive: number[] }> {
    let running = true;
    let guesses = 0;
    const polite = await connectFrom('127.0.0.3', port, { username: 'token/bench/legit', password: 'hallo' });
    const inbox = await Inbox.subscribe(polite, `N/${portalId}/full_publish_completed`);
    const workers = Array.from({ length: 100 }, async (_, w) => {
        for (let i = 0; running; i++) {
            try {
                const c = await connectFrom('127.0.0.2', port, { username: 'token/bench/legit', password: `guess-${w}-${i}` });
                await closeAll(c);
            } catch {
                // refused, as expected
            }
            guesses++;
        }
    });
    const rightMs: number[] = [];
    let rightRefused = 0;
    const prober = (async () => {
        await sleep(1000); // the flood is on
        while (running) {
            const t0 = performance.now();
            try {
                const c = await connectFrom('127.0.0.4', port, { username: 'token/bench/legit', password: 'hallo' });
                rightMs.push(performance.now() - t0);
                await closeAll(c);
            } catch {
                rightRefused++;
            }
            await sleep(250);
        }
    })();
    const keepAlive: number[] = [];
    const pinger = (async () => {
        for (let i = 0; running; i++) {
            const echo = `polite-${i}`;
            const t0 = performance.now();
            await polite.publishAsync(`R/${portalId}/keepalive`, JSON.stringify({ 'keepalive-options': [{ 'full-publish-completed-echo': echo }] }));
            try {
                await inbox.waitFor((m) => m.payload.toString().includes(`"${echo}"`), 10_000);
                keepAlive.push(performance.now() - t0);
            } catch {
                keepAlive.push(10_000);
            }
            inbox.clear();
            await sleep(400);
        }
    })();
    await sleep(SECONDS * 1000);
    running = false;
    await Promise.all([...workers, prober, pinger]);
    await closeAll(polite);
    return { guesses, right: rightMs.length, rightRefused, rightMs, keepAlive };
}

async function main(): Promise<void> {
    if (!flashmqBinary()) {
        console.log('SKIPPED: the benchmark needs flashmq (FLASHMQ_BIN, PATH or scripts/flashmq.sh) and the built plugin');
        return;
    }
    const dir = brokerScratchDir('dfmq-bench-sec-');
    fs.writeFileSync(path.join(dir, 'vnc.txt'), '$2b$10$ZzLnIABnkkKExja8drf2Tu9YMUGAbT6/b4DJzhivEZAUg7tchvw66\n');
    const plugin = { entry: null, pluginOptions: { portal_id: 'bench', password_file: path.join(dir, 'vnc.txt'), skip_broker_registration: 'true' } };
    console.log(`# Access rules benchmark, ${new Date().toISOString()}`);

    console.log(`\n## Delivery to ${SUBSCRIBERS} subscribers (${MESSAGES} publishes each received by all, ${MESSAGES * SUBSCRIBERS} deliveries; median of ${ROUNDS})`);
    console.log('| configuration | time (ms) | deliveries received | per second | broker CPU (ms) | CPU per delivery (µs) |');
    console.log('|---|---|---|---|---|---|');
    const cases: Array<[string, BrokerOptions, string]> = [
        ['no plugin, any topic', { plugin: null, entry: null }, 'sensors/outside/temperature'],
        ['plugin, topic outside its prefixes (read ACL only)', plugin, 'sensors/outside/temperature'],
        ['plugin, N/ topic of another portal (read ACL only)', plugin, 'N/elsewhere/battery/0/Dc/0/Voltage'],
        ['plugin, R/ topic of another portal (read ACL, and the publish decided in JS)', plugin, 'R/elsewhere/battery/0/Dc/0/Voltage'],
    ];
    for (const [name, options, topic] of cases) {
        const rounds = [];
        for (let r = 0; r < ROUNDS; r++)
            rounds.push(await deliveryRate(options, topic));
        const ms = median(rounds.map((r) => r.ms));
        const cpu = median(rounds.map((r) => r.cpu));
        const delivered = median(rounds.map((r) => r.delivered));
        console.log(`| ${name} | ${ms.toFixed(0)} | ${delivered} of ${MESSAGES * SUBSCRIBERS} | ${((delivered / ms) * 1000 / 1e6).toFixed(2)} M | ${cpu} | ${((cpu * 1000) / delivered).toFixed(3)} |`);
    }

    console.log(`\n## Brute force: 50 clients guessing the device password for ${SECONDS} s (bcrypt cost 10), a token user (bcrypt cost 4) logging in every 250 ms`);
    fs.writeFileSync(path.join(dir, 'tokens.json'), JSON.stringify([{ token_name: 'token/bench/legit', password_hash: BCRYPT_HALLO }]));
    const gx = await startGx({
        recording: 'bct',
        broker: { allowAnonymous: false, logLevel: 'info' },
        pluginOptions: { local_networks: '192.0.2.0/24', password_file: path.join(dir, 'vnc.txt'), tokens_file: path.join(dir, 'tokens.json'), skip_broker_registration: 'true' },
    });
    await addSetting(gx, '/Settings/Services', 'MqttLocal', 1, 0, 2);
    await sleep(300);
    const { attempts, cpu, legit, legitFailed } = await bruteForce(gx.port, gx.broker.proc.pid!);
    await gx.stop();
    console.log('| attempts answered | per second | broker CPU | token user logins meanwhile: p50 / max (ms), refused |');
    console.log('|---|---|---|---|');
    console.log(`| ${attempts} | ${(attempts / SECONDS).toFixed(0)} | ${cpu} ms (${((cpu / (SECONDS * 1000)) * 100).toFixed(1)} % of a core) | ${median(legit).toFixed(1)} / ${Math.max(...legit).toFixed(1)}, ${legitFailed} |`);

    console.log(`\n## A token user's password (bcrypt cost 12, as slow as cost 10 on a device) guessed by 100 clients from one address for ${SECONDS} s; the right password from another address every 250 ms; a logged-in client's keep-alive (with echo) every 400 ms`);
    // Password checks as slow as on a device: the thread pool is the bottleneck.
    fs.writeFileSync(path.join(dir, 'tokens.json'), JSON.stringify([{ token_name: 'token/bench/legit', password_hash: BCRYPT12_HALLO }]));
    const gx2 = await startGx({
        recording: 'bct',
        broker: { allowAnonymous: false, logLevel: 'info' },
        pluginOptions: { local_networks: '192.0.2.0/24', password_file: path.join(dir, 'vnc.txt'), tokens_file: path.join(dir, 'tokens.json'), skip_broker_registration: 'true' },
    });
    await sleep(300);
    const t = await tokenGuessing(gx2.port, 'c0619ab1a2b3');
    await gx2.stop();
    console.log('| guesses answered | right logins: in / refused, p50 / max (ms) | keep-alive echo p50 / p99 (ms) |');
    console.log('|---|---|---|');
    console.log(`| ${t.guesses} | ${t.right} / ${t.rightRefused}, ${median(t.rightMs).toFixed(1)} / ${Math.max(...t.rightMs).toFixed(1)} | ${percentile(t.keepAlive, 0.5).toFixed(1)} / ${percentile(t.keepAlive, 0.99).toFixed(1)} |`);
    fs.rmSync(dir, { recursive: true, force: true });
}

main().catch((err: unknown) => {
    console.error(err);
    process.exitCode = 1;
});
