import { strict as assert } from 'node:assert';
import * as fs from 'node:fs';
import * as path from 'node:path';

import { defaultRecordingsDir } from '../../ts/sim/catalog';
import { AddSettingCode, convertSetting, settingText, settingVariant, SettingsStore } from '../../ts/sim/settings-store';
import type { PyValue } from '../../ts/sim/values';
import { parseXml, XmlError } from '../../ts/sim/xml';

const XML = `<?xml version='1.0' encoding='UTF-8'?>
<!-- a comment -->
<Settings version="1.0">
  <CGwacs>
    <BatteryLife>
      <Schedule><Charge><_2>
        <Day default="-1" max="9" type="i" silent="False" min="-1">-1</Day>
      </_2></Charge></Schedule>
      <SocLimit default="10.0" max="100.0" type="f" silent="True" min="0.0">10.0</SocLimit>
    </BatteryLife>
    <AcPowerSetPoint default="50.0" max="1000000.0" type="f" silent="False" min="-1000000.0">50.0</AcPowerSetPoint>
    <Hub4Mode default="0" type="i" silent="False">0</Hub4Mode>
  </CGwacs>
  <Fronius>
    <IPAddresses default="" type="s" silent="False"></IPAddresses>
    <Name default="a &amp; b" type="s" silent="0">x &lt; y</Name>
    <Empty type="s" default=""/>
  </Fronius>
  <Big default="0" type="i">5000000000</Big>
</Settings>
`;

const int = (n: number): PyValue => ({ kind: 'int', value: BigInt(n) });
const float = (n: number): PyValue => ({ kind: 'float', value: n });
const str = (s: string): PyValue => ({ kind: 'str', value: s });

