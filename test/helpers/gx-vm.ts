// An emulated GX device under full-system qemu (scripts/gx-vm.sh makes its boot files): Debian's kernel, so the
// limits Venus OS sets on FlashMQ (softlimit -d/-s/-a) are enforced as on a device; busybox init, daemontools and
// the flashmq service with Venus's run line, FlashMQ as user flashmq, a dbus-daemon in the guest, a persistent /data
// disk (ext4) that survives reboots and "firmware updates" (booting another image with the same disk).
//
// The host reaches the guest through qemu's user networking (port forwards on 127.0.0.1: MQTT 1883 and the bus's TCP
// listener; the guest reaches nothing outside) and a 9p share at /host in the guest, where an agent
// (scripts/gx-vm/agent.sh) runs the command files the host drops and writes back their output and exit code. The
// guest's console (serial port) goes to a file. `GxVm.boot` returns once the agent runs (after the boot script, with
// the services started); `cleanup` ends qemu and removes the temporary directory, also after a failure (and at the
// latest when this process exits).
import { execFileSync, spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import * as fs from 'node:fs';
import * as net from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';

import { Variant } from 'dbus-next';
import * as dbus from 'dbus-next';

import type { MqttClient } from 'mqtt';

import { call, closeClient } from './dbus-daemon';
import { freePort, hasCommand, repoRoot, sleep } from './flashmq';
import { closeAll, connect, Inbox } from './mqtt';

export type GxArch = 'armhf' | 'arm64';
export const GX_ARCHS: readonly GxArch[] = ['armhf', 'arm64'];

/** The guest's forwarded ports, as the host sees them. */
const GUEST_MQTT = 1883;
const GUEST_BUS = 7272;

export interface GxImageOptions {
    arch: GxArch;
    /** FlashMQ's version (default: $DFMQ_GX_FLASHMQ, else 1.23.2, what Venus OS v3.7x ships; 1.26.2 and 1.21.1 too). */
    flashmq?: string;
    /** /opt/victronenergy/version (default v3.70). */
    venus?: string;
    /** A real stock plugin (libflashmq-dbus-plugin.so) instead of our stand-in. */
    stock?: string;
}

export interface GxImage {
    dir: string;
    kernel: string;
    initramfs: string;
    /** image.env: ARCH, FLASHMQ, VENUS, MACHINE, KERNEL, STOCK_PLUGIN, SOFTLIMIT_ALL. */
    env: Record<string, string>;
}

function qemuSystem(arch: GxArch): string {
    return arch === 'armhf' ? 'qemu-system-arm' : 'qemu-system-aarch64';
}


/** What booting a device of `arch` needs and this machine lacks, or []. */
export function missingForGxVm(arch: GxArch): string[] {
    const missing: string[] = [];
    if (!hasCommand(qemuSystem(arch)))
        missing.push(`${qemuSystem(arch)} (apt-get install qemu-system-arm)`);
    if (!hasCommand('mkfs.ext4'))
        missing.push('mkfs.ext4 (e2fsprogs)');
    return missing;
}

/** Makes (or refreshes) the boot files of a device with scripts/gx-vm.sh. */
export function prepareImage(options: GxImageOptions): GxImage {
    const args = [path.join(repoRoot, 'scripts/gx-vm.sh'), '--arch', options.arch];
    const flashmq = options.flashmq ?? (process.env.DFMQ_GX_FLASHMQ || undefined);
    if (flashmq !== undefined)
        args.push('--flashmq', flashmq);
    if (options.venus !== undefined)
        args.push('--venus', options.venus);
    if (options.stock !== undefined)
        args.push('--stock', options.stock);
    const out = execFileSync('bash', args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'], maxBuffer: 16 << 20 });
    const dir = out.trim().split('\n').pop()!;
    return readImage(dir);
}

export function readImage(dir: string): GxImage {
    const env: Record<string, string> = {};
    for (const line of fs.readFileSync(path.join(dir, 'image.env'), 'utf8').split('\n')) {
        const eq = line.indexOf('=');
        if (eq > 0)
            env[line.slice(0, eq)] = line.slice(eq + 1);
    }
    return { dir, kernel: path.join(dir, 'kernel'), initramfs: path.join(dir, 'initramfs.gz'), env };
}

/** A fresh ext4 image for /data (sparse). */
export function createDataDisk(file: string, sizeMb = 512): void {
    fs.rmSync(file, { force: true });
    fs.writeFileSync(file, '');
    fs.truncateSync(file, sizeMb * 1024 * 1024);
    execFileSync('mkfs.ext4', ['-q', '-F', '-L', 'data', file], { stdio: ['ignore', 'ignore', 'inherit'] });
}

export interface GxVmOptions {
    image: GxImage;
    /** The /data disk; default: a new one in the VM's temporary directory (removed by cleanup). */
    dataDisk?: string;
    /** Default 1024 (a GX device's RAM). */
    memoryMb?: number;
    /** Default 2. */
    cpus?: number;
    /** Default 300 s. */
    bootTimeoutMs?: number;
}

export interface CommandResult {
    code: number;
    output: string;
}

/**
 * A port on 127.0.0.1 that forwards to one of qemu's port forwards, setting up one connection at a time. qemu's user
 * networking loses connections that are set up at the same moment (measured: of 32 D-Bus connections opened at once,
 * some waited 1 to 60 s for TCP's retransmissions and some were reset after two minutes; one after the other, each
 * takes 20-60 ms). The simulator opens one connection per service, in batches. A connection counts as set up when the
 * guest's first byte arrives (D-Bus and MQTT servers answer the client's first words), or after 3 s; one closed by
 * the forward before any byte came back is tried again, with what the client had sent, up to 5 times.
 */
class ConnectionGate {
    private readonly server: net.Server;
    private readonly queue: Array<() => void> = [];
    private busy = false;
    private readonly sockets = new Set<net.Socket>();

    private constructor(private readonly target: number, server: net.Server, readonly port: number) {
        this.server = server;
        server.on('connection', (client) => this.accept(client));
    }

    static async open(target: number): Promise<ConnectionGate> {
        const server = net.createServer();
        await new Promise<void>((resolve, reject) => {
            server.once('error', reject);
            server.listen(0, '127.0.0.1', () => resolve());
        });
        return new ConnectionGate(target, server, (server.address() as net.AddressInfo).port);
    }

    close(): void {
        this.server.close();
        for (const socket of this.sockets)
            socket.destroy();
    }

    private track(socket: net.Socket): void {
        this.sockets.add(socket);
        socket.once('close', () => this.sockets.delete(socket));
    }

    private next(): void {
        const start = this.queue.shift();
        this.busy = start !== undefined;
        start?.();
    }

    private accept(client: net.Socket): void {
        this.track(client);
        const sent: Buffer[] = [];
        let upstream: net.Socket | undefined;
        let established = false;
        const buffer = (chunk: Buffer): void => {
            sent.push(chunk);
            upstream?.write(chunk);
        };
        client.on('data', buffer);
        client.on('error', () => upstream?.destroy());
        client.once('close', () => upstream?.destroy());
        const attempt = (tries: number, release: () => void): void => {
            if (client.destroyed) {
                release();
                return;
            }
            const up = net.connect(this.target, '127.0.0.1');
            upstream = up;
            this.track(up);
            up.setNoDelay(true);
            const timer = setTimeout(release, 3000);
            for (const chunk of sent) // what the client said so far (again, on a retry); later chunks follow in buffer()
                up.write(chunk);
            up.once('data', (first: Buffer) => {
                established = true;
                clearTimeout(timer);
                release();
                client.off('data', buffer);
                sent.length = 0;
                client.write(first);
                up.pipe(client);
                client.pipe(up);
            });
            up.on('error', () => undefined);
            up.once('close', () => {
                clearTimeout(timer);
                if (established || client.destroyed) {
                    client.destroy();
                    release();
                } else if (tries < 5) {
                    setTimeout(() => attempt(tries + 1, release), 200);
                } else {
                    client.destroy();
                    release();
                }
            });
        };
        const start = (): void => {
            let released = false;
            attempt(1, () => {
                if (!released) {
                    released = true;
                    this.next();
                }
            });
        };
        if (this.busy) {
            this.queue.push(start);
        } else {
            this.busy = true;
            start();
        }
    }
}

/** The promise's value, or 'timeout' after ms (the timer is cleared: nothing keeps this process alive). */
async function within<T>(promise: Promise<T>, ms: number): Promise<T | 'timeout'> {
    let timer: NodeJS.Timeout | undefined;
    try {
        return await Promise.race([promise, new Promise<'timeout'>((resolve) => { timer = setTimeout(() => resolve('timeout'), ms); })]);
    } finally {
        clearTimeout(timer);
    }
}

/** Every VM not yet cleaned up: ended, and its directory removed, when this process exits (a runner stopped half-way). */
const live = new Set<GxVm>();
process.once('exit', () => {
    for (const vm of live) {
        vm.killNow();
        fs.rmSync(vm.dir, { recursive: true, force: true });
    }
});

export class GxVm {
    readonly dir: string;
    readonly share: string;
    readonly consoleFile: string;
    readonly dataDisk: string;
    /** qemu's port forwards (one connection at a time is safe, see ConnectionGate). */
    readonly forwardedMqttPort: number;
    readonly forwardedBusPort: number;
    image: GxImage;
    /** When the last boot was started and when the device was up (agent running). */
    bootStartedAt = 0;
    bootedAt = 0;
    private qemu?: ChildProcess;
    private exited?: Promise<number | null>;
    private qemuOutput = '';
    private nextId = 0;
    private mqttGate?: ConnectionGate;
    private busGate?: ConnectionGate;

    private constructor(private readonly options: GxVmOptions, dir: string, mqttPort: number, busPort: number) {
        this.dir = dir;
        this.share = path.join(dir, 'share');
        this.consoleFile = path.join(dir, 'console.log');
        this.image = options.image;
        this.dataDisk = options.dataDisk ?? path.join(dir, 'data.img');
        this.forwardedMqttPort = mqttPort;
        this.forwardedBusPort = busPort;
    }

    /** Creates the VM's directory and disk (unless given) and boots the image. */
    static async boot(options: GxVmOptions): Promise<GxVm> {
        const dir = fs.mkdtempSync(path.join(os.tmpdir(), `dfmq-gx-vm-${options.image.env.ARCH}-`));
        const vm = new GxVm(options, dir, await freePort(), await freePort());
        live.add(vm);
        try {
            vm.mqttGate = await ConnectionGate.open(vm.forwardedMqttPort);
            vm.busGate = await ConnectionGate.open(vm.forwardedBusPort);
            if (!fs.existsSync(vm.dataDisk))
                createDataDisk(vm.dataDisk);
            await vm.start();
            return vm;
        } catch (err) {
            await vm.cleanup();
            throw err;
        }
    }

    get arch(): GxArch {
        return this.image.env.ARCH as GxArch;
    }

    /** The guest's MQTT port 1883, as this machine reaches it. */
    get mqttPort(): number {
        return this.mqttGate!.port;
    }

    /** The guest's bus (its TCP listener), as this machine reaches it. */
    get busPort(): number {
        return this.busGate!.port;
    }

    /** The guest's system bus for the host's simulator (ANONYMOUS over TCP). */
    get busAddress(): string {
        return `tcp:host=127.0.0.1,port=${this.busPort}`;
    }

    get running(): boolean {
        return this.qemu !== undefined && this.qemu.exitCode === null && this.qemu.signalCode === null;
    }

    consoleLog(): string {
        try {
            return fs.readFileSync(this.consoleFile, 'utf8');
        } catch {
            return '';
        }
    }

    private qemuArgs(): string[] {
        const { image } = this;
        const machine = this.arch === 'armhf' ? ['-M', 'virt', '-cpu', 'cortex-a15'] : ['-M', 'virt', '-cpu', 'cortex-a53'];
        return [
            ...machine, '-accel', 'tcg,thread=multi', '-smp', String(this.options.cpus ?? 2), '-m', String(this.options.memoryMb ?? 1024),
            '-nodefaults', '-no-user-config', '-display', 'none', '-monitor', 'none', '-no-reboot',
            '-serial', `file:${this.consoleFile}`,
            '-kernel', image.kernel, '-initrd', image.initramfs, '-append', 'console=ttyAMA0 panic=-1 loglevel=4',
            '-drive', `file=${this.dataDisk},format=raw,if=none,id=data,cache=writeback`, '-device', 'virtio-blk-device,drive=data',
            '-netdev', `user,id=net,restrict=on,hostfwd=tcp:127.0.0.1:${this.forwardedMqttPort}-:${GUEST_MQTT},hostfwd=tcp:127.0.0.1:${this.forwardedBusPort}-:${GUEST_BUS}`,
            '-device', 'virtio-net-device,netdev=net',
            '-fsdev', `local,id=host,path=${this.share},security_model=none`, '-device', 'virtio-9p-device,fsdev=host,mount_tag=host',
            '-device', 'virtio-rng-device',
        ];
    }

    /** Starts qemu and waits until the guest's agent says it is up. */
    private async start(): Promise<void> {
        fs.rmSync(this.share, { recursive: true, force: true });
        fs.mkdirSync(path.join(this.share, 'cmd'), { recursive: true });
        fs.mkdirSync(path.join(this.share, 'out'), { recursive: true });
        fs.mkdirSync(path.join(this.share, 'files'), { recursive: true });
        fs.appendFileSync(this.consoleFile, `\n===== boot of ${this.image.dir} at ${new Date().toISOString()} =====\n`);
        this.qemuOutput = '';
        this.bootStartedAt = Date.now();
        const qemu = spawn(qemuSystem(this.arch), this.qemuArgs(), { stdio: ['ignore', 'pipe', 'pipe'] });
        this.qemu = qemu;
        qemu.stdout.on('data', (d: Buffer) => { this.qemuOutput += d.toString(); });
        qemu.stderr.on('data', (d: Buffer) => { this.qemuOutput += d.toString(); });
        this.exited = new Promise((resolve) => qemu.once('exit', (code) => resolve(code)));
        const ready = path.join(this.share, 'out/ready');
        const deadline = Date.now() + (this.options.bootTimeoutMs ?? 300_000);
        while (!fs.existsSync(ready)) {
            if (!this.running)
                throw new Error(`qemu ended during the boot (${qemu.exitCode ?? qemu.signalCode}): ${this.qemuOutput.trim()}\nconsole:\n${this.consoleLog().slice(-4000)}`);
            if (Date.now() > deadline)
                throw new Error(`the device did not boot within ${(this.options.bootTimeoutMs ?? 300_000) / 1000} s; console:\n${this.consoleLog().slice(-4000)}`);
            await sleep(100);
        }
        this.bootedAt = Date.now();
    }

    /** Runs a shell command in the guest as root: its output (stdout and stderr) and exit code. */
    async run(command: string, timeoutMs = 120_000): Promise<CommandResult> {
        if (!this.running)
            throw new Error(`the device is not running; console:\n${this.consoleLog().slice(-2000)}`);
        const id = `${process.pid}-${++this.nextId}`;
        const tmp = path.join(this.share, 'cmd', `${id}.tmp`);
        fs.writeFileSync(tmp, `${command}\n`);
        fs.renameSync(tmp, path.join(this.share, 'cmd', `${id}.sh`));
        const rc = path.join(this.share, 'out', `${id}.rc`);
        const out = path.join(this.share, 'out', `${id}.out`);
        const deadline = Date.now() + timeoutMs;
        while (!fs.existsSync(rc)) {
            if (!this.running)
                throw new Error(`the device stopped while running '${command}'; console:\n${this.consoleLog().slice(-2000)}`);
            if (Date.now() > deadline)
                throw new Error(`'${command}' did not finish within ${timeoutMs / 1000} s in the guest`);
            await sleep(50);
        }
        const code = Number(fs.readFileSync(rc, 'utf8').trim());
        const output = fs.readFileSync(out, 'utf8');
        fs.rmSync(rc, { force: true });
        fs.rmSync(out, { force: true });
        return { code, output };
    }

    /** Runs a command that must succeed; its output. */
    async sh(command: string, timeoutMs?: number): Promise<string> {
        const result = await this.run(command, timeoutMs);
        if (result.code !== 0)
            throw new Error(`'${command}' exited with ${result.code} in the guest:\n${result.output}`);
        return result.output;
    }

    /** Puts a file of this machine into the share; its path in the guest (/host/files/<name>). */
    shareFile(hostFile: string): string {
        const name = path.basename(hostFile);
        fs.copyFileSync(hostFile, path.join(this.share, 'files', name));
        return `/host/files/${name}`;
    }

    /** Copies a file of this machine into the guest (the directory is made). */
    async copyIn(hostFile: string, guestPath: string, mode?: string): Promise<void> {
        const shared = this.shareFile(hostFile);
        await this.sh(`mkdir -p "$(dirname '${guestPath}')" && cp '${shared}' '${guestPath}'${mode ? ` && chmod ${mode} '${guestPath}'` : ''} && rm -f '${shared}'`);
    }

    /** Writes text into a file of the guest. */
    async writeFile(guestPath: string, text: string): Promise<void> {
        const name = `write-${process.pid}-${++this.nextId}`;
        fs.writeFileSync(path.join(this.share, 'files', name), text);
        await this.sh(`mkdir -p "$(dirname '${guestPath}')" && cat '/host/files/${name}' > '${guestPath}' && rm -f '/host/files/${name}'`);
    }

    /** A clean reboot of the same image with the same /data (services stopped, /data unmounted, qemu started anew). */
    async reboot(): Promise<void> {
        await this.shutdown('reboot');
        await this.start();
    }

    /** A "firmware update": the device reboots into another image (a new read-only root), /data kept. */
    async firmwareUpdate(image: GxImage): Promise<void> {
        await this.shutdown('reboot');
        this.image = image;
        await this.start();
    }

    /** A clean power-off. */
    async powerOff(): Promise<void> {
        await this.shutdown('poweroff');
    }

    private async shutdown(how: 'reboot' | 'poweroff', timeoutMs = 120_000): Promise<void> {
        if (!this.running)
            return;
        // Detached: the agent's command ends with the system.
        const id = `${process.pid}-${++this.nextId}`;
        fs.writeFileSync(path.join(this.share, 'cmd', `${id}.tmp`), `${how}\n`);
        fs.renameSync(path.join(this.share, 'cmd', `${id}.tmp`), path.join(this.share, 'cmd', `${id}.sh`));
        const code = await within(this.exited!, timeoutMs);
        if (code === 'timeout') {
            this.killNow();
            throw new Error(`the device did not ${how} within ${timeoutMs / 1000} s; console:\n${this.consoleLog().slice(-3000)}`);
        }
    }

    /** Ends qemu at once (no clean shutdown). */
    killNow(): void {
        if (this.running)
            this.qemu!.kill('SIGKILL');
    }

    /** Ends qemu (if running) and removes the VM's directory (its disk included unless it was given); keep: leave it for a look. */
    async cleanup(options: { keep?: boolean } = {}): Promise<void> {
        if (this.running) {
            this.qemu!.kill('SIGKILL');
            await within(this.exited!, 10_000);
        }
        this.mqttGate?.close();
        this.busGate?.close();
        live.delete(this);
        if (options.keep)
            return;
        fs.rmSync(this.dir, { recursive: true, force: true }); // a given disk lives elsewhere
    }
}

// --- what the device tells about its broker -------------------------------------------------------------------------

export interface BrokerFacts {
    pid: number;
    /** /proc/<pid>/status: kB. */
    vmPeakKb: number;
    vmSizeKb: number;
    vmDataKb: number;
    vmRssKb: number;
    vmHwmKb: number;
    threads: number;
    uid: number;
    user: string;
    /** /proc/<pid>/limits: soft limits in bytes ('unlimited' as Infinity). */
    limits: { addressSpace: number; data: number; stack: number };
}

/** The pid of the service's process (svstat), or undefined when it is not up. */
export async function servicePid(vm: GxVm, service = '/service/flashmq'): Promise<number | undefined> {
    const out = await vm.sh(`svstat ${service}`);
    const m = /: up \(pid (\d+)\)/.exec(out);
    return m ? Number(m[1]) : undefined;
}

function limitBytes(text: string, name: string): number {
    const m = new RegExp(`^${name}\\s+(\\S+)`, 'm').exec(text);
    if (!m)
        throw new Error(`no '${name}' in /proc/<pid>/limits:\n${text}`);
    return m[1] === 'unlimited' ? Infinity : Number(m[1]);
}

/** Memory, limits and user of the broker (the flashmq service's process). */
export async function brokerFacts(vm: GxVm): Promise<BrokerFacts> {
    const pid = await servicePid(vm);
    if (pid === undefined)
        throw new Error(`flashmq is not up: ${await vm.sh('svstat /service/flashmq')}`);
    const status = await vm.sh(`cat /proc/${pid}/status`);
    const limits = await vm.sh(`cat /proc/${pid}/limits`);
    const kb = (field: string): number => {
        const m = new RegExp(`^${field}:\\s+(\\d+)`, 'm').exec(status);
        if (!m)
            throw new Error(`no ${field} in /proc/${pid}/status`);
        return Number(m[1]);
    };
    const uid = kb('Uid');
    const user = (await vm.sh(`awk -F: '$3 == ${uid} { print $1 }' /etc/passwd`)).trim();
    return {
        pid, vmPeakKb: kb('VmPeak'), vmSizeKb: kb('VmSize'), vmDataKb: kb('VmData'), vmRssKb: kb('VmRSS'), vmHwmKb: kb('VmHWM'),
        threads: kb('Threads'), uid, user,
        limits: { addressSpace: limitBytes(limits, 'Max address space'), data: limitBytes(limits, 'Max data size'), stack: limitBytes(limits, 'Max stack size') },
    };
}

/** A line of multilog's `t` format: its time (seconds, TAI64N label decoded) and text. */
export interface LogLine {
    at: number;
    text: string;
}

/** Decodes multilog's @<tai64n> prefixes (2^62 + seconds in 16 hex digits, then nanoseconds in 8). */
export function parseMultilog(text: string): LogLine[] {
    const out: LogLine[] = [];
    for (const line of text.split('\n')) {
        const m = /^@([0-9a-f]{16})([0-9a-f]{8}) (.*)$/.exec(line);
        if (m)
            out.push({ at: Number(BigInt(`0x${m[1]}`) - (1n << 62n)) + parseInt(m[2]!, 16) / 1e9, text: m[3]! });
    }
    return out;
}

/** FlashMQ's log (the service's multilog directory, older files first). */
export async function flashmqLog(vm: GxVm): Promise<LogLine[]> {
    return parseMultilog(await vm.sh('cd /var/log/flashmq && cat $(ls @* 2>/dev/null) current 2>/dev/null || true'));
}

export interface StartTimes {
    /** Seconds from the service's start (its run script) to FlashMQ's MQTT listener and to the plugin's discovery. */
    toListening?: number;
    toDiscovery?: number;
    /** The plugin's memory lines of that start. */
    memoryLines: string[];
}

/** The times of the last start of the broker in its log (from the run script's first line). */
export function lastStart(lines: readonly LogLine[]): StartTimes {
    let start = -1;
    lines.forEach((l, i) => {
        if (l.text.startsWith('*** starting flashmq ***'))
            start = i;
    });
    const run = start >= 0 ? lines.slice(start) : [];
    const t0 = run[0]?.at;
    const at = (re: RegExp): number | undefined => {
        const line = run.find((l) => re.test(l.text));
        return line && t0 !== undefined ? line.at - t0 : undefined;
    };
    return {
        toListening: at(/listener on \S*:1883\b/),
        toDiscovery: at(/D-Bus discovery done/),
        memoryLines: run.filter((l) => /dbus-flashmq: memory: /.test(l.text)).map((l) => l.text.slice(l.text.indexOf('dbus-flashmq: memory: '))),
    };
}

/** The time of the last line of FlashMQ's log (0 when empty): for waiting on what comes after it. */
export async function logEnd(vm: GxVm): Promise<number> {
    return (await flashmqLog(vm)).at(-1)?.at ?? 0;
}

/**
 * Waits until a line matching `re` appears in FlashMQ's log: after the time `after` (a line's time, see logEnd), or,
 * without it, since the last start of the service.
 */
export async function waitForLog(vm: GxVm, re: RegExp, options: { after?: number; timeoutMs?: number } = {}): Promise<LogLine> {
    const timeoutMs = options.timeoutMs ?? 120_000;
    const deadline = Date.now() + timeoutMs;
    for (;;) {
        const lines = await flashmqLog(vm);
        let from = 0;
        if (options.after === undefined)
            lines.forEach((l, i) => {
                if (l.text.startsWith('*** starting flashmq ***'))
                    from = i;
            });
        const found = lines.slice(from).find((l) => (options.after === undefined || l.at > options.after) && re.test(l.text));
        if (found)
            return found;
        if (Date.now() > deadline)
            throw new Error(`no log line matching ${re} within ${timeoutMs / 1000} s; log:\n${lines.slice(-30).map((l) => l.text).join('\n')}`);
        await sleep(500);
    }
}

/** A plain client on the device's bus (ANONYMOUS over TCP), for calls the simulator does not make. */
export function busClient(vm: GxVm): Promise<dbus.MessageBus> {
    const bus = dbus.sessionBus({ busAddress: vm.busAddress, authMethods: ['ANONYMOUS'] });
    bus.on('error', () => undefined);
    return new Promise((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`no connection to ${vm.busAddress}`)), 30_000);
        bus.on('connect', () => {
            clearTimeout(timer);
            resolve(bus);
        });
    });
}

