// One simulated velib service (vedbus.py): items, tree nodes and '/', with GetItems, GetValue, GetText and
// SetValue as velib answers them, device-side changes announced as one ItemsChanged per batch or as
// PropertiesChanged per item, and the knobs tests need for unusual services (legacy root without GetItems, calls
// that are never answered, a hook that replaces any reply).
import type { Variant } from 'dbus-next';
import { Message } from 'dbus-next';

import type { ObjectDescription, Reply } from './host';
import { BUS_ITEM, HostedService, ret, unknownMethod, unknownObject, writtenValue, wrongArguments } from './host';
import type { Item } from './item-table';
import { ItemTable } from './item-table';
import type { ValueType } from './values';
import { coerce, CoercionError, describeVariant, pyEquals, unwrap, variantDepth, velibText, wrap } from './values';
import { encodeBody } from '../dbus/wire/encode';

export interface ServiceItemDefinition {
    path: string;
    value: Variant;
    /** Default: velib's text for the value ('---' when invalid). */
    text?: string;
    /** Default true (SetValue returns 1 on items that are not writeable). */
    writeable?: boolean;
    /** velib's valuetype: writes are coerced with int() / float() / str(). */
    valueType?: ValueType;
    /** velib's onchangecallback: return false to refuse a write (SetValue returns 2). */
    onWrite?: (path: string, value: Variant) => boolean;
    /** False: a successful write sends no PropertiesChanged (some real paths, e.g. vebus /Hub4/L1/AcPowerSetpoint). */
    announceWrites?: boolean;
}

/** A reply of the override hook, encoded by the simulator (so it may hold NaN or odd dict keys). */
export type RawReply =
    | { signature: string; values: unknown[] }
    | { errorName: string; text: string };

/** What the override hook may return: a dbus-next Message, a raw reply, 'no-reply', or undefined (normal answer). */
export type OverrideResult = Message | RawReply | 'no-reply' | undefined;

export interface ServiceDefinition {
    name: string;
    items: ServiceItemDefinition[];
    /** No GetItems on '/': UnknownMethod, so consumers must fall back to GetValue on '/'. */
    legacy?: boolean;
    /** Never reply to these calls. */
    hang?: 'GetItems' | 'GetValue' | 'all';
    /** Sees every call first; returning something other than undefined replaces the normal answer. */
    override?: (msg: Message) => OverrideResult;
    /** How this service announces device-side changes when the simulator does not say otherwise. */
    signalStyle?: 'items' | 'properties';
    /** More interface names answered like com.victronenergy.BusItem (venus-platform's paths are written with
     *  'com.victronenergy.platform'). */
    extraInterfaces?: string[];
}

export type AnnounceStyle = 'items' | 'properties' | 'none';

export interface ItemChange {
    path: string;
    value: Variant;
    text?: string;
}

export interface WriteRecord {
    service: string;
    path: string;
    /** The signature of the written variant's content ('v' for a double-wrapped write). */
    signature: string;
    value: unknown;
    result: number;
    /** Date.now() when the write arrived. */
    at: number;
}

export class ServiceError extends Error {}

interface ServiceItem extends Item {
    announceWrites: boolean;
    initialValue: Variant;
    initialText: string;
    modified: boolean;
}

const ITEM_MEMBERS = '<method name="GetValue"><arg direction="out" type="v"/></method>'
    + '<method name="GetText"><arg direction="out" type="s"/></method>'
    + '<method name="SetValue"><arg direction="in" type="v"/><arg direction="out" type="i"/></method>'
    + '<method name="GetDescription"><arg direction="in" type="s"/><arg direction="in" type="i"/><arg direction="out" type="s"/></method>'
    + '<signal name="PropertiesChanged"><arg type="a{sv}"/></signal>';
const ROOT_MEMBERS = '<method name="GetItems"><arg direction="out" type="a{sa{sv}}"/></method>'
    + '<method name="GetValue"><arg direction="out" type="v"/></method>'
    + '<method name="GetText"><arg direction="out" type="v"/></method>'
    + '<signal name="ItemsChanged"><arg type="a{sa{sv}}"/></signal>';

