// The way back on a GX device (scripts/venus/watchdog.sh): the watchdog returns FlashMQ to its stock plugin when
// ours does not serve within its bound after a start, or when FlashMQ restarts too often; it leaves a marker that
// install.sh --boot honours and install.sh by hand (or a new package) clears; uninstall.sh removes it all.
//
// The device is a directory, as in venus-usb.test.ts (DFMQ_ROOT): /opt/victronenergy/version, the real flashmq as
// /usr/bin/flashmq (for its --version), /run, /service/flashmq, /data. daemontools and syslog are stand-ins on PATH:
// svstat reports a FlashMQ process from a state file the test writes ("up <pid>", "down", or "hung <pid>": one that
// svc -t does not end), svc changes it as supervise would (-t: a new process; -k: a new one also when hung) and
// records its calls, logger records its lines. svstat's "seconds up" is far off (a clock set at boot), which the
// watchdog must not use. The watchdog runs for real (its timing shortened through DFMQ_WATCHDOG_*), against status
// files written by the test as the plugin writes them (ts/util/status.ts). The archives are small ones made by the
// real scripts/package.sh --payload; the plugin itself runs on the emulated GX device (test/emulation/gx-fallback).
//
// DFMQ_BUSYBOX=<a busybox binary> (Debian's dynamic one, whose shell runs the PATH's programs before its own
// applets): the device scripts run in busybox's ash, with its applets (sed, sleep, date, sha256sum, ...), as on a
// device.
import { strict as assert } from 'node:assert';
import { spawn, spawnSync } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import * as crypto from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';

import { findFlashmq } from '../../ts/demo/flashmq-binary';
import { repoRoot, sleep } from '../helpers/flashmq';

const NAME = 'dbus-flashmq-ts';
/** The watchdog's timing here: seconds. */
const READY_S = 2;
const WINDOW_S = 20;
const RESTARTS = 3;

interface Device {
    root: string;
    data: string;
    pkg: string;
    calls: string;
    flashmq: string;
    env: Record<string, string>;
}

interface Run {
    status: number | null;
    out: string;
}

const q = (s: string): string => `'${s.replace(/'/g, '\'\\\'\'')}'`;
const read = (file: string): string => fs.readFileSync(file, 'utf8');

function must(command: string, env: Record<string, string> = {}): string {
    const r = spawnSync('/bin/sh', ['-c', command], { encoding: 'utf8', env: { ...process.env, ...env } });
    assert.equal(r.status, 0, `${command}:\n${r.stdout}${r.stderr}`);
    return r.stdout;
}

async function until(what: string, check: () => boolean, timeoutMs = 15_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (!check()) {
        if (Date.now() > deadline)
            throw new Error(`not within ${timeoutMs / 1000} s: ${what}`);
        await sleep(50);
    }
}

