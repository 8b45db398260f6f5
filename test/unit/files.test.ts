import { strict as assert } from 'node:assert';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';

import { readAll, readAt, readSmallFile, withFile, writeFile } from '../../ts/util/files';

describe('ts/util/files: file operations over fs\'s callbacks', () => {
    let dir: string;
    beforeEach(() => { dir = fs.mkdtempSync(path.join(os.tmpdir(), 'dfmq-files-')); });
    afterEach(() => { fs.rmSync(dir, { recursive: true, force: true }); });
    const file = (name: string, bytes?: string | Buffer): string => {
        const p = path.join(dir, name);
        if (bytes !== undefined)
            fs.writeFileSync(p, bytes);
        return p;
    };
    const openFds = (): number => fs.readdirSync('/proc/self/fd').length;

    const cases: Array<{ what: string; bytes?: string; max: number; want: string | undefined | RegExp }> = [
        { what: 'a missing file: undefined', max: 10, want: undefined },
        { what: 'an empty file', bytes: '', max: 10, want: '' },
        { what: 'a small file', bytes: '$2b$04$abc\n', max: 100, want: '$2b$04$abc\n' },
        { what: 'exactly the limit', bytes: '0123456789', max: 10, want: '0123456789' },
        { what: 'one byte over the limit', bytes: '0123456789x', max: 10, want: /larger than 10 bytes/ },
    ];
    for (const c of cases) {
        it(`readSmallFile: ${c.what}`, async () => {
            const p = c.bytes === undefined ? file('absent') : file('f', c.bytes);
            const before = openFds();
            if (c.want instanceof RegExp)
                await assert.rejects(readSmallFile(p, c.max), c.want);
            else
                assert.equal((await readSmallFile(p, c.max))?.toString(), c.want);
            assert.equal(openFds(), before, 'the file is closed');
        });
    }

    it('readSmallFile: a directory is an error, not undefined', async () => {
        await assert.rejects(readSmallFile(dir, 1_000_000), /EISDIR/);
    });

    it('withFile closes the file when its user fails', async () => {
        const p = file('f', 'abc');
        const before = openFds();
        await assert.rejects(withFile(p, () => Promise.reject(new Error('on purpose'))), /on purpose/);
        assert.equal(openFds(), before);
    });

    it('readAt fills a buffer from a position, fewer bytes at the end; readAll feeds every byte', async () => {
        const bytes = Buffer.alloc(200_000);
        for (let i = 0; i < bytes.length; i++)
            bytes[i] = (i * 7) & 0xff;
        const p = file('big', bytes);
        const piece = Buffer.alloc(1000);
        assert.equal(await withFile(p, (fd) => readAt(fd, piece, 150_000)), 1000);
        assert.deepEqual(piece, bytes.subarray(150_000, 151_000));
        assert.equal(await withFile(p, (fd) => readAt(fd, piece, 199_500)), 500);
        const pieces: Buffer[] = [];
        const size = await withFile(p, (fd) => readAll(fd, (b) => pieces.push(Buffer.from(b))));
        assert.equal(size, bytes.length);
        assert.deepEqual(Buffer.concat(pieces), bytes);
    });

    it('writeFile writes the text with the mode given (under the umask)', async () => {
        const p = file('status');
        await writeFile(p, '{"state":"ready"}\n', 0o644);
        assert.equal(fs.readFileSync(p, 'utf8'), '{"state":"ready"}\n');
        assert.equal(fs.statSync(p).mode & 0o777 & ~0o022, 0o644 & ~process.umask() & ~0o022);
    });
});