/**
 * Turns LAN MQTT on (/Settings/Services/MqttLocal 1), as a user does on a device (Settings, Services, MQTT): the
 * plugin refuses logins from the LAN without it, and the host's MQTT clients come from qemu's gateway, 10.0.2.2.
 * The simulator's settings service must be on the device's bus.
 */
export async function turnOnLanMqtt(vm: GxVm): Promise<void> {
    const bus = await busClient(vm);
    try {
        await call(bus, 'com.victronenergy.settings', '/', 'AddSetting', {
            iface: 'com.victronenergy.Settings', signature: 'ssvsvv',
            body: ['/Settings/Services', 'MqttLocal', new Variant('i', 1), 'i', new Variant('i', 0), new Variant('i', 2)],
        });
        await call(bus, 'com.victronenergy.settings', '/Settings/Services/MqttLocal', 'SetValue', { signature: 'v', body: [new Variant('i', 1)] });
    } finally {
        await closeClient(bus);
    }
}

/** The repository's package archive of a target (scripts/package.sh), if built. */
export function packageFor(arch: GxArch): string | undefined {
    const dir = path.join(repoRoot, 'packages');
    const name = fs.existsSync(dir) ? fs.readdirSync(dir).find((f) => f.startsWith('venus-data-dbus-flashmq-ts-') && f.endsWith(`-${arch}.tar.gz`)) : undefined;
    return name === undefined ? undefined : path.join(dir, name);
}

