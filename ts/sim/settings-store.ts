// The data side of com.victronenergy.settings, after localsettings: typed settings ('i', 'f', 's') with default,
// min, max and silent, groups made of path prefixes, localsettings' conversions and return codes. No D-Bus here.
import { Variant } from 'dbus-next';

import type { PyValue } from './values';
import { CoercionError, parsePythonFloat, parsePythonInt, pyFloat, pyFloatRepr, pyInt, pyStr } from './values';
import { isObjectPath } from '../dbus/wire/encode';
import type { XmlElement } from './xml';
import { parseXml } from './xml';

export type SettingType = 'i' | 'f' | 's';
export type SettingValue = number | string;

export interface Setting {
    path: string;
    type: SettingType;
    value: SettingValue;
    default?: SettingValue;
    min?: SettingValue;
    max?: SettingValue;
    silent: boolean;
}

/** AddSetting's return codes. */
export const AddSettingCode = {
    ok: 0,
    underscorePrefix: -2,
    unknownType: -3,
    invalidPath: -4,
    typeDiffers: -5,
    invalidDefault: -6,
    defaultOutOfRange: -7,
    isGroup: -8,
    notInSettings: -9,
} as const;

export function isSettingType(type: string): type is SettingType {
    return type === 'i' || type === 'f' || type === 's';
}

/** localsettings' convertToType: int() / float() / str(); undefined where Python raises. */
export function convertSetting(type: SettingType, p: PyValue): SettingValue | undefined {
    if (p.kind === 'none' || p.kind === 'list' || p.kind === 'dict')
        return undefined;
    try {
        switch (type) {
            case 'i':
                return Number(pyInt(p));
            case 'f':
                return pyFloat(p);
            case 's':
                // localsettings sees the raw dbus.Boolean, an int subclass: str() gives '1' or '0'.
                return p.kind === 'bool' ? (p.value ? '1' : '0') : pyStr(p);
        }
    } catch (err) {
        if (err instanceof CoercionError)
            return undefined;
        throw err;
    }
}

/** localsettings' dbus_wrap: 'i' (or 'x' above 0x7FFFFFFF), 'd', 's'. */
export function settingVariant(type: SettingType, value: SettingValue): Variant {
    switch (type) {
        case 'i': {
            const n = Number(value);
            return n > 0x7fffffff || n < -0x80000000 ? new Variant('x', BigInt(Math.trunc(n))) : new Variant('i', n);
        }
        case 'f':
            return new Variant('d', Number(value));
        case 's':
            return new Variant('s', String(value));
    }
}

/** str(value) of the typed value. */
export function settingText(type: SettingType, value: SettingValue): string {
    if (type === 'f')
        return pyFloatRepr(Number(value));
    return String(value);
}

function fromText(type: SettingType, text: string | undefined): SettingValue | undefined {
    return text === undefined ? undefined : convertSetting(type, { kind: 'str', value: text });
}

function lessThan(a: SettingValue, b: SettingValue): boolean {
    return a < b;
}

function toBool(text: string | undefined): boolean {
    if (text === undefined)
        return false;
    const n = parsePythonInt(text);
    if (n !== undefined)
        return n !== 0n;
    return text.toLowerCase() === 'true';
}

export interface AddResult {
    code: number;
    setting?: Setting;
    /** True when the add created the setting or changed its attributes (then PropertiesChanged with them). */
    announce: boolean;
}

const PERMANENT_GROUPS = ['/', '/Settings', '/Settings/Devices'];

export class SettingsStore {
    private readonly settings = new Map<string, Setting>();
    /** Group path → how many settings lie below it. */
    private readonly groupCounts = new Map<string, number>();

    /** Reads a localsettings settings.xml (root <Settings>; elements with a type attribute are settings). */
    static fromXml(text: string, warn: (message: string) => void = () => undefined): SettingsStore {
        const store = new SettingsStore();
        const root = parseXml(text);
        const walk = (element: XmlElement, path: string): void => {
            const tag = element.tag.startsWith('_') ? element.tag.slice(1) : element.tag;
            const here = `${path}/${tag}`;
            const type = element.attributes.type;
            if (type === undefined) {
                for (const child of element.children)
                    walk(child, here);
                return;
            }
            if (!isSettingType(type)) {
                warn(`${here}: unknown setting type '${type}'; skipped`);
                return;
            }
            const a = element.attributes;
            const def = fromText(type, a.default);
            let value = fromText(type, element.text);
            if (value === undefined) {
                warn(`${here}: value '${element.text}' is not of type '${type}'; the default is used`);
                value = def ?? (type === 's' ? '' : 0);
            }
            store.insert({
                path: here, type, value, default: def,
                min: fromText(type, a.min), max: fromText(type, a.max), silent: toBool(a.silent),
            });
        };
        walk(root, '');
        return store;
    }

    get size(): number {
        return this.settings.size;
    }

    get(path: string): Setting | undefined {
        return this.settings.get(path);
    }

    all(): IterableIterator<Setting> {
        return this.settings.values();
    }

    isGroup(path: string): boolean {
        return PERMANENT_GROUPS.includes(path) || (this.groupCounts.get(path) ?? 0) > 0;
    }

    /** Every group path, '/' first. */
    groups(): string[] {
        const out = new Set(PERMANENT_GROUPS);
        for (const [group, count] of this.groupCounts) {
            if (count > 0)
                out.add(group);
        }
        return [...out];
    }

