// The start-up code cache inside the real broker (native/code_cache.h): the first start makes it at the first memory
// trim, the next start uses it (V8 takes it), and anything that does not match this start is not used: a damaged file,
// another set of V8 flags, a cache V8 rejects all the same (which turns the cache off for that libnode and entry).
import { strict as assert } from 'node:assert';
import * as fs from 'node:fs';
import * as path from 'node:path';

import type { MqttClient } from 'mqtt';

import type { RunningBroker } from '../helpers/flashmq';
import { brokerScratchDir, describeWithBroker, startBroker } from '../helpers/flashmq';
import { closeAll, connect, Inbox } from '../helpers/mqtt';

const MAGIC = 'DFMQCC01';
const HEAD = 16; // the magic, then the checksum of the rest

/** The file's checksum, as native/code_cache.cc computes it (64-bit words, then the bytes left). */
function checksum(data: Buffer): bigint {
    const mask = (1n << 64n) - 1n;
    const mul = 0x9E3779B97F4A7C15n;
    let h = (BigInt(data.length) * mul & mask) ^ 0xcbf29ce484222325n;
    const mix = (w: bigint): void => {
        h = ((h ^ w) * mul) & mask;
        h ^= h >> 29n;
    };
    let i = 0;
    for (; i + 8 <= data.length; i += 8)
        mix(data.readBigUInt64LE(i));
    for (; i < data.length; i++)
        mix(BigInt(data[i]!));
    return h ^ (h >> 32n);
}

/** Where the entry's cached data starts and how long it is, in a cache file. */
function entryData(file: Buffer): { at: number; length: number } {
    let at = HEAD + 4; // kind
    at += 4 + file.readUInt32LE(at); // fingerprint
    at += 8; // the entry's hash
    return { at: at + 4, length: file.readUInt32LE(at) };
}

