// The plugin options (plugin_opt_<name> <value> in flashmq.conf) as typed settings. Every problem is reported at
// once; an unusable value is replaced by its default, so a typo never stops the broker.

import type { Network } from './security/networks';
import { defaultLocalNetworks, parseNetworks } from './security/networks';

export interface Settings {
    /** An asynchronous login not answered within this time is refused. */
    loginTimeoutMs: number;
    /** Debug log lines of the TypeScript side (FlashMQ shows them with log_level debug). */
    debug: boolean;
    /** The D-Bus to serve; '' means the system bus (DBUS_SYSTEM_BUS_ADDRESS, else its usual socket). */
    dbusAddress: string;
    /** Every D-Bus call is given up after this long. */
    dbusCallTimeoutMs: number;
    /** The portal id to use instead of the one in uniqueIdFile. */
    portalId: string;
    /** Where the portal id is read from. */
    uniqueIdFile: string;
    /** How long a keep-alive keeps the system alive (60 s on Venus; shorter for tests). */
    keepaliveTimeoutMs: number;
    /** A full republish yields to the broker's loop after this many bytes of messages. */
    fullPublishChunkBytes: number;
    /** Token users (JSON array of { token_name, password_hash }). */
    tokensFile: string;
    /** The security-profile password (a crypt hash on the first line; empty: none). */
    passwordFile: string;
    /** GUI apps, each <app>/gui-v2/<app>.json. */
    appsDir: string;
    /** Client addresses that count as localhost. */
    localNetworks: Network[];
    /** The original's option: true stops the plugin from asking venus-platform to register with VRM. */
    skipBrokerRegistration: boolean;
    /** A client's reads may publish this many items a second (and four times as many ahead). */
    readItemsPerSecond: number;
    /** All clients' reads together may publish this many items a second (and three times as many ahead). */
    allReadItemsPerSecond: number;
    /** A line of figures (memory, handles, the plugin's structures) this often; 0: never. */
    statsIntervalS: number;
    /** Where the plugin says how it is (ts/util/status.ts); '': nowhere. The C++ shim writes it too. */
    statusFile: string;
}

export const defaultSettings: Readonly<Settings> = {
    loginTimeoutMs: 20_000,
    debug: false,
    dbusAddress: '',
    dbusCallTimeoutMs: 10_000,
    portalId: '',
    uniqueIdFile: '/data/venus/unique-id',
    keepaliveTimeoutMs: 60_000,
    fullPublishChunkBytes: 64 * 1024,
    tokensFile: '/data/conf/tokens.json',
    passwordFile: '/data/conf/vncpassword.txt',
    appsDir: '/data/apps/enabled',
    localNetworks: parseNetworks(defaultLocalNetworks),
    skipBrokerRegistration: false,
    readItemsPerSecond: 5000,
    allReadItemsPerSecond: 20_000,
    statsIntervalS: 0,
    statusFile: '/run/dbus-flashmq-ts/status',
};

/** Options the C++ shim reads itself (native/plugin.cc); known here so they are not reported as unknown. */
export const shimOptionNames: ReadonlySet<string> = new Set([
    'entry', 'node_args', 'node_platform_threads', 'malloc_arena_max', 'threadpool_size', 'thread_stack_kb', 'ready_timeout_ms',
    'shutdown_timeout_ms', 'restart_delay_ms', 'restart_limit', 'code_cache',
]);

/** Options of earlier versions that no longer do anything, with what to say about them. */
const retiredOptions: ReadonlyMap<string, string> = new Map([
    ['dbus_client', 'the plugin has one D-Bus client now (its own); ignored'],
]);

type Parser<T> = (text: string) => T | Problem;

class Problem {
    constructor(readonly message: string) {}
}

const integer = (min: number, max: number): Parser<number> => (text) => {
    if (!/^\d+$/.test(text.trim()))
        return new Problem(`'${text}' is not a whole number`);
    const n = Number(text.trim());
    return n >= min && n <= max ? n : new Problem(`${n} is outside ${min}..${max}`);
};

const boolean: Parser<boolean> = (text) => {
    const t = text.trim().toLowerCase();
    if (t === 'true' || t === 'yes' || t === 'on' || t === '1')
        return true;
    if (t === 'false' || t === 'no' || t === 'off' || t === '0')
        return false;
    return new Problem(`'${text}' is not true or false`);
};

type Spec = { [K in keyof Settings]: { option: string; parse: Parser<Settings[K]> } };

