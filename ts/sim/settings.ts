// com.victronenergy.settings as localsettings serves it (spec section 5): one object per setting and per group,
// GetItems on '/' with Value/Text/Max/Min/Default, SetValue with conversion and range check (0 / -1),
// GetMin/GetMax/GetDefault, AddSetting/AddSettings/RemoveSettings. It never emits ItemsChanged.
import type { Message, Variant } from 'dbus-next';

import type { ObjectDescription, Reply } from './host';
import { BUS_ITEM, ERROR_PYTHON_TYPE, fail, HostedService, ret, unknownMethod, unknownObject, writtenValue, wrongArguments } from './host';
import type { WriteRecord } from './service';
import type { AddResult, Setting, SettingsStore } from './settings-store';
import { AddSettingCode, settingText, settingVariant } from './settings-store';
import type { PyValue } from './values';
import { describeVariant, unwrap } from './values';
import { encodeBody, entryArrayBody, WireWriter } from '../dbus/wire/encode';

export const SETTINGS_SERVICE = 'com.victronenergy.settings';
export const SETTINGS_INTERFACE = 'com.victronenergy.Settings';

const SETTING_METHODS: Record<string, string> = {
    GetValue: BUS_ITEM, GetText: BUS_ITEM, SetValue: BUS_ITEM, GetMin: BUS_ITEM, GetMax: BUS_ITEM,
    GetDefault: BUS_ITEM, SetDefault: BUS_ITEM, GetAttributes: SETTINGS_INTERFACE, GetSilent: SETTINGS_INTERFACE,
};
const GROUP_METHODS: Record<string, string> = {
    GetValue: BUS_ITEM, GetText: BUS_ITEM, SetDefault: BUS_ITEM, AddSetting: SETTINGS_INTERFACE,
    AddSilentSetting: SETTINGS_INTERFACE, AddSettings: SETTINGS_INTERFACE, RemoveSettings: SETTINGS_INTERFACE,
};

const INVALID_TEXT = { signature: 's', value: '' };

function textVariant(text: string): { signature: string; value: string } {
    return { signature: 's', value: text };
}

export class SettingsService extends HostedService {
    /** Each setting's GetItems entry, built when first needed. */
    private readonly entries = new Map<string, Buffer>();
    private cachedGetItems?: Buffer;

    constructor(
        private readonly store: SettingsStore,
        private readonly recordWrite: (write: WriteRecord) => void,
        log: (line: string) => void,
    ) {
        super(SETTINGS_SERVICE, log);
    }

    get itemCount(): number {
        return this.store.size;
    }

    setting(path: string): Setting | undefined {
        return this.store.get(path);
    }

    private changed(path: string): void {
        this.entries.delete(path);
        this.cachedGetItems = undefined;
    }

    private entryOf(setting: Setting): Buffer {
        let entry = this.entries.get(setting.path);
        if (!entry) {
            const w = new WireWriter(128);
            w.string(setting.path);
            w.value({ code: 'a', children: [{ code: '{', children: [{ code: 's', children: [] }, { code: 'v', children: [] }] }] },
                this.properties(setting));
            entry = Buffer.from(w.finish());
            this.entries.set(setting.path, entry);
        }
        return entry;
    }

    /** {Value, Text, [Max], [Min], [Default]} as localsettings' getProperties. */
    private properties(setting: Setting): Array<[string, unknown]> {
        const out: Array<[string, unknown]> = [
            ['Value', settingVariant(setting.type, setting.value)],
            ['Text', textVariant(settingText(setting.type, setting.value))],
        ];
        if (setting.max !== undefined)
            out.push(['Max', settingVariant(setting.type, setting.max)]);
        if (setting.min !== undefined)
            out.push(['Min', settingVariant(setting.type, setting.min)]);
        if (setting.default !== undefined)
            out.push(['Default', settingVariant(setting.type, setting.default)]);
        return out;
    }

    private getItemsBody(): Buffer {
        if (!this.cachedGetItems) {
            const entries: Buffer[] = [];
            for (const setting of this.store.all())
                entries.push(this.entryOf(setting));
            this.cachedGetItems = Buffer.from(entryArrayBody(entries, 64 * 1024));
        }
        return this.cachedGetItems;
    }

    private announce(setting: Setting, withAttributes: boolean): void {
        const changes: Array<[string, unknown]> = [
            ['Value', settingVariant(setting.type, setting.value)],
            ['Text', textVariant(settingText(setting.type, setting.value))],
        ];
        if (withAttributes) {
            changes.push(['Default', setting.default === undefined ? { signature: 'i', value: -1 } : settingVariant(setting.type, setting.default)]);
            if (setting.type !== 's') {
                changes.push(['Min', setting.min === undefined ? { signature: 'i', value: 0 } : settingVariant(setting.type, setting.min)]);
                changes.push(['Max', setting.max === undefined ? { signature: 'i', value: 0 } : settingVariant(setting.type, setting.max)]);
            }
        }
        this.emit(setting.path, BUS_ITEM, 'PropertiesChanged', 'a{sv}', encodeBody('a{sv}', [changes]));
    }

