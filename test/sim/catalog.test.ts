import { strict as assert } from 'node:assert';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';

import { defaultRecordingsDir, listSystems, loadRecordings, readRecordingText } from '../../ts/sim/catalog';
import { RecordingError } from '../../ts/sim/recording';

function tempTree(files: Record<string, string>): string {
    const root = fs.mkdtempSync(path.join(os.tmpdir(), 'dfmq-rec-'));
    for (const [name, content] of Object.entries(files)) {
        fs.mkdirSync(path.dirname(path.join(root, name)), { recursive: true });
        fs.writeFileSync(path.join(root, name), content);
    }
    return root;
}

const csv = (service: string): string => `${service}\n/DeviceInstance\tUINT32\t1\t1\n/X\tDOUBLE\t1.0\t1\n\n1\t/X\tDOUBLE\t2.0\t2\n`;

describe('sim recordings catalog', () => {
    let root: string;

    before(() => {
        root = tempTree({
            'one/a.csv': csv('com.victronenergy.battery.a'),
            'one/b.csv': '../shared/b.csv',
            'one/description': 'System one\nmore text\n',
            'one/setup': 'com.victronenergy.settings /Settings/A 1\n',
            'shared/b.csv': csv('com.victronenergy.tank.b'),
            'dup/a.csv': csv('com.victronenergy.battery.a'),
            'dup/a2.csv': csv('com.victronenergy.battery.a'),
            'empty/readme': 'nothing',
        });
    });

    after(() => fs.rmSync(root, { recursive: true, force: true }));

    it('lists the folders with recordings', () => {
        assert.deepEqual(listSystems(root).map((s) => [s.name, s.files.length, s.description]), [
            ['dup', 2, ''], ['one', 2, 'System one'], ['shared', 1, ''],
        ]);
        assert.deepEqual(listSystems(path.join(root, 'nowhere')), []);
    });

    it('loads a system by name: its recordings (links followed), description and setup', () => {
        const loaded = loadRecordings('one', root);
        assert.equal(loaded.name, 'one');
        assert.equal(loaded.description, 'System one');
        assert.deepEqual(loaded.recordings.map((r) => r.service), ['com.victronenergy.battery.a', 'com.victronenergy.tank.b']);
        assert.deepEqual(loaded.setup.map((l) => [l.service, l.path, l.value]), [['com.victronenergy.settings', '/Settings/A', '1']]);
        assert.deepEqual(loaded.warnings, []);
    });

    it('loads a single file by path, by name, and by name without .csv', () => {
        for (const spec of [path.join(root, 'one', 'a.csv'), 'one/a.csv', 'one/a']) {
            const loaded = loadRecordings(spec, root);
            assert.deepEqual(loaded.recordings.map((r) => r.service), ['com.victronenergy.battery.a'], spec);
            assert.deepEqual(loaded.setup, []);
        }
        assert.equal(readRecordingText(path.join(root, 'one', 'b.csv')).file, path.join(root, 'shared', 'b.csv'));
    });

    it('refuses two recordings of one service, unknown names and folders without recordings', () => {
        assert.throws(() => loadRecordings('dup', root), /both record com\.victronenergy\.battery\.a/);
        assert.throws(() => loadRecordings('nope', root), (err: unknown) => err instanceof RecordingError && /systems there: dup, one, shared/.test(err.message));
        assert.throws(() => loadRecordings('empty', root), /no \.csv recording/);
    });

    it('finds the shared recordings next to the repository', function () {
        const dir = defaultRecordingsDir();
        if (!fs.existsSync(dir))
            this.skip();
        assert.ok(listSystems(dir).some((s) => s.name === 'bct'));
    });

    it('DFMQ_RECORDINGS overrides the default directory', () => {
        const saved = process.env.DFMQ_RECORDINGS;
        try {
            process.env.DFMQ_RECORDINGS = root;
            assert.equal(defaultRecordingsDir(), root);
        } finally {
            if (saved === undefined)
                delete process.env.DFMQ_RECORDINGS;
            else
                process.env.DFMQ_RECORDINGS = saved;
        }
    });
});