describe('the way back on a GX device: the watchdog, its marker, install.sh and uninstall.sh (a fake device)', function () {
    this.timeout(60_000);
    const flashmqBin = findFlashmq();
    if (!flashmqBin) {
        console.log('\n*** SKIPPED: the Venus fallback suite: missing flashmq (set FLASHMQ_BIN or put it on PATH) ***\n');
        return;
    }

    const busybox = process.env.DFMQ_BUSYBOX;
    /** The device's shell: busybox's ash, or /bin/sh (dash, an Almquist shell too). */
    const shell = (script: string, args: string[] = []): [string, string[]] =>
        busybox ? [path.resolve(busybox), ['sh', script, ...args]] : ['/bin/sh', [script, ...args]];
    let busyboxBin = '';
    let tmp: string;
    const archives = { a1: '', a2: '' };
    const watchdogs: ChildProcess[] = [];

    function payload(name: string, version: string): string {
        const dir = path.join(tmp, `payload-${name}`);
        const files: Record<string, string> = {
            'libdbus-flashmq-ts.so': `synthetic plugin ${version}\n`,
            'lib/libnode.so.108': `synthetic libnode ${version}\n`,
            'nodejs/cjs-module-lexer/lexer.js': `// lexer of ${version}\n`,
            'dist/ts/index.js': `'use strict'; // ${version}\n`,
        };
        for (const [file, content] of Object.entries(files)) {
            fs.mkdirSync(path.dirname(path.join(dir, file)), { recursive: true });
            fs.writeFileSync(path.join(dir, file), content);
        }
        const out = path.join(tmp, `out-${name}`);
        must(`bash ${q(path.join(repoRoot, 'scripts/package.sh'))} --arch armhf --payload ${q(dir)} --version ${version} --out ${q(out)}`);
        return path.join(out, `venus-data-${NAME}-${version}-armhf.tar.gz`);
    }

    before(() => {
        tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'dfmq-fallback-'));
        fs.chmodSync(tmp, 0o755);
        archives.a1 = payload('a1', '0.0.1');
        archives.a2 = payload('a2', '0.0.2');
        if (busybox) {
            busyboxBin = path.join(tmp, 'busybox');
            fs.mkdirSync(busyboxBin);
            for (const applet of ['awk', 'cat', 'chmod', 'chown', 'cmp', 'cp', 'cut', 'date', 'df', 'dirname', 'grep', 'head', 'ln', 'ls',
                'mkdir', 'mv', 'readlink', 'rm', 'sed', 'sha256sum', 'sleep', 'sort', 'sync', 'tail', 'tr', 'uname', 'wc', 'xargs', 'printf', 'echo', 'find'])
                fs.symlinkSync(path.resolve(busybox), path.join(busyboxBin, applet));
        }
    });

    afterEach(async () => {
        for (const w of watchdogs.splice(0)) {
            if (w.exitCode === null && w.signalCode === null) {
                const exited = new Promise((resolve) => w.once('exit', resolve));
                w.kill('SIGKILL');
                await exited;
            }
        }
    });

    after(() => {
        if (tmp)
            fs.rmSync(tmp, { recursive: true, force: true });
    });

    /** A device with the package a1 unpacked in /data (not installed) and FlashMQ up as process 100 on its stock plugin. */
    function device(): Device {
        const root = fs.mkdtempSync(path.join(tmp, 'device-'));
        fs.chmodSync(root, 0o755);
        for (const dir of ['data', 'run/flashmq', 'opt/victronenergy', 'usr/bin', 'service/flashmq', 'bin'])
            fs.mkdirSync(path.join(root, dir), { recursive: true });
        fs.writeFileSync(path.join(root, 'opt/victronenergy/version'), 'v3.70\n20251201000000\n');
        fs.symlinkSync(flashmqBin!, path.join(root, 'usr/bin/flashmq'));
        const calls = path.join(root, 'calls');
        const flashmq = path.join(root, 'flashmq.state');
        fs.writeFileSync(calls, '');
        fs.writeFileSync(flashmq, 'up 100\n');
        const svc = `#!/bin/sh
echo "svc $*" >> ${q(calls)}
case "$2" in */service/flashmq) ;; *) exit 0 ;; esac
read -r how pid < ${q(flashmq)}
[ "$how" = down ] && exit 0
case "$1:$how" in
    -t:up|-k:up|-k:hung) echo "up $((pid + 1))" > ${q(flashmq)} ;;
esac
`;
        const svstat = `#!/bin/sh
case "$1" in */service/flashmq) ;; *) echo "$1: up (pid 1) 5 seconds"; exit 0 ;; esac
read -r how pid < ${q(flashmq)}
if [ "$how" = down ]; then echo "$1: down 4000000000 seconds, normally up"; else echo "$1: up (pid $pid) 4000000000 seconds"; fi
`;
        fs.writeFileSync(path.join(root, 'bin/svc'), svc, { mode: 0o755 });
        fs.writeFileSync(path.join(root, 'bin/svstat'), svstat, { mode: 0o755 });
        fs.writeFileSync(path.join(root, 'bin/logger'), `#!/bin/sh\necho "logger $*" >> ${q(calls)}\n`, { mode: 0o755 });
        const data = path.join(root, 'data');
        must(`tar -xzf ${q(archives.a1)} -C ${q(data)} ${NAME} dfmq-nodejs`);
        return {
            root, data, pkg: path.join(data, NAME), calls, flashmq,
            env: { PATH: [path.join(root, 'bin'), ...(busyboxBin ? [busyboxBin] : []), '/usr/sbin:/usr/bin:/sbin:/bin'].join(':'), DFMQ_ROOT: root, DFMQ_UNAME_M: 'armv7l' },
        };
    }

    function script(d: Device, name: string, args: string[] = []): Run {
        const r = spawnSync(...shell(path.join(d.pkg, name), args), { encoding: 'utf8', env: d.env });
        return { status: r.status, out: r.stdout + r.stderr };
    }

    function install(d: Device, args: string[] = []): Run {
        const r = script(d, 'install.sh', args);
        assert.equal(r.status, 0, r.out);
        return r;
    }

    const conf = (d: Device): string => path.join(d.root, 'run/flashmq', `${NAME}.conf`);
    const marker = (d: Device): string => path.join(d.pkg, '.fallback');
    const statusFile = (d: Device): string => path.join(d.root, 'run', NAME, 'status');
    const hook = (d: Device): string => path.join(d.data, 'rcS.local');
    const callLines = (d: Device): string[] => read(d.calls).split('\n').filter((l) => l !== '');
    const svcCalls = (d: Device): string[] => callLines(d).filter((l) => l.startsWith('svc '));
    const logged = (d: Device): string[] => callLines(d).filter((l) => l.startsWith('logger '));
    const flashmqPid = (d: Device): number => Number(read(d.flashmq).split(' ')[1]);
    const lines = (r: Run): string[] => r.out.split('\n').filter((l) => l.startsWith(`${NAME}: `));
    const manifestSha = (d: Device): string => crypto.createHash('sha256').update(fs.readFileSync(path.join(d.pkg, 'MANIFEST'))).digest('hex');

    /** The status file as the plugin writes it (one line, replaced whole). */
    function writeStatus(d: Device, state: string, pid: number, text?: string): void {
        const file = statusFile(d);
        fs.mkdirSync(path.dirname(file), { recursive: true });
        const line = text ?? `${JSON.stringify({ state, since: 4102444800, pid, version: '0.0.1', node: '18.20.4', dbus: { connected: true } })}\n`;
        fs.writeFileSync(`${file}.tmp`, line);
        fs.renameSync(`${file}.tmp`, file);
    }

    interface Watchdog {
        process: ChildProcess;
        output: () => string;
        startedAt: number;
    }

    function watchdog(d: Device, env: Record<string, string> = {}): Watchdog {
        const child = spawn(...shell(path.join(d.pkg, 'watchdog.sh')), {
            env: {
                ...d.env, DFMQ_WATCHDOG_READY_S: String(READY_S), DFMQ_WATCHDOG_WINDOW_S: String(WINDOW_S),
                DFMQ_WATCHDOG_RESTARTS: String(RESTARTS), DFMQ_WATCHDOG_POLL_S: '0.2', DFMQ_WATCHDOG_GRACE_S: '1', ...env,
            },
            stdio: ['ignore', 'pipe', 'pipe'],
        });
        watchdogs.push(child);
        let out = '';
        child.stdout.on('data', (b: Buffer) => { out += b.toString(); });
        child.stderr.on('data', (b: Buffer) => { out += b.toString(); });
        return { process: child, output: () => out, startedAt: Date.now() };
    }

    /** Installed by hand, then the watchdog as svscan would start it; the calls so far forgotten. */
    async function watched(d: Device, env: Record<string, string> = {}): Promise<Watchdog> {
        install(d);
        fs.writeFileSync(d.calls, '');
        const w = watchdog(d, env);
        await until('the watchdog watches', () => /watching FlashMQ/.test(w.output()));
        return w;
    }

    function assertStillSwitched(d: Device, w: Watchdog): void {
        assert.ok(fs.existsSync(conf(d)), `not switched back:\n${w.output()}`);
        assert.deepEqual(svcCalls(d), [], 'FlashMQ left alone');
        assert.ok(!fs.existsSync(marker(d)));
        assert.equal(w.process.exitCode, null, 'the watchdog runs on');
    }

    it('install.sh installs all the same when it cannot make the code cache\'s directory, and says so', () => {
        const d = device();
        fs.writeFileSync(path.join(d.root, 'data', `${NAME}-cache`), 'in the way');
        const r = install(d);
        assert.equal(r.status, 0, r.out);
        assert.match(r.out, /cannot make \S+-cache for the plugin's code cache: FlashMQ starts without it, more slowly/);
        assert.ok(fs.existsSync(conf(d)));
    });

    it('install.sh adds the way back: the watchdog\'s service (svscan never sees it half made), the status directory; restarts the watchdog after FlashMQ', () => {
        const d = device();
        // The broker's user, where this machine has it (setup adds it): the directory is its.
        const flashmqUser = spawnSync('id', ['-u', 'flashmq'], { encoding: 'utf8' });
        const asRoot = process.getuid?.() === 0 && flashmqUser.status === 0;
        if (asRoot) {
            fs.mkdirSync(path.join(d.root, 'etc'));
            fs.writeFileSync(path.join(d.root, 'etc/passwd'), 'root:x:0:0:root:/home/root:/bin/sh\nflashmq:x:990:990::/nonexistent:/bin/false\n');
        }
        const r = install(d);
        const run = path.join(d.root, 'service', NAME, 'run');
        assert.equal(read(run), `#!/bin/sh\n# ${NAME}'s watchdog, written by ${d.pkg}/install.sh (see ${d.pkg}/watchdog.sh); ${d.pkg}/uninstall.sh removes it.\n`
            + 'PATH=/usr/sbin:/usr/bin:/sbin:/bin:$PATH\nexec 2>&1\n'
            + `exec /bin/sh ${d.pkg}/watchdog.sh\n`);
        assert.equal(fs.statSync(run).mode & 0o777, 0o755);
        assert.deepEqual(fs.readdirSync(path.join(d.root, 'service')).sort(), [NAME, 'flashmq'], 'nothing half made left');
        const dir = fs.statSync(path.join(d.root, 'run', NAME));
        assert.equal(dir.mode & 0o7777, 0o755);
        const cacheDir = fs.statSync(path.join(d.root, 'data', `${NAME}-cache`)); // the code cache's (native/code_cache.h)
        assert.equal(cacheDir.mode & 0o7777, 0o700);
        if (asRoot) {
            assert.equal(dir.uid, Number(flashmqUser.stdout.trim()));
            assert.equal(cacheDir.uid, Number(flashmqUser.stdout.trim()));
        }
        assert.deepEqual(svcCalls(d), [`svc -t ${d.root}/service/flashmq`, `svc -t ${d.root}/service/${NAME}`]);
        assert.match(lines(r).at(-1)!, /^dbus-flashmq-ts: installed/);
        assert.ok(fs.existsSync(path.join(d.pkg, 'watchdog.sh')));
        must(`cd ${q(d.pkg)} && sha256sum -c --quiet MANIFEST`);
        assert.match(read(path.join(d.pkg, 'MANIFEST')), / {2}\.\/watchdog\.sh$/m, 'the watchdog is in the MANIFEST');
        // Again: the same service, restarted (its count starts at the switch).
        fs.writeFileSync(d.calls, '');
        install(d);
        assert.deepEqual(svcCalls(d), [`svc -t ${d.root}/service/flashmq`, `svc -t ${d.root}/service/${NAME}`]);
    });

    it('leaves FlashMQ alone while the plugin serves (starting, then ready or degraded for the broker\'s process), whatever the clock says', async () => {
        await Promise.all(['ready', 'degraded'].map(async (state) => {
            const d = device();
            const w = await watched(d);
            writeStatus(d, 'starting', flashmqPid(d));
            await sleep(300); // the bound counts whole seconds of uptime: it can end 1 s early
            writeStatus(d, state, flashmqPid(d));
            await sleep((READY_S + 2) * 1000);
            assertStillSwitched(d, w);
            assert.deepEqual(logged(d), [], state);
        }));
    });

    const notServing: Array<[string, (d: Device) => void, string]> = [
        ['no status file', () => undefined, 'none'],
        ['a status that stays "starting"', (d) => writeStatus(d, 'starting', flashmqPid(d)), 'starting'],
        ['a status "restarting" (JavaScript down)', (d) => writeStatus(d, 'restarting', flashmqPid(d)), 'restarting'],
        ['a "ready" of another process (the last FlashMQ\'s)', (d) => writeStatus(d, 'ready', flashmqPid(d) - 1), 'none'],
        ['a garbled status', (d) => writeStatus(d, '', 0, `{"state":"rea\u0000\u00ff${'x'.repeat(5000)}`), 'none'],
        ['an empty status', (d) => writeStatus(d, '', 0, ''), 'none'],
    ];
    it(`falls back when the plugin does not serve within its bound: ${notServing.map(([what]) => what).join('; ')}`, async () => {
        await Promise.all(notServing.map(async ([what, write, shown]) => {
            const d = device();
            const w = await watched(d);
            const pid = flashmqPid(d);
            write(d);
            await until(`the fallback (${what})`, () => !fs.existsSync(conf(d)), (READY_S + 5) * 1000);
            const took = (Date.now() - w.startedAt) / 1000;
            assert.ok(took >= READY_S - 1, `${what}: after ${took} s`);
            await until('the line', () => logged(d).length > 0);
            assert.deepEqual(svcCalls(d), [`svc -t ${d.root}/service/flashmq`], `${what}: one restart, through the service`);
            assert.equal(flashmqPid(d), pid + 1);
            const reason = `${NAME} 0.0.1 did not serve within ${READY_S} s of FlashMQ's start (status: ${shown})`;
            assert.deepEqual(logged(d), [`logger -t ${NAME} ${reason}: FlashMQ is back on its stock plugin; ${d.pkg}/install.sh tries again`], what);
            assert.ok(w.output().includes(`${NAME}: ${reason}: FlashMQ is back on its stock plugin`), `${what}: on its output too`);
            const m = read(marker(d));
            assert.match(m, /^# dbus-flashmq-ts fell back to FlashMQ's stock plugin; .*install\.sh tries again \(and removes this file\)\.\n/);
            assert.match(m, /^when=\d{4}-\d\d-\d\d \d\d:\d\d:\d\d UTC$/m);
            assert.ok(m.includes(`\nreason=${reason}\n`), m);
            assert.match(m, /^version=0\.0\.1$/m);
            assert.ok(m.includes(`\nmanifest_sha256=${manifestSha(d)}\n`), m);
            // Then it idles: no second restart, whatever the status says.
            await sleep((READY_S + 1) * 1000);
            assert.equal(svcCalls(d).length, 1, what);
            assert.equal(logged(d).length, 1, what);
            assert.equal(w.process.exitCode, null, `${what}: the watchdog idles`);
        }));
    });

    it('falls back when FlashMQ restarts 3 times within the window (a plugin that cannot load), long before the readiness bound; the code cache goes too', async () => {
        const d = device();
        const cache = path.join(d.root, 'data', `${NAME}-cache`, 'code-cache');
        fs.mkdirSync(path.dirname(cache), { recursive: true });
        fs.writeFileSync(cache, 'a cache');
        const w = await watched(d, { DFMQ_WATCHDOG_READY_S: '120' });
        const t0 = Date.now();
        for (let i = 1; i <= RESTARTS; i++) {
            await sleep(600);
            fs.writeFileSync(d.flashmq, i === 2 ? 'down\n' : `up ${200 + i}\n`); // one seen down in between
            if (i === 2) {
                await sleep(600);
                fs.writeFileSync(d.flashmq, `up ${200 + i}\n`);
            }
        }
        await until('the fallback', () => !fs.existsSync(conf(d)), 10_000);
        assert.ok(Date.now() - t0 < 10_000);
        await until('the line', () => logged(d).length > 0);
        assert.deepEqual(logged(d), [`logger -t ${NAME} FlashMQ restarted ${RESTARTS} times within ${WINDOW_S} s with ${NAME} 0.0.1: FlashMQ is back on its stock plugin; ${d.pkg}/install.sh tries again`]);
        assert.deepEqual(svcCalls(d), [`svc -t ${d.root}/service/flashmq`]);
        assert.match(read(marker(d)), /^reason=FlashMQ restarted 3 times within 20 s with dbus-flashmq-ts 0\.0\.1$/m);
        assert.ok(w.output().includes('FlashMQ is back on its stock plugin'));
        assert.ok(!fs.existsSync(cache), 'the code cache is gone');
        assert.ok(fs.existsSync(path.dirname(cache)));
    });

    it('counts only the restarts within the window, and each start that serves in time is fine', async () => {
        const d = device();
        const w = await watched(d, { DFMQ_WATCHDOG_WINDOW_S: '3' });
        const restart = async (pid: number): Promise<void> => {
            fs.writeFileSync(d.flashmq, `up ${pid}\n`);
            await sleep(500);
            writeStatus(d, 'ready', pid);
            await sleep(500);
        };
        writeStatus(d, 'ready', flashmqPid(d));
        await restart(301);
        await restart(302);
        await sleep(3500); // those two leave the window
        await restart(303);
        await restart(304);
        await sleep((READY_S + 1) * 1000);
        assertStillSwitched(d, w);
    });

    it('waits on nothing while FlashMQ is down (svc -d), and watches the next start', async () => {
        const d = device();
        fs.writeFileSync(d.flashmq, 'down\n');
        install(d);
        fs.writeFileSync(d.calls, '');
        const w = watchdog(d);
        await sleep((READY_S + 2) * 1000);
        assertStillSwitched(d, w);
        fs.writeFileSync(d.flashmq, 'up 500\n');
        await until('the fallback of a start that does not serve', () => !fs.existsSync(conf(d)), (READY_S + 5) * 1000);
        await until('FlashMQ restarted', () => svcCalls(d).length > 0, 5000); // the watchdog restarts it right after
        assert.deepEqual(svcCalls(d), [`svc -t ${d.root}/service/flashmq`]);
    });

    it('kills a broker that svc -t does not end (hung in the plugin), once', async () => {
        const d = device();
        const w = await watched(d);
        fs.writeFileSync(d.flashmq, `hung ${flashmqPid(d)}\n`);
        writeStatus(d, 'starting', flashmqPid(d));
        await until('the fallback', () => logged(d).length > 0, (READY_S + 8) * 1000);
        assert.deepEqual(svcCalls(d), [`svc -t ${d.root}/service/flashmq`, `svc -k ${d.root}/service/flashmq`]);
        assert.match(logged(d)[0]!, /: FlashMQ is back on its stock plugin \(killed: it had not stopped 1 s after svc -t\); /);
        assert.match(read(d.flashmq), /^up \d+/);
        assert.equal(w.process.exitCode, null);
    });

    it('reads the status where the options put it, and checks only restarts when they put it nowhere', async () => {
        const options = async (text: string): Promise<[Device, Watchdog]> => {
            const d = device();
            fs.mkdirSync(path.join(d.data, 'conf'));
            fs.writeFileSync(path.join(d.data, 'conf', `${NAME}.options`), text);
            return [d, await watched(d)];
        };
        const [[d, w], [e, v]] = await Promise.all([options('plugin_opt_status_file /run/elsewhere/status  \n'), options('plugin_opt_status_file \'\'\n')]);
        assert.match(w.output(), new RegExp(`status: ${d.root}/run/elsewhere/status\\)`));
        fs.mkdirSync(path.join(d.root, 'run/elsewhere'));
        fs.writeFileSync(path.join(d.root, 'run/elsewhere/status'), `{"state":"ready","since":0,"pid":${flashmqPid(d)}}\n`);
        assert.match(v.output(), /status: none\)/);
        await sleep((READY_S + 2) * 1000);
        assertStillSwitched(d, w);
        assertStillSwitched(e, v);
    });

    it('after a fallback: --boot does not switch to the same package (one line, the rcS.local line stays); by hand it tries again', async () => {
        const d = device();
        await watched(d);
        await until('the fallback\'s line', () => logged(d).length > 0, (READY_S + 5) * 1000);
        const hookText = read(hook(d));
        fs.writeFileSync(d.calls, '');
        // The next boot: /run is empty again.
        fs.rmSync(path.join(d.root, 'run', NAME), { recursive: true, force: true });
        const boot = install(d, ['--boot']);
        const [, when, reason] = /^when=(.*)\nreason=(.*)$/m.exec(read(marker(d)))!;
        assert.deepEqual(lines(boot), [`${NAME}: not switching FlashMQ to 0.0.1: it fell back to the stock plugin at ${when} (${reason}); ${d.pkg}/install.sh tries again`]);
        assert.ok(!fs.existsSync(conf(d)));
        assert.deepEqual(svcCalls(d), []);
        assert.equal(read(hook(d)), hookText, 'the boot line stays');
        assert.deepEqual(logged(d), [`logger -t ${NAME} ${lines(boot)[0]!.slice(NAME.length + 2)}`]);
        assert.ok(fs.existsSync(marker(d)));
        // By hand: the owner asks.
        fs.writeFileSync(d.calls, '');
        const r = install(d);
        assert.equal(lines(r)[0], `${NAME}: trying again after the fallback to the stock plugin at ${when} (${reason})`);
        assert.match(lines(r).at(-1)!, /installed/);
        assert.ok(fs.existsSync(conf(d)));
        assert.ok(!fs.existsSync(marker(d)));
        assert.deepEqual(svcCalls(d), [`svc -t ${d.root}/service/flashmq`, `svc -t ${d.root}/service/${NAME}`]);
    });

    it('after a fallback: a new package (another MANIFEST) is tried at the next boot; the same one from a USB stick is not', async () => {
        const d = device();
        await watched(d);
        await until('the fallback\'s line', () => logged(d).length > 0, (READY_S + 5) * 1000);
        // The same archive from a stick: unpacked, not switched, one line.
        const same = spawnSync('/bin/sh', [path.join(repoRoot, 'test/helpers/update-data.sh'), archives.a1, d.data], { encoding: 'utf8', env: d.env });
        const usb = { status: same.status, out: same.stdout + same.stderr };
        assert.match(usb.out, /^update-data: post-hook success exit 0$/m, usb.out);
        const said = lines(usb).filter((l) => !l.startsWith(`${NAME}: unpacking`));
        assert.equal(said.length, 1, usb.out);
        assert.ok(said[0]!.startsWith(`${NAME}: not switching FlashMQ to 0.0.1: it fell back to the stock plugin at `), usb.out);
        assert.ok(!fs.existsSync(conf(d)));
        // Another package.
        fs.writeFileSync(d.calls, '');
        must(`tar -xzf ${q(archives.a2)} -C ${q(d.data)} ${NAME} dfmq-nodejs`);
        const boot = install(d, ['--boot']);
        assert.deepEqual(lines(boot), [`${NAME}: 0.0.2 is another package than the one that fell back to the stock plugin: trying it`,
            `${NAME}: FlashMQ restarted with ${d.pkg}/libdbus-flashmq-ts.so`]);
        assert.ok(fs.existsSync(conf(d)));
        assert.ok(!fs.existsSync(marker(d)));
    });

    it('stops watching when the switch goes (uninstall.sh, a fallback) and starts anew when it is back', async () => {
        const d = device();
        const w = await watched(d);
        writeStatus(d, 'ready', flashmqPid(d));
        fs.rmSync(conf(d));
        await sleep((READY_S + 1) * 1000);
        fs.writeFileSync(d.flashmq, 'up 700\n'); // a restart while not switched: not counted, not watched
        await sleep(1000);
        assert.deepEqual(svcCalls(d), []);
        install(d);
        fs.writeFileSync(d.calls, '');
        await until('watching again', () => (w.output().match(/watching FlashMQ/g) ?? []).length === 2);
        writeStatus(d, 'ready', flashmqPid(d));
        await sleep((READY_S + 1) * 1000);
        assertStillSwitched(d, w);
    });

    it('uninstall.sh removes the watchdog (renamed out of svscan\'s sight, stopped, removed), the status directory and the marker', async () => {
        const d = device();
        await watched(d);
        await until('the fallback\'s line', () => logged(d).length > 0, (READY_S + 5) * 1000);
        fs.writeFileSync(d.calls, '');
        const r = script(d, 'uninstall.sh');
        assert.equal(r.status, 0, r.out);
        assert.deepEqual(svcCalls(d), [`svc -dx ${d.root}/service/.${NAME}.removed`, `svc -t ${d.root}/service/flashmq`]);
        assert.deepEqual(fs.readdirSync(path.join(d.root, 'service')), ['flashmq']);
        assert.ok(!fs.existsSync(path.join(d.root, 'run', NAME)));
        assert.ok(!fs.existsSync(path.join(d.root, 'data', `${NAME}-cache`)));
        assert.ok(!fs.existsSync(marker(d)));
        assert.ok(!fs.existsSync(hook(d)) || !read(hook(d)).includes(NAME));
    });
});
