// scripts/bundle.js: the compiled entry made into one file that behaves as the modules it holds, and refuses what it
// cannot bundle. Each case writes a small tree of CommonJS modules, bundles it and runs the result in a child Node.
import { strict as assert } from 'node:assert';
import { execFileSync, spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';

import { repoRoot } from '../helpers/flashmq';

const bundler = path.join(repoRoot, 'scripts/bundle.js');

function tree(files: Record<string, string>): string {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'dfmq-bundle-'));
    for (const [name, text] of Object.entries(files)) {
        fs.mkdirSync(path.dirname(path.join(dir, name)), { recursive: true });
        fs.writeFileSync(path.join(dir, name), text);
    }
    return dir;
}

function bundle(dir: string): { status: number | null; stderr: string } {
    const r = spawnSync(process.execPath, [bundler, dir], { encoding: 'utf8' });
    return { status: r.status, stderr: r.stderr };
}

describe('scripts/bundle.js', () => {
    const dirs: string[] = [];
    afterEach(() => {
        for (const d of dirs.splice(0))
            fs.rmSync(d, { recursive: true, force: true });
    });

    it('runs the modules as Node would: order, cycles, __dirname, built-ins, one evaluation each', () => {
        const dir = tree({
            'index.js': `"use strict";
const a = require("./a");
const b = require("./sub/b");
const again = require("./a.js");
console.log(JSON.stringify({ a: a.name, b: b.name, same: a === again, seenByB: b.seenA, evaluations: globalThis.evaluations, dir: require("./sub").dir }));
//# sourceMappingURL=index.js.map
`,
            'a.js': `"use strict";
globalThis.evaluations = (globalThis.evaluations || 0) + 1;
exports.name = "a";
const b = require("./sub/b");
exports.fromB = b.name;
`,
            'sub/b.js': `"use strict";
const path = require("node:path");
const os = require('os');
const a = require("../a");
exports.seenA = a.name;
exports.name = "b:" + path.basename(__filename) + ":" + typeof os.cpus;
`,
            'sub/index.js': `"use strict";
exports.dir = require("path").relative(process.cwd(), __dirname);
`,
        });
        dirs.push(dir);
        const before = JSON.parse(execFileSync(process.execPath, [path.join(dir, 'index.js')], { encoding: 'utf8', cwd: dir })) as unknown;
        assert.equal(bundle(dir).status, 0);
        const text = fs.readFileSync(path.join(dir, 'index.js'), 'utf8');
        assert.match(text, /^\/\/ dbus-flashmq-ts bundle [0-9a-f]{64}\n/);
        assert.doesNotMatch(text, /sourceMappingURL/);
        // The bundle alone, without the module files beside it.
        for (const f of ['a.js', 'sub/b.js', 'sub/index.js'])
            fs.renameSync(path.join(dir, f), path.join(dir, `${f}.gone`));
        const after = JSON.parse(execFileSync(process.execPath, [path.join(dir, 'index.js')], { encoding: 'utf8', cwd: dir })) as unknown;
        assert.deepEqual(after, before);
        assert.deepEqual(after, { a: 'a', b: 'b:b.js:function', same: true, seenByB: 'a', evaluations: 1, dir: 'sub' });
    });

    const refusals: Array<{ name: string; files: Record<string, string>; error: RegExp }> = [
        { name: 'an npm package', files: { 'index.js': 'require("dbus-next");\n' }, error: /requires the package 'dbus-next'/ },
        { name: 'a module that does not exist', files: { 'index.js': 'require("./missing");\n' }, error: /requires '\.\/missing', which does not exist/ },
        { name: 'a require that is not a string literal', files: { 'index.js': 'const name = "./a";\nrequire(name);\n' }, error: /require\(name\) is not a string literal/ },
        { name: 'a module outside the tree', files: { 'index.js': 'require("../outside");\n' }, error: /(outside|does not exist)/ },
        { name: 'a bundle already', files: { 'index.js': '// dbus-flashmq-ts bundle 00\n' }, error: /is a bundle already/ },
    ];
    for (const c of refusals) {
        it(`refuses ${c.name}, and leaves the entry as it was`, () => {
            const dir = tree(c.files);
            dirs.push(dir);
            const r = bundle(dir);
            assert.equal(r.status, 1);
            assert.match(r.stderr, c.error);
            assert.equal(fs.readFileSync(path.join(dir, 'index.js'), 'utf8'), c.files['index.js']);
        });
    }

    it('bundles the plugin: no module of dist/ts is needed beside it', () => {
        const dist = path.join(repoRoot, 'dist/ts');
        const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'dfmq-bundle-'));
        dirs.push(dir);
        fs.cpSync(dist, dir, { recursive: true });
        if (fs.readFileSync(path.join(dir, 'index.js'), 'utf8').startsWith('// dbus-flashmq-ts bundle '))
            fs.copyFileSync(path.join(dist, 'index.js'), path.join(dir, 'index.js')); // already bundled: checked below
        else
            assert.equal(bundle(dir).status, 0);
        const only = fs.mkdtempSync(path.join(os.tmpdir(), 'dfmq-bundle-only-'));
        dirs.push(only);
        fs.copyFileSync(path.join(dir, 'index.js'), path.join(only, 'index.js'));
        // Loading it runs the entry, which asks for the broker's binding: that it gets that far means every module
        // it needs was found in the bundle.
        const r = spawnSync(process.execPath, ['-e', `require(${JSON.stringify(path.join(only, 'index.js'))})`], { encoding: 'utf8' });
        assert.notEqual(r.status, 0);
        assert.match(r.stderr, /No such binding: flashmq|_linkedBinding|flashmq/);
        assert.doesNotMatch(r.stderr, /Cannot find module/);
    });
});
