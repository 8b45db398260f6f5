// A namespaced logger whose lines go to FlashMQ's log. Debug messages may be given as functions, built only when
// debug logging is on.

export type LogLevelName = 'debug' | 'info' | 'notice' | 'warning' | 'error';

export interface LogSink {
    write(level: LogLevelName, line: string): void;
}

export type LogMessage = string | (() => string);

export class Logger {
    constructor(
        private readonly sink: LogSink,
        private readonly namespace: string,
        private readonly debugEnabled: () => boolean = () => false,
    ) {}

    child(namespace: string): Logger {
        return new Logger(this.sink, `${this.namespace}:${namespace}`, this.debugEnabled);
    }

    debug(message: LogMessage): void {
        if (this.debugEnabled())
            this.emit('debug', message);
    }

    info(message: LogMessage): void {
        this.emit('info', message);
    }

    notice(message: LogMessage): void {
        this.emit('notice', message);
    }

    warning(message: LogMessage): void {
        this.emit('warning', message);
    }

    error(message: LogMessage): void {
        this.emit('error', message);
    }

    private emit(level: LogLevelName, message: LogMessage): void {
        let text: string;
        try {
            text = typeof message === 'function' ? message() : message;
        } catch (err) {
            text = `(building this log message failed: ${describeError(err)})`;
        }
        this.sink.write(level, `${this.namespace}: ${text}`);
    }
}

/** One line that says what went wrong, for any thrown value. */
export function describeError(err: unknown): string {
    if (err instanceof Error)
        return `${err.name}: ${err.message}`;
    try {
        return `thrown value ${JSON.stringify(err)}`;
    } catch {
        return `thrown value ${String(err)}`;
    }
}

/** The first frames of the stack, for error lines where the location matters. */
export function describeErrorWithStack(err: unknown, frames = 4): string {
    if (err instanceof Error && typeof err.stack === 'string')
        return err.stack.split('\n').slice(0, frames + 1).map((l) => l.trim()).join(' | ');
    return describeError(err);
}
