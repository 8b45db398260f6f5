import { strict as assert } from 'node:assert';

import type { DynSymbol, ElfInfo } from '../helpers/elf-closure';
import { binds, checkClosure, expandOrigin, parseDynamic, parseDynSyms, parseElfHeader, parseVersions } from '../helpers/elf-closure';

describe('the ELF closure check: readelf parsers', () => {
    const dynamicCases: Array<{ what: string; text: string; want: ReturnType<typeof parseDynamic> }> = [
        {
            what: 'the plugin: NEEDED entries and a RUNPATH',
            text: `
Dynamic section at offset 0x1ef08 contains 31 entries:
  Tag        Type                         Name/Value
 0x00000001 (NEEDED)                     Shared library: [libnode.so.108]
 0x00000001 (NEEDED)                     Shared library: [libcrypt.so.2]
 0x00000001 (NEEDED)                     Shared library: [libc.so.6]
 0x0000001d (RUNPATH)                    Library runpath: [$ORIGIN/lib]
 0x0000000c (INIT)                       0x7d2c
`,
            want: { needed: ['libnode.so.108', 'libcrypt.so.2', 'libc.so.6'], runpath: ['$ORIGIN/lib'], rpath: [] },
        },
        {
            what: 'a library: its soname, a RUNPATH of two entries',
            text: `
 0x0000000000000001 (NEEDED)             Shared library: [libc.so.6]
 0x000000000000000e (SONAME)             Library soname: [libcrypt.so.2]
 0x000000000000001d (RUNPATH)            Library runpath: [$ORIGIN:/opt/lib]
`,
            want: { soname: 'libcrypt.so.2', needed: ['libc.so.6'], runpath: ['$ORIGIN', '/opt/lib'], rpath: [] },
        },
        {
            what: 'an old-style RPATH',
            text: ' 0x0000000f (RPATH)                      Library rpath: [/usr/local/lib]\n',
            want: { needed: [], runpath: [], rpath: ['/usr/local/lib'] },
        },
        {
            what: 'a static executable',
            text: '\nThere is no dynamic section in this file.\n',
            want: { needed: [], runpath: [], rpath: [] },
        },
    ];
    for (const c of dynamicCases)
        it(`readelf -d: ${c.what}`, () => assert.deepEqual(parseDynamic(c.text), c.want));

    const versionCases: Array<{ what: string; text: string; want: ReturnType<typeof parseVersions> }> = [
        {
            what: "libxcrypt's libcrypt.so.2: its versions, the base entry left out, and what it needs from libc",
            text: `
Version symbols section '.gnu.version' contains 41 entries:
 Addr: 0x000000000000060a  Offset: 0x0000060a  Link: 3 (.dynsym)
  000:   0 (*local*)       0 (*local*)       0 (*local*)       5 (GLIBC_2.4)
  01c:   5 (GLIBC_2.4)     3 (XCRYPT_4.3)    2 (XCRYPT_2.0)    4 (XCRYPT_4.4)

Version definition section '.gnu.version_d' contains 4 entries:
 Addr: 0x000000000000065c  Offset: 0x0000065c  Link: 4 (.dynstr)
  000000: Rev: 1  Flags: BASE  Index: 1  Cnt: 1  Name: libcrypt.so.2
  0x001c: Rev: 1  Flags: none  Index: 2  Cnt: 1  Name: XCRYPT_2.0
  0x0038: Rev: 1  Flags: none  Index: 3  Cnt: 2  Name: XCRYPT_4.3
  0x0054: Parent 1: XCRYPT_2.0
  0x005c: Rev: 1  Flags: none  Index: 4  Cnt: 2  Name: XCRYPT_4.4
  0x0078: Parent 1: XCRYPT_4.3

Version needs section '.gnu.version_r' contains 1 entry:
 Addr: 0x00000000000006dc  Offset: 0x000006dc  Link: 4 (.dynstr)
  000000: Version: 1  File: libc.so.6  Cnt: 3
  0x0010:   Name: GLIBC_2.25  Flags: none  Version: 7
  0x0020:   Name: GLIBC_2.36  Flags: none  Version: 6
  0x0030:   Name: GLIBC_2.4  Flags: none  Version: 5
`,
            want: { definitions: ['XCRYPT_2.0', 'XCRYPT_4.3', 'XCRYPT_4.4'], needs: [{ file: 'libc.so.6', versions: ['GLIBC_2.25', 'GLIBC_2.36', 'GLIBC_2.4'] }] },
        },
        {
            what: 'the plugin: needs from several files; a weak need is left out',
            text: `
Version needs section '.gnu.version_r' contains 3 entries:
 Addr: 0x00000000000030e4  Offset: 0x000030e4  Link: 4 (.dynstr)
  000000: Version: 1  File: libcrypt.so.2  Cnt: 1
  0x0010:   Name: XCRYPT_2.0  Flags: none  Version: 23
  0x0020: Version: 1  File: libgcc_s.so.1  Cnt: 1
  0x0030:   Name: GCC_3.5  Flags: WEAK  Version: 7
  0x0040: Version: 1  File: libc.so.6  Cnt: 2
  0x0050:   Name: GLIBC_2.34  Flags: none  Version: 18
  0x0060:   Name: GLIBC_2.4  Flags: none  Version: 6
`,
            want: { definitions: [], needs: [{ file: 'libcrypt.so.2', versions: ['XCRYPT_2.0'] }, { file: 'libgcc_s.so.1', versions: [] },
                { file: 'libc.so.6', versions: ['GLIBC_2.34', 'GLIBC_2.4'] }] },
        },
        {
            what: 'an object without versions',
            text: '\nNo version information found in this file.\n',
            want: { definitions: [], needs: [] },
        },
    ];
    for (const c of versionCases)
        it(`readelf -V: ${c.what}`, () => assert.deepEqual(parseVersions(c.text), c.want));

    const sym = (name: string, fields: Partial<DynSymbol> = {}): DynSymbol => ({ name, hidden: false, defined: true, weak: false, ...fields });
    const symbolCases: Array<{ line: string; want: DynSymbol[] }> = [
        { line: '     0: 00000000     0 NOTYPE  LOCAL  DEFAULT  UND ', want: [] },
        { line: '     3: 00007d2c     0 SECTION LOCAL  DEFAULT   10 .init', want: [] },
        { line: '     5: 00000000     0 FUNC    GLOBAL DEFAULT  UND crypt_r@XCRYPT_2.0 (4)', want: [sym('crypt_r', { version: 'XCRYPT_2.0', defined: false })] },
        { line: '     6: 00000000     0 NOTYPE  WEAK   DEFAULT  UND __gmon_start__', want: [sym('__gmon_start__', { defined: false, weak: true })] },
        { line: '    12: 00000000     0 FUNC    GLOBAL DEFAULT  UND flashmq_logf', want: [sym('flashmq_logf', { defined: false })] },
        { line: '    38: 00011f35    34 FUNC    GLOBAL DEFAULT   12 crypt_r@@XCRYPT_2.0', want: [sym('crypt_r', { version: 'XCRYPT_2.0' })] },
        { line: '    31: 0000000000017280   171 FUNC    GLOBAL DEFAULT   12 setkey@GLIBC_2.2.5', want: [sym('setkey', { version: 'GLIBC_2.2.5', hidden: true })] },
        { line: '    40: 0001a2b0    16 FUNC    GLOBAL HIDDEN    12 internal_helper', want: [] },
        { line: '    41: 0002b2c0     4 OBJECT  UNIQUE DEFAULT   24 _ZGVZN2v88internal4FlagE', want: [sym('_ZGVZN2v88internal4FlagE')] },
        { line: '    42: 00000000     0 FUNC    GLOBAL DEFAULT  UND _ZNSt6vectorIiSaIiEE9push_backERKi@GLIBCXX_3.4 (3)',
            want: [sym('_ZNSt6vectorIiSaIiEE9push_backERKi', { version: 'GLIBCXX_3.4', defined: false })] },
        { line: '    43: 0000000000000000     0 OBJECT  GLOBAL DEFAULT  ABS XCRYPT_2.0', want: [sym('XCRYPT_2.0')] },
        { line: "Symbol table '.dynsym' contains 41 entries:", want: [] },
        { line: '   Num:    Value  Size Type    Bind   Vis      Ndx Name', want: [] },
    ];
    for (const c of symbolCases)
        it(`readelf --dyn-syms: '${c.line.trim()}'`, () => assert.deepEqual(parseDynSyms(c.line), c.want));

    const header = (bytes: number[]): Buffer => Buffer.concat([Buffer.from(bytes), Buffer.alloc(20 - bytes.length)]);
    const elf = [0x7f, 0x45, 0x4c, 0x46];
    const headerCases: Array<{ what: string; bytes: Buffer; want: ReturnType<typeof parseElfHeader> }> = [
        { what: '32-bit ARM', bytes: header([...elf, 1, 1, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 3, 0, 40, 0]), want: { bits: 32, machine: 40 } },
        { what: 'AArch64', bytes: header([...elf, 2, 1, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 3, 0, 183, 0]), want: { bits: 64, machine: 183 } },
        { what: 'a big-endian object', bytes: header([...elf, 1, 2, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 3, 0, 8]), want: { bits: 32, machine: 8 } },
        { what: 'a script', bytes: Buffer.from('#!/bin/sh\necho not an elf\n'), want: undefined },
        { what: 'a short file', bytes: Buffer.from(elf), want: undefined },
    ];
    for (const c of headerCases)
        it(`the ELF header of ${c.what}`, () => assert.deepEqual(parseElfHeader(c.bytes), c.want));

    const originCases: Array<[string, string, string]> = [
        ['$ORIGIN/lib', '/p', '/p/lib'],
        ['${ORIGIN}', '/p/lib', '/p/lib'],
        ['/usr/lib', '/p', '/usr/lib'],
        ['$ORIGINAL', '/p', '$ORIGINAL'],
    ];
    for (const [entry, origin, want] of originCases)
        it(`expands '${entry}' with $ORIGIN=${origin} to '${want}'`, () => assert.equal(expandOrigin(entry, origin), want));

    const bindCases: Array<{ what: string; reference: DynSymbol; definition: DynSymbol; want: boolean }> = [
        { what: 'the same version', reference: sym('f', { version: 'V2', defined: false }), definition: sym('f', { version: 'V2' }), want: true },
        { what: 'another version', reference: sym('f', { version: 'V2', defined: false }), definition: sym('f', { version: 'V1' }), want: false },
        { what: 'an unversioned definition', reference: sym('f', { version: 'V2', defined: false }), definition: sym('f'), want: true },
        { what: 'the default version, for an unversioned reference', reference: sym('f', { defined: false }), definition: sym('f', { version: 'V2' }), want: true },
        { what: 'a hidden version, for an unversioned reference', reference: sym('f', { defined: false }), definition: sym('f', { version: 'V1', hidden: true }), want: false },
        { what: 'a hidden version, asked for by name', reference: sym('f', { version: 'V1', defined: false }), definition: sym('f', { version: 'V1', hidden: true }), want: true },
    ];
    for (const c of bindCases)
        it(`binds a reference to ${c.what}: ${c.want}`, () => assert.equal(binds(c.reference, c.definition), c.want));
});

