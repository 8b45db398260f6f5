// The package's install.sh and uninstall.sh (scripts/venus/) on a fake Venus OS: a directory with data/, run/,
// etc/venus, opt/victronenergy/version, usr/bin/flashmq (a script printing a version) and service/flashmq, and
// fake svc/svstat/logger on PATH that record what they were asked. Run with /bin/sh (dash here; busybox on Venus).
import { strict as assert } from 'node:assert';
import { spawnSync } from 'node:child_process';
import * as crypto from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';

const scripts = path.resolve(__dirname, '../../../scripts/venus');

interface Device {
    root: string;
    pkg: string;
    calls: string;
}

function fakeDevice(options: { venus?: string; flashmq?: string; arch?: string; flashmqUp?: boolean } = {}): Device {
    const root = fs.mkdtempSync(path.join(os.tmpdir(), 'dfmq-venus-'));
    const pkg = path.join(root, 'data/dbus-flashmq-ts');
    for (const dir of ['data/dbus-flashmq-ts/nodejs', 'data/conf', 'run', 'etc/venus', 'opt/victronenergy', 'usr/bin', 'service/flashmq', 'bin'])
        fs.mkdirSync(path.join(root, dir), { recursive: true });
    for (const script of ['install.sh', 'uninstall.sh', 'lib.sh'])
        fs.copyFileSync(path.join(scripts, script), path.join(pkg, script));
    fs.writeFileSync(path.join(pkg, 'ARCH'), `${options.arch ?? 'armhf'}\n`);
    fs.writeFileSync(path.join(pkg, 'VERSION'), '0.0.0\n');
    // The MANIFEST package.sh writes (./VERSION's line last): install.sh checks it before any switch.
    const sha = (f: string): string => crypto.createHash('sha256').update(fs.readFileSync(path.join(pkg, f))).digest('hex');
    fs.writeFileSync(path.join(pkg, 'MANIFEST'), ['ARCH', 'install.sh', 'lib.sh', 'uninstall.sh', 'VERSION'].map((f) => `${sha(f)}  ./${f}\n`).join(''));
    fs.writeFileSync(path.join(root, 'etc/venus/machine'), 'einstein\n');
    fs.writeFileSync(path.join(root, 'opt/victronenergy/version'), `${options.venus ?? 'v3.70'}\n20251201000000\n`);
    fs.writeFileSync(path.join(root, 'usr/bin/flashmq'), `#!/bin/sh\necho "FlashMQ Version ${options.flashmq ?? '1.23.2'} with SSE4.2 support"\n`, { mode: 0o755 });
    const calls = path.join(root, 'calls');
    fs.writeFileSync(calls, '');
    fs.writeFileSync(path.join(root, 'bin/svc'), `#!/bin/sh\necho "svc $*" >> ${calls}\n`, { mode: 0o755 });
    fs.writeFileSync(path.join(root, 'bin/svstat'), `#!/bin/sh\necho "$1: ${options.flashmqUp === false ? 'down 3 seconds' : 'up (pid 123) 50 seconds'}"\n`, { mode: 0o755 });
    fs.writeFileSync(path.join(root, 'bin/logger'), `#!/bin/sh\necho "logger $*" >> ${calls}\n`, { mode: 0o755 });
    return { root, pkg, calls };
}

function run(device: Device, script: string, args: string[] = [], env: Record<string, string> = {}): { status: number | null; out: string } {
    const r = spawnSync('/bin/sh', [path.join(device.pkg, script), ...args], {
        encoding: 'utf8',
        env: { PATH: `${path.join(device.root, 'bin')}:/usr/bin:/bin`, DFMQ_ROOT: device.root, DFMQ_UNAME_M: 'armv7l', ...env },
    });
    return { status: r.status, out: r.stdout + r.stderr };
}

const read = (file: string): string => fs.readFileSync(file, 'utf8');

