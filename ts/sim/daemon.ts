// A private dbus-daemon for tests, benchmarks and the CLI's --own-bus: our own minimal configuration in a
// temporary directory (everything allowed, generous limits), listening on <dir>/bus.sock. restart() kills it and
// starts a new one on the same socket path, as a "dbus-daemon restart" on a GX device would look to clients.
import type { ChildProcess } from 'node:child_process';
import { spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';

export interface DbusDaemon {
    /** unix:path=<dir>/bus.sock */
    readonly address: string;
    readonly socketPath: string;
    /** The running daemon's process id. */
    readonly pid: number;
    /** Kills the daemon and removes its directory. */
    stop(): Promise<void>;
    /** Kills the daemon and starts a new one on the same socket path. */
    restart(): Promise<void>;
}

export interface DbusDaemonOptions {
    /** Default: DBUS_DAEMON, else 'dbus-daemon' from PATH. */
    binary?: string;
    /** How long to wait for the daemon to listen (default 10 s). */
    timeoutMs?: number;
}

export class DbusDaemonError extends Error {}

function config(socketPath: string): string {
    return `<!DOCTYPE busconfig PUBLIC "-//freedesktop//DTD D-Bus Bus Configuration 1.0//EN"
 "http://www.freedesktop.org/standards/dbus/1.0/busconfig.dtd">
<busconfig>
  <type>session</type>
  <listen>unix:path=${socketPath}</listen>
  <auth>EXTERNAL</auth>
  <policy context="default">
    <allow user="*"/>
    <allow own="*"/>
    <allow send_destination="*" eavesdrop="true"/>
    <allow receive_sender="*"/>
    <allow eavesdrop="true"/>
  </policy>
  <limit name="max_completed_connections">100000</limit>
  <limit name="max_incomplete_connections">10000</limit>
  <limit name="max_connections_per_user">100000</limit>
  <limit name="max_pending_service_starts">10000</limit>
  <limit name="max_names_per_connection">50000</limit>
  <limit name="max_match_rules_per_connection">50000</limit>
  <limit name="max_replies_per_connection">50000</limit>
</busconfig>
`;
}

function waitForExit(child: ChildProcess, ms: number): Promise<boolean> {
    if (child.exitCode !== null || child.signalCode !== null)
        return Promise.resolve(true);
    return new Promise((resolve) => {
        const timer = setTimeout(() => resolve(false), ms);
        child.once('exit', () => {
            clearTimeout(timer);
            resolve(true);
        });
    });
}

async function kill(child: ChildProcess): Promise<void> {
    if (child.exitCode !== null || child.signalCode !== null)
        return;
    child.kill('SIGTERM');
    if (!await waitForExit(child, 3000)) {
        child.kill('SIGKILL');
        await waitForExit(child, 3000);
    }
}

function launch(binary: string, configFile: string, timeoutMs: number): Promise<ChildProcess> {
    return new Promise((resolve, reject) => {
        const child = spawn(binary, [`--config-file=${configFile}`, '--nofork', '--nopidfile', '--print-address'], {
            stdio: ['ignore', 'pipe', 'pipe'],
        });
        let stdout = '';
        let stderr = '';
        let settled = false;
        const finish = (err?: Error): void => {
            if (settled)
                return;
            settled = true;
            clearTimeout(timer);
            if (err) {
                child.kill('SIGKILL');
                reject(err);
            } else {
                resolve(child);
            }
        };
        const timer = setTimeout(() => finish(new DbusDaemonError(`dbus-daemon did not start within ${timeoutMs} ms: ${stderr.trim()}`)), timeoutMs);
        child.stdout?.setEncoding('utf8');
        child.stderr?.setEncoding('utf8');
        child.stdout?.on('data', (chunk: string) => {
            stdout += chunk;
            if (stdout.includes('\n'))
                finish();
        });
        child.stderr?.on('data', (chunk: string) => {
            stderr += chunk;
        });
        child.once('error', (err) => finish(new DbusDaemonError(`cannot run ${binary}: ${err.message}`)));
        child.once('exit', (code, signal) => finish(new DbusDaemonError(`dbus-daemon exited (${signal ?? code ?? '?'}): ${stderr.trim()}`)));
    });
}

/** Starts a private dbus-daemon; resolves once it listens. */
export async function startDbusDaemon(options: DbusDaemonOptions = {}): Promise<DbusDaemon> {
    const binary = options.binary ?? process.env.DBUS_DAEMON ?? 'dbus-daemon';
    const timeoutMs = options.timeoutMs ?? 10000;
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'dfmq-dbus-'));
    // Any user may connect (the policy allows everyone), as on a device's system bus: a broker the tests run as an
    // unprivileged user reaches the socket.
    fs.chmodSync(dir, 0o755);
    const socketPath = path.join(dir, 'bus.sock');
    const configFile = path.join(dir, 'bus.conf');
    fs.writeFileSync(configFile, config(socketPath));
    let child: ChildProcess;
    try {
        child = await launch(binary, configFile, timeoutMs);
    } catch (err) {
        fs.rmSync(dir, { recursive: true, force: true });
        throw err;
    }
    let stopped = false;
    return {
        address: `unix:path=${socketPath}`,
        socketPath,
        get pid(): number {
            return child.pid ?? -1;
        },
        async stop(): Promise<void> {
            if (stopped)
                return;
            stopped = true;
            await kill(child);
            fs.rmSync(dir, { recursive: true, force: true });
        },
        async restart(): Promise<void> {
            if (stopped)
                throw new DbusDaemonError('the daemon was stopped');
            await kill(child);
            fs.rmSync(socketPath, { force: true });
            child = await launch(binary, configFile, timeoutMs);
        },
    };
}
