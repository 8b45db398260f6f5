// The recording format of Victron's dbus-recorder (tab separated, quote character '): line 1 the service name,
// then the initial items `path TYPE value text`, then timed changes `tick path TYPE value text`. Pure functions:
// text in, data and warnings out.
//
// Leniencies, each reported as a warning (the original player silently drops such lines):
//   - a timed line with its tick written twice (`2<TAB>2<TAB>/Path ...`) is read with the first tick;
//   - a path without its leading slash gets one;
//   - a change of a path that is not among the initial items is dropped (as the original player does);
//   - changes are played in tick order (a stable sort: a few recordings have a tick out of order);
//   - an unterminated quote runs to the end of the line.
import type { Variant } from 'dbus-next';

import { recordedVariant, ValueError } from './values';

export interface RecordedItem {
    path: string;
    /** The TYPE column, e.g. 'DOUBLE', 'ARRAY[BYTE]'. */
    type: string;
    value: Variant;
    text: string;
}

export interface RecordedChange extends RecordedItem {
    tick: number;
}

export interface Recording {
    service: string;
    /** Where it came from (a file name), for messages. */
    source: string;
    items: RecordedItem[];
    /** Sorted by tick (stable). */
    changes: RecordedChange[];
    /** The highest tick, -1 without changes. */
    lastTick: number;
    warnings: string[];
}

/** Splits one line like Python's csv reader with delimiter TAB and quote character "'" (doubled quote = quote). */
export function splitRecordLine(line: string): { fields: string[]; unterminated: boolean } {
    const fields: string[] = [];
    let unterminated = false;
    let i = 0;
    for (;;) {
        let field = '';
        if (line.charAt(i) === '\'') {
            i++;
            let closed = false;
            while (i < line.length) {
                const c = line.charAt(i);
                if (c === '\'') {
                    if (line.charAt(i + 1) === '\'') {
                        field += '\'';
                        i += 2;
                        continue;
                    }
                    i++;
                    closed = true;
                    break;
                }
                field += c;
                i++;
            }
            if (!closed)
                unterminated = true;
            // Python keeps what follows the closing quote up to the delimiter.
            while (i < line.length && line.charAt(i) !== '\t')
                field += line.charAt(i++);
        } else {
            while (i < line.length && line.charAt(i) !== '\t')
                field += line.charAt(i++);
        }
        fields.push(field);
        if (i >= line.length)
            break;
        i++; // the tab
    }
    return { fields, unterminated };
}

function splitLines(text: string): string[] {
    return text.replace(/^\uFEFF/, '').split(/\r\n|\n|\r/);
}

const SERVICE_NAME = /^com\.victronenergy\.[A-Za-z0-9_]+(\.[A-Za-z0-9_-]+)*$/;
const TICK = /^\d+$/;
const PATH = /^(\/[A-Za-z0-9_]+)+$/;

export class RecordingError extends Error {}

