// The package's version, for the start line and the status file: the VERSION file of a Venus package
// (dbus-flashmq-ts/VERSION, two levels above dist/ts/), else the version in the project's package.json (the build
// tree), else 'unknown' (read once, at start).
import * as fs from 'node:fs';
import * as path from 'node:path';

export function packageVersion(root = path.resolve(__dirname, '../..')): string {
    try {
        const text = fs.readFileSync(path.join(root, 'VERSION'), 'utf8').trim();
        if (/^[\w.+-]{1,64}$/.test(text))
            return text;
    } catch {
        // not a Venus package
    }
    try {
        const version = (JSON.parse(fs.readFileSync(path.join(root, 'package.json'), 'utf8')) as { version?: unknown }).version;
        if (typeof version === 'string' && /^[\w.+-]{1,64}$/.test(version))
            return version;
    } catch {
        // not the build tree either
    }
    return 'unknown';
}
