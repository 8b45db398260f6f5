#!/usr/bin/env node
// Turns the compiled TypeScript entry (dist/ts/index.js, as tsc wrote it) into one file that holds every module it
// needs, so that the plugin's start loads and compiles one script instead of some seventy (npm run build:ts runs it
// after tsc). The other files of dist/ts stay as they are, for the tests and the tools.
//
//   node scripts/bundle.js [dist/ts]
//
// tsc rewrites index.js on every compile, so a bundle can never outlive the modules it was made from. The bundle:
//   - keeps each module's code as tsc emitted it, inside a function of (exports, require, module, __filename,
//     __dirname), with __filename and __dirname those of the module's own file, so paths relative to a module still
//     work;
//   - resolves a module's relative requires to the bundled modules and hands Node's built-in modules to the real
//     require; any other require (an npm package) fails the bundling: the plugin needs none at run time;
//   - evaluates modules when first required and caches them, as Node does (cycles see partial exports, as in Node).
// Its first line names it and the digest of the rest, which the plugin's code cache is bound to (native/bootstrap.js).
'use strict';
const crypto = require('node:crypto');
const fs = require('node:fs');
const path = require('node:path');
const { builtinModules } = require('node:module');

const MARKER = '// dbus-flashmq-ts bundle ';

function fail(message) {
    console.error(`bundle.js: ${message}`);
    process.exit(1);
}

const dir = path.resolve(process.argv[2] ?? path.join(__dirname, '..', 'dist', 'ts'));
const entry = path.join(dir, 'index.js');
if (!fs.existsSync(entry))
    fail(`${entry} is missing: run tsc first`);
if (fs.readFileSync(entry, 'utf8').startsWith(MARKER))
    fail(`${entry} is a bundle already: run tsc first, then bundle`);

const builtins = new Set(builtinModules);
const isBuiltin = (spec) => spec.startsWith('node:') || builtins.has(spec);
// What tsc emits for imports: require("<literal>"). A require of anything but a string literal would escape
// bundling; there is none in ts/, and this makes sure of it.
const requireCall = /\brequire\s*\(\s*(?:"([^"\n]*)"|'([^'\n]*)'|([^)]*))\)/g;

function resolveModule(fromFile, spec) {
    const base = path.resolve(path.dirname(fromFile), spec);
    for (const candidate of [base, `${base}.js`, path.join(base, 'index.js')]) {
        if (candidate.endsWith('.js') && fs.existsSync(candidate) && fs.statSync(candidate).isFile()) {
            if (path.relative(dir, candidate).startsWith('..'))
                fail(`${path.relative(dir, fromFile)} requires '${spec}', outside ${dir}`);
            return candidate;
        }
    }
    return fail(`${path.relative(dir, fromFile)} requires '${spec}', which does not exist`);
}

const modules = []; // { file, source, deps: { spec: index } }
const indexOf = new Map();
function add(file) {
    if (indexOf.has(file))
        return indexOf.get(file);
    const index = modules.length;
    indexOf.set(file, index);
    const source = fs.readFileSync(file, 'utf8').replace(/\n\/\/# sourceMappingURL=[^\n]*\s*$/, '\n');
    const module = { file, source, deps: {} };
    modules.push(module);
    for (const match of source.matchAll(requireCall)) {
        const spec = match[1] ?? match[2];
        if (spec === undefined)
            fail(`${path.relative(dir, file)}: require(${match[3].trim()}) is not a string literal`);
        if (isBuiltin(spec))
            continue;
        if (!spec.startsWith('.'))
            fail(`${path.relative(dir, file)} requires the package '${spec}': the plugin must need no npm package at run time`);
        module.deps[spec] = add(resolveModule(file, spec));
    }
    return index;
}
add(entry);

const relative = (file) => path.relative(dir, file).split(path.sep).join('/');
const parts = [];
parts.push(`'use strict';
// dbus-flashmq-ts: the compiled TypeScript of ${modules.length} modules in one file (scripts/bundle.js). Each module is
// the function of its own file's name below, as tsc emitted it; the files beside this one are the same modules.
const bundled = [`);
for (const m of modules) {
    parts.push(`// ---- ${relative(m.file)}
[${JSON.stringify(relative(m.file))}, ${JSON.stringify(m.deps)}, function (exports, require, module, __filename, __dirname) {
${m.source.trimEnd()}
}],`);
}
parts.push(`];
const loaded = new Array(bundled.length);
function load(index) {
    const done = loaded[index];
    if (done !== undefined)
        return done.exports;
    const [file, deps, body] = bundled[index];
    const module = { exports: {}, id: file };
    loaded[index] = module;
    const own = (spec) => {
        const dep = deps[spec];
        return dep === undefined ? require(spec) : load(dep);
    };
    const slash = file.lastIndexOf('/');
    body.call(module.exports, module.exports, own, module, __dirname + '/' + file, slash < 0 ? __dirname : __dirname + '/' + file.slice(0, slash));
    return module.exports;
}
load(0);
`);
const body = parts.join('\n');
const digest = crypto.createHash('sha256').update(body).digest('hex');
const out = `${MARKER}${digest}\n${body}`;
const temp = `${entry}.${process.pid}.tmp`;
fs.writeFileSync(temp, out);
fs.renameSync(temp, entry);
const unbundledBytes = modules.reduce((sum, m) => sum + Buffer.byteLength(m.source), 0);
console.log(`bundle.js: ${relative(entry)} now holds ${modules.length} modules (${out.length} bytes; the modules ${unbundledBytes})`);
