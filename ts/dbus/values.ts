// Values as they come off the bus, in a form that keeps what JSON output needs to know: every D-Bus integer type
// becomes a bigint (no precision lost, int64 included), a double stays a number, so 936 (int32) and 936.0
// (double) stay different. Empty arrays of any type are the Venus "invalid" value, null.

import type { TypeNode } from './signature';
import { isDict, parseSingleType, SignatureError } from './signature';

export const UNKNOWN_TYPE: unique symbol = Symbol('unknown_type');

export type VeValue = null | boolean | string | bigint | number | VeValue[] | VeDict | typeof UNKNOWN_TYPE;
export type VeDict = Map<string, VeValue>;

/** The shape of dbus-next's Variant. */
export interface VariantLike {
    signature: string;
    value: unknown;
}

/** Called for each thing in a value that could not be taken as it is; the value is still converted as well as it can be. */
export type ProblemSink = (cause: string) => void;

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

/** Whether two values are the same (same types, same content). */
export function sameValue(a: VeValue | undefined, b: VeValue | undefined): boolean {
    if (a === b)
        return true;
    if (typeof a === 'number' && typeof b === 'number')
        return Object.is(a, b) || (Number.isNaN(a) && Number.isNaN(b));
    if (Array.isArray(a) && Array.isArray(b))
        return a.length === b.length && a.every((x, i) => sameValue(x, b[i]));
    if (a instanceof Map && b instanceof Map) {
        if (a.size !== b.size)
            return false;
        for (const [k, v] of a)
            if (!b.has(k) || !sameValue(v, b.get(k)))
                return false;
        return true;
    }
    return false;
}
