// A written JSON value as the D-Bus value the service receives, by the original plugin's rules: the JSON token
// decides the type (1 -> int32, 1.0 -> double, beyond int32 -> int64), null is the Venus "invalid" (an empty int32
// array), [] is a valid empty array (uint32), arrays must hold one type, objects are refused. Unlike the original,
// integers beyond int64 are refused instead of wrapping around, and the whole value is checked against what D-Bus
// can carry (array nesting, one type per array at every level, strings that are UTF-8 without NUL) before anything
// is sent.

import type { JsonNode } from '../util/json-parse';

export interface DbusTypedValue {
    signature: string;
    /** In dbus-next's form for that signature. */
    value: unknown;
}

export class WriteValueError extends Error {}

const INT32_MIN = -(2n ** 31n);
const INT32_MAX = 2n ** 31n - 1n;
const INT64_MIN = -(2n ** 63n);
const INT64_MAX = 2n ** 63n - 1n;

/** Half of a UTF-16 surrogate pair without its other half: JSON allows "\ud800", UTF-8 (and so D-Bus) does not. */
const LONE_SURROGATE = /[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/;

/** D-Bus allows 32 levels of nested arrays. */
export const MAX_ARRAY_DEPTH = 32;

export function jsonToDbus(node: JsonNode): DbusTypedValue {
    return convert(node, 0);
}

function convert(node: JsonNode, arrayDepth: number): DbusTypedValue {
    switch (node.kind) {
        case 'integer':
            if (node.value >= INT32_MIN && node.value <= INT32_MAX)
                return { signature: 'i', value: Number(node.value) };
            if (node.value >= INT64_MIN && node.value <= INT64_MAX)
                return { signature: 'x', value: node.value };
            throw new WriteValueError(`the integer ${node.value} does not fit in 64 bits`);
        case 'double':
            return { signature: 'd', value: node.value };
        case 'string':
            if (node.value.includes('\0'))
                throw new WriteValueError('a string with a NUL character cannot go over D-Bus');
            if (LONE_SURROGATE.test(node.value))
                throw new WriteValueError('a string with an unpaired surrogate (\\ud800-\\udfff) is not UTF-8 and cannot go over D-Bus');
            return { signature: 's', value: node.value };
        case 'bool':
            return { signature: 'b', value: node.value };
        case 'null':
            if (arrayDepth + 1 > MAX_ARRAY_DEPTH)
                throw new WriteValueError(`arrays nest deeper than D-Bus allows (${MAX_ARRAY_DEPTH})`);
            return { signature: 'ai', value: [] };
        case 'object':
            throw new WriteValueError('an object cannot be written');
        case 'array': {
            if (arrayDepth + 1 > MAX_ARRAY_DEPTH)
                throw new WriteValueError(`arrays nest deeper than D-Bus allows (${MAX_ARRAY_DEPTH})`);
            if (node.items.length === 0)
                return { signature: 'au', value: [] };
            const elements = node.items.map((item) => convert(item, arrayDepth + 1));
            const signature = elements[0]!.signature;
            for (const e of elements)
                if (e.signature !== signature)
                    throw new WriteValueError(`D-Bus arrays hold one type; this one mixes '${signature}' and '${e.signature}'`);
            return { signature: `a${signature}`, value: elements.map((e) => e.value) };
        }
    }
}