describe('sim settings store', () => {
    describe('settings.xml', () => {
        const store = SettingsStore.fromXml(XML);

        it('reads each setting with type, default, min, max and silent', () => {
            assert.deepEqual(store.get('/Settings/CGwacs/BatteryLife/Schedule/Charge/2/Day'),
                { path: '/Settings/CGwacs/BatteryLife/Schedule/Charge/2/Day', type: 'i', value: -1, default: -1, min: -1, max: 9, silent: false });
            assert.deepEqual(store.get('/Settings/CGwacs/BatteryLife/SocLimit'),
                { path: '/Settings/CGwacs/BatteryLife/SocLimit', type: 'f', value: 10, default: 10, min: 0, max: 100, silent: true });
            assert.deepEqual(store.get('/Settings/CGwacs/Hub4Mode'),
                { path: '/Settings/CGwacs/Hub4Mode', type: 'i', value: 0, default: 0, min: undefined, max: undefined, silent: false });
            assert.equal(store.get('/Settings/Fronius/IPAddresses')?.value, '');
            assert.equal(store.get('/Settings/Fronius/Name')?.value, 'x < y');
            assert.equal(store.get('/Settings/Fronius/Name')?.default, 'a & b');
            assert.equal(store.get('/Settings/Fronius/Empty')?.value, '');
            assert.equal(store.size, 8);
        });

        it('knows the groups', () => {
            for (const group of ['/', '/Settings', '/Settings/CGwacs', '/Settings/CGwacs/BatteryLife/Schedule/Charge/2', '/Settings/Devices'])
                assert.ok(store.isGroup(group), group);
            assert.ok(!store.isGroup('/Settings/CGwacs/Hub4Mode'));
            assert.ok(!store.isGroup('/Settings/Nothing'));
            assert.deepEqual(store.under('/Settings/CGwacs/BatteryLife').map((s) => s.path), [
                '/Settings/CGwacs/BatteryLife/Schedule/Charge/2/Day', '/Settings/CGwacs/BatteryLife/SocLimit',
            ]);
        });

        it('puts ints above 0x7FFFFFFF on the bus as int64', () => {
            const big = store.get('/Settings/Big');
            assert.ok(big);
            assert.equal(settingVariant(big.type, big.value).signature, 'x');
            assert.equal(settingVariant('i', 5).signature, 'i');
            assert.equal(settingVariant('f', 5).signature, 'd');
        });

        it('reads the shared settings.xml', function () {
            const file = path.join(defaultRecordingsDir(), 'settings.xml');
            if (!fs.existsSync(file))
                this.skip();
            const shared = SettingsStore.fromXml(fs.readFileSync(file, 'utf8'));
            assert.ok(shared.size > 250);
            const relay = shared.get('/Settings/Relay/Function');
            assert.equal(relay?.type, 'i');
            const hasDc = shared.get('/Settings/SystemSetup/HasDcSystem');
            assert.deepEqual([hasDc?.min, hasDc?.max], [0, 1]);
        });

        const broken = ['<a>', '<a></b>', '<a x="1></a>', '<a>&bogus;</a>', '<a></a><b></b>'];
        for (const xml of broken) {
            it(`refuses malformed XML ${JSON.stringify(xml)}`, () => assert.throws(() => parseXml(xml), XmlError));
        }
    });

    describe('conversions', () => {
        const table: Array<['i' | 'f' | 's', PyValue, number | string | undefined]> = [
            ['i', float(4.7), 4],
            ['i', str('5'), 5],
            ['i', { kind: 'bool', value: true }, 1],
            ['i', str('abc'), undefined],
            ['i', str('4.7'), undefined],
            ['i', { kind: 'none' }, undefined],
            ['f', int(3), 3],
            ['f', str('2.5'), 2.5],
            ['f', str('x'), undefined],
            ['s', int(5), '5'],
            ['s', float(4.7), '4.7'],
            ['s', { kind: 'bool', value: true }, '1'],
            ['s', { kind: 'list', value: [int(1)] }, undefined],
        ];
        table.forEach(([type, value, expected], i) => {
            it(`case ${i}: ${type} from ${value.kind}`, () => assert.equal(convertSetting(type, value), expected));
        });

        it('texts are str() of the typed value', () => {
            assert.equal(settingText('f', 50), '50.0');
            assert.equal(settingText('i', 1), '1');
            assert.equal(settingText('s', ''), '');
        });
    });

    describe('SetValue', () => {
        it('converts, checks the range, and reports whether it changed', () => {
            const store = SettingsStore.fromXml(XML);
            const p = '/Settings/CGwacs/BatteryLife/Schedule/Charge/2/Day';
            assert.deepEqual(store.setValue(p, int(5)), { code: 0, changed: true });
            assert.deepEqual(store.setValue(p, int(5)), { code: 0, changed: false });
            assert.deepEqual(store.setValue(p, float(5.9)), { code: 0, changed: false });
            assert.deepEqual(store.setValue(p, int(10)), { code: -1, changed: false });
            assert.deepEqual(store.setValue(p, int(-2)), { code: -1, changed: false });
            assert.deepEqual(store.setValue(p, str('abc')), { code: -1, changed: false });
            assert.deepEqual(store.setValue(p, { kind: 'none' }), { code: -1, changed: false });
            assert.equal(store.get(p)?.value, 5);
            assert.deepEqual(store.setValue('/Settings/Fronius/IPAddresses', int(7)), { code: 0, changed: true });
            assert.equal(store.get('/Settings/Fronius/IPAddresses')?.value, '7');
            assert.deepEqual(store.setValue('/Settings/Nope', int(1)), { code: -1, changed: false });
        });
    });

    describe('AddSetting', () => {
        const cases: Array<[string, string, string, PyValue, string, PyValue | undefined, PyValue | undefined, number]> = [
            ['a new int', '/', '/Settings/New/Int', int(3), 'i', int(0), int(10), AddSettingCode.ok],
            ['"/_" in the path', '/', '/Settings/_x/Y', int(3), 'i', int(0), int(0), AddSettingCode.underscorePrefix],
            ['an unknown type', '/', '/Settings/New/Q', int(3), 'q', int(0), int(0), AddSettingCode.unknownType],
            ['an unconvertible default', '/', '/Settings/New/Q', str('x'), 'i', int(0), int(0), AddSettingCode.invalidDefault],
            ['a default out of range', '/', '/Settings/New/Q', int(11), 'i', int(0), int(10), AddSettingCode.defaultOutOfRange],
            ['a different type', '/', '/Settings/CGwacs/Hub4Mode', str('x'), 's', int(0), int(0), AddSettingCode.typeDiffers],
            ['a group', '/', '/Settings/CGwacs', int(1), 'i', int(0), int(0), AddSettingCode.isGroup],
            ['a path outside /Settings', '/', '/Other/X', int(1), 'i', int(0), int(0), AddSettingCode.notInSettings],
            ['a path below a setting', '/', '/Settings/CGwacs/Hub4Mode/X', int(1), 'i', int(0), int(0), AddSettingCode.invalidPath],
            ['relative to a group', '/Settings/CGwacs', '/Relative', float(1), 'f', undefined, undefined, AddSettingCode.ok],
        ];
        for (const [name, group, relativePath, def, type, min, max, code] of cases) {
            it(`${name}: ${code}`, () => {
                const store = SettingsStore.fromXml(XML);
                assert.equal(store.addSetting(group, relativePath, def, type, min, max, false).code, code);
            });
        }

        it('creates the setting with its range; min == max == 0 means none; strings have none', () => {
            const store = SettingsStore.fromXml(XML);
            const created = store.addSetting('/', '/Settings/New/Int', int(3), 'i', int(0), int(10), false);
            assert.equal(created.announce, true);
            assert.deepEqual(store.get('/Settings/New/Int'), { path: '/Settings/New/Int', type: 'i', value: 3, default: 3, min: 0, max: 10, silent: false });
            store.addSetting('/', '/Settings/New/Free', int(3), 'i', int(0), int(0), true);
            assert.deepEqual([store.get('/Settings/New/Free')?.min, store.get('/Settings/New/Free')?.max, store.get('/Settings/New/Free')?.silent], [undefined, undefined, true]);
            store.addSetting('/', '/Settings/New/Str', str('a'), 's', int(1), int(5), false);
            assert.deepEqual([store.get('/Settings/New/Str')?.min, store.get('/Settings/New/Str')?.max], [undefined, undefined]);
            assert.ok(store.isGroup('/Settings/New'));
        });

        it('adding an existing setting keeps its value and changes only its attributes', () => {
            const store = SettingsStore.fromXml(XML);
            store.setValue('/Settings/CGwacs/Hub4Mode', int(2));
            const same = store.addSetting('/', '/Settings/CGwacs/Hub4Mode', int(0), 'i', int(0), int(0), false);
            assert.deepEqual([same.code, same.announce], [0, false]);
            const ranged = store.addSetting('/', '/Settings/CGwacs/Hub4Mode', int(1), 'i', int(0), int(3), false);
            assert.deepEqual([ranged.code, ranged.announce], [0, true]);
            assert.deepEqual(store.get('/Settings/CGwacs/Hub4Mode'), { path: '/Settings/CGwacs/Hub4Mode', type: 'i', value: 2, default: 1, min: 0, max: 3, silent: false });
        });

        it('removes settings and the groups left empty', () => {
            const store = SettingsStore.fromXml(XML);
            store.addSetting('/', '/Settings/Only/One', int(1), 'i', undefined, undefined, false);
            assert.ok(store.isGroup('/Settings/Only'));
            assert.ok(store.remove('/Settings/Only/One'));
            assert.ok(!store.isGroup('/Settings/Only'));
            assert.ok(!store.remove('/Settings/Only/One'));
        });
    });

    describe('setup lines', () => {
        it('set existing settings in their type and create missing ones with a guessed type', () => {
            const store = SettingsStore.fromXml(XML);
            assert.equal(store.applySetup('/Settings/CGwacs/Hub4Mode', '2', false), undefined);
            assert.equal(store.get('/Settings/CGwacs/Hub4Mode')?.value, 2);
            assert.equal(store.applySetup('/Settings/CGwacs/AcPowerSetPoint', '7', false), undefined);
            assert.equal(store.get('/Settings/CGwacs/AcPowerSetPoint')?.value, 7);
            assert.match(store.applySetup('/Settings/CGwacs/Hub4Mode', 'abc', false) ?? '', /not of type/);
            store.applySetup('/Settings/New/A/0/Enabled', '1', false);
            store.applySetup('/Settings/New/A/0/Ratio', '0.5', false);
            store.applySetup('/Settings/New/A/0/Name', 'Stern thruster batteries', false);
            store.applySetup('/Settings/New/A/0/Number', '12', true);
            assert.deepEqual(['Enabled', 'Ratio', 'Name', 'Number'].map((n) => {
                const s = store.get(`/Settings/New/A/0/${n}`);
                return [s?.type, s?.value];
            }), [['i', 1], ['f', 0.5], ['s', 'Stern thruster batteries'], ['s', '12']]);
            assert.match(store.applySetup('/Settings/CGwacs', '1', false) ?? '', /group/);
        });
    });
});
