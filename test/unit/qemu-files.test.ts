import { strict as assert } from 'node:assert';
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';

const script = path.resolve(__dirname, '../../../scripts/qemu-files.sh');

/** scripts/qemu-files.sh on a qemu -strace log, against a root that has /data/conf/vncpassword.txt and /etc/passwd. */
function summarise(log: string, missing = false): string[] {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'dfmq-qemu-files-'));
    try {
        for (const file of ['root/data/conf/vncpassword.txt', 'root/etc/passwd']) {
            fs.mkdirSync(path.dirname(path.join(dir, file)), { recursive: true });
            fs.writeFileSync(path.join(dir, file), '');
        }
        fs.writeFileSync(path.join(dir, 'strace.log'), log);
        const out = execFileSync('bash', [script, '--root', path.join(dir, 'root'), path.join(dir, 'strace.log'), ...(missing ? ['--missing'] : [])],
            { encoding: 'utf8' });
        return out.split('\n').filter((l) => l !== '').map((l) => l.replace(/ +/, ' '));
    } finally {
        fs.rmSync(dir, { recursive: true, force: true });
    }
}

describe('scripts/qemu-files.sh: the paths a qemu -strace log shows the guest opened', () => {
    const cases: Array<{ what: string; log: string; want: string[]; missing?: string[] }> = [
        {
            what: 'an open that found the file, one that did not',
            log: '7 openat(AT_FDCWD,"/etc/passwd",O_RDONLY) = 3\n7 openat(AT_FDCWD,"/data/gone",O_RDONLY) = -1 errno=2 (No such file or directory)\n',
            want: ['missing /data/gone', 'root /etc/passwd'], missing: ['missing /data/gone'],
        },
        {
            what: 'another thread\'s call printed between a call and its result (qemu prints them apart)',
            log: '7 openat(AT_FDCWD,"/data/conf/vncpassword.txt",O_RDONLY|O_CLOEXEC)7 clock_gettime64(CLOCK_MONOTONIC,0x3fffef20) = 0\n = 26\n',
            want: ['root /data/conf/vncpassword.txt'], missing: [],
        },
        {
            what: 'a cut-off call at the end of a line, on a path the root lacks: left out (it may have failed)',
            log: '7 stat64("/data/maybe",0x3fffe000)\n7 futex(0x1,FUTEX_WAKE,1) = 0\n = -1 errno=2 (No such file or directory)\n',
            want: [], missing: [],
        },
        {
            what: 'a refused open (not a missing file) last in the log',
            log: '7 openat(AT_FDCWD,"/etc/shadow",O_RDONLY) = -1 errno=13 (Permission denied)\n',
            want: [], missing: [],
        },
        {
            what: 'an empty log', log: '', want: [], missing: [],
        },
        {
            what: 'a path relative to a directory descriptor: not resolvable, left out',
            log: '7 openat(5,"relative",O_RDONLY) = 4\n7 openat(AT_FDCWD,"relative",O_RDONLY) = 4\n',
            want: [], missing: [],
        },
        {
            what: 'the loader\'s hardware-capability directories are left out',
            log: '7 openat(AT_FDCWD,"/lib/tls/v7l/neon/vfp/libc.so.6",O_RDONLY) = -1 errno=2 (No such file or directory)\n',
            want: [], missing: [],
        },
    ];
    for (const c of cases) {
        it(c.what, () => {
            assert.deepEqual(summarise(c.log), c.want);
            if (c.missing)
                assert.deepEqual(summarise(c.log, true), c.missing);
        });
    }
});