export class BusItemService extends HostedService {
    readonly table = new ItemTable();

    constructor(
        private readonly definition: ServiceDefinition,
        private readonly recordWrite: (write: WriteRecord) => void,
        log: (line: string) => void,
    ) {
        super(definition.name, log);
        for (const item of definition.items)
            this.addItem(item);
    }

    get signalStyle(): 'items' | 'properties' | undefined {
        return this.definition.signalStyle;
    }

    get itemCount(): number {
        return this.table.size;
    }

    value(path: string): Variant | undefined {
        return this.table.get(path)?.value;
    }

    text(path: string): string | undefined {
        return this.table.get(path)?.text;
    }

    /** Adds an item (velib add_path); announced only when asked ('items': inside a context, in an ItemsChanged). */
    addItem(definition: ServiceItemDefinition, announce: 'items' | 'none' = 'none'): void {
        const text = definition.text ?? velibText(definition.path, unwrap(definition.value));
        const item: ServiceItem = {
            path: definition.path, value: definition.value, text,
            writeable: definition.writeable ?? true, valueType: definition.valueType, onWrite: definition.onWrite,
            announceWrites: definition.announceWrites ?? true, initialValue: definition.value, initialText: text, modified: false,
        };
        this.table.add(item);
        if (announce === 'items')
            this.emitItemsChanged([item]);
    }

    /** Removes an item (del service[path]); 'items' first announces it invalid (del_tree inside a context). */
    removeItem(path: string, announce: 'items' | 'none' = 'none'): boolean {
        const item = this.table.get(path);
        if (!item)
            return false;
        if (announce === 'items') {
            this.table.update(item, wrap({ kind: 'none' }), '---');
            this.emitItemsChanged([item]);
        }
        return this.table.remove(path);
    }

    /** Device-side changes, announced as one batch (ItemsChanged), per item (PropertiesChanged) or not at all. */
    change(changes: readonly ItemChange[], style: AnnounceStyle): void {
        const changed = new Map<string, ServiceItem>();
        for (const change of changes) {
            const item = this.table.get(change.path) as ServiceItem | undefined;
            if (!item)
                throw new ServiceError(`${this.name} has no item '${change.path}'`);
            this.table.update(item, change.value, change.text ?? velibText(change.path, unwrap(change.value)));
            item.modified = true;
            if (style === 'properties')
                this.emitPropertiesChanged(item);
            else
                changed.set(item.path, item);
        }
        if (style === 'items' && changed.size > 0)
            this.emitItemsChanged(changed.values());
    }

    /** Puts every item changed since the start back to its initial value, announced as a batch (or per item). */
    restoreInitial(style: AnnounceStyle): void {
        const restored: ServiceItem[] = [];
        for (const item of this.table.values() as IterableIterator<ServiceItem>) {
            if (!item.modified)
                continue;
            this.table.update(item, item.initialValue, item.initialText);
            item.modified = false;
            restored.push(item);
        }
        if (restored.length === 0 || style === 'none')
            return;
        if (style === 'items')
            this.emitItemsChanged(restored);
        else
            restored.forEach((item) => this.emitPropertiesChanged(item));
    }

    private emitItemsChanged(items: Iterable<Item>): void {
        this.emit('/', BUS_ITEM, 'ItemsChanged', 'a{sa{sv}}', this.table.itemsChangedBody(items));
    }

    private emitPropertiesChanged(item: Item): void {
        this.emit(item.path, BUS_ITEM, 'PropertiesChanged', 'a{sv}', ItemTable.propertiesChangedBody(item));
    }

    protected override describe(path: string): ObjectDescription | undefined {
        if (path === '/')
            return { interfaces: [BUS_ITEM], children: this.table.childNames('/') };
        if (this.table.get(path))
            return { interfaces: [BUS_ITEM], children: [] };
        if (this.table.isNode(path))
            return { interfaces: [BUS_ITEM], children: this.table.childNames(path) };
        return undefined;
    }

