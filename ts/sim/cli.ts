// The simulator's command line: plays a recording and/or a synthetic scale load on a given bus (or on a private
// dbus-daemon it starts), says what it does, takes commands on stdin, stops cleanly on SIGINT/SIGTERM.
import * as readline from 'node:readline';

import { Variant } from 'dbus-next';

import type { DbusDaemon } from './daemon';
import { startDbusDaemon } from './daemon';
import type { SimulatorOptions } from './index';
import { defaultRecordingsDir, listSystems, Simulator } from './index';
import { describeVariant, invalidVariant } from './values';
import { parseSingleType } from '../dbus/wire/encode';

const USAGE = `Usage: node dist/ts/sim/cli.js [options]

  --bus <address>          the bus to use (unix:path=...); default DBUS_SESSION_BUS_ADDRESS
  --own-bus                start a private dbus-daemon and print its address
  --recording <name>       a system ('bct'), a directory or a .csv file (or 'devices/grid')
  --recordings-dir <dir>   where systems are looked up (default ${defaultRecordingsDir()})
  --speed <n>              ticks per second, 0 = initial state only (default 1)
  --no-loop                stop at the end of the recording instead of starting over
  --settings / --no-settings   run com.victronenergy.settings (default: with a recording)
  --scale <N>x<M>          N synthetic services of M paths each
  --churn <n>              changes per second over the scale services (default 0)
  --signal-style <s>       items | properties | mixed (default items)
  --list                   list the recordings and exit
  --quiet                  print only the address, the summary and command output

Commands on stdin:
  list                             services, item counts, unique names
  get <service> <path>             the current value
  set <service> <path> <json>      a device-side change; <json> may be prefixed with a signature: d:5, u:3
  vanish <service>                 the service's connection goes away
  reappear <service>               it comes back on a new connection
  quit                             stop and exit
`;

interface CliOptions {
    sim: Omit<SimulatorOptions, 'busAddress'>;
    bus?: string;
    ownBus: boolean;
    list: boolean;
    quiet: boolean;
}

class UsageError extends Error {}

function parseArgs(argv: string[]): CliOptions | 'help' {
    const out: CliOptions = { sim: {}, ownBus: false, list: false, quiet: false };
    let churn = 0;
    let scale: { services: number; paths: number } | undefined;
    for (let i = 0; i < argv.length; i++) {
        const arg = argv[i] as string;
        const value = (): string => {
            const v = argv[++i];
            if (v === undefined)
                throw new UsageError(`${arg} needs a value`);
            return v;
        };
        const number = (): number => {
            const text = value();
            const n = Number(text);
            if (text.trim() === '' || !Number.isFinite(n) || n < 0)
                throw new UsageError(`${arg}: not a number >= 0: '${text}'`);
            return n;
        };
        switch (arg) {
            case '-h': case '--help':
                return 'help';
            case '--bus': out.bus = value(); break;
            case '--own-bus': out.ownBus = true; break;
            case '--recording': out.sim.recording = value(); break;
            case '--recordings-dir': out.sim.recordingsDir = value(); break;
            case '--speed': out.sim.speed = number(); break;
            case '--no-loop': out.sim.loop = false; break;
            case '--settings': out.sim.settings = true; break;
            case '--no-settings': out.sim.settings = false; break;
            case '--churn': churn = number(); break;
            case '--list': out.list = true; break;
            case '--quiet': out.quiet = true; break;
            case '--scale': {
                const m = /^(\d+)x(\d+)$/.exec(value());
                if (!m)
                    throw new UsageError('--scale takes <services>x<paths>, e.g. 100x500');
                scale = { services: Number(m[1]), paths: Number(m[2]) };
                break;
            }
            case '--signal-style': {
                const style = value();
                if (style !== 'items' && style !== 'properties' && style !== 'mixed')
                    throw new UsageError('--signal-style is items, properties or mixed');
                out.sim.signalStyle = style;
                break;
            }
            default:
                throw new UsageError(`unknown option ${arg}`);
        }
    }
    if (scale)
        out.sim.scale = { ...scale, churnPerSecond: churn };
    else if (churn > 0)
        throw new UsageError('--churn needs --scale');
    return out;
}

/** A JSON value (optionally 'sig:json') as a Variant, the way dbus-flashmq converts a W/ payload. */
export function variantFromText(text: string): Variant {
    const typed = /^([ybnqiuxtdsogvab{}()]+):(.*)$/s.exec(text.trim());
    if (typed) {
        const signature = typed[1] as string;
        parseSingleType(signature);
        const json: unknown = JSON.parse(typed[2] as string);
        if (signature === 'x' || signature === 't')
            return new Variant(signature, BigInt(json as number));
        return new Variant(signature, json);
    }
    const json: unknown = JSON.parse(text);
    const convert = (v: unknown): Variant => {
        if (v === null)
            return invalidVariant();
        if (typeof v === 'boolean')
            return new Variant('b', v);
        if (typeof v === 'string')
            return new Variant('s', v);
        if (typeof v === 'number') {
            if (Number.isInteger(v) && !/[.eE]/.test(String(v)))
                return v >= -0x80000000 && v <= 0x7fffffff ? new Variant('i', v) : new Variant('x', BigInt(v));
            return new Variant('d', v);
        }
        if (Array.isArray(v))
            return v.length === 0 ? new Variant('au', []) : new Variant('av', v.map(convert));
        if (typeof v === 'object')
            return new Variant('a{sv}', Object.fromEntries(Object.entries(v as Record<string, unknown>).map(([k, e]) => [k, convert(e)])));
        throw new UsageError(`cannot convert ${text}`);
    };
    // JSON.parse loses "5.0" vs "5": a number written with a point or exponent is a double.
    if (typeof json === 'number' && /[.eE]/.test(text))
        return new Variant('d', json);
    return convert(json);
}

