// Reference conversion of D-Bus values already decoded as JavaScript (dbus-next's shape: Variants, plain objects for
// dicts, Buffers for 'ay') into the plugin's values. The plugin reads values straight from message bytes
// (readVariant in ts/dbus/values.ts); the tests check it against this independent conversion, and the end-to-end
// tests use it to work out from the bus, with dbus-next, what the plugin must publish.

import type { TypeNode } from '../../ts/dbus/signature';
import { isDict, parseSingleType, SignatureError } from '../../ts/dbus/signature';
import type { ProblemSink, VeDict, VeValue } from '../../ts/dbus/values';
import { UNKNOWN_TYPE } from '../../ts/dbus/values';

/** The shape of dbus-next's Variant. */
export interface VariantLike {
    signature: string;
    value: unknown;
}

export function isVariantLike(v: unknown): v is VariantLike {
    return typeof v === 'object' && v !== null && typeof (v as VariantLike).signature === 'string' && 'value' in v;
}

const INTEGER = new Set(['y', 'n', 'q', 'i', 'u', 'x', 't']);

function integer(code: string, value: unknown, problem: ProblemSink): VeValue {
    if (typeof value === 'bigint')
        return value;
    if (typeof value === 'number' && Number.isInteger(value))
        return BigInt(value);
    problem(`a '${code}' value that is not an integer`);
    return UNKNOWN_TYPE;
}

/**
 * Converts a value of a known D-Bus type. `inVariant` is true when `value` is what a variant held directly: a variant
 * right inside a variant is not unwrapped again (the original publishes it as unknown).
 */
export function fromTyped(type: TypeNode, value: unknown, problem: ProblemSink, inVariant = false): VeValue {
    const code = type.code;
    if (INTEGER.has(code))
        return integer(code, value, problem);
    switch (code) {
        case 'd':
            if (typeof value === 'number')
                return value;
            problem("a 'd' value that is not a number");
            return UNKNOWN_TYPE;
        case 'b':
            if (typeof value === 'boolean')
                return value;
            problem("a 'b' value that is not a boolean");
            return UNKNOWN_TYPE;
        case 's':
            if (typeof value === 'string')
                return value;
            problem("an 's' value that is not a string");
            return UNKNOWN_TYPE;
        case 'o':
        case 'g':
        case 'h':
            problem(`a value of type '${code}', which has no JSON form`);
            return UNKNOWN_TYPE;
        case 'v':
            if (inVariant) {
                problem('a variant inside a variant');
                return UNKNOWN_TYPE;
            }
            return fromVariant(value, problem);
        case '(':
            problem('a struct, which has no JSON form');
            return UNKNOWN_TYPE;
        case 'a':
            return isDict(type) ? dict(type, value, problem) : array(type, value, problem);
        default:
            problem(`a value of type '${code}'`);
            return UNKNOWN_TYPE;
    }
}

function array(type: TypeNode, value: unknown, problem: ProblemSink): VeValue {
    const element = type.children[0]!;
    if (value instanceof Uint8Array) { // dbus-next gives 'ay' as a Buffer
        if (value.length === 0)
            return null;
        return Array.from(value, (b) => BigInt(b));
    }
    if (!Array.isArray(value)) {
        problem('an array value that is not an array');
        return UNKNOWN_TYPE;
    }
    if (value.length === 0)
        return null; // Venus: an empty array of any type is "invalid"
    return value.map((v) => fromTyped(element, v, problem));
}

function dict(type: TypeNode, value: unknown, problem: ProblemSink): VeValue {
    const [key, valueType] = type.children[0]!.children as [TypeNode, TypeNode];
    if (typeof value !== 'object' || value === null || Array.isArray(value)) {
        problem('a dict value that is not a dict');
        return UNKNOWN_TYPE;
    }
    if (key.code !== 's')
        problem(`a dict whose keys are '${key.code}', not strings (keys are written as text)`);
    const out: VeDict = new Map();
    for (const k of Object.keys(value))
        out.set(k, fromTyped(valueType, (value as Record<string, unknown>)[k], problem));
    return out;
}

/** Converts a variant (one level is unwrapped, as the original does). */
export function fromVariant(v: unknown, problem: ProblemSink): VeValue {
    if (!isVariantLike(v)) {
        problem('a value that is not a variant');
        return UNKNOWN_TYPE;
    }
    let type: TypeNode;
    try {
        type = parseSingleType(v.signature);
    } catch (err) {
        problem(err instanceof SignatureError ? err.message : `variant signature '${v.signature}'`);
        return UNKNOWN_TYPE;
    }
    return fromTyped(type, v.value, problem, true);
}