describe('the Venus install and uninstall scripts', () => {
    const devices: Device[] = [];
    const device = (options?: Parameters<typeof fakeDevice>[0]): Device => {
        const d = fakeDevice(options);
        devices.push(d);
        return d;
    };

    after(() => {
        for (const d of devices)
            fs.rmSync(d.root, { recursive: true, force: true });
    });

    it('switches FlashMQ to the plugin: a file in /run/flashmq, the nodejs link, the boot hook, a restart', () => {
        const d = device();
        fs.writeFileSync(path.join(d.root, 'data/conf/dbus-flashmq-ts.options'), '# mine\nplugin_opt_debug true\nthread_count 4\n');
        const r = run(d, 'install.sh');
        assert.equal(r.status, 0, r.out);
        const conf = read(path.join(d.root, 'run/flashmq/dbus-flashmq-ts.conf'));
        assert.match(conf, new RegExp(`^plugin ${d.pkg}/libdbus-flashmq-ts\\.so$`, 'm'));
        assert.match(conf, /^plugin_opt_debug true$/m, 'the options file\'s plugin options');
        assert.doesNotMatch(conf, /thread_count/, 'and nothing else of it');
        assert.equal(fs.readlinkSync(path.join(d.root, 'data/dfmq-nodejs')), 'dbus-flashmq-ts/nodejs');
        const hook = read(path.join(d.root, 'data/rcS.local'));
        assert.match(hook, /^#!\/bin\/sh\n/);
        assert.match(hook, new RegExp(`^\\[ -x ${d.pkg}/install\\.sh \\] && ${d.pkg}/install\\.sh --boot   # dbus-flashmq-ts$`, 'm'));
        assert.ok((fs.statSync(path.join(d.root, 'data/rcS.local')).mode & 0o111) !== 0, 'executable');
        assert.match(read(d.calls), new RegExp(`^svc -t ${d.root}/service/flashmq$`, 'm'));
        assert.match(r.out, /dbus-flashmq-ts: installed \(Venus OS v3\.70, FlashMQ 1\.23, armhf\)/);
    });

    it('applies an edit of the options file with --reload: the conf written again and a SIGHUP, no restart', () => {
        const d = device();
        const options = path.join(d.root, 'data/conf/dbus-flashmq-ts.options');
        assert.equal(run(d, 'install.sh', ['--reload']).status, 1, 'not switched yet: nothing to reload');
        fs.writeFileSync(options, 'plugin_opt_debug true\n');
        assert.equal(run(d, 'install.sh').status, 0);
        fs.writeFileSync(d.calls, '');
        fs.writeFileSync(options, 'plugin_opt_debug false\nplugin_opt_keepalive_timeout_ms 30000\n');
        const r = run(d, 'install.sh', ['--reload']);
        assert.equal(r.status, 0, r.out);
        const conf = read(path.join(d.root, 'run/flashmq/dbus-flashmq-ts.conf'));
        assert.match(conf, /^plugin_opt_debug false$/m);
        assert.match(conf, /^plugin_opt_keepalive_timeout_ms 30000$/m);
        assert.doesNotMatch(conf, /^plugin_opt_debug true$/m);
        const calls = read(d.calls).split('\n').filter((l) => l.startsWith('svc '));
        assert.deepEqual(calls, [`svc -h ${d.root}/service/flashmq`]);
        assert.match(r.out, /FlashMQ re-reads its configuration/);
        assert.equal(run(d, 'install.sh', ['--bogus']).status, 1);
    });

    it('is idempotent: a second run (as at boot) adds no second hook line and keeps another add-on\'s lines', () => {
        const d = device();
        fs.writeFileSync(path.join(d.root, 'data/rcS.local'), '#!/bin/bash\n/data/other-addon/setup.sh\n');
        assert.equal(run(d, 'install.sh').status, 0);
        const r = run(d, 'install.sh', ['--boot']);
        assert.equal(r.status, 0, r.out);
        const hook = read(path.join(d.root, 'data/rcS.local'));
        assert.equal(hook.split('\n').filter((l) => l.endsWith('# dbus-flashmq-ts')).length, 1);
        assert.match(hook, /^#!\/bin\/bash\n\/data\/other-addon\/setup\.sh\n/);
        assert.equal(read(d.calls).split('\n').filter((l) => l === `svc -t ${d.root}/service/flashmq`).length, 2, 'FlashMQ was up: restarted at boot too');
    });

    it('does not restart a FlashMQ that is not up yet at boot (it reads the file when it starts)', () => {
        const d = device({ flashmqUp: false });
        const r = run(d, 'install.sh', ['--boot']);
        assert.equal(r.status, 0, r.out);
        assert.ok(fs.existsSync(path.join(d.root, 'run/flashmq/dbus-flashmq-ts.conf')));
        assert.doesNotMatch(read(d.calls), /svc/);
        assert.equal(r.out, '', 'quiet at boot');
    });

    const refusals: Array<[string, Parameters<typeof fakeDevice>[0], Record<string, string>, RegExp]> = [
        ['the other architecture', { arch: 'armhf' }, { DFMQ_UNAME_M: 'aarch64' }, /^dbus-flashmq-ts: this package is for armhf, but this device is aarch64 \(arm64\): install the arm64 package$/],
        ['an arm64 package on a 32-bit device', { arch: 'arm64' }, {}, /this package is for arm64, but this device is armv7l \(armhf\): install the armhf package/],
        ['Venus OS older than v3.60', { venus: 'v3.52' }, {}, /^dbus-flashmq-ts: Venus OS v3\.52 is older than v3\.60, the first with a FlashMQ of plugin API 4 \(update Venus OS first\)$/],
        ['FlashMQ without plugin API 4', { flashmq: '1.17.1' }, {}, /^dbus-flashmq-ts: FlashMQ 1\.17 has no plugin API 4; this plugin needs FlashMQ 1\.21 or newer \(Venus OS v3\.60 or newer\)$/],
    ];
    for (const [what, options, env, message] of refusals) {
        it(`refuses ${what} in one line, and changes nothing`, () => {
            const d = device(options);
            const r = run(d, 'install.sh', [], env);
            assert.equal(r.status, 1);
            assert.match(r.out.trim(), message);
            assert.equal(r.out.trim().split('\n').length, 1);
            assert.ok(!fs.existsSync(path.join(d.root, 'run/flashmq/dbus-flashmq-ts.conf')));
            assert.ok(!fs.existsSync(path.join(d.root, 'data/rcS.local')));
            assert.doesNotMatch(read(d.calls), /svc/);
        });
    }

    it('accepts the versions it needs exactly: Venus OS v3.60, FlashMQ 1.21', () => {
        const d = device({ venus: 'v3.60~12', flashmq: '1.21.1' });
        assert.equal(run(d, 'install.sh').status, 0);
    });

    it('uninstalls: the stock plugin is back after a restart, and the other add-on\'s hook stays', () => {
        const d = device();
        fs.writeFileSync(path.join(d.root, 'data/rcS.local'), '#!/bin/sh\n/data/other-addon/setup.sh\n');
        assert.equal(run(d, 'install.sh').status, 0);
        const r = run(d, 'uninstall.sh');
        assert.equal(r.status, 0, r.out);
        assert.ok(!fs.existsSync(path.join(d.root, 'run/flashmq/dbus-flashmq-ts.conf')));
        assert.ok(!fs.existsSync(path.join(d.root, 'data/dfmq-nodejs')));
        assert.equal(read(path.join(d.root, 'data/rcS.local')), '#!/bin/sh\n/data/other-addon/setup.sh\n');
        assert.equal(read(d.calls).split('\n').filter((l) => l === `svc -t ${d.root}/service/flashmq`).length, 2);
        assert.match(r.out, /FlashMQ restarted with its stock plugin/);
        assert.ok(fs.existsSync(d.pkg), 'the package stays');
    });
});