    /** A device-side change (e.g. from the CLI): stored as SetValue would, announced with PropertiesChanged. */
    change(path: string, value: Variant): number {
        const result = this.store.setValue(path, unwrap(value));
        if (result.changed) {
            this.changed(path);
            this.announce(this.store.get(path) as Setting, false);
        }
        return result.code;
    }

    protected override describe(path: string): ObjectDescription | undefined {
        if (this.store.get(path))
            return { interfaces: [BUS_ITEM, SETTINGS_INTERFACE], children: [] };
        if (!this.store.isGroup(path))
            return undefined;
        const prefix = path === '/' ? '/' : `${path}/`;
        const names = new Set<string>();
        for (const setting of this.store.under(path))
            names.add(setting.path.slice(prefix.length).split('/')[0] as string);
        for (const group of this.store.groups()) {
            if (group.startsWith(prefix) && group !== path)
                names.add(group.slice(prefix.length).split('/')[0] as string);
        }
        return { interfaces: [BUS_ITEM, SETTINGS_INTERFACE], children: [...names] };
    }

    protected override interfaceMembers(iface: string): string {
        const table = iface === BUS_ITEM ? { ...SETTING_METHODS, ...GROUP_METHODS, GetItems: BUS_ITEM } : { ...SETTING_METHODS, ...GROUP_METHODS };
        return Object.entries(table).filter(([, i]) => i === iface).map(([m]) => `<method name="${m}"/>`).join('')
            + (iface === BUS_ITEM ? '<signal name="PropertiesChanged"><arg type="a{sv}"/></signal>' : '');
    }

    protected override dispatch(msg: Message): Reply {
        const setting = this.store.get(msg.path);
        const isGroup = !setting && this.store.isGroup(msg.path);
        if (!setting && !isGroup)
            return unknownObject(msg);
        const methods = setting ? SETTING_METHODS : msg.path === '/' ? { ...GROUP_METHODS, GetItems: BUS_ITEM } : GROUP_METHODS;
        const iface = methods[msg.member];
        if (iface === undefined || (msg.interface !== undefined && msg.interface !== null && msg.interface !== iface))
            return unknownMethod(msg);
        return setting ? this.settingCall(msg, setting) : this.groupCall(msg);
    }

    private settingCall(msg: Message, setting: Setting): Reply {
        const expected = msg.member === 'SetValue' ? 1 : 0;
        if (msg.body.length !== expected)
            return wrongArguments(msg, expected);
        switch (msg.member) {
            case 'GetValue':
                return ret('v', [settingVariant(setting.type, setting.value)]);
            case 'GetText':
                return ret('s', [settingText(setting.type, setting.value)]);
            case 'GetMin':
                return ret('v', [setting.min === undefined ? { signature: 'i', value: 0 } : settingVariant(setting.type, setting.min)]);
            case 'GetMax':
                return ret('v', [setting.max === undefined ? { signature: 'i', value: 0 } : settingVariant(setting.type, setting.max)]);
            case 'GetDefault':
                // Without a default localsettings answers its error code, an int32 -1, in the variant.
                return ret('v', [setting.default === undefined ? { signature: 'i', value: -1 } : settingVariant(setting.type, setting.default)]);
            case 'GetSilent':
                return ret('b', [setting.silent]);
            case 'GetAttributes':
                return ret('vvvi', [
                    setting.default === undefined ? { signature: 'i', value: -1 } : settingVariant(setting.type, setting.default),
                    setting.min === undefined ? { signature: 'i', value: 0 } : settingVariant(setting.type, setting.min),
                    setting.max === undefined ? { signature: 'i', value: 0 } : settingVariant(setting.type, setting.max),
                    setting.silent ? 1 : 0,
                ]);
            case 'SetDefault':
                if (setting.default === undefined)
                    return ret('i', [-1]);
                this.setValue(setting, { kind: setting.type === 's' ? 'str' : 'float', value: setting.default } as PyValue);
                return ret('i', [0]);
            case 'SetValue': {
                const written = writtenValue(msg);
                const result = this.setValue(setting, unwrap(written));
                this.recordWrite({ service: this.name, path: setting.path, signature: written.signature, value: written.value, result, at: Date.now() });
                this.log(`${this.name}: SetValue ${setting.path} ${describeVariant(written)} -> ${result}`);
                return ret('i', [result]);
            }
            default:
                return unknownMethod(msg);
        }
    }

    private setValue(setting: Setting, value: PyValue): number {
        const result = this.store.setValue(setting.path, value);
        if (result.changed) {
            this.changed(setting.path);
            this.announce(setting, false);
        }
        return result.code;
    }

