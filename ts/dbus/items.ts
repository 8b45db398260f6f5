// The bodies Venus services send (GetItems replies, ItemsChanged, PropertiesChanged, GetValue on '/' or a
// sub-tree) as item updates. Pure functions: what does not fit is reported to the problem sink and skipped,
// the rest is still taken.

import type { ProblemSink, VeValue } from './values';
import { fromVariant, isVariantLike } from './values';

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

function isPlainDict(v: unknown): v is Record<string, unknown> {
    return typeof v === 'object' && v !== null && !Array.isArray(v) && !isVariantLike(v) && !(v instanceof Uint8Array);
}

/** GetItems reply or ItemsChanged signal: a{sa{sv}} of path -> { Value, Min, Max, Text, ... }. */
export function parseItemsDict(signature: string, body: readonly unknown[], problem: ProblemSink): ParsedBody {
    if (signature !== 'a{sa{sv}}')
        return { items: [], refused: `signature '${signature}' where 'a{sa{sv}}' was expected` };
    const dict = body[0];
    if (!isPlainDict(dict))
        return { items: [], refused: 'the body is not a dict' };
    const items: ItemUpdate[] = [];
    for (const key of Object.keys(dict)) {
        const entry = dict[key];
        if (!isPlainDict(entry)) {
            problem(`the entry for '${key}' is not a dict`);
            continue;
        }
        const update: ItemUpdate = { path: normalizePath(key) };
        if ('Value' in entry)
            update.value = fromVariant(entry.Value, problem);
        if ('Min' in entry)
            update.min = fromVariant(entry.Min, problem);
        if ('Max' in entry)
            update.max = fromVariant(entry.Max, problem);
        items.push(update);
    }
    return { items };
}

/** PropertiesChanged on an item's own path: a{sv} with a 'Value' entry. */
export function parsePropertiesChanged(signature: string, body: readonly unknown[], path: string, problem: ProblemSink): ParsedBody {
    if (signature !== 'a{sv}')
        return { items: [], refused: `PropertiesChanged with signature '${signature}' where 'a{sv}' was expected` };
    const dict = body[0];
    if (!isPlainDict(dict))
        return { items: [], refused: 'PropertiesChanged whose body is not a dict' };
    if (!('Value' in dict))
        return { items: [], refused: 'PropertiesChanged without a Value' };
    return { items: [{ path: normalizePath(path), value: fromVariant(dict.Value, problem) }] };
}

/** GetValue on '/' or on a sub-tree: a variant holding a{sv}, keys relative to `base` (no leading slash). */
export function parseGetValueTree(signature: string, body: readonly unknown[], base: string, problem: ProblemSink): ParsedBody {
    if (signature !== 'v')
        return { items: [], refused: `GetValue reply with signature '${signature}' where 'v' was expected` };
    const variant = body[0];
    if (!isVariantLike(variant) || variant.signature !== 'a{sv}' || !isPlainDict(variant.value))
        return { items: [], refused: `GetValue on '${base}' did not answer with a tree (a{sv})` };
    const dict = variant.value;
    const prefix = base === '/' ? '' : base;
    return { items: Object.keys(dict).map((key) => ({ path: normalizePath(`${prefix}/${key}`), value: fromVariant(dict[key], problem) })) };
}

/** GetValue on an item: one variant. */
export function parseGetValueItem(signature: string, body: readonly unknown[], path: string, problem: ProblemSink): ParsedBody {
    if (signature !== 'v')
        return { items: [], refused: `GetValue reply with signature '${signature}' where 'v' was expected` };
    return { items: [{ path: normalizePath(path), value: fromVariant(body[0], problem) }] };
}
