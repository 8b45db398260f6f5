// The items of one BusItem service and velib's object tree over them: every item path, every prefix of it as a
// tree node (unless that prefix is an item itself), and '/'. Keeps each item's D-Bus encodings so that GetItems
// and ItemsChanged are copies of cached bytes, and the whole GetItems reply is cached until something changes.
import type { Variant } from 'dbus-next';

import type { ValueType } from './values';
import { encodeBody, variantEntryArrayBody, WireWriter, entryArrayBody } from '../dbus/wire/encode';

export interface Item {
    readonly path: string;
    value: Variant;
    text: string;
    writeable: boolean;
    /** velib's valuetype: SetValue coerces to it. */
    valueType?: ValueType;
    /** velib's onchangecallback: false refuses a write (SetValue returns 2). */
    onWrite?: (path: string, value: Variant) => boolean;
    /** {s path, a{sv} {Value, Text}} encoded at offset 0, built when first needed. */
    entry?: Buffer;
    /** {s relative path, v value}, for GetValue on '/'. */
    rootEntry?: Buffer;
    /** {s relative path, s text}, for GetText on '/'. */
    rootTextEntry?: Buffer;
}

export class ItemTableError extends Error {}

function entryOf(item: Item): Buffer {
    if (!item.entry) {
        const w = new WireWriter(64 + item.path.length + item.text.length);
        w.string(item.path);
        w.array(8, () => {
            w.pad(8);
            w.string('Value');
            w.value({ code: 'v', children: [] }, item.value);
            w.pad(8);
            w.string('Text');
            w.signature('s');
            w.string(item.text);
        });
        item.entry = Buffer.from(w.finish());
    }
    return item.entry;
}

function rootEntryOf(item: Item): Buffer {
    if (!item.rootEntry) {
        const w = new WireWriter(32 + item.path.length);
        w.string(item.path.slice(1));
        w.value({ code: 'v', children: [] }, item.value);
        item.rootEntry = Buffer.from(w.finish());
    }
    return item.rootEntry;
}

function rootTextEntryOf(item: Item): Buffer {
    if (!item.rootTextEntry) {
        const w = new WireWriter(16 + item.path.length + item.text.length);
        w.string(item.path.slice(1));
        w.string(item.text);
        item.rootTextEntry = Buffer.from(w.finish());
    }
    return item.rootTextEntry;
}

export class ItemTable {
    private readonly items = new Map<string, Item>();
    /** Tree node → the item paths below it ('/' holds all). */
    private readonly nodes = new Map<string, Set<string>>([['/', new Set()]]);
    private cachedGetItems?: Buffer;
    private cachedRootValues?: Buffer;
    private cachedRootTexts?: Buffer;
    private bytes = 0;

    get size(): number {
        return this.items.size;
    }

    get(path: string): Item | undefined {
        return this.items.get(path);
    }

    values(): IterableIterator<Item> {
        return this.items.values();
    }

    isNode(path: string): boolean {
        return this.nodes.has(path);
    }

    private static prefixes(path: string): string[] {
        const parts = path.split('/');
        const out: string[] = [];
        for (let i = 2; i < parts.length; i++)
            out.push(parts.slice(0, i).join('/'));
        return out;
    }

    private invalidate(): void {
        this.cachedGetItems = undefined;
        this.cachedRootValues = undefined;
        this.cachedRootTexts = undefined;
    }

    add(item: Item): void {
        if (item.path === '/' || this.items.has(item.path) || this.nodes.has(item.path))
            throw new ItemTableError(`'${item.path}' already exists`);
        this.items.set(item.path, item);
        (this.nodes.get('/') as Set<string>).add(item.path);
        for (const prefix of ItemTable.prefixes(item.path)) {
            if (this.items.has(prefix))
                continue;
            let below = this.nodes.get(prefix);
            if (!below) {
                below = new Set();
                this.nodes.set(prefix, below);
            }
            below.add(item.path);
        }
        this.invalidate();
    }