function print(line: string): void {
    process.stdout.write(`${line}\n`);
}

function listRecordings(dir: string | undefined): void {
    const systems = listSystems(dir);
    if (systems.length === 0) {
        print(`no recordings in ${dir ?? defaultRecordingsDir()}`);
        return;
    }
    for (const system of systems)
        print(`${system.name.padEnd(10)} ${String(system.files.length).padStart(3)} files  ${system.description}`);
}

async function command(sim: Simulator, line: string): Promise<boolean> {
    const [verb = '', ...args] = line.trim().split(/\s+/);
    switch (verb) {
        case '':
            return true;
        case 'quit': case 'exit':
            return false;
        case 'help':
            print(USAGE.slice(USAGE.indexOf('Commands')));
            return true;
        case 'list':
            for (const name of sim.serviceNames)
                print(`${name}  ${sim.itemCount(name)} items  ${sim.uniqueName(name) ?? '(away)'}`);
            return true;
        case 'vanish':
            await sim.vanish(args[0] ?? '');
            print(`vanished ${args[0] ?? ''}`);
            return true;
        case 'reappear':
            await sim.reappear(args[0] ?? '');
            print(`reappeared ${args[0] ?? ''} as ${sim.uniqueName(args[0] ?? '') ?? '?'}`);
            return true;
        case 'get': {
            const value = sim.value(args[0] ?? '', args[1] ?? '');
            print(value ? describeVariant(value) : 'no such item');
            return true;
        }
        case 'set': {
            const match = /^\s*set\s+(\S+)\s+(\S+)\s+(.+)$/.exec(line);
            if (!match)
                throw new UsageError('set <service> <path> <json value>');
            const value = variantFromText(match[3] as string);
            sim.change(match[1] as string, match[2] as string, value);
            print(`set ${match[1] ?? ''} ${match[2] ?? ''} = ${describeVariant(value)}`);
            return true;
        }
        default:
            throw new UsageError(`unknown command '${verb}' (try help)`);
    }
}

async function main(argv: string[]): Promise<number> {
    let options: CliOptions | 'help';
    try {
        options = parseArgs(argv);
    } catch (err) {
        process.stderr.write(`${err instanceof Error ? err.message : String(err)}\n\n${USAGE}`);
        return 2;
    }
    if (options === 'help') {
        print(USAGE);
        return 0;
    }
    if (options.list) {
        listRecordings(options.sim.recordingsDir);
        return 0;
    }
    if (options.sim.recording === undefined && options.sim.scale === undefined && options.sim.settings !== true) {
        process.stderr.write(`nothing to simulate: give --recording and/or --scale\n\n${USAGE}`);
        return 2;
    }
    const log = options.quiet ? () => undefined : (line: string) => print(line);
    let daemon: DbusDaemon | undefined;
    let address = options.bus ?? process.env.DBUS_SESSION_BUS_ADDRESS;
    if (options.ownBus) {
        daemon = await startDbusDaemon();
        address = daemon.address;
        print(`bus: ${address}`);
    }
    if (!address) {
        process.stderr.write('no bus: give --bus <address> or --own-bus\n');
        return 2;
    }
    const started = Date.now();
    let sim: Simulator;
    try {
        sim = await Simulator.start({ ...options.sim, busAddress: address, log });
    } catch (err) {
        process.stderr.write(`cannot start: ${err instanceof Error ? err.message : String(err)}\n`);
        await daemon?.stop();
        return 1;
    }
    let stopping: Promise<void> | undefined;
    const stop = (why: string): Promise<void> => {
        stopping ??= (async () => {
            print(`stopping (${why})`);
            await sim.stop();
            await daemon?.stop();
        })();
        return stopping;
    };
    return new Promise<number>((resolve) => {
        const finish = (why: string): void => {
            stop(why).then(() => resolve(0), (err: unknown) => {
                process.stderr.write(`stop failed: ${err instanceof Error ? err.message : String(err)}\n`);
                resolve(1);
            });
        };
        process.once('SIGINT', () => finish('SIGINT'));
        process.once('SIGTERM', () => finish('SIGTERM'));
        // Ready only now: whoever waits for this line may signal us at once.
        print(`ready in ${Date.now() - started} ms: ${sim.serviceNames.length} services, ${sim.itemCount()} items on ${address}`);
        const input = readline.createInterface({ input: process.stdin, terminal: false });
        let queue = Promise.resolve();
        input.on('line', (line) => {
            queue = queue.then(async () => {
                if (stopping)
                    return;
                try {
                    if (!await command(sim, line)) {
                        input.close();
                        finish('quit');
                    }
                } catch (err) {
                    print(`error: ${err instanceof Error ? err.message : String(err)}`);
                }
            });
        });
    });
}

if (require.main === module) {
    main(process.argv.slice(2)).then((code) => {
        process.exitCode = code;
        // stdin may still hold the event loop; everything of ours is closed.
        process.stdin.destroy();
    }, (err: unknown) => {
        process.stderr.write(`${err instanceof Error ? err.stack ?? err.message : String(err)}\n`);
        process.exitCode = 1;
    });
}
