// Values as they come off the bus, in a form that keeps what JSON output needs to know: every D-Bus integer type
// becomes a bigint (no precision lost, int64 included), a double stays a number, so 936 (int32) and 936.0
// (double) stay different. Empty arrays of any type are the Venus "invalid" value, null.

import type { TypeNode } from './signature';
import { parseSingleType, SignatureError } from './signature';
import type { BodyReader } from './wire/decode';

export const UNKNOWN_TYPE: unique symbol = Symbol('unknown_type');

export type VeValue = null | boolean | string | bigint | number | VeValue[] | VeDict | typeof UNKNOWN_TYPE;
export type VeDict = Map<string, VeValue>;

/** Called for each thing in a value that could not be taken as it is; the value is still converted as well as it can be. */
export type ProblemSink = (cause: string) => void;

/**
 * Reads a value of a known D-Bus type straight from a message body, allocating nothing for what it skips: integers
 * as bigint, doubles as numbers, empty arrays as null (Venus's "invalid"), dicts as Maps keyed by the key's text,
 * types without a JSON form (o g h, structs) as UNKNOWN_TYPE. `inVariant`: `r` is at what a variant held directly;
 * a variant right inside a variant is not unwrapped again (the original publishes it as unknown).
 */
export function readTyped(r: BodyReader, type: TypeNode, problem: ProblemSink, inVariant = false): VeValue {
    const code = type.code;
    switch (code) {
        case 'd':
            return r.number('d');
        case 'y': case 'n': case 'q': case 'i': case 'u':
            return BigInt(r.number(code));
        case 'x': case 't':
            return r.bigint(code);
        case 'b':
            return r.boolean();
        case 's':
            return r.string();
        case 'v':
            if (inVariant) {
                r.skip(type);
                problem('a variant inside a variant');
                return UNKNOWN_TYPE;
            }
            return readVariant(r, problem);
        case 'a': {
            const element = type.children[0]!;
            const end = r.arrayEnd(element);
            if (element.code === '{') {
                const [key, valueType] = element.children as [TypeNode, TypeNode];
                if (key.code !== 's')
                    problem(`a dict whose keys are '${key.code}', not strings (keys are written as text)`);
                const out: VeDict = new Map();
                while (r.pos < end) {
                    r.align(8);
                    const k = keyText(r, key);
                    out.set(k, readTyped(r, valueType, problem));
                }
                return out;
            }
            if (r.pos === end)
                return null; // Venus: an empty array of any type is "invalid" (an empty dict is {})
            const out: VeValue[] = [];
            while (r.pos < end)
                out.push(readTyped(r, element, problem));
            return out;
        }
        default:
            // o g h ( : no JSON form
            r.skip(type);
            problem(code === '(' ? 'a struct, which has no JSON form' : `a value of type '${code}', which has no JSON form`);
            return UNKNOWN_TYPE;
    }
}

/** A dict key (a basic type) as text, as dicts are written out in JSON. */
function keyText(r: BodyReader, key: TypeNode): string {
    switch (key.code) {
        case 's': case 'o':
            return r.string(true);
        case 'g':
            return r.signature();
        case 'x': case 't':
            return String(r.bigint(key.code));
        case 'b':
            return String(r.boolean());
        default:
            return String(r.number(key.code));
    }
}

/** Reads a variant (one level is unwrapped, as the original does). */
export function readVariant(r: BodyReader, problem: ProblemSink): VeValue {
    const signature = r.signature();
    let type: TypeNode;
    try {
        type = parseSingleType(signature);
    } catch (err) {
        // The rest of the body cannot be read past a type we cannot parse.
        throw new SignatureError(err instanceof SignatureError ? err.message : `variant signature '${signature}'`);
    }
    return readTyped(r, type, problem, true);
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