    protected override interfaceMembers(_iface: string): string {
        return ITEM_MEMBERS + ROOT_MEMBERS;
    }

    protected override dispatch(msg: Message): Reply {
        const overridden = this.definition.override?.(msg);
        if (overridden !== undefined)
            return this.overrideReply(overridden);
        if (msg.interface !== undefined && msg.interface !== null && msg.interface !== BUS_ITEM
            && !(this.definition.extraInterfaces ?? []).includes(msg.interface))
            return unknownMethod(msg);
        const hang = this.definition.hang;
        if (hang === 'all' || hang === msg.member)
            return { kind: 'none' };
        const path = msg.path;
        const item = this.table.get(path);
        if (item)
            return this.itemCall(msg, item);
        if (!this.table.isNode(path))
            return unknownObject(msg);
        switch (msg.member) {
            case 'GetItems':
                if (path !== '/' || this.definition.legacy)
                    return unknownMethod(msg);
                return msg.body.length !== 0 ? wrongArguments(msg, 0) : { kind: 'return', signature: 'a{sa{sv}}', body: this.table.getItemsBody() };
            case 'GetValue':
                return msg.body.length !== 0 ? wrongArguments(msg, 0) : { kind: 'return', signature: 'v', body: this.table.valuesBody(path) };
            case 'GetText':
                return msg.body.length !== 0 ? wrongArguments(msg, 0) : { kind: 'return', signature: 'v', body: this.table.textsBody(path) };
            default:
                return unknownMethod(msg);
        }
    }

    private overrideReply(result: Exclude<OverrideResult, undefined>): Reply {
        if (result === 'no-reply')
            return { kind: 'none' };
        if (result instanceof Message)
            return { kind: 'message', message: result };
        if ('values' in result)
            return ret(result.signature, result.values);
        return { kind: 'error', name: result.errorName, text: result.text };
    }

    private itemCall(msg: Message, item: Item): Reply {
        switch (msg.member) {
            case 'GetValue':
                return msg.body.length !== 0 ? wrongArguments(msg, 0) : { kind: 'return', signature: 'v', body: encodeBody('v', [item.value]) };
            case 'GetText':
                return msg.body.length !== 0 ? wrongArguments(msg, 0) : ret('s', [item.text]);
            case 'GetDescription':
                return msg.body.length !== 2 ? wrongArguments(msg, 2) : ret('s', ['']);
            case 'SetValue':
                return msg.body.length !== 1 ? wrongArguments(msg, 1) : ret('i', [this.setValue(msg, item)]);
            default:
                return unknownMethod(msg);
        }
    }

    /** velib's SetValue (spec 3.6): 1 not writeable or not coercible, 0 equal or stored, 2 refused. */
    private setValue(msg: Message, item: Item): number {
        // dbus-python hands over whatever came: a variant's content, or a bare value of another signature.
        const written = writtenValue(msg);
        const result = this.evaluateWrite(item, written);
        this.recordWrite({ service: this.name, path: item.path, signature: written.signature, value: written.value, result, at: Date.now() });
        this.log(`${this.name}: SetValue ${item.path} ${describeVariant(written)} -> ${result}`
            + (variantDepth(written) > 1 ? ' (a double-wrapped variant)' : ''));
        return result;
    }

    private evaluateWrite(item: Item, written: Variant): number {
        if (!item.writeable)
            return 1;
        let value = unwrap(written);
        try {
            value = coerce(value, item.valueType);
        } catch (err) {
            if (err instanceof CoercionError)
                return 1;
            throw err;
        }
        if (pyEquals(value, unwrap(item.value)))
            return 0;
        const wrapped = wrap(value);
        if (item.onWrite && !item.onWrite(item.path, wrapped))
            return 2;
        this.table.update(item, wrapped, velibText(item.path, value));
        (item as ServiceItem).modified = true;
        if ((item as ServiceItem).announceWrites)
            this.emitPropertiesChanged(item);
        return 0;
    }
}
