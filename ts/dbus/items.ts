// The bodies Venus services send (GetItems replies, ItemsChanged, PropertiesChanged, GetValue on '/' or a
// sub-tree) as item updates. Pure functions over a message body: they read only the entries they use (an item's
// path, Value, Min and Max) and skip the rest (Text, ...) without building it. What does not fit is reported to the
// problem sink and skipped, the rest is still taken; a body that cannot be read at all is refused.

import type { Body } from './connection';
import type { TypeNode } from './signature';
import { parseSingleType, SignatureError } from './signature';
import type { ProblemSink, VeValue } from './values';
import { readVariant } from './values';
import type { BodyReader } from './wire/decode';
import { DecodeError } from './wire/decode';

export interface ItemUpdate {
    /** Always starts with '/'. */
    path: string;
    /** undefined: not part of this update (the cached value stays). */
    value?: VeValue;
    min?: VeValue;
    max?: VeValue;
}

export interface ParsedBody {
    items: ItemUpdate[];
    /** Why the body as a whole was refused (nothing taken), if it was. */
    refused?: string;
}

/** '/' + path with runs of '/' collapsed, as the original joins paths. */
export function normalizePath(path: string): string {
    if (path.charCodeAt(0) === 47 && !path.includes('//'))
        return path; // the usual case: already a clean absolute path
    return `/${path}`.replace(/\/{2,}/g, '/');
}

const VARIANT: TypeNode = parseSingleType('v');
const ENTRY_ALIGN = 8;

/** Runs `read` over the body; a body that ends early or holds an unreadable type is refused whole. */
function reading(what: string, read: () => ItemUpdate[]): ParsedBody {
    try {
        return { items: read() };
    } catch (err) {
        if (err instanceof DecodeError || err instanceof SignatureError)
            return { items: [], refused: `${what} that cannot be read: ${err.message}` };
        throw err;
    }
}

/** Reads the entries of an a{sv} at the reader, calling `entry` with each key (the reader at its variant). */
function forEachEntry(r: BodyReader, entry: (key: string) => void): void {
    const end = r.arrayEnd(DICT_ENTRY);
    while (r.pos < end) {
        r.align(ENTRY_ALIGN);
        entry(r.string(true));
    }
    if (r.pos !== end)
        throw new DecodeError('a dict entry runs past the end of its array');
}

const DICT_ENTRY: TypeNode = parseSingleType('a{sv}').children[0]!;
const ITEM_ENTRY: TypeNode = parseSingleType('a{sa{sv}}').children[0]!;

/** One property of an item (the variant after its key) into `update`: Value, Min and Max are kept, others skipped. */
function readProperty(r: BodyReader, key: string, update: ItemUpdate, problem: ProblemSink): void {
    if (key === 'Value')
        update.value = readVariant(r, problem);
    else if (key === 'Min')
        update.min = readVariant(r, problem);
    else if (key === 'Max')
        update.max = readVariant(r, problem);
    else
        r.skip(VARIANT);
}

/** The properties of one item (an a{sv}: Value, Min, Max, Text, ...) into `update`. */
function readProperties(r: BodyReader, update: ItemUpdate, problem: ProblemSink): void {
    forEachEntry(r, (key) => readProperty(r, key, update, problem));
}

/** GetItems reply or ItemsChanged signal: a{sa{sv}} of path -> { Value, Min, Max, Text, ... }. */
export function parseItemsDict(body: Body, problem: ProblemSink): ParsedBody {
    if (body.signature !== 'a{sa{sv}}')
        return { items: [], refused: `signature '${body.signature}' where 'a{sa{sv}}' was expected` };
    return reading('a dict of items', () => {
        const r = body.reader();
        const items: ItemUpdate[] = [];
        const end = r.arrayEnd(ITEM_ENTRY);
        while (r.pos < end) {
            r.align(ENTRY_ALIGN);
            const update: ItemUpdate = { path: normalizePath(r.string(true)) };
            readProperties(r, update, problem);
            items.push(update);
        }
        return items;
    });
}

/** PropertiesChanged on an item's own path: a{sv} with a 'Value' entry. */
export function parsePropertiesChanged(body: Body, path: string, problem: ProblemSink): ParsedBody {
    if (body.signature !== 'a{sv}')
        return { items: [], refused: `PropertiesChanged with signature '${body.signature}' where 'a{sv}' was expected` };
    const parsed = reading('PropertiesChanged', () => {
        const r = body.reader();
        const update: ItemUpdate = { path: normalizePath(path) };
        forEachEntry(r, (key) => {
            if (key === 'Value')
                update.value = readVariant(r, problem);
            else
                r.skip(VARIANT);
        });
        return update.value === undefined ? [] : [update];
    });
    if (parsed.refused === undefined && parsed.items.length === 0)
        return { items: [], refused: 'PropertiesChanged without a Value' };
    return parsed;
}

/** Updates a SignalParser keeps for the next signal; a larger signal's are let go afterwards. */
const KEPT_UPDATES = 256;

