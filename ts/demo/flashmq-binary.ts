// Where the flashmq binary is: FLASHMQ_BIN (or an explicit path) when given, else `flashmq` on PATH, else the one
// scripts/flashmq.sh builds from FlashMQ's release source into .deps/flashmq/host/.
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';

/** The repository root, seen from the compiled file (dist/ts/demo/). */
const repoRoot = path.resolve(__dirname, '../../..');

export const builtFlashmq = path.join(repoRoot, '.deps/flashmq/host/flashmq');

export function findFlashmq(configured: string | undefined = process.env.FLASHMQ_BIN): string | undefined {
    if (configured)
        return fs.existsSync(configured) ? path.resolve(configured) : undefined;
    const found = spawnSync('sh', ['-c', 'command -v flashmq'], { encoding: 'utf8' });
    if (found.status === 0 && found.stdout.trim())
        return found.stdout.trim();
    return fs.existsSync(builtFlashmq) ? builtFlashmq : undefined;
}
