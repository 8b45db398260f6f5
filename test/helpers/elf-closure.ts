// Whether a Venus package loads on a root, checked from the files alone, as the dynamic loader would resolve it:
// every ELF shared object of the package, each DT_NEEDED found through the object's RUNPATH ($ORIGIN) or in the
// root's library directories, recursively; every version need (.gnu.version_r) met by a version definition of the
// library that provides it; every undefined, non-weak dynamic symbol (with its version) defined by some object of
// the closure or by the broker executable (the plugin's flashmq_* host functions live there). qemu shows that one
// run works; this shows what the package takes from the root, and fails on what a root lacks, without running it.
// The host's readelf (binutils reads ARM objects too) is parsed by the small pure functions below.
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';

export interface DynamicInfo {
    soname?: string;
    needed: string[];
    runpath: string[];
    rpath: string[];
}

export interface VersionNeed {
    /** The library the versions are needed from (its soname as linked). */
    file: string;
    /** Version names; weak needs (a missing one is no error for the loader) are left out. */
    versions: string[];
}

export interface VersionInfo {
    /** Version names the object defines (without the base entry, which is its soname). */
    definitions: string[];
    needs: VersionNeed[];
}

export interface DynSymbol {
    name: string;
    /** Undefined: the version needed; defined: the version it is defined in. */
    version?: string;
    /** A non-default version (name@VER): only a reference to that version binds to it. */
    hidden: boolean;
    defined: boolean;
    weak: boolean;
}

export interface ElfHeader {
    bits: 32 | 64;
    machine: number;
}

export interface ElfInfo extends DynamicInfo, VersionInfo {
    header: ElfHeader;
    symbols: DynSymbol[];
}