/**
 * Reads change signals (ItemsChanged, PropertiesChanged), as parseItemsDict and parsePropertiesChanged do, into
 * update objects it keeps and reuses: a change allocates no update, no list, no closure. What it read (`items`, the
 * first `count` of them) is valid until the next parse; whoever keeps an update copies it (the cache does).
 */
export class SignalParser {
    readonly items: ItemUpdate[] = [];
    count = 0;
    /** Why the last signal was refused as a whole (nothing taken), or undefined. */
    refused: string | undefined;

    /** ItemsChanged: a{sa{sv}} of path -> { Value, Min, Max, Text, ... }. Returns whether it was taken. */
    itemsChanged(body: Body, problem: ProblemSink): boolean {
        this.start();
        if (body.signature !== 'a{sa{sv}}')
            return this.refuse(`signature '${body.signature}' where 'a{sa{sv}}' was expected`);
        try {
            const r = body.reader();
            const end = r.arrayEnd(ITEM_ENTRY);
            while (r.pos < end) {
                r.align(ENTRY_ALIGN);
                const update = this.next(normalizePath(r.string(true)));
                const entriesEnd = r.arrayEnd(DICT_ENTRY);
                while (r.pos < entriesEnd) {
                    r.align(ENTRY_ALIGN);
                    readProperty(r, r.string(true), update, problem);
                }
                if (r.pos !== entriesEnd)
                    throw new DecodeError('a dict entry runs past the end of its array');
            }
            return true;
        } catch (err) {
            return this.failed('a dict of items', err);
        }
    }

    /** PropertiesChanged on an item's own path: a{sv} with a 'Value' entry. Returns whether it was taken. */
    propertiesChanged(body: Body, path: string, problem: ProblemSink): boolean {
        this.start();
        if (body.signature !== 'a{sv}')
            return this.refuse(`PropertiesChanged with signature '${body.signature}' where 'a{sv}' was expected`);
        try {
            const r = body.reader();
            const update = this.next(normalizePath(path));
            const end = r.arrayEnd(DICT_ENTRY);
            while (r.pos < end) {
                r.align(ENTRY_ALIGN);
                if (r.string(true) === 'Value')
                    update.value = readVariant(r, problem);
                else
                    r.skip(VARIANT);
            }
            if (r.pos !== end)
                throw new DecodeError('a dict entry runs past the end of its array');
            if (update.value === undefined) {
                this.count = 0;
                return this.refuse('PropertiesChanged without a Value');
            }
            return true;
        } catch (err) {
            return this.failed('PropertiesChanged', err);
        }
    }

    private start(): void {
        this.count = 0;
        this.refused = undefined;
        if (this.items.length > KEPT_UPDATES)
            this.items.length = KEPT_UPDATES; // the updates of a huge signal before
    }

    private next(path: string): ItemUpdate {
        const i = this.count++;
        let update = this.items[i];
        if (update === undefined) {
            // Every field set, in one order: all updates share one shape.
            update = { path, value: undefined, min: undefined, max: undefined };
            this.items.push(update);
        } else {
            update.path = path;
            update.value = undefined;
            update.min = undefined;
            update.max = undefined;
        }
        return update;
    }

    private refuse(why: string): false {
        this.refused = why;
        return false;
    }

    private failed(what: string, err: unknown): false {
        this.count = 0;
        if (err instanceof DecodeError || err instanceof SignatureError)
            return this.refuse(`${what} that cannot be read: ${err.message}`);
        throw err;
    }
}

/** GetValue on '/' or on a sub-tree: a variant holding a{sv}, keys relative to `base` (no leading slash). */
export function parseGetValueTree(body: Body, base: string, problem: ProblemSink): ParsedBody {
    if (body.signature !== 'v')
        return { items: [], refused: `GetValue reply with signature '${body.signature}' where 'v' was expected` };
    if (!isTreeReply(body))
        return { items: [], refused: `GetValue on '${base}' did not answer with a tree (a{sv})` };
    return reading('a GetValue reply', () => {
        const r = body.reader();
        r.signature();
        const prefix = base === '/' ? '' : base;
        const items: ItemUpdate[] = [];
        forEachEntry(r, (key) => items.push({ path: normalizePath(`${prefix}/${key}`), value: readVariant(r, problem) }));
        return items;
    });
}

/** GetValue on an item: one variant. */
export function parseGetValueItem(body: Body, path: string, problem: ProblemSink): ParsedBody {
    if (body.signature !== 'v')
        return { items: [], refused: `GetValue reply with signature '${body.signature}' where 'v' was expected` };
    return reading('a GetValue reply', () => [{ path: normalizePath(path), value: readVariant(body.reader(), problem) }]);
}

/** Whether a GetValue reply holds a tree (a{sv}) rather than one item's value. */
export function isTreeReply(body: Body): boolean {
    if (body.signature !== 'v')
        return false;
    try {
        return body.reader().signature() === 'a{sv}';
    } catch {
        return false;
    }
}
