// The Venus package's way onto a device: unpacked by hand, or from a USB stick as Venus OS's update-data.sh does it
// (test/helpers/update-data.sh: our reproduction of its documented steps, with the archive's real rc/pre-hook.sh
// and rc/post-hook.sh). The device is a directory: /opt/victronenergy/version, the real flashmq as /usr/bin/flashmq
// (its --version is real; the one fake is a one-line script printing an old version, for the refusal of an old
// FlashMQ), /run, /service/flashmq, and /data on a small tmpfs this suite mounts (it runs as root). svc, svstat and
// logger are stand-ins on PATH that record their calls: daemontools and syslog are not on this machine.
//
// The archives are small ones made by the real scripts/package.sh (--payload: a few files where the plugin,
// libnode and the TypeScript go) under umask 077: the layout, the modes, rc/ and the device scripts are the real
// ones, a tmpfs of a few MB can be filled on purpose, and the suite stays fast. The real packages run under
// emulation (test/emulation).
//
// DFMQ_BUSYBOX=<a busybox binary>: the device scripts run with busybox's applets (sed, grep, sha256sum, ls, df, cp,
// tail, cmp, ...), as on a device. The shell stays /bin/sh (dash, an Almquist shell as busybox's ash is): Debian's
// busybox runs its own svc and logger before any on PATH, so the stand-ins would not be called.
import { strict as assert } from 'node:assert';
import { spawnSync } from 'node:child_process';
import * as crypto from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';

import { findFlashmq } from '../../ts/demo/flashmq-binary';
import { repoRoot } from '../helpers/flashmq';

const NAME = 'dbus-flashmq-ts';
const TMPFS_MB = 16;
const MARGIN_KIB = 10240;

interface Run {
    status: number | null;
    out: string;
}

interface Device {
    root: string;
    data: string;
    pkg: string;
    calls: string;
    env: Record<string, string>;
}

function missing(): string[] {
    const m: string[] = [];
    if (process.getuid?.() !== 0)
        m.push('root (it mounts a tmpfs)');
    if (!findFlashmq())
        m.push('flashmq (set FLASHMQ_BIN or put it on PATH)');
    return m;
}

function sh(command: string, env: Record<string, string> = {}): Run {
    const r = spawnSync('/bin/sh', ['-c', command], { encoding: 'utf8', env: { ...process.env, ...env } });
    return { status: r.status, out: r.stdout + r.stderr };
}

function must(command: string, env: Record<string, string> = {}): string {
    const r = sh(command, env);
    assert.equal(r.status, 0, `${command}:\n${r.out}`);
    return r.out;
}

const q = (s: string): string => `'${s.replace(/'/g, '\'\\\'\'')}'`;
const read = (file: string): string => fs.readFileSync(file, 'utf8');

/** Every entry under dir: type, mode, size, content digest or link target. */
function snapshot(dir: string): Record<string, string> {
    const out: Record<string, string> = {};
    const walk = (d: string): void => {
        for (const name of fs.readdirSync(d).sort()) {
            const file = path.join(d, name);
            const st = fs.lstatSync(file);
            const key = path.relative(dir, file);
            if (st.isSymbolicLink())
                out[key] = `link ${fs.readlinkSync(file)}`;
            else if (st.isDirectory()) {
                out[key] = `dir ${(st.mode & 0o7777).toString(8)}`;
                walk(file);
            } else
                out[key] = `file ${(st.mode & 0o7777).toString(8)} ${st.size} ${crypto.createHash('sha256').update(fs.readFileSync(file)).digest('hex')}`;
        }
    };
    walk(dir);
    return out;
}

function freeKib(dir: string): number {
    const s = fs.statfsSync(dir);
    return Math.floor((s.bavail * s.bsize) / 1024);
}