const busAddress: Parser<string> = (text) => {
    const t = text.trim();
    if (t === '' || t === 'system')
        return '';
    return /^(unix|tcp):[a-z]+=/.test(t) ? t : new Problem(`'${text}' is not a D-Bus address (unix:path=..., tcp:host=...,port=...) or 'system'`);
};

const text: Parser<string> = (t) => t.trim();

const networks: Parser<Network[]> = (t) => {
    try {
        return parseNetworks(t);
    } catch (err) {
        return new Problem(err instanceof Error ? err.message : String(err));
    }
};

const spec: Spec = {
    loginTimeoutMs: { option: 'login_timeout_ms', parse: integer(100, 600_000) },
    debug: { option: 'debug', parse: boolean },
    dbusAddress: { option: 'dbus_address', parse: busAddress },
    dbusCallTimeoutMs: { option: 'dbus_call_timeout_ms', parse: integer(100, 600_000) },
    portalId: { option: 'portal_id', parse: text },
    uniqueIdFile: { option: 'unique_id_file', parse: text },
    keepaliveTimeoutMs: { option: 'keepalive_timeout_ms', parse: integer(1000, 3_600_000) },
    fullPublishChunkBytes: { option: 'full_publish_chunk_bytes', parse: integer(1024, 64 * 1024 * 1024) },
    tokensFile: { option: 'tokens_file', parse: text },
    passwordFile: { option: 'password_file', parse: text },
    appsDir: { option: 'apps_dir', parse: text },
    localNetworks: { option: 'local_networks', parse: networks },
    skipBrokerRegistration: { option: 'skip_broker_registration', parse: boolean },
    readItemsPerSecond: { option: 'read_items_per_second', parse: integer(100, 100_000_000) },
    allReadItemsPerSecond: { option: 'all_read_items_per_second', parse: integer(100, 100_000_000) },
    statsIntervalS: { option: 'stats_interval_s', parse: integer(0, 86_400) },
    statusFile: { option: 'status_file', parse: text },
};

/**
 * Options a reload (SIGHUP) cannot apply: they shape what is built at start (the topics of the portal id, the bus
 * connection, the GUI apps' watcher, the registration with VRM, the publisher's buffers) or the runtime itself
 * (the shim reads those once, before Node starts). A changed one takes effect when FlashMQ restarts.
 */
export const restartOnlyOptions: ReadonlySet<string> = new Set([
    'portal_id', 'unique_id_file', 'dbus_address', 'apps_dir', 'skip_broker_registration', 'full_publish_chunk_bytes',
    'entry', 'node_args', 'node_platform_threads', 'malloc_arena_max', 'threadpool_size', 'thread_stack_kb', 'ready_timeout_ms',
    'code_cache',
]);

export interface ReloadPlan {
    /** Options whose value changed and that the reload applies now. */
    applied: string[];
    /** Options whose value changed but that take effect only when FlashMQ restarts. */
    afterRestart: string[];
}

/** What a reload changes, from the options before and after (an option given, changed or gone counts). */
export function reloadPlan(before: Readonly<Record<string, string>>, after: Readonly<Record<string, string>>): ReloadPlan {
    const plan: ReloadPlan = { applied: [], afterRestart: [] };
    for (const name of [...new Set([...Object.keys(before), ...Object.keys(after)])].sort()) {
        if (before[name] === after[name])
            continue;
        (restartOnlyOptions.has(name) ? plan.afterRestart : plan.applied).push(name);
    }
    return plan;
}

export interface ParsedOptions {
    settings: Settings;
    problems: string[];
}

export function parseOptions(options: Readonly<Record<string, string>>, extraKnown: ReadonlySet<string> = new Set()): ParsedOptions {
    const settings: Settings = { ...defaultSettings };
    const problems: string[] = [];
    const known = new Set<string>(shimOptionNames);
    for (const name of extraKnown)
        known.add(name);

    for (const key of Object.keys(spec) as Array<keyof Settings>) {
        const { option, parse } = spec[key];
        known.add(option);
        const text = options[option];
        if (text === undefined)
            continue;
        const value = parse(text);
        if (value instanceof Problem) {
            const fallback = key === 'localNetworks' ? defaultLocalNetworks : JSON.stringify(defaultSettings[key]);
            problems.push(`plugin_opt_${option}: ${value.message}; using ${fallback}`);
            continue;
        }
        (settings as unknown as Record<string, unknown>)[key] = value;
    }
    for (const name of Object.keys(options)) {
        const retired = retiredOptions.get(name);
        if (retired !== undefined)
            problems.push(`plugin_opt_${name}: ${retired}`);
        else if (!known.has(name))
            problems.push(`plugin_opt_${name} is not an option of this plugin; ignored`);
    }
    return { settings, problems };
}