/** Parses a whole recording. Throws RecordingError when there is no usable service name. */
export function parseRecording(text: string, source = 'recording'): Recording {
    const lines = splitLines(text);
    const service = (splitRecordLine(lines[0] ?? '').fields[0] ?? '').trim();
    if (!SERVICE_NAME.test(service))
        throw new RecordingError(`${source}: line 1 is not a com.victronenergy service name: '${service}'`);
    const warnings: string[] = [];
    const items: RecordedItem[] = [];
    const known = new Set<string>();
    const changes: RecordedChange[] = [];
    let timedSeen = false;
    const warn = (n: number, message: string): void => {
        warnings.push(`${source}:${n}: ${message}`);
    };
    const fixPath = (n: number, path: string): string | undefined => {
        let p = path.trim();
        if (!p.startsWith('/') && PATH.test(`/${p}`)) {
            warn(n, `path '${p}' without a leading slash, read as '/${p}'`);
            p = `/${p}`;
        }
        if (!PATH.test(p)) {
            warn(n, `not an object path: '${path}'; line skipped`);
            return undefined;
        }
        return p;
    };
    const value = (n: number, type: string, raw: string): Variant | undefined => {
        try {
            return recordedVariant(type.trim(), raw);
        } catch (err) {
            if (!(err instanceof ValueError))
                throw err;
            warn(n, `${err.message}; line skipped`);
            return undefined;
        }
    };

    for (let index = 1; index < lines.length; index++) {
        const n = index + 1;
        const line = lines[index] as string;
        if (line.trim() === '')
            continue;
        const { fields: rawFields, unterminated } = splitRecordLine(line);
        if (unterminated)
            warn(n, 'unterminated quote; the field runs to the end of the line');
        let fields = rawFields;
        const first = fields[0] ?? '';
        if (TICK.test(first.trim())) {
            if (TICK.test((fields[1] ?? '').trim()) && (fields[2] ?? '').trim().startsWith('/')) {
                warn(n, 'tick written twice; the first one is used');
                fields = [first, ...fields.slice(2)];
            }
            const [tickText, rawPath = '', type = '', raw = '', recordedText = ''] = fields;
            timedSeen = true;
            if (fields.length < 4) {
                warn(n, 'timed line with fewer than 4 fields; skipped');
                continue;
            }
            const path = fixPath(n, rawPath);
            if (path === undefined)
                continue;
            if (!known.has(path)) {
                warn(n, `change of '${path}', which is not among the initial items; skipped`);
                continue;
            }
            const v = value(n, type, raw);
            if (v)
                changes.push({ tick: Number(tickText), path, type: type.trim(), value: v, text: recordedText });
            continue;
        }
        const [rawPath = '', type = '', raw = '', recordedText = ''] = fields;
        if (fields.length < 3) {
            warn(n, 'line with fewer than 3 fields; skipped');
            continue;
        }
        if (timedSeen) {
            warn(n, 'an initial item after the timed changes; skipped');
            continue;
        }
        const path = fixPath(n, rawPath);
        if (path === undefined)
            continue;
        if (known.has(path)) {
            warn(n, `'${path}' is listed twice; the later line wins`);
            const at = items.findIndex((item) => item.path === path);
            items.splice(at, 1);
        }
        const v = value(n, type, raw);
        if (!v)
            continue;
        items.push({ path, type: type.trim(), value: v, text: recordedText });
        known.add(path);
    }
    // A stable sort: the order within a tick is the file's order.
    const ordered = changes.map((change, i) => ({ change, i }))
        .sort((a, b) => a.change.tick - b.change.tick || a.i - b.i)
        .map((e) => e.change);
    if (ordered.some((change, i) => change !== changes[i]))
        warnings.push(`${source}: ticks out of order; the changes are played sorted by tick`);
    const lastTick = ordered.length > 0 ? (ordered[ordered.length - 1] as RecordedChange).tick : -1;
    return { service, source, items, changes: ordered, lastTick, warnings };
}

export interface SetupLine {
    service: string;
    path: string;
    /** The value text, quotes removed. */
    value: string;
    /** True when the value was written in double quotes (then it is a string, whatever it looks like). */
    quoted: boolean;
}

/** Parses a `setup` file: `<service> <path> <value>` per line; the value is the rest of the line. */
export function parseSetup(text: string, source = 'setup'): { lines: SetupLine[]; warnings: string[] } {
    const lines: SetupLine[] = [];
    const warnings: string[] = [];
    splitLines(text).forEach((raw, index) => {
        const line = raw.trim();
        if (line === '' || line.startsWith('#'))
            return;
        const m = /^(\S+)\s+(\S+)(?:\s+(.*))?$/.exec(line);
        if (!m) {
            warnings.push(`${source}:${index + 1}: expected '<service> <path> <value>'`);
            return;
        }
        const [, service = '', path = '', rest = ''] = m;
        if (!PATH.test(path)) {
            warnings.push(`${source}:${index + 1}: not an object path: '${path}'`);
            return;
        }
        const quotedValue = /^"(.*)"$/.exec(rest);
        lines.push({ service, path, value: quotedValue ? quotedValue[1] ?? '' : rest, quoted: quotedValue !== null });
    });
    return { lines, warnings };
}
