// The Venus package of each target (armhf, arm64) against what a Venus image has, from the files alone
// (test/helpers/elf-closure.ts): every library the package's objects need is in the package or on the Venus-like root
// (scripts/guest-root.sh: libcrypt.so.2 as Venus has it, no libcrypt.so.1), every symbol version is defined, every
// symbol bound, FlashMQ for the target providing the host functions. And the check is shown to catch a library the
// root lacks and a missing symbol version. Needs the packages (scripts/package.sh --arch) and FlashMQ for each target
// (scripts/flashmq.sh --arch); `npm run test:emulation` builds what is missing first.
import { strict as assert } from 'node:assert';
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';

import { checkClosure } from '../helpers/elf-closure';
import type { Arch } from '../helpers/emulated';
import { ARCHS, crossFlashmq, packageArchive } from '../helpers/emulated';
import { hasCommand, repoRoot } from '../helpers/flashmq';

const TRIPLETS: Record<Arch, string> = { armhf: 'arm-linux-gnueabihf', arm64: 'aarch64-linux-gnu' };


for (const arch of ARCHS) {
    const triplet = TRIPLETS[arch];
    const missing: string[] = [];
    if (!packageArchive(arch))
        missing.push(`the ${arch} package (scripts/package.sh --arch ${arch})`);
    if (!crossFlashmq(arch))
        missing.push(`FlashMQ for ${arch} (scripts/flashmq.sh --arch ${arch})`);
    if (!hasCommand('readelf'))
        missing.push('readelf (binutils)');
    const describeIt = missing.length > 0 ? describe.skip : describe;
    if (missing.length > 0)
        console.log(`\n*** SKIPPED: the ${arch} package's libraries on a Venus-like root: missing ${missing.join(', ')} ***\n`);

    describeIt(`the ${arch} package's libraries on a Venus-like root`, function () {
        this.timeout(120_000);
        let dir: string;
        let pkg: string;
        let root: string;
        const check = (onRoot: string): ReturnType<typeof checkClosure> =>
            checkClosure({ packageDir: pkg, root: onRoot, executable: crossFlashmq(arch)!, triplet });
        /** A copy of the root's library directories, without its libcrypt.so.2. */
        const rootWithoutLibcrypt = (name: string): string => {
            const copy = path.join(dir, name);
            for (const sub of ['lib', 'usr/lib']) {
                fs.mkdirSync(path.dirname(path.join(copy, sub)), { recursive: true });
                execFileSync('cp', ['-a', path.join(root, sub), path.join(copy, sub)]);
            }
            fs.rmSync(path.join(copy, 'usr/lib/libcrypt.so.2'));
            return copy;
        };

        before(() => {
            dir = fs.mkdtempSync(path.join(os.tmpdir(), `dfmq-closure-${arch}-`));
            execFileSync('tar', ['-xzf', packageArchive(arch)!, '-C', dir]);
            pkg = path.join(dir, 'dbus-flashmq-ts');
            // The root the emulated runs use (test/helpers/emulated.ts); its libraries are all this test reads.
            root = path.join(repoRoot, 'build-emulation', arch, 'root');
            execFileSync('bash', [path.join(repoRoot, 'scripts/guest-root.sh'), '--arch', arch, root], { stdio: ['ignore', 'ignore', 'inherit'] });
        });

        after(() => {
            if (dir)
                fs.rmSync(dir, { recursive: true, force: true });
        });

        it('resolves every library, symbol version and symbol from the package, the root and FlashMQ', () => {
            const result = check(root);
            console.log(`      ${arch}: the package's objects: ${result.packageObjects.join(' ')}`);
            console.log(`      ${arch}: what they take from the root: ${result.rootLibraries.join(' ')}`);
            assert.deepEqual(result.problems, []);
            assert.ok(result.packageObjects.includes('libdbus-flashmq-ts.so') && result.packageObjects.includes('lib/libnode.so.108'),
                result.packageObjects.join(' '));
            assert.ok(result.rootLibraries.includes('/usr/lib/libcrypt.so.2'), result.rootLibraries.join(' '));
            assert.deepEqual(result.rootLibraries.filter((f) => /libcrypt\.so\.1/.test(f)), []);
        });

        it('catches a library the root lacks (a root without libcrypt.so.2)', () => {
            const result = check(rootWithoutLibcrypt('no-libcrypt'));
            assert.ok(result.problems.includes('libdbus-flashmq-ts.so: NEEDED libcrypt.so.2 is found neither through its RUNPATH nor in the root'),
                result.problems.join('\n'));
            assert.ok(result.problems.every((p) => /libcrypt\.so\.2|crypt_r/.test(p)), result.problems.join('\n'));
        });

        it('catches a missing symbol version (a libcrypt.so.2 with crypt_r, but not in version XCRYPT_2.0)', function () {
            if (!hasCommand(`${triplet}-gcc`))
                this.skip();
            const other = rootWithoutLibcrypt('old-libcrypt');
            const src = path.join(dir, 'stub.c');
            const map = path.join(dir, 'stub.map');
            fs.writeFileSync(src, 'char *crypt_r(const char *p, const char *s, void *d) { (void)p; (void)s; (void)d; return 0; }\n');
            fs.writeFileSync(map, 'XCRYPT_1.0 { global: crypt_r; local: *; };\n');
            execFileSync(`${triplet}-gcc`, ['-shared', '-fPIC', '-nostdlib', '-Wl,-soname,libcrypt.so.2', `-Wl,--version-script=${map}`,
                '-o', path.join(other, 'usr/lib/libcrypt.so.2'), src]);
            const result = check(other);
            assert.deepEqual(result.problems, [
                'libdbus-flashmq-ts.so: needs version XCRYPT_2.0 of libcrypt.so.2, which /usr/lib/libcrypt.so.2 does not define',
                'libdbus-flashmq-ts.so: undefined symbol crypt_r@XCRYPT_2.0 is defined by no object of the closure nor the executable',
            ]);
        });
    });
}
