// The status file (ts/util/status.ts): its state, its text, one write at a time, atomic, and failures logged once.
import { strict as assert } from 'node:assert';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';

import type { PluginState, StatusFacts, StatusFileSystem } from '../../ts/util/status';
import { stateOf, StatusFile, statusText } from '../../ts/util/status';
import { FakeTimers } from '../fakes/fake-timers';

const flush = async (): Promise<void> => {
    for (let i = 0; i < 10; i++)
        await new Promise((resolve) => setImmediate(resolve));
};

const facts: StatusFacts = {
    pid: 42, version: '0.1.0', node: '18.20.4', pluginApi: 4, holdsListeners: false,
    dbus: { connected: true, services: 17, items: 3083 }, clients: 2, memory: { rssMb: 55.1, heapUsedMb: 4.7, heapTotalMb: 5.7 },
};

/** An in-memory file system that records what it did; `fail` makes writes fail with that code. */
class MemoryFs implements StatusFileSystem {
    readonly files = new Map<string, string>();
    readonly calls: string[] = [];
    fail: string | undefined;

    writeFile(file: string, text: string): Promise<void> {
        this.calls.push(`write ${file}`);
        if (this.fail) {
            const err = new Error(`${this.fail}: cannot`) as NodeJS.ErrnoException;
            err.code = this.fail;
            return Promise.reject(err);
        }
        this.files.set(file, text);
        return Promise.resolve();
    }

    rename(from: string, to: string): Promise<void> {
        this.calls.push(`rename ${from} ${to}`);
        this.files.set(to, this.files.get(from)!);
        this.files.delete(from);
        return Promise.resolve();
    }

    unlink(file: string): Promise<void> {
        this.calls.push(`unlink ${file}`);
        this.files.delete(file);
        return Promise.resolve();
    }
}

describe('the status file', () => {
    it('derives the state from the bridge\'s', () => {
        const table: Array<[boolean, boolean, PluginState]> = [
            [false, false, 'starting'], [false, true, 'starting'], [true, true, 'ready'], [true, false, 'degraded'],
        ];
        for (const [discovered, connected, state] of table)
            assert.equal(stateOf(discovered, connected), state, `${discovered} ${connected}`);
    });

    it('is one line of JSON with the state first', () => {
        const text = statusText({ ...facts, state: 'ready', since: 100, updated: 130 });
        assert.ok(text.endsWith('\n') && !text.slice(0, -1).includes('\n'));
        assert.ok(text.startsWith('{"state":"ready","since":100,"pid":42,'));
        assert.deepEqual(JSON.parse(text), { ...facts, state: 'ready', since: 100, updated: 130 });
    });

    function setup(state: { value: PluginState }): { timers: FakeTimers; files: MemoryFs; status: StatusFile; logs: string[]; now: { t: number } } {
        const timers = new FakeTimers();
        const files = new MemoryFs();
        const logs: string[] = [];
        const now = { t: 1000 };
        const status = new StatusFile({ path: '/run/x/status', refreshMs: 10_000, clock: () => now.t, fileSystem: files },
            () => facts, () => state.value, timers, (line) => logs.push(line));
        return { timers, files, status, logs, now };
    }

    it('writes beside the file and renames it over, at start, on a change and every refresh', async () => {
        const state = { value: 'starting' as PluginState };
        const { timers, files, status, now } = setup(state);
        status.start();
        await flush();
        assert.deepEqual(files.calls, [`write /run/x/status.${process.pid}.tmp`, `rename /run/x/status.${process.pid}.tmp /run/x/status`]);
        assert.equal(JSON.parse(files.files.get('/run/x/status')!).state, 'starting');

        now.t = 1005;
        state.value = 'ready';
        status.check();
        await flush();
        const ready = JSON.parse(files.files.get('/run/x/status')!) as { state: string; since: number; updated: number };
        assert.deepEqual([ready.state, ready.since, ready.updated], ['ready', 1005, 1005]);

        files.calls.length = 0;
        status.check(); // no change: no write
        await flush();
        assert.deepEqual(files.calls, []);

        now.t = 1015;
        timers.advance(10_000);
        await flush();
        const refreshed = JSON.parse(files.files.get('/run/x/status')!) as { state: string; since: number; updated: number };
        assert.deepEqual([refreshed.state, refreshed.since, refreshed.updated], ['ready', 1005, 1015], 'the state keeps its time');
        status.stop();
        assert.equal(timers.pendingCount, 0);
    });

    it('logs a failing write once per cause, and keeps trying', async () => {
        const state = { value: 'ready' as PluginState };
        const { timers, files, status, logs } = setup(state);
        files.fail = 'EACCES';
        status.start();
        await flush();
        timers.advance(10_000);
        await flush();
        assert.equal(logs.length, 1);
        assert.match(logs[0]!, /cannot write the status file '\/run\/x\/status': EACCES: cannot \(plugin_opt_status_file; '' for none\)/);
        files.fail = undefined;
        timers.advance(10_000);
        await flush();
        assert.equal(JSON.parse(files.files.get('/run/x/status')!).state, 'ready');
        status.stop();
    });

    it('moves with a reload\'s path, and writes nothing for an empty one', async () => {
        const state = { value: 'ready' as PluginState };
        const { files, status } = setup(state);
        status.start();
        await flush();
        status.setPath('/run/y/status');
        await flush();
        assert.ok(!files.files.has('/run/x/status'));
        assert.ok(files.files.has('/run/y/status'));
        status.setPath('');
        await flush();
        files.calls.length = 0;
        status.check();
        state.value = 'degraded';
        status.check();
        await flush();
        assert.deepEqual(files.calls.filter((c) => c.startsWith('write')), []);
        status.stop();
    });

    it('replaces a real file whole', async () => {
        const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'dfmq-status-'));
        try {
            const timers = new FakeTimers();
            const file = path.join(dir, 'status');
            const status = new StatusFile({ path: file, refreshMs: 1000 }, () => facts, () => 'ready', timers, () => undefined);
            status.start();
            for (let i = 0; i < 50 && !fs.existsSync(file); i++)
                await new Promise((resolve) => setTimeout(resolve, 10));
            status.stop();
            assert.equal((JSON.parse(fs.readFileSync(file, 'utf8')) as { pid: number }).pid, 42);
            assert.deepEqual(fs.readdirSync(dir), ['status']);
        } finally {
            fs.rmSync(dir, { recursive: true, force: true });
        }
    });
});