    private groupCall(msg: Message): Reply {
        const group = msg.path;
        switch (msg.member) {
            case 'GetItems':
                return msg.body.length !== 0 ? wrongArguments(msg, 0) : { kind: 'return', signature: 'a{sa{sv}}', body: this.getItemsBody() };
            case 'GetValue':
            case 'GetText': {
                if (msg.body.length !== 0)
                    return wrongArguments(msg, 0);
                const prefixLength = group === '/' ? 1 : group.length + 1;
                const texts = msg.member === 'GetText';
                const entries: Array<[string, unknown]> = this.store.under(group).map((s) => [
                    s.path.slice(prefixLength),
                    texts ? settingText(s.type, s.value) : settingVariant(s.type, s.value),
                ]);
                return ret('v', [{ signature: texts ? 'a{ss}' : 'a{sv}', value: entries }]);
            }
            case 'SetDefault':
                for (const setting of this.store.under(group)) {
                    if (setting.default !== undefined)
                        this.setValue(setting, { kind: setting.type === 's' ? 'str' : 'float', value: setting.default } as PyValue);
                }
                return ret('i', [0]);
            case 'AddSetting':
            case 'AddSilentSetting':
                return this.addSettingCall(msg, group, msg.member === 'AddSilentSetting');
            case 'AddSettings':
                return this.addSettingsCall(msg, group);
            case 'RemoveSettings':
                return this.removeSettingsCall(msg, group);
            default:
                return unknownMethod(msg);
        }
    }

    private added(result: AddResult): void {
        if (result.setting && result.announce) {
            this.changed(result.setting.path);
            this.announce(result.setting, true);
        }
    }

    private addSettingCall(msg: Message, group: string, silent: boolean): Reply {
        if (msg.signature !== 'ssvsvv')
            return fail(ERROR_PYTHON_TYPE, `TypeError: ${msg.member} expects (ssvsvv), got (${msg.signature})`);
        const [groupName, name, defaultValue, type, minimum, maximum] = msg.body as [string, string, Variant, string, Variant, Variant];
        const groupPath = groupName.startsWith('/') || groupName === '' ? groupName : `/${groupName}`;
        const relativePath = name.startsWith('/') ? `${groupPath}${name}` : `${groupPath}/${name}`;
        const result = this.store.addSetting(group, relativePath, unwrap(defaultValue), type, unwrap(minimum), unwrap(maximum), silent);
        this.added(result);
        this.log(`${this.name}: ${msg.member} ${relativePath} -> ${result.code}`);
        return ret('i', [result.code]);
    }

    private addSettingsCall(msg: Message, group: string): Reply {
        if (msg.signature !== 'aa{sv}')
            return fail(ERROR_PYTHON_TYPE, `TypeError: AddSettings expects (aa{sv}), got (${msg.signature})`);
        const requests = msg.body[0] as Array<Record<string, Variant>>;
        const results = requests.map((props): Array<[string, unknown]> => {
            const path = props.path;
            if (!path || path.signature !== 's') {
                const out: Array<[string, unknown]> = [];
                if (path && unwrap(path).kind !== 'none')
                    out.push(['path', path]);
                out.push(['error', { signature: 'i', value: AddSettingCode.invalidPath }]);
                return out;
            }
            const out: Array<[string, unknown]> = [['path', path]];
            const def = props.default;
            const type = def?.signature === 'i' || def?.signature === 'x' ? 'i' : def?.signature === 'd' ? 'f' : def?.signature === 's' ? 's' : undefined;
            if (!def || !type) {
                out.push(['error', { signature: 'i', value: AddSettingCode.unknownType }]);
                return out;
            }
            const silent = props.silent !== undefined && this.truthy(unwrap(props.silent));
            const result = this.store.addSetting(group, path.value as string, unwrap(def), type,
                props.min === undefined ? undefined : unwrap(props.min), props.max === undefined ? undefined : unwrap(props.max), silent);
            this.added(result);
            out.push(['error', { signature: 'i', value: result.code }]);
            if (result.setting)
                out.push(['value', settingVariant(result.setting.type, result.setting.value)]);
            return out;
        });
        this.log(`${this.name}: AddSettings (${requests.length})`);
        return ret('aa{sv}', [results]);
    }

    private truthy(p: PyValue): boolean {
        switch (p.kind) {
            case 'none': return false;
            case 'int': return p.value !== 0n;
            case 'float': return p.value !== 0;
            case 'bool': return p.value;
            case 'str': return p.value !== '';
            default: return p.value.length > 0;
        }
    }

    private removeSettingsCall(msg: Message, group: string): Reply {
        if (msg.signature !== 'as')
            return fail(ERROR_PYTHON_TYPE, `TypeError: RemoveSettings expects (as), got (${msg.signature})`);
        const prefix = group === '/' ? '' : group;
        const codes = (msg.body[0] as string[]).map((path) => {
            const full = `${prefix}${path.startsWith('/') ? path : `/${path}`}`;
            const setting = this.store.get(full);
            if (!setting)
                return -1;
            this.emit(full, BUS_ITEM, 'PropertiesChanged', 'a{sv}', encodeBody('a{sv}', [[['Value', { signature: 'ai', value: [] }], ['Text', INVALID_TEXT]]]));
            this.store.remove(full);
            this.changed(full);
            return 0;
        });
        return ret('ai', [codes]);
    }
}