// --- the way back (scripts/venus/watchdog.sh) -------------------------------------------------------------------------

/** What the plugin's status file says (/run/dbus-flashmq-ts/status) and FlashMQ's process now. */
export interface PluginServing {
    flashmqPid?: number;
    state?: string;
    statusPid?: number;
    /** The plugin says it serves (ready or degraded) in the FlashMQ process that runs now. */
    serving: boolean;
}

export async function pluginServing(vm: GxVm): Promise<PluginServing> {
    const flashmqPid = await servicePid(vm);
    const text = await vm.sh('cat /run/dbus-flashmq-ts/status 2>/dev/null || true');
    let state: string | undefined;
    let statusPid: number | undefined;
    try {
        const status = JSON.parse(text) as { state?: unknown; pid?: unknown };
        state = typeof status.state === 'string' ? status.state : undefined;
        statusPid = typeof status.pid === 'number' ? status.pid : undefined;
    } catch {
        // none yet, or being replaced
    }
    return { flashmqPid, state, statusPid, serving: flashmqPid !== undefined && statusPid === flashmqPid && (state === 'ready' || state === 'degraded') };
}

/** Waits until the plugin serves in the FlashMQ process that runs (what the watchdog waits for). */
export async function waitUntilServing(vm: GxVm, timeoutMs = 180_000): Promise<PluginServing> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
        const now = await pluginServing(vm);
        if (now.serving)
            return now;
        if (Date.now() > deadline)
            throw new Error(`the plugin does not serve within ${timeoutMs / 1000} s: ${JSON.stringify(now)}`);
        await sleep(1000);
    }
}