    /** The settings below a group, in insertion order. */
    under(group: string): Setting[] {
        const prefix = group === '/' ? '/' : `${group}/`;
        const out: Setting[] = [];
        for (const setting of this.settings.values()) {
            if (setting.path.startsWith(prefix))
                out.push(setting);
        }
        return out;
    }

    private static prefixes(path: string): string[] {
        const parts = path.split('/');
        const out = ['/'];
        for (let i = 2; i < parts.length; i++)
            out.push(parts.slice(0, i).join('/'));
        return out;
    }

    private insert(setting: Setting): void {
        this.settings.set(setting.path, setting);
        for (const group of SettingsStore.prefixes(setting.path))
            this.groupCounts.set(group, (this.groupCounts.get(group) ?? 0) + 1);
    }

    remove(path: string): boolean {
        if (!this.settings.delete(path))
            return false;
        for (const group of SettingsStore.prefixes(path)) {
            const count = (this.groupCounts.get(group) ?? 1) - 1;
            if (count > 0)
                this.groupCounts.set(group, count);
            else
                this.groupCounts.delete(group);
        }
        return true;
    }

    /** localsettings' SetValue: convert to the setting's type, check the range. changed: a signal is due. */
    setValue(path: string, p: PyValue): { code: 0 | -1; changed: boolean } {
        const setting = this.settings.get(path);
        if (!setting)
            return { code: -1, changed: false };
        const v = convertSetting(setting.type, p);
        if (v === undefined)
            return { code: -1, changed: false };
        if (setting.min !== undefined && lessThan(v, setting.min))
            return { code: -1, changed: false };
        if (setting.max !== undefined && lessThan(setting.max, v))
            return { code: -1, changed: false };
        if (v === setting.value)
            return { code: 0, changed: false };
        setting.value = v;
        return { code: 0, changed: true };
    }

    /**
     * localsettings' addSetting, relative to a group object: 'group' is the group's path ('/' or '/Settings/...'),
     * 'relativePath' starts with '/'.
     */
    addSetting(group: string, relativePath: string, defaultValue: PyValue, type: string,
        minimum: PyValue | undefined, maximum: PyValue | undefined, silent: boolean): AddResult {
        if (relativePath.includes('/_'))
            return { code: AddSettingCode.underscorePrefix, announce: false };
        if (!isSettingType(type))
            return { code: AddSettingCode.unknownType, announce: false };
        const value = convertSetting(type, defaultValue);
        if (value === undefined)
            return { code: AddSettingCode.invalidDefault, announce: false };
        let min = minimum === undefined ? undefined : convertSetting(type, minimum);
        let max = maximum === undefined ? undefined : convertSetting(type, maximum);
        if (type !== 's') {
            if (min === 0 && max === 0) {
                min = undefined;
                max = undefined;
            }
            if (min !== undefined && lessThan(value, min))
                return { code: AddSettingCode.defaultOutOfRange, announce: false };
            if (max !== undefined && lessThan(max, value))
                return { code: AddSettingCode.defaultOutOfRange, announce: false };
        } else {
            min = undefined;
            max = undefined;
        }
        if (group === '/' && !relativePath.startsWith('/Settings/'))
            return { code: AddSettingCode.notInSettings, announce: false };
        const path = group === '/' ? relativePath : `${group}${relativePath}`;
        const existing = this.settings.get(path);
        if (!existing) {
            if (this.isGroup(path))
                return { code: AddSettingCode.isGroup, announce: false };
            if (!isObjectPath(path) || SettingsStore.prefixes(path).some((prefix) => this.settings.has(prefix)))
                return { code: AddSettingCode.invalidPath, announce: false };
            const setting: Setting = { path, type, value, default: value, min, max, silent };
            this.insert(setting);
            return { code: AddSettingCode.ok, setting, announce: true };
        }
        if (existing.type !== type)
            return { code: AddSettingCode.typeDiffers, announce: false };
        const changed = existing.default !== value || existing.min !== min || existing.max !== max || existing.silent !== silent;
        existing.default = value;
        existing.min = min;
        existing.max = max;
        existing.silent = silent;
        return { code: AddSettingCode.ok, setting: existing, announce: changed };
    }

    /**
     * A `setup` line: sets an existing setting (converted to its type) or creates one, its type guessed from the
     * text (integer, float, else string; quoted text is always a string). Returns a warning or undefined.
     */
    applySetup(path: string, text: string, quoted: boolean): string | undefined {
        const existing = this.settings.get(path);
        if (existing) {
            const v = convertSetting(existing.type, { kind: 'str', value: text });
            if (v === undefined)
                return `${path}: '${text}' is not of type '${existing.type}'; not applied`;
            existing.value = v;
            return undefined;
        }
        if (this.isGroup(path) || SettingsStore.prefixes(path).some((prefix) => this.settings.has(prefix)))
            return `${path}: a group or below a setting; not applied`;
        let type: SettingType = 's';
        if (!quoted && parsePythonInt(text) !== undefined)
            type = 'i';
        else if (!quoted && parsePythonFloat(text) !== undefined && /\d/.test(text))
            type = 'f';
        const value = convertSetting(type, { kind: 'str', value: text }) as SettingValue;
        this.insert({ path, type, value, default: value, silent: false });
        return undefined;
    }
}
