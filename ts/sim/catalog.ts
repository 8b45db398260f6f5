// Where recordings are and how a name becomes a set of recordings: a system (a folder of .csv files with its
// `description` and `setup`), a single .csv file, or a path to either. Some .csv files are symbolic links
// checked out as text (their content is the relative path of the real file, e.g. `../xy/grid.csv`); they are
// followed.
import * as fs from 'node:fs';
import * as path from 'node:path';

import type { Recording, SetupLine } from './recording';
import { parseRecording, parseSetup, RecordingError } from './recording';

/** DFMQ_RECORDINGS, else <repo>/test/fixtures/venus-recordings (this file is compiled to <repo>/dist/ts/sim). */
export function defaultRecordingsDir(): string {
    const configured = process.env.DFMQ_RECORDINGS;
    if (configured)
        return path.resolve(configured);
    const repoRoot = path.resolve(__dirname, '..', '..', '..');
    return path.resolve(repoRoot, 'test', 'fixtures', 'venus-recordings');
}

const POINTER = /^[^\t\r\n]+\.csv$/;

/** Reads a recording file, following text "links" (a file whose only content is a relative .csv path). */
export function readRecordingText(file: string): { text: string; file: string } {
    let current = file;
    for (let hops = 0; hops < 5; hops++) {
        const text = fs.readFileSync(current, 'utf8');
        const trimmed = text.trim();
        if (!POINTER.test(trimmed) || trimmed.includes('\n'))
            return { text, file: current };
        const target = path.resolve(path.dirname(current), trimmed);
        if (!fs.existsSync(target))
            return { text, file: current };
        current = target;
    }
    throw new RecordingError(`${file}: too many links`);
}

export function readRecordingFile(file: string): Recording {
    const { text, file: real } = readRecordingText(file);
    const name = real === file ? file : `${file} (-> ${real})`;
    return parseRecording(text, name);
}

export interface SystemInfo {
    name: string;
    directory: string;
    description: string;
    files: string[];
}

function csvFiles(directory: string): string[] {
    return fs.readdirSync(directory)
        .filter((name) => name.endsWith('.csv'))
        .sort()
        .map((name) => path.join(directory, name));
}

function firstLine(file: string): string {
    try {
        return (fs.readFileSync(file, 'utf8').split(/\r?\n/)[0] ?? '').trim();
    } catch {
        return '';
    }
}

/** Every folder of the recordings directory with .csv files (`devices` included: its files play one by one). */
export function listSystems(directory = defaultRecordingsDir()): SystemInfo[] {
    if (!fs.existsSync(directory))
        return [];
    return fs.readdirSync(directory, { withFileTypes: true })
        .filter((entry) => entry.isDirectory())
        .map((entry) => path.join(directory, entry.name))
        .map((dir) => ({ name: path.basename(dir), directory: dir, description: firstLine(path.join(dir, 'description')), files: csvFiles(dir) }))
        .filter((system) => system.files.length > 0)
        .sort((a, b) => a.name.localeCompare(b.name));
}

export interface LoadedRecordings {
    /** The system's name, or the file's. */
    name: string;
    description: string;
    recordings: Recording[];
    setup: SetupLine[];
    /** Every lenient reading of the files (see recording.ts). */
    warnings: string[];
}

function loadDirectory(directory: string): LoadedRecordings {
    const files = csvFiles(directory);
    if (files.length === 0)
        throw new RecordingError(`${directory} holds no .csv recording`);
    const recordings = files.map(readRecordingFile);
    const seen = new Map<string, string>();
    for (const recording of recordings) {
        const earlier = seen.get(recording.service);
        if (earlier)
            throw new RecordingError(`${recording.source} and ${earlier} both record ${recording.service}; play them one at a time`);
        seen.set(recording.service, recording.source);
    }
    const warnings = recordings.flatMap((r) => r.warnings);
    const setupFile = path.join(directory, 'setup');
    let setup: SetupLine[] = [];
    if (fs.existsSync(setupFile)) {
        const parsed = parseSetup(fs.readFileSync(setupFile, 'utf8'), setupFile);
        setup = parsed.lines;
        warnings.push(...parsed.warnings);
    }
    return { name: path.basename(directory), description: firstLine(path.join(directory, 'description')), recordings, setup, warnings };
}

function loadFile(file: string): LoadedRecordings {
    const recording = readRecordingFile(file);
    return { name: path.basename(file, '.csv'), description: recording.service, recordings: [recording], setup: [], warnings: recording.warnings };
}

/**
 * A recording given as a path (folder or .csv file), or as a name under the recordings directory: a system
 * ('bct'), a file ('devices/grid.csv') or a file without its extension ('devices/grid').
 */
export function loadRecordings(spec: string, directory = defaultRecordingsDir()): LoadedRecordings {
    const candidates = [path.resolve(spec), path.resolve(directory, spec), path.resolve(directory, `${spec}.csv`)];
    for (const candidate of candidates) {
        if (!fs.existsSync(candidate))
            continue;
        return fs.statSync(candidate).isDirectory() ? loadDirectory(candidate) : loadFile(candidate);
    }
    const known = listSystems(directory).map((s) => s.name).join(', ');
    throw new RecordingError(`no recording '${spec}' (looked in ${directory}; systems there: ${known || 'none'})`);
}
