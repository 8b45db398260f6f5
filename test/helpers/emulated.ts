// The Venus package of one target (scripts/package.sh) run under qemu-user, as on a GX device: a root that holds only
// what every Venus OS image has (scripts/guest-root.sh), the package unpacked into its /data as Venus does with a
// venus-data archive, and FlashMQ cross-built for the target (scripts/flashmq.sh --arch) in its /usr/bin. qemu runs
// chrooted into that root, in a private mount namespace (scripts/qemu-run.sh): the guest sees the root and nothing
// of this machine but what is bound in (the D-Bus daemon's socket directory). qemu logs every system call, so what
// the guest opened can be checked afterwards.
import { execFileSync, spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';

import { flashmqConfig } from '../../ts/demo/flashmq-config';
import { brokerUser, canConnect, freePort, hasCommand, repoRoot, RunningBroker, sleep } from './flashmq';

export type Arch = 'armhf' | 'arm64';
export const ARCHS: readonly Arch[] = ['armhf', 'arm64'];

/** Where the device's plugin is, in the guest. */
export const DEVICE_PLUGIN = '/data/dbus-flashmq-ts/libdbus-flashmq-ts.so';

export function packageArchive(arch: Arch): string | undefined {
    const dir = path.join(repoRoot, 'packages');
    const name = fs.existsSync(dir) ? fs.readdirSync(dir).find((f) => f.startsWith('venus-data-dbus-flashmq-ts-') && f.endsWith(`-${arch}.tar.gz`)) : undefined;
    return name === undefined ? undefined : path.join(dir, name);
}

/** The FlashMQ of the emulated device: the one Venus OS v3.7x ships (scripts/flashmq.sh --arch <arch> --version 1.23.2). */
export const EMULATED_FLASHMQ = '1.23.2';

export function crossFlashmq(arch: Arch): string | undefined {
    const file = path.join(repoRoot, '.deps/flashmq', `${arch}-${EMULATED_FLASHMQ}`, 'flashmq');
    return fs.existsSync(file) ? file : undefined;
}

/** What an emulated run needs and is missing, or [] when it can run. */
export function missingForEmulation(arch: Arch): string[] {
    const missing: string[] = [];
    if (!packageArchive(arch))
        missing.push(`the ${arch} package (scripts/package.sh --arch ${arch})`);
    if (!crossFlashmq(arch))
        missing.push(`FlashMQ ${EMULATED_FLASHMQ} for ${arch} (scripts/flashmq.sh --arch ${arch} --version ${EMULATED_FLASHMQ})`);
    if (!hasCommand(arch === 'armhf' ? 'qemu-arm-static' : 'qemu-aarch64-static'))
        missing.push('qemu-user-static');
    return missing;
}


/**
 * The guest root of a target, with the package unpacked into its /data (replacing an earlier one; the archive
 * brings the link to libnode's JavaScript), FlashMQ in /usr/bin and the device's portal id.
 */
export function prepareGuest(arch: Arch, portalId: string): string {
    const root = path.join(repoRoot, 'build-emulation', arch, 'root');
    execFileSync('bash', [path.join(repoRoot, 'scripts/guest-root.sh'), '--arch', arch, root], { stdio: ['ignore', 'ignore', 'inherit'] });
    const data = path.join(root, 'data');
    fs.rmSync(path.join(data, 'dbus-flashmq-ts'), { recursive: true, force: true });
    fs.rmSync(path.join(data, 'rc'), { recursive: true, force: true });
    fs.mkdirSync(data, { recursive: true });
    // As by hand on a device: the package and its dfmq-nodejs link (rc/ is for Venus's update-data.sh).
    execFileSync('tar', ['-xzf', packageArchive(arch)!, '-C', data, 'dbus-flashmq-ts', 'dfmq-nodejs']);
    fs.mkdirSync(path.join(root, 'usr/bin'), { recursive: true });
    fs.copyFileSync(crossFlashmq(arch)!, path.join(root, 'usr/bin/flashmq'));
    fs.chmodSync(path.join(root, 'usr/bin/flashmq'), 0o755);
    fs.mkdirSync(path.join(data, 'venus'), { recursive: true });
    fs.writeFileSync(path.join(data, 'venus/unique-id'), `${portalId}\n`);
    fs.mkdirSync(path.join(root, 'run'), { recursive: true });
    return root;
}

export interface EmulatedBroker {
    broker: RunningBroker;
    /** qemu's system-call log of the run. */
    straceLog: string;
}

/**
 * FlashMQ with the package's plugin under qemu, its config and log in a fresh directory of the guest's /run, on a
 * free port of 127.0.0.1 (the network is this machine's). `binds`: directories of this machine the guest sees at
 * the same path (the D-Bus daemon's socket directory).
 */
export async function startEmulatedBroker(arch: Arch, root: string, pluginOptions: Record<string, string>,
    binds: string[] = [], extra: string[] = [], wrapper: string[] = []): Promise<EmulatedBroker> {
    const dir = fs.mkdtempSync(path.join(root, 'run', 'dfmq-test-'));
    const guestDir = `/run/${path.basename(dir)}`;
    const port = await freePort();
    const text = flashmqConfig({
        port, logFile: `${guestDir}/flashmq.log`, plugin: DEVICE_PLUGIN, pluginOptions, logLevel: 'info',
        extra: ['client_max_write_buffer_size 8388608', ...extra],
    });
    fs.writeFileSync(path.join(dir, 'flashmq.conf'), text);
    // As on Venus OS v3.70+: the broker runs as an unprivileged user, which writes its log and qemu's here.
    const user = brokerUser ? ['--user', `${brokerUser.uid}:${brokerUser.gid}`] : [];
    if (brokerUser) {
        fs.chownSync(dir, brokerUser.uid, brokerUser.gid);
        fs.chmodSync(dir, 0o755);
    }
    const straceLog = path.join(dir, 'strace.log');
    const [command, ...prefix] = [...wrapper, 'bash'];
    const proc = spawn(command, [...prefix, path.join(repoRoot, 'scripts/qemu-run.sh'), '--arch', arch, '--root', root, '--strace', `${guestDir}/strace.log`,
        ...user, ...binds.flatMap((b) => ['--bind', b]), '--', '/usr/bin/flashmq', '-c', `${guestDir}/flashmq.conf`],
    { stdio: ['ignore', 'pipe', 'pipe'] });
    const broker = new RunningBroker(proc, port, dir, path.join(dir, 'flashmq.log'));
    const deadline = Date.now() + 120_000;
    while (!(await canConnect(port))) {
        if (!broker.running) {
            const log = broker.log();
            broker.cleanup();
            throw new Error(`the emulated broker ended (${JSON.stringify(await broker.exited)}); log:\n${log.slice(-3000)}\nconsole:\n${broker.consoleOutput.slice(-2000)}`);
        }
        if (Date.now() > deadline) {
            broker.cleanup();
            throw new Error(`the emulated broker did not listen within 120 s; log:\n${broker.log().slice(-3000)}`);
        }
        await sleep(100);
    }
    await broker.signalsHandled(30_000);
    return { broker, straceLog };
}

/** Every file the guest opened (found), by its path in the guest: `scripts/qemu-files.sh`. */
export function filesOpened(root: string, straceLog: string): string[] {
    const out = execFileSync('bash', [path.join(repoRoot, 'scripts/qemu-files.sh'), '--root', root, straceLog], { encoding: 'utf8', maxBuffer: 64 << 20 });
    return out.split('\n').filter((l) => /^(root|host) /.test(l)).map((l) => l.slice(5).trim());
}
