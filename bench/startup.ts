// What a client sees that connects the moment the broker starts, as the Marine MFD app and Home Assistant do after a
// GX reboots: per FlashMQ version (1.21 and 1.23 open their listeners before the plugin is ready, 1.26 waits for it),
// the time from the broker's start to the first CONNACK, to the retained N/<id>/system/0/Serial, and to the
// full_publish_completed of a keep-alive sent right after connecting, with how many topics came before it; side by
// side with another plugin (the original) when --compare <plugin.so> is given. Prints medians of --rounds runs.
//
//   npm run bench:startup -- [--compare <original .so>] [--rounds 5] [--flashmq <binary>]... [--recording bct]
//
// Without --flashmq: every FlashMQ scripts/flashmq.sh has built for this machine (1.26.2, 1.23.2, 1.21.1).
import * as fs from 'node:fs';
import * as net from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';
import { spawn } from 'node:child_process';

import { Variant } from 'dbus-next';
import type { MqttClient } from 'mqtt';

import { flashmqConfig } from '../ts/demo/flashmq-config';
import { Simulator } from '../ts/sim';
import { startDbusDaemon } from '../test/helpers/dbus-daemon';
import { freePort, pluginPath, repoRoot, sleep } from '../test/helpers/flashmq';
import { closeAll, connect, Inbox } from '../test/helpers/mqtt';
import { devicePortalId, PORTAL_ID, recordingsDir } from '../test/helpers/venus';
import { numberOption, option } from './args';

const ROUNDS = numberOption('rounds', 5);
const RECORDING = option('recording') ?? 'bct';
const COMPARE = option('compare');

interface Sample {
    connack: number;
    serial: number;
    completed: number;
    topicsBefore: number;
}

function brokers(): Array<{ label: string; bin: string }> {
    const given: string[] = [];
    for (let i = 0; i < process.argv.length; i++)
        if (process.argv[i] === '--flashmq' && process.argv[i + 1])
            given.push(process.argv[i + 1]!);
    const found = given.length > 0 ? given
        : ['host', 'host-1.23.2', 'host-1.21.1'].map((d) => path.join(repoRoot, '.deps/flashmq', d, 'flashmq')).filter((f) => fs.existsSync(f));
    return found.map((bin) => ({ label: path.basename(path.dirname(bin)).replace(/^host-?/, '') || '1.26.2', bin }));
}

function canConnect(port: number): Promise<boolean> {
    return new Promise((resolve) => {
        const s = net.connect({ host: '127.0.0.1', port });
        s.once('connect', () => { s.destroy(); resolve(true); });
        s.once('error', () => resolve(false));
    });
}

async function oneRun(bin: string, plugin: string, original: boolean, busAddress: string, id: string): Promise<Sample> {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'dfmq-startup-'));
    const port = await freePort();
    const pluginOptions: Record<string, string> = original ? { skip_broker_registration: 'true' }
        : { portal_id: id, dbus_address: busAddress, skip_broker_registration: 'true' };
    fs.writeFileSync(path.join(dir, 'flashmq.conf'), flashmqConfig({ port, logFile: path.join(dir, 'flashmq.log'), plugin, pluginOptions, logLevel: 'notice' }));
    const started = Date.now();
    const proc = spawn(bin, ['-c', path.join(dir, 'flashmq.conf')], { stdio: 'ignore', env: { ...process.env, DBUS_SYSTEM_BUS_ADDRESS: busAddress } });
    let client: MqttClient | undefined;
    try {
        while (!(await canConnect(port))) {
            if (Date.now() - started > 60_000)
                throw new Error('the broker did not listen within 60 s');
            await sleep(2);
        }
        client = await connect(port, { protocolVersion: 4, connectTimeout: 60_000 });
        const connack = Date.now() - started;
        const inbox = await Inbox.subscribe(client, `N/${id}/#`);
        await client.publishAsync(`R/${id}/keepalive`, '');
        const serial = (await inbox.waitFor(`N/${id}/system/0/Serial`, 60_000)).at;
        const done = await inbox.waitFor(`N/${id}/full_publish_completed`, 60_000);
        const topicsBefore = new Set(inbox.messages.filter((m) => m.at <= done.at).map((m) => m.topic)).size;
        return { connack, serial: serial - started, completed: done.at - started, topicsBefore };
    } finally {
        await closeAll(client);
        proc.kill('SIGTERM');
        await new Promise((resolve) => proc.once('exit', resolve));
        fs.rmSync(dir, { recursive: true, force: true });
    }
}

const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

async function main(): Promise<void> {
    const list = brokers();
    if (list.length === 0 || !fs.existsSync(pluginPath)) {
        console.log('SKIPPED: the benchmark needs flashmq (scripts/flashmq.sh) and the built plugin');
        return;
    }
    const id = COMPARE ? devicePortalId() : PORTAL_ID;
    const daemon = await startDbusDaemon();
    const sim = await Simulator.start({ busAddress: daemon.address, speed: 0, recordingsDir, recording: path.join(recordingsDir, RECORDING) });
    try {
        if (!sim.serviceNames.includes('com.victronenergy.system'))
            await sim.addService({ name: 'com.victronenergy.system', items: [
                { path: '/DeviceInstance', value: new Variant('i', 0) }, { path: '/Serial', value: new Variant('s', id) },
            ] });
        const plugins = [{ label: 'ours', so: pluginPath, original: false }];
        if (COMPARE)
            plugins.push({ label: 'original', so: COMPARE, original: true });
        console.log(`# start-up as an eager client sees it, ${RECORDING}, median of ${ROUNDS} (ms from the broker's start)`);
        console.log('| FlashMQ | plugin | CONNACK | retained Serial | keep-alive completed | topics before completion |');
        console.log('|---|---|---|---|---|---|');
        for (const broker of list) {
            for (const plugin of plugins) {
                const samples: Sample[] = [];
                for (let i = 0; i < ROUNDS; i++)
                    samples.push(await oneRun(broker.bin, plugin.so, plugin.original, daemon.address, id));
                const m = (f: (s: Sample) => number): string => median(samples.map(f)).toFixed(0);
                console.log(`| ${broker.label} | ${plugin.label} | ${m((s) => s.connack)} | ${m((s) => s.serial)} | ${m((s) => s.completed)} | ${m((s) => s.topicsBefore)} |`);
            }
        }
    } finally {
        await sim.stop();
        await daemon.stop();
    }
}

main().catch((err) => {
    console.error(err);
    process.exitCode = 1;
});
