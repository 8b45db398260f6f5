import type { LogLevelName, LogSink } from '../log';
import type { FlashmqBinding, LogLevelCode } from './binding';
import { LogLevel } from './binding';

const levels: Record<LogLevelName, LogLevelCode> = {
    debug: LogLevel.debug,
    info: LogLevel.info,
    notice: LogLevel.notice,
    warning: LogLevel.warning,
    error: LogLevel.error,
};

/** Log lines into FlashMQ's log, at FlashMQ's levels. */
export function brokerLogSink(binding: Pick<FlashmqBinding, 'log'>): LogSink {
    return { write: (level, line) => binding.log(levels[level], line) };
}