let probes = 0;

/**
 * Whether the device's MQTT is available to a client: its CONNECT answered with CONNACK, then a message published on a
 * topic it subscribed to (dfmq-probe/<client id>) comes back through the broker, all within timeoutMs. Our plugin
 * passes it as the stock plugin does (LAN MQTT on).
 */
export async function mqttRoundTrip(vm: GxVm, timeoutMs = 4000): Promise<boolean> {
    const id = `dfmq-probe-${process.pid}-${++probes}`;
    let client: MqttClient | undefined;
    const attempt = async (): Promise<boolean> => {
        client = await connect(vm.mqttPort, { protocolVersion: 4, clientId: id, connectTimeout: timeoutMs });
        const inbox = await Inbox.subscribe(client, `dfmq-probe/${id}`);
        await client.publishAsync(`dfmq-probe/${id}`, 'round trip');
        await inbox.waitFor(`dfmq-probe/${id}`, timeoutMs);
        return true;
    };
    const run = attempt().catch(() => false);
    try {
        return (await within(run, timeoutMs)) === true;
    } finally {
        // A connection that comes after the time is closed when it comes.
        void run.finally(() => closeAll(client));
        await closeAll(client);
    }
}

/**
 * Waits until a new subscriber gets the retained N/<portalId>/system/0/Serial: the original plugin (which logs nothing
 * when its discovery is done) has scanned the bus.
 */
export async function waitForRetainedSerial(vm: GxVm, portalId: string, timeoutMs: number): Promise<void> {
    const topic = `N/${portalId}/system/0/Serial`;
    const deadline = Date.now() + timeoutMs;
    for (;;) {
        const client = await connect(vm.mqttPort, { protocolVersion: 4 }).catch(() => undefined);
        try {
            if (client) {
                const inbox = await Inbox.subscribe(client, topic);
                await inbox.waitFor(topic, 3000);
                return;
            }
        } catch {
            // not yet
        } finally {
            await closeAll(client);
        }
        if (Date.now() > deadline)
            throw new Error(`no retained ${topic} within ${timeoutMs / 1000} s`);
        await sleep(1000);
    }
}
