// The simulator's command line, run as a child process with its own private bus.
import { strict as assert } from 'node:assert';
import type { ChildProcessWithoutNullStreams } from 'node:child_process';
import { spawn, spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';

import { Variant } from 'dbus-next';

import { call, callError, closeClient, connectClient, describeWithDbus } from '../helpers/dbus-daemon';
import { variantFromText } from '../../ts/sim/cli';

const CLI = path.resolve(__dirname, '../../ts/sim/cli.js');
const EV = 'com.victronenergy.evcharger.evc_HQ2207QPZ33';

class Cli {
    readonly child: ChildProcessWithoutNullStreams;
    out = '';
    readonly exited: Promise<number | null>;

    constructor(args: string[]) {
        this.child = spawn(process.execPath, [CLI, ...args]);
        this.child.stdout.setEncoding('utf8');
        this.child.stdout.on('data', (chunk: string) => { this.out += chunk; });
        this.child.stderr.setEncoding('utf8');
        this.child.stderr.on('data', (chunk: string) => { this.out += chunk; });
        this.exited = new Promise((resolve) => this.child.once('exit', (code) => resolve(code)));
    }

    async waitFor(pattern: RegExp, timeoutMs = 10000): Promise<RegExpExecArray> {
        const end = Date.now() + timeoutMs;
        for (;;) {
            const m = pattern.exec(this.out);
            if (m)
                return m;
            if (Date.now() > end)
                throw new Error(`no ${String(pattern)} in:\n${this.out}`);
            await new Promise((r) => setTimeout(r, 20));
        }
    }

    send(line: string): void {
        this.child.stdin.write(`${line}\n`);
    }
}

describe('sim command line (no bus)', () => {
    it('--list lists the systems', () => {
        const r = spawnSync(process.execPath, [CLI, '--list'], { encoding: 'utf8' });
        assert.equal(r.status, 0);
        assert.match(r.stdout, /^bct\s+15 files\s+Balance CT$/m);
    });

    it('refuses bad options with the usage and code 2', () => {
        for (const args of [['--scale', '10'], ['--bogus'], ['--speed', '-1'], ['--churn', '5'], []]) {
            const r = spawnSync(process.execPath, [CLI, ...args], { encoding: 'utf8' });
            assert.equal(r.status, 2, args.join(' '));
            assert.match(r.stderr, /Usage:/);
        }
    });

    it('reads set values as dbus-flashmq converts W/ payloads, with an optional signature', () => {
        const table: Array<[string, Variant]> = [
            ['5', new Variant('i', 5)], ['5.0', new Variant('d', 5)], ['-2.5', new Variant('d', -2.5)],
            ['5000000000', new Variant('x', 5000000000n)], ['"a b"', new Variant('s', 'a b')], ['true', new Variant('b', true)],
            ['null', new Variant('ai', [])], ['[]', new Variant('au', [])], ['u:3', new Variant('u', 3)], ['d:7', new Variant('d', 7)],
            ['x:12', new Variant('x', 12n)], ['ai:[1,2]', new Variant('ai', [1, 2])],
        ];
        for (const [text, expected] of table)
            assert.deepEqual(variantFromText(text), expected, text);
        assert.deepEqual(variantFromText('[1, "a"]'), new Variant('av', [new Variant('i', 1), new Variant('s', 'a')]));
        assert.throws(() => variantFromText('nonsense'));
    });
});

describeWithDbus('sim command line', function () {
    this.timeout(30000);

    it('runs its own bus, takes commands on stdin, and quits cleanly', async () => {
        const cli = new Cli(['--own-bus', '--recording', 'w', '--speed', '0']);
        try {
            const address = (await cli.waitFor(/^bus: (unix:path=\S+)$/m))[1] as string;
            await cli.waitFor(/^ready in \d+ ms: 2 services, \d+ items/m);
            const client = await connectClient(address);
            try {
                cli.send(`set ${EV} /Ac/Power 1500.5`);
                await cli.waitFor(/^set .* = d 1500.5$/m);
                assert.deepEqual((await call(client, EV, '/Ac/Power', 'GetValue')).body[0], new Variant('d', 1500.5));
                cli.send(`get ${EV} /Ac/Power`);
                await cli.waitFor(/^d 1500.5$/m);
                cli.send(`vanish ${EV}`);
                await cli.waitFor(/^vanished /m);
                assert.equal(await callError(client, EV, '/Ac/Power', 'GetValue'), 'org.freedesktop.DBus.Error.ServiceUnknown');
                cli.send(`reappear ${EV}`);
                await cli.waitFor(/^reappeared .* as :\d+\.\d+$/m);
                assert.deepEqual((await call(client, EV, '/Ac/Power', 'GetValue')).body[0], new Variant('d', 1500.5));
                cli.send('frobnicate');
                await cli.waitFor(/^error: unknown command 'frobnicate'/m);
                cli.send('list');
                await cli.waitFor(/^com\.victronenergy\.settings {2}\d+ items {2}:\d+\.\d+$/m);
            } finally {
                await closeClient(client);
            }
            cli.send('quit');
            assert.equal(await cli.exited, 0);
            assert.ok(!fs.existsSync(address.slice('unix:path='.length)), 'the private bus is gone');
        } finally {
            cli.child.kill('SIGKILL');
        }
    });

    it('stops cleanly on SIGTERM while playing a scale load', async () => {
        const cli = new Cli(['--own-bus', '--scale', '4x20', '--churn', '40', '--quiet']);
        try {
            const address = (await cli.waitFor(/^bus: (unix:path=\S+)$/m))[1] as string;
            await cli.waitFor(/^ready in/m);
            cli.child.kill('SIGTERM');
            assert.equal(await cli.exited, 0);
            assert.match(cli.out, /stopping \(SIGTERM\)/);
            assert.ok(!fs.existsSync(address.slice('unix:path='.length)));
        } finally {
            cli.child.kill('SIGKILL');
        }
    });
});