describeWithBroker('the plugin in a real broker: the start-up code cache', function () {
    const brokers: RunningBroker[] = [];
    const clients: MqttClient[] = [];
    let dir = '';
    let cacheFile = '';

    beforeEach(() => {
        dir = brokerScratchDir('dfmq-cc-', true);
        cacheFile = path.join(dir, 'code-cache');
    });

    afterEach(async () => {
        await closeAll(...clients.splice(0));
        for (const b of brokers.splice(0)) {
            await b.stop('SIGKILL');
            b.cleanup();
        }
        fs.rmSync(dir, { recursive: true, force: true });
    });

    async function start(pluginOptions: Record<string, string> = {}): Promise<{ broker: RunningBroker; control: MqttClient; inbox: Inbox }> {
        const broker = await startBroker({ pluginOptions: { code_cache: cacheFile, ...pluginOptions } });
        brokers.push(broker);
        const control = await connect(broker.port, { clientId: 'control' });
        clients.push(control);
        const inbox = await Inbox.subscribe(control, ['probe/reply/#', 'probe/echo/reply']);
        return { broker, control, inbox };
    }

    async function command(control: MqttClient, inbox: Inbox, name: string): Promise<string> {
        inbox.clear();
        await control.publishAsync('probe/cmd', name);
        return (await inbox.waitFor(`probe/reply/${name}`, 5000)).payload.toString();
    }

    /** A start that makes the cache: its first trim writes it. */
    async function makeCache(pluginOptions: Record<string, string> = {}): Promise<void> {
        const { broker, control, inbox } = await start(pluginOptions);
        await broker.waitForLog(/code cache: (none yet at|.* is not used|.* was made by another)/);
        await command(control, inbox, 'trim');
        await broker.waitForLog(/code cache: wrote .* \(\d+\.\d MB, \d+ built-ins and the entry\) in \d+ ms; the next start uses it/);
        assert.deepEqual(await broker.stop('SIGTERM'), { code: 0, signal: null });
    }

    it('is made at the first trim after a start, and the next start uses it: V8 takes it, and the entry is its own module still', async () => {
        await makeCache();
        const stat = fs.statSync(cacheFile);
        assert.equal(stat.mode & 0o777, 0o600);
        assert.equal(fs.readFileSync(cacheFile).subarray(0, 8).toString(), MAGIC);
        assert.deepEqual(fs.readdirSync(dir).filter((f) => f.startsWith('code-cache.tmp')), []);

        const { broker, control, inbox } = await start();
        await broker.waitForLog(/code cache: \S+ \(\d+\.\d MB, \d+ built-ins and the entry\)$/m);
        const used = await broker.waitForLog(/code cache: (\d+) of the (\d+) built-ins compiled so far had data in it; V8 took the entry's/);
        const [, withData, compiled] = /(\d+) of the (\d+)/.exec(used)!;
        assert.ok(Number(withData) > 50 && Number(withData) === Number(compiled), used);
        const facts = JSON.parse(await command(control, inbox, 'module')) as Record<string, unknown>;
        assert.equal(facts.filename, true);
        assert.equal(facts.cached, true);
        assert.equal(facts.paths, true);
        assert.equal(facts.missing, 'MODULE_NOT_FOUND');
        // A start that used the cache writes none.
        const from = broker.log().length;
        await command(control, inbox, 'trim');
        await broker.waitForLog(/dbus-flashmq: memory: malloc/, 5000, from);
        assert.doesNotMatch(broker.log(), /code cache: wrote/);
        assert.equal(fs.statSync(cacheFile).mtimeMs, stat.mtimeMs);
    });

    it('survives restarts of JavaScript, the one that makes the cache and the one that uses it', async () => {
        const first = await start();
        await first.control.publishAsync('probe/cmd', 'fatal');
        await first.broker.waitForLog(/dbus-flashmq: JavaScript restarted in \d+ ms/, 10_000);
        await command(first.control, first.inbox, 'trim');
        await first.broker.waitForLog(/code cache: wrote /);
        assert.deepEqual(await first.broker.stop('SIGTERM'), { code: 0, signal: null });

        const second = await start();
        await second.broker.waitForLog(/V8 took the entry's/);
        const from = second.broker.log().length;
        await second.control.publishAsync('probe/cmd', 'fatal');
        await second.broker.waitForLog(/dbus-flashmq: JavaScript restarted in \d+ ms/, 10_000, from);
        await second.broker.waitForLog(/V8 took the entry's/, 5000, from);
        second.inbox.clear();
        await second.control.publishAsync('probe/echo', 'again');
        assert.equal((await second.inbox.waitFor('probe/echo/reply', 5000)).payload.toString(), 'control:again');
        assert.deepEqual(await second.broker.stop('SIGTERM'), { code: 0, signal: null });
    });

    const damages: { name: string; damage: (file: Buffer) => Buffer; says: RegExp }[] = [
        { name: 'one byte changed in the middle', damage: (f) => { const i = f.length >> 1; f.writeUInt8(f.readUInt8(i) ^ 0x40, i); return f; }, says: /its checksum does not match/ },
        { name: 'cut short', damage: (f) => f.subarray(0, f.length - 1000), says: /its checksum does not match/ },
        { name: 'empty', damage: () => Buffer.alloc(0), says: /not a code cache of this plugin/ },
        { name: 'another file', damage: () => Buffer.from('#!/bin/sh\necho hello\n'), says: /not a code cache of this plugin/ },
        {
            name: 'a checksum that matches a built-in\'s name out of bounds', says: /a built-in's name is out of bounds/,
            damage: (f) => {
                const { at, length } = entryData(f);
                const out = Buffer.concat([f.subarray(0, at + length), Buffer.from([1, 0, 0, 0, 0xff, 0xff, 0xff, 0xff])]);
                out.writeUInt32LE(1, at + length); // one built-in, its name's length 4 GB
                out.writeBigUInt64LE(checksum(out.subarray(HEAD)), 8);
                return out;
            },
        },
    ];
    for (const c of damages) {
        it(`is not used when the file is damaged (${c.name}), and is made again`, async () => {
            await makeCache();
            fs.writeFileSync(cacheFile, c.damage(fs.readFileSync(cacheFile)));
            const { broker, control, inbox } = await start();
            const line = await broker.waitForLog(/code cache: .* is not used \(.*\); it is made again after start-up/);
            assert.match(line, c.says);
            assert.equal(await command(control, inbox, 'state').then((s) => typeof JSON.parse(s)), 'object');
            await command(control, inbox, 'trim');
            await broker.waitForLog(/code cache: wrote /);
        });
    }

    it('is not used under other V8 flags: it is made again for them', async () => {
        await makeCache();
        const { broker } = await start({ node_args: '--stack-size=900' });
        await broker.waitForLog(/code cache: .* was made by another libnode, V8 flags or architecture; it is made again after start-up/);
        assert.doesNotMatch(broker.log(), /had data in it/);
    });

    it('that V8 rejects all the same is turned off for this libnode and entry, and the file says so', async () => {
        await makeCache();
        const file = fs.readFileSync(cacheFile);
        const { at, length } = entryData(file);
        assert.ok(length > 1000);
        file.fill(0x5a, at, at + 32); // V8's own header of the entry's data: its magic number, version hash...
        file.writeBigUInt64LE(checksum(file.subarray(HEAD)), 8);
        fs.writeFileSync(cacheFile, file);

        const { broker, control, inbox } = await start();
        await broker.waitForLog(/V8 rejected the entry's/);
        assert.equal(JSON.parse(await command(control, inbox, 'module')).cached, true);
        await command(control, inbox, 'trim');
        await broker.waitForLog(/code cache: V8 rejected \S+; the cache is off for this libnode and entry/);
        assert.ok(fs.statSync(cacheFile).size < 4096);
        assert.deepEqual(await broker.stop('SIGTERM'), { code: 0, signal: null });

        const again = await start();
        await again.broker.waitForLog(/code cache: off for this libnode and entry \(V8 rejected the cache made for them;/);
        const from = again.broker.log().length;
        await command(again.control, again.inbox, 'trim');
        await again.broker.waitForLog(/dbus-flashmq: memory: malloc/, 5000, from);
        assert.doesNotMatch(again.broker.log(), /code cache: wrote/);
    });

    it('is off, with one line, where its directory does not exist or when the option says none', async () => {
        cacheFile = path.join(dir, 'missing', 'code-cache');
        const { broker } = await start();
        await broker.waitForLog(/code cache: off \(\S+\/missing does not exist; install.sh makes it on a GX device\)/);
        const none = await start({ code_cache: 'none' });
        await none.broker.waitForLog(/code cache: off \(plugin_opt_code_cache none\)/);
        assert.ok(!fs.existsSync(path.join(dir, 'missing')));
    });
});