/** A file that leaves `leaveKib` free in dir's filesystem (0: full, written until ENOSPC). */
function fill(dir: string, leaveKib: number, name = 'filler'): void {
    const file = path.join(dir, name);
    const fd = fs.openSync(file, 'w');
    try {
        const chunk = Buffer.alloc(64 * 1024, 0x55);
        let left = (freeKib(dir) - leaveKib) * 1024;
        while (left > 0) {
            try {
                left -= fs.writeSync(fd, chunk, 0, Math.min(chunk.length, left));
            } catch (e) {
                if ((e as NodeJS.ErrnoException).code === 'ENOSPC' && leaveKib === 0)
                    break;
                throw e;
            }
        }
        if (leaveKib === 0) {
            // The last pages too: a byte at a time until nothing more goes in.
            const one = Buffer.alloc(1, 0x55);
            for (;;) {
                try {
                    fs.writeSync(fd, one);
                } catch {
                    break;
                }
            }
        }
    } finally {
        fs.closeSync(fd);
    }
}

describe('the Venus package from a USB stick (update-data.sh) and by hand, on a fake device with /data on a tmpfs', function () {
    this.timeout(60_000);
    const absent = missing();
    if (absent.length > 0) {
        console.log(`\n*** SKIPPED: the Venus USB suite: missing ${absent.join(' and ')} ***\n`);
        return;
    }

    const flashmq = findFlashmq()!;
    const busybox = process.env.DFMQ_BUSYBOX;
    let tmp: string;
    const shellPath = '/bin/sh';
    let busyboxBin = '';
    const mounts: string[] = [];
    const archives: Record<'a1' | 'a2' | 'big', string> = { a1: '', a2: '', big: '' };
    let unpackedKib2 = 0;

    /** The small payloads: a2 differs from a1 in its JavaScript; big carries 3 MiB of incompressible "libnode". */
    function payload(name: string, version: string, libnodeBytes: number): string {
        const dir = path.join(tmp, `payload-${name}`);
        const files: Record<string, string | Buffer> = {
            'libdbus-flashmq-ts.so': `synthetic plugin ${version}\n`,
            'lib/libnode.so.108': libnodeBytes > 0 ? crypto.randomBytes(libnodeBytes) : `synthetic libnode ${version}\n`,
            'nodejs/cjs-module-lexer/lexer.js': `// lexer of ${version}\n`,
            'nodejs/undici/undici-fetch.js': '// undici\n',
            'dist/ts/index.js': `'use strict'; // ${version}\n`,
            'licenses/libnode108.copyright': 'synthetic\n',
        };
        for (const [file, content] of Object.entries(files)) {
            fs.mkdirSync(path.dirname(path.join(dir, file)), { recursive: true });
            fs.writeFileSync(path.join(dir, file), content);
        }
        const out = path.join(tmp, `out-${name}`);
        must(`umask 077 && bash ${q(path.join(repoRoot, 'scripts/package.sh'))} --arch armhf --payload ${q(dir)} --version ${version} --out ${q(out)}`);
        return path.join(out, `venus-data-${NAME}-${version}-armhf.tar.gz`);
    }

    before(() => {
        tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'dfmq-usb-'));
        fs.chmodSync(tmp, 0o755);
        archives.a1 = payload('a1', '0.0.1', 0);
        archives.a2 = payload('a2', '0.0.2', 0);
        archives.big = payload('big', '0.0.3', 3 << 20);
        unpackedKib2 = Number(/^unpacked_kib=(\d+)$/m.exec(must(`tar -xzOf ${q(archives.a2)} rc/${NAME}.info`))?.[1]);
        assert.ok(unpackedKib2 > 0);
        if (busybox) {
            const bin = path.join(tmp, 'busybox');
            busyboxBin = bin;
            fs.mkdirSync(bin);
            for (const applet of ['awk', 'cat', 'chmod', 'cmp', 'cp', 'cut', 'df', 'dirname', 'grep', 'head', 'ln', 'ls', 'mkdir',
                'mv', 'readlink', 'rm', 'sed', 'sha256sum', 'sort', 'sync', 'tail', 'tr', 'uname', 'wc', 'xargs', 'printf', 'echo', 'find'])
                fs.symlinkSync(path.resolve(busybox), path.join(bin, applet));
        }
    });

    after(() => {
        for (const m of mounts.splice(0))
            spawnSync('umount', ['-l', m]);
        if (tmp)
            fs.rmSync(tmp, { recursive: true, force: true });
    });

    afterEach(() => {
        for (const m of mounts.splice(0))
            spawnSync('umount', ['-l', m]);
    });

    function device(options: { venus?: string; oldFlashmq?: string } = {}): Device {
        const root = fs.mkdtempSync(path.join(tmp, 'device-'));
        fs.chmodSync(root, 0o755);
        for (const dir of ['data', 'run', 'opt/victronenergy', 'usr/bin', 'service/flashmq', 'bin'])
            fs.mkdirSync(path.join(root, dir), { recursive: true });
        const data = path.join(root, 'data');
        must(`mount -t tmpfs -o size=${TMPFS_MB}m,mode=0755 dfmq-usb-test ${q(data)}`);
        mounts.push(data);
        fs.writeFileSync(path.join(root, 'opt/victronenergy/version'), `${options.venus ?? 'v3.70'}\n20251201000000\n`);
        if (options.oldFlashmq)
            fs.writeFileSync(path.join(root, 'usr/bin/flashmq'), `#!/bin/sh\necho "FlashMQ Version ${options.oldFlashmq} with SSE4.2 support"\n`, { mode: 0o755 });
        else
            fs.symlinkSync(flashmq, path.join(root, 'usr/bin/flashmq'));
        const calls = path.join(root, 'calls');
        fs.writeFileSync(calls, '');
        fs.writeFileSync(path.join(root, 'bin/svc'), `#!/bin/sh\necho "svc $*" >> ${q(calls)}\n`, { mode: 0o755 });
        fs.writeFileSync(path.join(root, 'bin/svstat'), '#!/bin/sh\necho "$1: up (pid 123) 50 seconds"\n', { mode: 0o755 });
        fs.writeFileSync(path.join(root, 'bin/logger'), `#!/bin/sh\necho "logger $*" >> ${q(calls)}\n`, { mode: 0o755 });
        const bin = [path.join(root, 'bin'), ...(busyboxBin ? [busyboxBin] : []), '/usr/sbin', '/usr/bin', '/sbin', '/bin'].join(':');
        return { root, data, pkg: path.join(data, NAME), calls, env: { PATH: bin, DFMQ_ROOT: root, DFMQ_UNAME_M: 'armv7l' } };
    }

    /** Venus finds the archive on a stick at boot. */
    function usb(d: Device, archive: string, env: Record<string, string> = {}): Run {
        const r = spawnSync('/bin/sh', [path.join(repoRoot, 'test/helpers/update-data.sh'), archive, d.data], {
            encoding: 'utf8', env: { ...d.env, ...env },
        });
        return { status: r.status, out: r.stdout + r.stderr };
    }

    /** A script of the package in /data, as root would run it. */
    function script(d: Device, name: string, args: string[] = [], env: Record<string, string> = {}): Run {
        const r = spawnSync(shellPath, [path.join(d.pkg, name), ...args], { encoding: 'utf8', env: { ...d.env, ...env } });
        return { status: r.status, out: r.stdout + r.stderr };
    }

    const ourLine = (d: Device): string => `[ -x ${d.pkg}/install.sh ] && ${d.pkg}/install.sh --boot   # ${NAME}`;
    const conf = (d: Device): string => path.join(d.root, 'run/flashmq', `${NAME}.conf`);
    const hook = (d: Device): string => path.join(d.data, 'rcS.local');
    /** FlashMQ's restarts (install.sh restarts its watchdog too: venus-fallback.test.ts). */
    const svcCalls = (d: Device): number => read(d.calls).split('\n').filter((l) => l === `svc -t ${d.root}/service/flashmq`).length;
    const logged = (d: Device): string[] => read(d.calls).split('\n').filter((l) => l.startsWith('logger '));
    /** Our lines of output: one per message. */
    const lines = (r: Run): string[] => r.out.split('\n').filter((l) => l.startsWith(`${NAME}: `));

    function installFromUsb(d: Device, archive = archives.a1): Run {
        const r = usb(d, archive);
        assert.equal(r.status, 0, r.out);
        assert.ok(fs.existsSync(conf(d)), r.out);
        return r;
    }

    it('makes archives whose modes do not depend on the umask: directories 0755, files 0644, scripts and shared objects 0755, owned by 0:0; rc/ first, MANIFEST last', () => {
        const listing = must(`tar -tvzf ${q(archives.a1)}`).trim().split('\n');
        const members = listing.map((l) => {
            const m = /^(\S+) (\S+) +\d+ \S+ \S+ (\S+)(?: -> (\S+))?$/.exec(l);
            assert.ok(m, l);
            return { mode: m[1]!, owner: m[2]!, name: m[3]!, target: m[4] };
        });
        for (const { mode, owner, name } of members) {
            assert.equal(owner, '0/0', name);
            const expected = mode.startsWith('l') ? 'lrwxrwxrwx'
                : mode.startsWith('d') ? 'drwxr-xr-x'
                    : /(\.sh|\.so(\.\d+)*)$/.test(name) && !name.endsWith('/lib.sh') ? '-rwxr-xr-x' : '-rw-r--r--';
            assert.equal(mode, expected, name);
        }
        const names = members.map((m) => m.name);
        assert.deepEqual(names.filter((n) => n.startsWith('rc/')), ['rc/', `rc/${NAME}.info`, 'rc/lib.sh', 'rc/post-hook.sh', 'rc/pre-hook.sh', 'rc/uninstall.sh']);
        assert.ok(names.slice(0, 6).every((n) => n.startsWith('rc/')), 'rc/ first');
        assert.equal(names[names.length - 1], `${NAME}/MANIFEST`, 'MANIFEST last');
        assert.equal(members.find((m) => m.name === 'dfmq-nodejs')?.target, `${NAME}/nodejs`, 'the link, relative');
        assert.ok(!names.some((n) => n === './' || n.startsWith('/')), 'no member for /data itself');
        const info = must(`tar -xzOf ${q(archives.a1)} rc/${NAME}.info`);
        assert.match(info, /^version=0\.0\.1\narch=armhf\nunpacked_kib=\d+\nmanifest_sha256=[0-9a-f]{64}\n$/);
    });

    it('is complete as unpacked with tar alone: the dfmq-nodejs link resolves to the nodejs/ files, and an unprivileged user reads everything', () => {
        const d = device();
        must(`tar -xzf ${q(archives.a1)} -C ${q(d.data)} ${NAME} dfmq-nodejs`);
        assert.equal(fs.readlinkSync(path.join(d.data, 'dfmq-nodejs')), `${NAME}/nodejs`);
        assert.equal(read(path.join(d.data, 'dfmq-nodejs/cjs-module-lexer/lexer.js')), '// lexer of 0.0.1\n');
        assert.ok(!fs.existsSync(path.join(d.data, 'rc')));
        // Venus v3.70 and later run FlashMQ as the user flashmq: here nobody (65534) stands in for it.
        must(`setpriv --reuid=65534 --regid=65534 --clear-groups -- sh -c ${q(`cat ${d.data}/dfmq-nodejs/cjs-module-lexer/lexer.js >/dev/null && find ${d.pkg}/ -type f -exec cat {} + >/dev/null`)}`);
        // Nothing ran: no switch yet.
        assert.ok(!fs.existsSync(conf(d)));
        assert.ok(!fs.existsSync(hook(d)));
    });

    it('installs from a USB stick: the pre-hook lets it in, rc/ stays out of /data, the post-hook checks and switches', () => {
        const d = device();
        const r = installFromUsb(d);
        assert.match(r.out, /^update-data: pre-hook exit 0$/m);
        assert.match(r.out, /^update-data: post-hook success exit 0$/m);
        assert.ok(!fs.existsSync(path.join(d.data, 'rc')), 'rc/ never lands in /data');
        assert.match(read(conf(d)), new RegExp(`^plugin ${d.pkg}/libdbus-flashmq-ts\\.so$`, 'm'));
        assert.equal(read(hook(d)), `#!/bin/sh\n${ourLine(d)}\n`);
        assert.equal(fs.readlinkSync(path.join(d.data, 'dfmq-nodejs')), `${NAME}/nodejs`);
        assert.equal(svcCalls(d), 1, 'FlashMQ restarted');
        assert.ok(fs.existsSync(path.join(d.pkg, '.verified')), 'the stamp of a full check');
        assert.deepEqual(logged(d), [
            `logger -t ${NAME} unpacking 0.0.1 for armhf (Venus OS v3.70, FlashMQ 1.26)`,
            `logger -t ${NAME} FlashMQ restarted with ${d.pkg}/libdbus-flashmq-ts.so`,
            `logger -t ${NAME} installed 0.0.1 from the archive`,
        ]);
    });

    it('installs a second package over the first: its files, one boot line, FlashMQ restarted again', () => {
        const d = device();
        fs.writeFileSync(hook(d), '#!/bin/sh\n/data/other-addon/setup.sh\n');
        installFromUsb(d);
        const r = installFromUsb(d, archives.a2);
        assert.match(r.out, /^update-data: post-hook success exit 0$/m);
        assert.equal(read(path.join(d.pkg, 'VERSION')), '0.0.2\n');
        assert.equal(read(path.join(d.data, 'dfmq-nodejs/cjs-module-lexer/lexer.js')), '// lexer of 0.0.2\n');
        assert.equal(read(hook(d)), `#!/bin/sh\n/data/other-addon/setup.sh\n${ourLine(d)}\n`);
        assert.equal(svcCalls(d), 2);
        must(`cd ${q(d.pkg)} && sha256sum -c --quiet MANIFEST`);
    });

    const refusals: Array<[string, (d: Device) => void, RegExp]> = [
        ['the other architecture', (d) => { d.env.DFMQ_UNAME_M = 'aarch64'; },
            /^dbus-flashmq-ts: this package is for armhf, but this device is aarch64 \(arm64\): install the arm64 package$/],
        ['Venus OS older than v3.60', (d) => { fs.writeFileSync(path.join(d.root, 'opt/victronenergy/version'), 'v3.52\n'); },
            /^dbus-flashmq-ts: Venus OS v3\.52 is older than v3\.60, the first with a FlashMQ of plugin API 4 \(update Venus OS first\)$/],
        ['a FlashMQ older than 1.21', (d) => {
            fs.rmSync(path.join(d.root, 'usr/bin/flashmq'));
            fs.writeFileSync(path.join(d.root, 'usr/bin/flashmq'), '#!/bin/sh\necho "FlashMQ Version 1.17.1 with SSE4.2 support"\n', { mode: 0o755 });
        }, /^dbus-flashmq-ts: FlashMQ 1\.17 has no plugin API 4; this plugin needs FlashMQ 1\.21 or newer \(Venus OS v3\.60 or newer\)$/],
        ['too little free space in /data', (d) => { fill(d.data, unpackedKib2 + MARGIN_KIB - 256); },
            /^dbus-flashmq-ts: \S+\/data has \d+ MB free; the package needs 1 MB and 10 MB to spare \(make room, then try again\)$/],
    ];
    for (const [what, spoil, message] of refusals) {
        it(`refuses ${what} in the pre-hook: the working install in /data stays as it was`, () => {
            const d = device();
            installFromUsb(d);
            spoil(d);
            const before = snapshot(d.data);
            const confBefore = read(conf(d));
            const loggedBefore = logged(d).length;
            const r = usb(d, archives.a2);
            assert.equal(r.status, 3, r.out);
            assert.match(r.out, /^update-data: cancelled by the pre-hook$/m);
            assert.deepEqual(lines(r).length, 1, r.out);
            assert.match(lines(r)[0]!, message);
            assert.deepEqual(snapshot(d.data), before, '/data untouched');
            assert.equal(read(conf(d)), confBefore);
            assert.equal(svcCalls(d), 1, 'no restart');
            assert.equal(logged(d).length, loggedBefore + 1, 'the refusal in syslog');
        });
    }

    it('accepts exactly enough free space (the package and the margin)', () => {
        const d = device();
        fill(d.data, unpackedKib2 + MARGIN_KIB + 64);
        const r = usb(d, archives.a2);
        assert.equal(r.status, 0, r.out);
    });

    for (const room of [true, false]) {
        it(`goes back to the stock plugin when an unpack is cut short by a full /data${room ? '' : ', also with no room left to rewrite rcS.local'}; other add-ons' lines stay`, () => {
            const d = device();
            const others = '#!/bin/sh\n/data/other-addon/setup.sh\n';
            fs.writeFileSync(hook(d), others, { mode: 0o755 });
            installFromUsb(d);
            const hookBefore = read(hook(d));
            // Without room the stamp must go beforehand: the post-hook's failed check removes it, which would free
            // the page rcS.local needs.
            if (!room)
                fs.rmSync(path.join(d.pkg, '.verified'));
            // Another writer takes /data's space after the pre-hook measured it, and before the post-hook gives it
            // back, or takes the rest.
            const filler = path.join(d.data, 'filler');
            const r = usb(d, archives.big, {
                DFMQ_TEST_BEFORE_EXTRACT: `head -c $(( ($(df -Pk ${q(d.data)} | awk 'NR > 1 { print $4 }') - 1024) * 1024 )) /dev/zero > ${q(filler)}`,
                DFMQ_TEST_AFTER_EXTRACT: room ? `rm -f ${q(filler)}` : `cat /dev/zero >> ${q(filler)} 2>/dev/null; true`,
            });
            assert.equal(r.status, 4, r.out);
            assert.match(r.out, /^update-data: extraction failed: tar: .*(No space left on device|Wrote only \d+ of \d+ bytes)/m);
            assert.match(r.out, /^update-data: post-hook extraction-failed exit 1$/m);
            assert.ok(!fs.existsSync(conf(d)), 'FlashMQ no longer pointed at the package');
            assert.equal(svcCalls(d), 2, 'and restarted');
            assert.equal(lines(r).filter((l) => !l.startsWith(`${NAME}: unpacking`)).length, 1, r.out);
            const last = logged(d)[logged(d).length - 1]!;
            assert.equal(last, `logger -t ${NAME} ${lines(r)[1]!.slice(NAME.length + 2)}`, 'one line in syslog');
            if (room) {
                assert.match(lines(r)[1]!, /^dbus-flashmq-ts: Venus could not unpack the archive of 0\.0\.3, and \S+\/lib\/libnode\.so\.108 does not match the package's MANIFEST: FlashMQ is back on its stock plugin \(unpack the archive again\)$/);
                assert.equal(read(hook(d)), others, 'our line out, the others byte for byte');
            } else {
                assert.match(lines(r)[1]!, /^dbus-flashmq-ts: Venus could not unpack the archive of 0\.0\.3, and \S+ does not match the package's MANIFEST: FlashMQ restarted with its stock plugin, but cannot write a new \S+rcS\.local \(is \S+ full\?\); it is unchanged: /);
                assert.equal(read(hook(d)), hookBefore, 'unchanged');
                // The next boot: rcS.local runs install.sh --boot, which refuses the broken package; FlashMQ
                // starts with its stock plugin.
                const boot = script(d, 'install.sh', ['--boot']);
                assert.equal(boot.status, 1, boot.out);
                assert.deepEqual(lines(boot), [`${NAME}: ${d.pkg}/lib/libnode.so.108 does not match the package's MANIFEST (an unpack cut short?): unpack the archive again`]);
                assert.ok(!fs.existsSync(conf(d)));
            }
        });
    }

    const hooks: Array<[string, string]> = [['extraction-failed', 'Venus could not unpack the archive of 0.0.1'], ['bogus', 'unknown argument \'bogus\'']];
    for (const [arg, problem] of hooks) {
        it(`never switches to what is in /data after the post-hook's '${arg}'`, () => {
            const d = device();
            must(`tar -xzf ${q(archives.a1)} -C ${q(d.data)} ${NAME} dfmq-nodejs`);
            const rc = path.join(d.root, 'rc-tmp');
            fs.mkdirSync(rc);
            must(`tar -xzf ${q(archives.a1)} -C ${q(rc)} rc`);
            const r = spawnSync(shellPath, [path.join(rc, 'rc/post-hook.sh'), arg], { encoding: 'utf8', env: d.env });
            assert.equal(r.status, 1);
            assert.equal(r.stdout + r.stderr, `${NAME}: ${problem}${arg === 'bogus' ? ' (expected success or extraction-failed)' : ''}: nothing installed, FlashMQ keeps its plugin\n`);
            assert.ok(!fs.existsSync(conf(d)));
            assert.ok(!fs.existsSync(hook(d)));
            assert.equal(svcCalls(d), 0);
        });
    }

    it('keeps an rcS.local without a final newline, and its mode', () => {
        const d = device();
        fs.writeFileSync(hook(d), '#!/bin/sh\n/data/other-addon/setup.sh', { mode: 0o750 });
        fs.chmodSync(hook(d), 0o750);
        installFromUsb(d);
        assert.equal(read(hook(d)), `#!/bin/sh\n/data/other-addon/setup.sh\n${ourLine(d)}\n`);
        assert.equal(fs.statSync(hook(d)).mode & 0o7777, 0o750);
        const r = script(d, 'uninstall.sh');
        assert.equal(r.status, 0, r.out);
        assert.equal(read(hook(d)), '#!/bin/sh\n/data/other-addon/setup.sh\n');
        assert.equal(fs.statSync(hook(d)).mode & 0o7777, 0o750);
    });

    it('uninstalls: only our line leaves rcS.local, every other stays byte for byte, wherever it stands', () => {
        const d = device();
        const before = '#!/bin/sh\n# dbus-flashmq-ts is mentioned here, not at the end\n\tindented \\ with a backslash  \n';
        const after = `/data/third/setup.sh   # ${NAME} \necho '# ${NAME}' # not ours\n\n`;
        fs.writeFileSync(hook(d), before);
        installFromUsb(d);
        fs.appendFileSync(hook(d), after);
        const r = script(d, 'uninstall.sh');
        assert.equal(r.status, 0, r.out);
        assert.deepEqual(lines(r), [`${NAME}: uninstalled: FlashMQ restarted with its stock plugin`]);
        assert.equal(read(hook(d)), before + after);
        assert.ok(!fs.existsSync(conf(d)));
        assert.ok(!fs.existsSync(path.join(d.data, 'dfmq-nodejs')));
        assert.equal(svcCalls(d), 2);
        assert.deepEqual(fs.readdirSync(d.data).sort(), [NAME, 'rcS.local'], 'no temporary file left');
    });

    it('leaves rcS.local as it was when /data is full: install changes nothing and says so', () => {
        const d = device();
        const others = '#!/bin/sh\n/data/other-addon/setup.sh\n';
        fs.writeFileSync(hook(d), others, { mode: 0o700 });
        fs.chmodSync(hook(d), 0o700);
        must(`tar -xzf ${q(archives.a1)} -C ${q(d.data)} ${NAME} dfmq-nodejs`);
        fill(d.data, 0);
        const r = script(d, 'install.sh');
        assert.equal(r.status, 1, r.out);
        assert.equal(lines(r).length, 1, r.out);
        assert.match(lines(r)[0]!, /^dbus-flashmq-ts: cannot write a new \S+\/data\/rcS\.local \(is \S+\/data full\?\); it is unchanged$/);
        assert.equal(read(hook(d)), others);
        assert.equal(fs.statSync(hook(d)).mode & 0o7777, 0o700);
        assert.ok(!fs.existsSync(conf(d)), 'not switched');
        assert.equal(svcCalls(d), 0);
        assert.deepEqual(fs.readdirSync(d.data).sort(), [NAME, 'dfmq-nodejs', 'filler', 'rcS.local']);
    });

    it('leaves rcS.local as it was when /data is full: uninstall still returns FlashMQ to its stock plugin, and fails', () => {
        const d = device();
        installFromUsb(d);
        const hookBefore = read(hook(d));
        fill(d.data, 0);
        const r = script(d, 'uninstall.sh');
        assert.equal(r.status, 1, r.out);
        assert.equal(lines(r).length, 1, r.out);
        assert.match(lines(r)[0]!, /^dbus-flashmq-ts: FlashMQ restarted with its stock plugin, but cannot write a new \S+rcS\.local \(is \S+ full\?\); it is unchanged: its line runs dbus-flashmq-ts's install\.sh again at the next boot \(make room in \/data, then run uninstall\.sh again\)$/);
        assert.equal(read(hook(d)), hookBefore);
        assert.ok(!fs.existsSync(conf(d)));
        assert.equal(svcCalls(d), 2);
    });

    it('checks the MANIFEST before any switch, and names the first file that does not match', () => {
        const d = device();
        installFromUsb(d);
        // A file replaced after the verified install (as an unpack does: a new file) is found at boot too.
        const index = path.join(d.pkg, 'dist/ts/index.js');
        const text = read(index);
        fs.rmSync(index);
        fs.writeFileSync(index, text.replace('0.0.1', '0.0.9'));
        const boot = script(d, 'install.sh', ['--boot']);
        assert.equal(boot.status, 1, boot.out);
        assert.deepEqual(lines(boot), [`${NAME}: ${d.pkg}/dist/ts/index.js does not match the package's MANIFEST (an unpack cut short?): unpack the archive again; FlashMQ is back on its stock plugin`]);
        assert.ok(!fs.existsSync(conf(d)), 'FlashMQ is not left pointing at it');
        assert.equal(svcCalls(d), 2);
        // A missing file, by hand.
        fs.writeFileSync(index, text);
        fs.rmSync(path.join(d.pkg, 'nodejs/undici/undici-fetch.js'));
        const r = script(d, 'install.sh');
        assert.equal(r.status, 1);
        assert.deepEqual(lines(r), [`${NAME}: ${d.pkg}/nodejs/undici/undici-fetch.js does not match the package's MANIFEST (an unpack cut short?): unpack the archive again`]);
        // A MANIFEST cut short at the end of a line: every file it still lists matches.
        must(`tar -xzf ${q(archives.a1)} -C ${q(d.data)} ${NAME}`);
        const manifest = path.join(d.pkg, 'MANIFEST');
        fs.writeFileSync(manifest, read(manifest).split('\n').slice(0, 3).join('\n') + '\n');
        const cut = script(d, 'install.sh');
        assert.equal(cut.status, 1);
        assert.deepEqual(lines(cut), [`${NAME}: ${d.pkg}/MANIFEST is cut short (an unpack cut short?): unpack the archive again`]);
    });

    it('at boot reads the package only when a file changed since the last full check (the stamp), by hand always', () => {
        const d = device();
        installFromUsb(d);
        // A change the stamp cannot see (the stamp rewritten afterwards): --boot trusts it, a full check does not.
        const index = path.join(d.pkg, 'dist/ts/index.js');
        fs.writeFileSync(index, read(index).replace('0.0.1', '0.0.9'));
        const stamp = spawnSync(shellPath, ['-c', 'cd "$1" && { sha256sum MANIFEST && sed \'s/^[0-9a-f]*  //\' MANIFEST | xargs ls -lnic --full-time MANIFEST; } > .verified', 'sh', d.pkg],
            { encoding: 'utf8', env: d.env });
        assert.equal(stamp.status, 0, stamp.stderr);
        const boot = script(d, 'install.sh', ['--boot']);
        assert.equal(boot.status, 0, boot.out);
        assert.deepEqual(lines(boot), [`${NAME}: FlashMQ restarted with ${d.pkg}/libdbus-flashmq-ts.so`]);
        const r = script(d, 'install.sh');
        assert.equal(r.status, 1);
        assert.match(r.out, /dist\/ts\/index\.js does not match the package's MANIFEST/);
        assert.ok(!fs.existsSync(path.join(d.pkg, '.verified')), 'a failed check removes the stamp');
    });
});