    remove(path: string): boolean {
        if (!this.items.delete(path))
            return false;
        (this.nodes.get('/') as Set<string>).delete(path);
        for (const prefix of ItemTable.prefixes(path)) {
            const below = this.nodes.get(prefix);
            if (!below)
                continue;
            below.delete(path);
            if (below.size === 0)
                this.nodes.delete(prefix);
        }
        this.invalidate();
        return true;
    }

    /** Stores a new value and text; the caller announces it. */
    update(item: Item, value: Variant, text: string): void {
        item.value = value;
        item.text = text;
        item.entry = undefined;
        item.rootEntry = undefined;
        item.rootTextEntry = undefined;
        this.invalidate();
    }

    /** The items below a tree node, in insertion order. */
    below(node: string): Item[] {
        const paths = this.nodes.get(node);
        if (!paths)
            return [];
        const out: Item[] = [];
        for (const path of paths)
            out.push(this.items.get(path) as Item);
        return out;
    }

    /** The next path segments below a path (items and nodes), for introspection. */
    childNames(path: string): string[] {
        const prefix = path === '/' ? '/' : `${path}/`;
        const names = new Set<string>();
        for (const item of path === '/' ? this.items.values() : this.below(path)) {
            if (item.path.startsWith(prefix))
                names.add(item.path.slice(prefix.length).split('/')[0] as string);
        }
        return [...names];
    }

    /** GetItems on '/': a{sa{sv}}, every item {Value, Text}. */
    getItemsBody(): Buffer {
        if (!this.cachedGetItems) {
            const body = entryArrayBody(this.mapEntries(this.items.values(), entryOf), this.bytes + 64);
            this.bytes = body.length;
            this.cachedGetItems = Buffer.from(body);
        }
        return this.cachedGetItems;
    }

    /** ItemsChanged: a{sa{sv}} of the given items. */
    itemsChangedBody(items: Iterable<Item>): Buffer {
        return entryArrayBody(this.mapEntries(items, entryOf));
    }

    /** PropertiesChanged on an item: a{sv} {Value, Text}. */
    static propertiesChangedBody(item: Item): Buffer {
        return encodeBody('a{sv}', [[['Value', item.value], ['Text', { signature: 's', value: item.text }]]]);
    }

    /** GetValue on a tree node or '/': v holding a{sv}, keys relative to the node. */
    valuesBody(node: string): Buffer {
        if (node === '/') {
            this.cachedRootValues ??= Buffer.from(variantEntryArrayBody('a{sv}', this.mapEntries(this.items.values(), rootEntryOf), this.bytes + 64));
            return this.cachedRootValues;
        }
        const cut = node.length + 1;
        const w = new WireWriter(1024);
        w.signature('a{sv}');
        w.array(8, () => {
            for (const item of this.below(node)) {
                w.pad(8);
                w.string(item.path.slice(cut));
                w.value({ code: 'v', children: [] }, item.value);
            }
        });
        return w.finish();
    }

    /** GetText on a tree node or '/': v holding a{ss}, keys relative to the node. */
    textsBody(node: string): Buffer {
        if (node === '/') {
            this.cachedRootTexts ??= Buffer.from(variantEntryArrayBody('a{ss}', this.mapEntries(this.items.values(), rootTextEntryOf)));
            return this.cachedRootTexts;
        }
        const cut = node.length + 1;
        const w = new WireWriter(1024);
        w.signature('a{ss}');
        w.array(8, () => {
            for (const item of this.below(node)) {
                w.pad(8);
                w.string(item.path.slice(cut));
                w.string(item.text);
            }
        });
        return w.finish();
    }

    private *mapEntries(items: Iterable<Item>, encode: (item: Item) => Buffer): Generator<Buffer> {
        for (const item of items)
            yield encode(item);
    }
}