/** `readelf -d -W`: soname, NEEDED entries, RUNPATH and RPATH (split at ':'). */
export function parseDynamic(text: string): DynamicInfo {
    const info: DynamicInfo = { needed: [], runpath: [], rpath: [] };
    for (const line of text.split('\n')) {
        const m = /\((NEEDED|SONAME|RUNPATH|RPATH)\)[^[]*\[(.*)\]\s*$/.exec(line);
        if (!m)
            continue;
        const [, tag, value] = m as unknown as [string, string, string];
        if (tag === 'NEEDED')
            info.needed.push(value);
        else if (tag === 'SONAME')
            info.soname = value;
        else
            info[tag === 'RUNPATH' ? 'runpath' : 'rpath'].push(...value.split(':').filter((p) => p !== ''));
    }
    return info;
}

/** `readelf -V -W`: the version definitions (.gnu.version_d) and version needs (.gnu.version_r). */
export function parseVersions(text: string): VersionInfo {
    const info: VersionInfo = { definitions: [], needs: [] };
    let section: 'symbols' | 'definitions' | 'needs' | undefined;
    for (const line of text.split('\n')) {
        if (/^Version symbols section/.test(line))
            section = 'symbols';
        else if (/^Version definition section/.test(line))
            section = 'definitions';
        else if (/^Version needs section/.test(line))
            section = 'needs';
        else if (section === 'definitions') {
            const m = /Flags: (.*?)\s+Index: \d+\s+Cnt: \d+\s+Name: (\S+)/.exec(line);
            if (m && !/BASE/.test(m[1]!))
                info.definitions.push(m[2]!);
        } else if (section === 'needs') {
            const file = /^\s*\S+: Version: \d+\s+File: (\S+)/.exec(line);
            const version = /^\s*\S+:\s+Name: (\S+)\s+Flags: (.*?)\s+Version: \d+/.exec(line);
            if (file)
                info.needs.push({ file: file[1]!, versions: [] });
            else if (version && !/WEAK/.test(version[2]!))
                info.needs.at(-1)?.versions.push(version[1]!);
        }
    }
    return info;
}

/** `readelf --dyn-syms -W`: the global and weak dynamic symbols, defined or not, with their versions. */
export function parseDynSyms(text: string): DynSymbol[] {
    const out: DynSymbol[] = [];
    for (const line of text.split('\n')) {
        // Num: Value Size Type Bind Vis Ndx Name
        const m = /^\s*\d+:\s+[0-9a-fA-F]+\s+\S+\s+\S+\s+(\S+)\s+(\S+)\s+(\S+)\s+(\S.*?)\s*$/.exec(line);
        if (!m)
            continue;
        const [, bind, visibility, ndx, rest] = m as unknown as [string, string, string, string, string];
        // Local symbols and hidden ones take no part in binding between objects.
        if (bind === 'LOCAL' || visibility === 'HIDDEN' || visibility === 'INTERNAL')
            continue;
        const full = rest.replace(/\s+\(\d+\)$/, '');
        const at = full.indexOf('@');
        const name = at < 0 ? full : full.slice(0, at);
        if (name === '')
            continue;
        const symbol: DynSymbol = { name, hidden: false, defined: ndx !== 'UND', weak: bind === 'WEAK' };
        if (at >= 0) {
            const isDefault = full.startsWith('@@', at);
            symbol.version = full.slice(at + (isDefault ? 2 : 1));
            symbol.hidden = symbol.defined && !isDefault;
        }
        out.push(symbol);
    }
    return out;
}

/** The ELF class and machine of a file's first bytes, or undefined when it is no ELF file. */
export function parseElfHeader(bytes: Buffer): ElfHeader | undefined {
    if (bytes.length < 20 || bytes.readUInt32BE(0) !== 0x7f454c46)
        return undefined;
    const bits = bytes[4] === 1 ? 32 : bytes[4] === 2 ? 64 : undefined;
    if (bits === undefined)
        return undefined;
    const machine = bytes[5] === 2 ? bytes.readUInt16BE(18) : bytes.readUInt16LE(18);
    return { bits, machine };
}

/** A RUNPATH/RPATH entry with $ORIGIN (or ${ORIGIN}) replaced by the object's directory. */
export function expandOrigin(entry: string, origin: string): string {
    return entry.replace(/\$(ORIGIN\b|\{ORIGIN\})/g, origin);
}

/** Whether a definition satisfies a reference, as glibc's lookup decides (dl-lookup.c, check_match). */
export function binds(reference: DynSymbol, definition: DynSymbol): boolean {
    if (reference.version !== undefined)
        return definition.version === undefined || definition.version === reference.version;
    return !definition.hidden;
}

function readHeader(file: string): ElfHeader | undefined {
    const fd = fs.openSync(file, 'r');
    try {
        const bytes = Buffer.alloc(20);
        const n = fs.readSync(fd, bytes, 0, 20, 0);
        return parseElfHeader(bytes.subarray(0, n));
    } finally {
        fs.closeSync(fd);
    }
}

/** An object's ELF information through the host's readelf. */
export function readElf(file: string, readelf = 'readelf'): ElfInfo {
    const header = readHeader(file);
    if (!header)
        throw new Error(`${file} is no ELF file`);
    const run = (args: string[]): string => execFileSync(readelf, [...args, '-W', file], { encoding: 'utf8', maxBuffer: 512 << 20 });
    return { header, ...parseDynamic(run(['-d'])), ...parseVersions(run(['-V'])), symbols: parseDynSyms(run(['--dyn-syms'])) };
}

export interface ClosureInput {
    /** The unpacked package directory (dbus-flashmq-ts/ of the archive). */
    packageDir: string;
    /** The root the package runs on (the Venus-like root). */
    root: string;
    /** The broker executable for the target. */
    executable: string;
    /** The GNU triplet of the target (its multiarch library directories). */
    triplet: string;
    /** Tests: an object's ELF information (default: readElf). */
    inspect?: (file: string) => ElfInfo;
    /** Tests: whether a file exists (default: fs.existsSync). */
    exists?: (file: string) => boolean;
    /** Tests: the package's ELF shared objects (default: every ELF file in packageDir). */
    objects?: string[];
}

export interface ClosureResult {
    /** What would keep the package from loading: empty when nothing. */
    problems: string[];
    /** The root's libraries the package's closure takes, by their path in the root ('/usr/lib/libcrypt.so.2'). */
    rootLibraries: string[];
    /** The package's ELF objects, relative to the package directory. */
    packageObjects: string[];
}

/** Every ELF regular file below a directory (symbolic links are not followed: their targets are listed). */
export function elfFiles(dir: string): string[] {
    const out: string[] = [];
    const walk = (d: string): void => {
        for (const entry of fs.readdirSync(d, { withFileTypes: true }).sort((a, b) => a.name.localeCompare(b.name))) {
            const file = path.join(d, entry.name);
            if (entry.isDirectory())
                walk(file);
            else if (entry.isFile() && readHeader(file))
                out.push(file);
        }
    };
    walk(dir);
    return out;
}

interface Loaded {
    file: string;
    info: ElfInfo;
    /** NEEDED name -> the file it resolved to (absent: not found). */
    resolved: Map<string, string>;
}

/**
 * Resolves the closure of the executable (loaded first, as the broker starts) and of every package object (the
 * plugin, which the broker opens, then any other object of the package), and checks names, versions and symbols.
 */
export function checkClosure(input: ClosureInput): ClosureResult {
    const inspect = input.inspect ?? ((file: string) => readElf(file));
    const exists = input.exists ?? ((file: string) => fs.existsSync(file));
    const packageDir = path.resolve(input.packageDir);
    const root = path.resolve(input.root);
    const executable = path.resolve(input.executable);
    // The plugin (at the top of the package) is opened first; its libraries (lib/) as it needs them.
    const depth = (f: string): number => f.split('/').length;
    const objects = (input.objects ?? elfFiles(packageDir)).map((f) => path.resolve(f))
        .sort((a, b) => depth(a) - depth(b) || (a < b ? -1 : a > b ? 1 : 0));
    const rootDirs = [`lib/${input.triplet}`, `usr/lib/${input.triplet}`, 'lib', 'usr/lib'].map((d) => path.join(root, d));

    const display = (file: string): string => {
        if (file === executable)
            return path.basename(file);
        if (file.startsWith(`${packageDir}/`))
            return path.relative(packageDir, file);
        if (file.startsWith(`${root}/`))
            return `/${path.relative(root, file)}`;
        return file;
    };
    const problems = new Set<string>();
    const loaded = new Map<string, Loaded>();
    /** Names a loaded object answers to (the names it was asked for by, and its soname) -> its file. */
    const byName = new Map<string, string>();
    const infoCache = new Map<string, ElfInfo | undefined>();
    const info = (file: string): ElfInfo | undefined => {
        if (!infoCache.has(file)) {
            try {
                infoCache.set(file, inspect(file));
            } catch {
                infoCache.set(file, undefined);
            }
        }
        return infoCache.get(file);
    };
    const header = info(executable)?.header;
    if (!header)
        return { problems: [`${executable} is no ELF executable`], rootLibraries: [], packageObjects: [] };

    /** Where the loader finds NAME for OBJECT: its RUNPATH (or RPATH without one), then the root's directories. */
    const find = (object: Loaded, name: string): string | undefined => {
        const known = byName.get(name);
        if (known)
            return known;
        const origin = path.dirname(object.file);
        const own = object.info.runpath.length > 0 ? object.info.runpath : object.info.rpath;
        const dirs = own.map((entry) => {
            const expanded = expandOrigin(entry, origin);
            // An absolute entry without $ORIGIN names a directory of the device: in the root.
            return entry.includes('ORIGIN') ? expanded : path.join(root, expanded);
        });
        for (const dir of [...dirs, ...rootDirs]) {
            const file = path.join(dir, name);
            if (!exists(file))
                continue;
            const found = info(file);
            // The loader passes over a file of another class or machine and searches on.
            if (found && found.header.bits === header.bits && found.header.machine === header.machine)
                return file;
        }
        return undefined;
    };

    /** Loads FILE and, breadth first, what it needs. */
    const load = (file: string, asName?: string): void => {
        const queue: Array<{ file: string; name?: string }> = [{ file, name: asName }];
        while (queue.length > 0) {
            const next = queue.shift()!;
            if (loaded.has(next.file))
                continue;
            const elf = info(next.file);
            if (!elf) {
                problems.add(`${display(next.file)}: not an ELF object readelf can read`);
                continue;
            }
            const object: Loaded = { file: next.file, info: elf, resolved: new Map() };
            loaded.set(next.file, object);
            for (const name of [next.name, elf.soname])
                if (name !== undefined && !byName.has(name))
                    byName.set(name, next.file);
            for (const name of elf.needed) {
                const target = find(object, name);
                if (target === undefined) {
                    problems.add(`${display(next.file)}: NEEDED ${name} is found neither through its RUNPATH nor in the root`);
                    continue;
                }
                object.resolved.set(name, target);
                byName.set(name, byName.get(name) ?? target);
                queue.push({ file: target, name });
            }
        }
    };

    load(executable);
    for (const object of objects)
        load(object);

    // Version needs: each met by the library that provides that NEEDED entry.
    for (const object of loaded.values()) {
        for (const need of object.info.needs) {
            const provider = object.resolved.get(need.file) ?? byName.get(need.file);
            if (provider === undefined)
                continue; // not found at all: reported above
            const defined = new Set(loaded.get(provider)?.info.definitions ?? []);
            // A library without any symbol versions: the loader only warns ("no version information available").
            if (defined.size === 0)
                continue;
            for (const version of need.versions)
                if (!defined.has(version))
                    problems.add(`${display(object.file)}: needs version ${version} of ${need.file}, which ${display(provider)} does not define`);
        }
    }

    // Symbols: every strong undefined reference bound by a definition somewhere in the process.
    const definitions = new Map<string, DynSymbol[]>();
    for (const object of loaded.values())
        for (const symbol of object.info.symbols)
            if (symbol.defined)
                definitions.set(symbol.name, [...(definitions.get(symbol.name) ?? []), symbol]);
    for (const object of loaded.values()) {
        for (const symbol of object.info.symbols) {
            if (symbol.defined || symbol.weak)
                continue;
            if (!(definitions.get(symbol.name) ?? []).some((d) => binds(symbol, d))) {
                const what = symbol.version === undefined ? symbol.name : `${symbol.name}@${symbol.version}`;
                problems.add(`${display(object.file)}: undefined symbol ${what} is defined by no object of the closure nor the executable`);
            }
        }
    }

    // The root's libraries in the package's closure (whoever loaded them first).
    const fromRoot = new Set<string>();
    const seen = new Set<string>();
    const walk = [...objects];
    while (walk.length > 0) {
        const file = walk.pop()!;
        if (seen.has(file))
            continue;
        seen.add(file);
        if (file.startsWith(`${root}/`))
            fromRoot.add(display(file));
        walk.push(...(loaded.get(file)?.resolved.values() ?? []));
    }
    return {
        problems: [...problems].sort(),
        rootLibraries: [...fromRoot].sort(),
        packageObjects: objects.map((f) => path.relative(packageDir, f)),
    };
}