describe('the ELF closure check: resolution', () => {
    const ARM = { bits: 32 as const, machine: 40 };
    const T = 'arm-linux-gnueabihf';
    type Spec = Partial<Omit<ElfInfo, 'symbols'>> & { defines?: string[]; uses?: string[] };
    /** 'name@V' a versioned symbol, 'name@@V' its default version, '~name' a weak reference. */
    const symbol = (text: string, defined: boolean): DynSymbol => {
        const weak = text.startsWith('~');
        const [name, version] = text.replace(/^~/, '').split(/@@?/) as [string, string | undefined];
        return { name, version, defined, weak, hidden: defined && /[^@]@[^@]/.test(text) };
    };
    const elf = (s: Spec): ElfInfo => ({
        header: s.header ?? ARM, soname: s.soname, needed: s.needed ?? [], runpath: s.runpath ?? [], rpath: s.rpath ?? [],
        definitions: s.definitions ?? [], needs: s.needs ?? [],
        symbols: [...(s.defines ?? []).map((t) => symbol(t, true)), ...(s.uses ?? []).map((t) => symbol(t, false))],
    });

    /** A package, a root and an executable that load; each case changes one thing. */
    function world(): Map<string, ElfInfo> {
        return new Map([
            ['/exe/flashmq', elf({ needed: ['libc.so.6'], defines: ['flashmq_logf'], uses: ['malloc@GLIBC_2.4'], needs: [{ file: 'libc.so.6', versions: ['GLIBC_2.4'] }] })],
            ['/pkg/libdbus-flashmq-ts.so', elf({
                needed: ['libnode.so.108', 'libcrypt.so.2', 'libc.so.6'], runpath: ['$ORIGIN/lib'],
                defines: ['flashmq_plugin_version'], uses: ['crypt_r@XCRYPT_2.0', 'flashmq_logf', 'node_start', '~__gmon_start__'],
                needs: [{ file: 'libcrypt.so.2', versions: ['XCRYPT_2.0'] }],
            })],
            ['/pkg/lib/libnode.so.108', elf({ soname: 'libnode.so.108', needed: ['libuv.so.1', 'libc.so.6'], runpath: ['$ORIGIN'], defines: ['node_start'], uses: ['uv_run', 'malloc'] })],
            ['/pkg/lib/libuv.so.1', elf({ soname: 'libuv.so.1', needed: ['libc.so.6'], runpath: ['$ORIGIN'], defines: ['uv_run'] })],
            [`/root/lib/${T}/libc.so.6`, elf({ soname: 'libc.so.6', definitions: ['GLIBC_2.4'], defines: ['malloc@@GLIBC_2.4'] })],
            ['/root/usr/lib/libcrypt.so.2', elf({ soname: 'libcrypt.so.2', needed: ['libc.so.6'], definitions: ['XCRYPT_2.0', 'XCRYPT_4.3'], defines: ['crypt_r@@XCRYPT_2.0'] })],
        ]);
    }
    const check = (files: Map<string, ElfInfo>): ReturnType<typeof checkClosure> => checkClosure({
        packageDir: '/pkg', root: '/root', executable: '/exe/flashmq', triplet: T,
        objects: [...files.keys()].filter((f) => f.startsWith('/pkg/')),
        exists: (f) => files.has(f),
        inspect: (f) => {
            const info = files.get(f);
            if (!info)
                throw new Error(`no ${f}`);
            return info;
        },
    });

    it('finds nothing wrong with a package that loads, and names the root libraries it takes', () => {
        const result = check(world());
        assert.deepEqual(result.problems, []);
        assert.deepEqual(result.rootLibraries, [`/lib/${T}/libc.so.6`, '/usr/lib/libcrypt.so.2']);
        assert.deepEqual(result.packageObjects, ['libdbus-flashmq-ts.so', 'lib/libnode.so.108', 'lib/libuv.so.1']);
    });

    const cases: Array<{ what: string; change: (w: Map<string, ElfInfo>) => void; want: string[] }> = [
        {
            what: 'a library the root lacks',
            change: (w) => w.delete('/root/usr/lib/libcrypt.so.2'),
            want: [
                'libdbus-flashmq-ts.so: NEEDED libcrypt.so.2 is found neither through its RUNPATH nor in the root',
                'libdbus-flashmq-ts.so: undefined symbol crypt_r@XCRYPT_2.0 is defined by no object of the closure nor the executable',
            ],
        },
        {
            what: 'a library without the version needed',
            change: (w) => w.set('/root/usr/lib/libcrypt.so.2', elf({ soname: 'libcrypt.so.2', definitions: ['XCRYPT_1.0'], defines: ['crypt_r@@XCRYPT_1.0'] })),
            want: [
                'libdbus-flashmq-ts.so: needs version XCRYPT_2.0 of libcrypt.so.2, which /usr/lib/libcrypt.so.2 does not define',
                'libdbus-flashmq-ts.so: undefined symbol crypt_r@XCRYPT_2.0 is defined by no object of the closure nor the executable',
            ],
        },
        {
            what: 'a library without symbol versions (the loader only warns), whose symbols bind',
            change: (w) => w.set('/root/usr/lib/libcrypt.so.2', elf({ soname: 'libcrypt.so.2', defines: ['crypt_r'] })),
            want: [],
        },
        {
            what: 'an executable without a host function the plugin calls',
            change: (w) => w.set('/exe/flashmq', elf({ needed: ['libc.so.6'] })),
            want: ['libdbus-flashmq-ts.so: undefined symbol flashmq_logf is defined by no object of the closure nor the executable'],
        },
        {
            what: 'a package library that lacks a function',
            change: (w) => w.set('/pkg/lib/libuv.so.1', elf({ soname: 'libuv.so.1', defines: ['uv_stop'] })),
            want: ['lib/libnode.so.108: undefined symbol uv_run is defined by no object of the closure nor the executable'],
        },
        {
            what: 'a plugin without its RUNPATH (lib/ is not searched)',
            change: (w) => { w.get('/pkg/libdbus-flashmq-ts.so')!.runpath = []; },
            want: ['libdbus-flashmq-ts.so: NEEDED libnode.so.108 is found neither through its RUNPATH nor in the root'],
        },
        {
            what: 'a library of another machine in the first directory (the loader passes over it)',
            change: (w) => w.set(`/root/lib/${T}/libcrypt.so.2`, elf({ header: { bits: 64, machine: 183 }, soname: 'libcrypt.so.2' })),
            want: [],
        },
        {
            what: 'a package library no other object needs, whose own NEEDED is missing',
            change: (w) => w.set('/pkg/lib/libextra.so.1', elf({ soname: 'libextra.so.1', needed: ['libmissing.so.9'] })),
            want: ['lib/libextra.so.1: NEEDED libmissing.so.9 is found neither through its RUNPATH nor in the root'],
        },
        {
            what: 'a weak reference nobody defines',
            change: (w) => { w.get('/pkg/lib/libuv.so.1')!.symbols.push(symbol('~pthread_cancel', false)); },
            want: [],
        },
    ];
    for (const c of cases) {
        it(`${c.want.length > 0 ? 'reports' : 'accepts'} ${c.what}`, () => {
            const w = world();
            c.change(w);
            assert.deepEqual(check(w).problems, c.want);
        });
    }

    it('takes a library the executable loaded already, before the RUNPATH copy, as the loader does', () => {
        const w = world();
        w.set('/pkg/lib/libc.so.6', elf({ soname: 'libc.so.6' }));
        const result = check(w);
        assert.deepEqual(result.problems, []);
        assert.ok(result.rootLibraries.includes(`/lib/${T}/libc.so.6`));
    });

    it('looks a RUNPATH entry without $ORIGIN up in the root', () => {
        const w = world();
        w.delete('/root/usr/lib/libcrypt.so.2');
        w.set('/root/opt/x/libcrypt.so.2', elf({ soname: 'libcrypt.so.2', definitions: ['XCRYPT_2.0'], defines: ['crypt_r@@XCRYPT_2.0'] }));
        w.get('/pkg/libdbus-flashmq-ts.so')!.runpath = ['$ORIGIN/lib', '/opt/x'];
        const result = check(w);
        assert.deepEqual(result.problems, []);
        assert.ok(result.rootLibraries.includes('/opt/x/libcrypt.so.2'));
    });
});
