// GUI customizations (spec §8.1): apps under /data/apps/enabled/<app>/gui-v2/<app>.json are announced in every full
// republish (N/<id>/GuiCustomizations/Applist and .../Apps/<app>/info) and served in 4 KiB chunks on request
// (R/<id>/GuiCustomizations/Apps/<app>/Chunks/<n>). All file work is asynchronous: the broker's loop never waits
// for the disk. The app list is rebuilt only when a file under the directory changes (path or mtime).

import * as path from 'node:path';

import type { Logger } from '../log';
import { describeError } from '../log';
import { crypto } from '../util/builtins';
import * as files from '../util/files';

export const CHUNK_BYTES = 4096;
const MAX_FILES = 10_000;
const MAX_DEPTH = 16;

interface App {
    name: string;
    file: string;
    size: number;
    sha256: string;
    chunks: number;
}

export interface GuiPublisher {
    publish(topic: string, payload: string): void;
}

export class GuiCustomizations {
    private key = 'none';
    private everHadFiles = false;
    private apps: App[] | undefined;
    private refreshing: Promise<void> | undefined;

    constructor(
        private readonly dir: string,
        private readonly portalId: string,
        private readonly out: GuiPublisher,
        private readonly log: Logger,
    ) {}

    /** Every regular file under the directory (following links to directories), with its mtime; undefined when there is no directory. */
    private async fingerprint(): Promise<string | undefined> {
        const seen = new Set<string>();
        const parts: string[] = [];
        const walk = async (dir: string, depth: number): Promise<void> => {
            if (depth > MAX_DEPTH || parts.length > MAX_FILES)
                return;
            let real: string;
            try {
                real = await files.realpath(dir);
            } catch {
                return;
            }
            if (seen.has(real))
                return;
            seen.add(real);
            let entries: string[];
            try {
                entries = await files.readdir(dir);
            } catch {
                return;
            }
            for (const entry of entries.sort()) {
                const p = path.join(dir, entry);
                let st;
                try {
                    st = await files.stat(p);
                } catch {
                    continue;
                }
                if (st.isDirectory())
                    await walk(p, depth + 1);
                else if (st.isFile())
                    parts.push(`${p}\0${st.mtimeMs}`);
            }
        };
        try {
            await files.access(this.dir);
        } catch {
            return undefined;
        }
        await walk(this.dir, 0);
        if (parts.length === 0)
            return 'none';
        return crypto().createHash('sha256').update(parts.join('\n')).digest('hex');
    }

    private async hashFile(file: string): Promise<{ sha256: string; size: number }> {
        const hash = crypto().createHash('sha256');
        const size = await files.withFile(file, (fd) => files.readAll(fd, (piece) => hash.update(piece)));
        return { sha256: hash.digest('hex'), size };
    }

    private async rebuild(): Promise<void> {
        const key = await this.fingerprint();
        if (key === undefined) {
            this.apps = undefined;
            return;
        }
        if (key !== 'none')
            this.everHadFiles = true;
        if (key === this.key && this.apps !== undefined)
            return;
        this.key = key;
        const apps: App[] = [];
        let entries: string[] = [];
        try {
            entries = (await files.readdir(this.dir)).sort();
        } catch (err) {
            this.log.error(`cannot list the GUI apps in '${this.dir}': ${describeError(err)}`);
        }
        for (const name of entries) {
            const file = path.join(this.dir, name, 'gui-v2', `${name}.json`);
            try {
                const st = await files.stat(file);
                if (!st.isFile())
                    throw new Error('not a regular file');
                const { sha256, size } = await this.hashFile(file);
                apps.push({ name, file, size, sha256, chunks: Math.ceil(size / CHUNK_BYTES) });
            } catch (err) {
                this.log.error(`GUI app '${name}' is skipped: '${file}': ${describeError(err)}`);
            }
        }
        this.apps = apps;
    }

    /** Brings the app list up to date (one refresh at a time). */
    refresh(): Promise<void> {
        this.refreshing ??= this.rebuild().catch((err: unknown) => this.log.error(`reading the GUI apps failed: ${describeError(err)}`))
            .finally(() => { this.refreshing = undefined; });
        return this.refreshing;
    }

    private topics(): Array<[string, string]> {
        if (this.apps === undefined || (!this.everHadFiles && this.apps.length === 0))
            return [];
        const base = `N/${this.portalId}/GuiCustomizations`;
        const out: Array<[string, string]> = [[`${base}/Applist`, JSON.stringify(this.apps.map((a) => ({ name: a.name, sha256: a.sha256 })))]];
        for (const a of this.apps) {
            out.push([`${base}/Apps/${a.name}/info`, JSON.stringify({
                chunk_count: a.chunks, fetch_prefix: `R/${this.portalId}/GuiCustomizations/Apps/${a.name}/Chunks/`, sha256: a.sha256,
            })]);
        }
        return out;
    }

    /** For a full republish: the app list and every app's info. */
    async publishAll(): Promise<void> {
        await this.refresh();
        for (const [topic, payload] of this.topics())
            this.out.publish(topic, payload);
    }

    /** R/<id>/GuiCustomizations...: a chunk, or the announcements whose topics start with the request's. */
    async read(topic: string): Promise<number> {
        await this.refresh();
        const s = topic.split('/');
        if (s.length === 7 && s[3] === 'Apps' && s[5] === 'Chunks')
            return this.readChunk(s[4]!, s[6]!);
        const prefix = `N${topic.slice(1)}`;
        let n = 0;
        for (const [t, payload] of this.topics()) {
            if (t.startsWith(prefix)) {
                this.out.publish(t, payload);
                n++;
            }
        }
        return n;
    }

    private async readChunk(name: string, index: string): Promise<number> {
        if (!/^\s*\+?\d+$/.test(index))
            throw new Error(`'${index}' is not a chunk number`);
        const n = Number(index.trim());
        const app = this.apps?.find((a) => a.name === name);
        if (!app)
            throw new Error(`no GUI app '${name}'`);
        if (n >= app.chunks)
            return 0;
        return files.withFile(app.file, async (fd, size) => {
            if (size !== app.size)
                throw new Error(`'${app.file}' changed since it was indexed`);
            const buffer = Buffer.alloc(Math.min(CHUNK_BYTES, app.size - n * CHUNK_BYTES));
            await files.readAt(fd, buffer, n * CHUNK_BYTES);
            this.out.publish(`N/${this.portalId}/GuiCustomizations/Apps/${name}/Chunks/${n}`, JSON.stringify({ base64: buffer.toString('base64') }));
            return 1;
        });
    }
}
