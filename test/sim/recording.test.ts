import { strict as assert } from 'node:assert';

import { parseRecording, parseSetup, RecordingError, splitRecordLine } from '../../ts/sim/recording';
import { recordedVariant, signatureOfType, ValueError } from '../../ts/sim/values';

const SERVICE = 'com.victronenergy.battery.ttyO0';

function recording(...lines: string[]): string {
    return [SERVICE, ...lines].join('\n');
}

describe('sim recording format', () => {
    describe('types', () => {
        const table: Array<[type: string, text: string, signature: string, value: unknown]> = [
            ['INT32', '-5', 'i', -5],
            ['INT32', '2147483647', 'i', 2147483647],
            ['INT16', '-32768', 'n', -32768],
            ['UINT32', '4294967295', 'u', 4294967295],
            ['UINT16', '45202', 'q', 45202],
            ['BYTE', '255', 'y', 255],
            ['DOUBLE', '52.41999816894531', 'd', 52.41999816894531],
            ['DOUBLE', '936.0', 'd', 936],
            ['DOUBLE', '-0.5', 'd', -0.5],
            ['DOUBLE', '1e-05', 'd', 0.00001],
            ['STRING', 'VE.Bus', 's', 'VE.Bus'],
            ['STRING', '', 's', ''],
            ['STRING', ' padded ', 's', ' padded '],
            ['BOOLEAN', 'True', 'b', true],
            ['BOOLEAN', '0', 'b', false],
            ['ARRAY', '[]', 'ai', []],
            ['ARRAY[UINT32]', '[1, 2]', 'au', [1, 2]],
            ['ARRAY[UINT32]', '[]', 'au', []],
            ['ARRAY[INT32]', '[-1]', 'ai', [-1]],
            ['ARRAY[DOUBLE]', '[1.5, 2]', 'ad', [1.5, 2]],
            ['ARRAY[STRING]', '["a", "b"]', 'as', ['a', 'b']],
            ['ARRAY[ARRAY[BYTE]]', '[[1], []]', 'aay', [[1], []]],
        ];
        for (const [type, text, signature, value] of table) {
            it(`${type} '${text}' is '${signature}'`, () => {
                const v = recordedVariant(type, text);
                assert.equal(v.signature, signature);
                assert.deepEqual(v.value, value);
                assert.equal(signatureOfType(type), signature);
            });
        }

        it('ARRAY[BYTE] is an ay Buffer', () => {
            const v = recordedVariant('ARRAY[BYTE]', '[62, 1, 255]');
            assert.equal(v.signature, 'ay');
            assert.ok(Buffer.isBuffer(v.value));
            assert.deepEqual([...(v.value)], [62, 1, 255]);
        });

        it('DOUBLE keeps nan and inf as Python reads them', () => {
            assert.ok(Number.isNaN(recordedVariant('DOUBLE', 'nan').value));
            assert.equal(recordedVariant('DOUBLE', '-inf').value, -Infinity);
        });

        const bad: Array<[string, string]> = [
            ['INT32', '1.5'], ['INT32', 'abc'], ['INT32', '2147483648'], ['UINT16', '-1'], ['BYTE', '256'],
            ['DOUBLE', 'x'], ['BOOLEAN', 'maybe'], ['ARRAY[UINT32]', '[1'], ['ARRAY[UINT32]', '{}'], ['FLOAT', '1'],
        ];
        for (const [type, text] of bad) {
            it(`rejects ${type} '${text}'`, () => {
                assert.throws(() => recordedVariant(type, text), ValueError);
            });
        }
    });

    describe('line splitting', () => {
        const table: Array<[string, string[], boolean]> = [
            ['a\tb\tc', ['a', 'b', 'c'], false],
            ['a\t\tc\t', ['a', '', 'c', ''], false],
            ['/P\tUINT32\t1\t\'Tue Oct  5 14:53:00 2021\'', ['/P', 'UINT32', '1', 'Tue Oct  5 14:53:00 2021'], false],
            ['\'it\'\'s\'\tx', ['it\'s', 'x'], false],
            ['\'a\tb\'\tc', ['a\tb', 'c'], false],
            ['\'ab\'cd\te', ['abcd', 'e'], false],
            ['x\'y\tz', ['x\'y', 'z'], false],
            ['\'Fri Aug 27 10:04:00 2021\'\'', ['Fri Aug 27 10:04:00 2021\''], true],
            ['\'\'', [''], false],
        ];
        for (const [line, fields, unterminated] of table) {
            it(`splits ${JSON.stringify(line)}`, () => {
                assert.deepEqual(splitRecordLine(line), { fields, unterminated });
            });
        }
    });

    describe('recordings', () => {
        it('reads the service, the initial items and the timed changes', () => {
            const r = parseRecording(recording(
                '/Dc/0/Voltage\tDOUBLE\t52.41999816894531\t52.42V',
                '/DeviceInstance\tUINT16\t276\t276',
                '/CustomName\tSTRING\t\t',
                '/BatterySense/Temperature\tARRAY\t[]\t',
                '',
                '1\t/Dc/0/Voltage\tDOUBLE\t52.5\t52.50V',
                '1\t/CustomName\tSTRING\tHouse\tHouse',
                '3\t/BatterySense/Temperature\tDOUBLE\t21.0\t21C',
            ), 'x.csv');
            assert.equal(r.service, SERVICE);
            assert.deepEqual(r.items.map((i) => [i.path, i.type, i.value.signature, i.text]), [
                ['/Dc/0/Voltage', 'DOUBLE', 'd', '52.42V'],
                ['/DeviceInstance', 'UINT16', 'q', '276'],
                ['/CustomName', 'STRING', 's', ''],
                ['/BatterySense/Temperature', 'ARRAY', 'ai', ''],
            ]);
            assert.deepEqual(r.changes.map((c) => [c.tick, c.path, c.value.value as unknown, c.text]), [
                [1, '/Dc/0/Voltage', 52.5, '52.50V'],
                [1, '/CustomName', 'House', 'House'],
                [3, '/BatterySense/Temperature', 21, '21C'],
            ]);
            assert.equal(r.lastTick, 3);
            assert.deepEqual(r.warnings, []);
        });

        it('takes CRLF, a BOM, blank lines and a missing text column', () => {
            const r = parseRecording(`\uFEFF${SERVICE}\r\n/A\tINT32\t1\r\n\r\n\r\n2\t/A\tINT32\t2\r\n`);
            assert.equal(r.service, SERVICE);
            assert.deepEqual(r.items.map((i) => [i.path, i.value.value as unknown, i.text]), [['/A', 1, '']]);
            assert.deepEqual(r.changes.map((c) => [c.tick, c.value.value as unknown, c.text]), [[2, 2, '']]);
        });

        it('reads a text in quotes with the quotes removed', () => {
            const r = parseRecording(recording('/T\tUINT32\t1633445580\t\'Tue Oct  5 14:53:00 2021\''));
            assert.equal(r.items[0]?.text, 'Tue Oct  5 14:53:00 2021');
        });

        it('without changes the last tick is -1', () => {
            const r = parseRecording(recording('/A\tINT32\t1\t1'));
            assert.equal(r.lastTick, -1);
            assert.deepEqual(r.changes, []);
        });

        const lenient: Array<[string, string[], RegExp, Array<[number, string]>]> = [
            ['a doubled tick', ['/A\tINT32\t1\t1', '', '2\t2\t/A\tINT32\t5\t5'], /tick written twice/, [[2, '/A']]],
            ['a path without its slash', ['/Dc/0/Current\tDOUBLE\t0.0\t0A', '', '0\tDc/0/Current\tDOUBLE\t1.0\t1.0A'], /leading slash/, [[0, '/Dc/0/Current']]],
            ['a change of an unknown path', ['/A\tINT32\t1\t1', '', '62\t/AutoStart\tUINT32\t1\t1'], /not among the initial items/, []],
            ['a bad value', ['/A\tINT32\t1\t1', '', '1\t/A\tINT32\tx\tx'], /not an integer/, []],
            ['an unterminated quote', ['/A\tINT32\t1\t\'a\'\'', ''], /unterminated quote/, []],
        ];
        for (const [name, lines, warning, changes] of lenient) {
            it(`reads ${name} with a warning`, () => {
                const r = parseRecording(recording(...lines));
                assert.ok(r.warnings.some((w) => warning.test(w)), r.warnings.join('\n'));
                assert.deepEqual(r.changes.map((c) => [c.tick, c.path]), changes);
            });
        }

        it('sorts ticks that are out of order, keeping the order within a tick', () => {
            const r = parseRecording(recording('/A\tINT32\t0\t0', '/B\tINT32\t0\t0', '',
                '18\t/A\tINT32\t1\t1', '15\t/B\tINT32\t2\t2', '15\t/A\tINT32\t3\t3', '222\t/B\tINT32\t4\t4', '22\t/A\tINT32\t5\t5'));
            assert.deepEqual(r.changes.map((c) => [c.tick, c.value.value as unknown]), [[15, 2], [15, 3], [18, 1], [22, 5], [222, 4]]);
            assert.equal(r.lastTick, 222);
            assert.ok(r.warnings.some((w) => /out of order/.test(w)));
        });

        it('a later duplicate of an initial item wins', () => {
            const r = parseRecording(recording('/A\tINT32\t1\t1', '/A\tINT32\t2\t2'));
            assert.deepEqual(r.items.map((i) => i.value.value as unknown), [2]);
            assert.equal(r.warnings.length, 1);
        });

        it('refuses a file without a service name', () => {
            assert.throws(() => parseRecording('/A\tINT32\t1\t1\n'), RecordingError);
            assert.throws(() => parseRecording(''), RecordingError);
        });
    });

    describe('setup', () => {
        it('reads service, path and the rest of the line as the value', () => {
            const { lines, warnings } = parseSetup([
                'com.victronenergy.settings /Settings/SystemSetup/BatteryService default',
                'com.victronenergy.settings /Settings/SystemSetup/AcInput1 1',
                '',
                '# a comment',
                'com.victronenergy.settings /Settings/X/0/Name Stern thruster batteries',
                'com.victronenergy.settings /Settings/X/1/Name "Genset Starter"',
                'com.victronenergy.settings /Settings/X/2/Name ""',
            ].join('\r\n'));
            assert.deepEqual(warnings, []);
            assert.deepEqual(lines.map((l) => [l.path, l.value, l.quoted]), [
                ['/Settings/SystemSetup/BatteryService', 'default', false],
                ['/Settings/SystemSetup/AcInput1', '1', false],
                ['/Settings/X/0/Name', 'Stern thruster batteries', false],
                ['/Settings/X/1/Name', 'Genset Starter', true],
                ['/Settings/X/2/Name', '', true],
            ]);
            assert.ok(lines.every((l) => l.service === 'com.victronenergy.settings'));
        });

        it('warns about lines it cannot read', () => {
            const { lines, warnings } = parseSetup('justone\ncom.victronenergy.settings not/a/path 1\n');
            assert.equal(lines.length, 0);
            assert.equal(warnings.length, 2);
        });
    });
});
