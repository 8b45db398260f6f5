// The text of a flashmq.conf that loads our plugin: used by the demo (npm start), and by the test and benchmark
// helpers that start a real broker. A pure function, so what it writes is table-tested.

export interface FlashmqConfig {
    port: number;
    logFile: string;
    /** The plugin .so; null: a broker without it. */
    plugin: string | null;
    pluginOptions?: Record<string, string>;
    /** Default 'info'. */
    logLevel?: string;
    /** Default '127.0.0.1'. */
    bindAddress?: string;
    /** Default 1 (the plugin requires it). */
    threadCount?: number;
    /** Default true. */
    allowAnonymous?: boolean;
    /** Extra lines at the top level. */
    extra?: string[];
    /** Extra lines inside the listen block. */
    listener?: string[];
}

/** A value as a FlashMQ config token: quoted, with backslashes and quotes escaped. */
export function quoteValue(value: string): string {
    return `"${value.replace(/\\/g, '\\\\').replace(/"/g, '\\"')}"`;
}

/** A config line must not smuggle in another one. */
function oneLine(what: string, text: string): string {
    if (/[\r\n]/.test(text))
        throw new Error(`${what} must be one line: ${JSON.stringify(text)}`);
    return text;
}

export function flashmqConfig(c: FlashmqConfig): string {
    const lines = [
        `thread_count ${c.threadCount ?? 1}`,
        `allow_anonymous ${c.allowAnonymous === false ? 'false' : 'true'}`,
        `log_level ${oneLine('log_level', c.logLevel ?? 'info')}`,
        `log_file ${oneLine('log_file', c.logFile)}`,
        'plugin_timer_period 1',
    ];
    if (c.plugin !== null) {
        lines.push(`plugin ${oneLine('plugin', c.plugin)}`);
        for (const [name, value] of Object.entries(c.pluginOptions ?? {})) {
            if (!/^[A-Za-z0-9_]+$/.test(name))
                throw new Error(`'${name}' is not a plugin option name`);
            lines.push(`plugin_opt_${name} ${quoteValue(oneLine(`plugin_opt_${name}`, value))}`);
        }
    }
    for (const line of c.extra ?? [])
        lines.push(...line.split('\n').filter((l) => l.trim() !== ''));
    const bind = c.bindAddress ?? '127.0.0.1';
    lines.push('listen {', '  protocol mqtt', `  inet_protocol ${bind.includes(':') ? 'ip6' : 'ip4'}`,
        `  ${bind.includes(':') ? 'inet6_bind_address' : 'inet4_bind_address'} ${oneLine('bind address', bind)}`, `  port ${c.port}`,
        ...(c.listener ?? []).map((l) => `  ${oneLine('listener line', l)}`), '}');
    return `${lines.join('\n')}\n`;
}
