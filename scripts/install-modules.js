#!/usr/bin/env node
// Copies the production npm packages (npm ls --omit=dev) of this repository into the given node_modules directory:
// what the installed plugin needs at run time, nothing else. Run by `cmake --install` (CMakeLists.txt).
'use strict';
const { execFileSync } = require('node:child_process');
const fs = require('node:fs');
const path = require('node:path');

const dest = process.argv[2];
if (!dest) {
    console.error('usage: install-modules.js <destination node_modules>');
    process.exit(2);
}
const root = path.resolve(__dirname, '..');
const listed = execFileSync('npm', ['ls', '--omit=dev', '--all', '--parseable'], { cwd: root, encoding: 'utf8' })
    .split('\n').map((l) => l.trim()).filter((l) => l !== '' && path.resolve(l) !== root);
fs.rmSync(dest, { recursive: true, force: true });
for (const dir of listed) {
    const relative = path.relative(path.join(root, 'node_modules'), dir);
    if (relative.startsWith('..'))
        throw new Error(`unexpected package location ${dir}`);
    // Nested node_modules are listed (and copied) on their own.
    fs.cpSync(dir, path.join(dest, relative), { recursive: true, filter: (src) => path.relative(dir, src).split(path.sep)[0] !== 'node_modules' });
}
console.log(`-- Installing: ${listed.length} npm packages into ${dest}`);
