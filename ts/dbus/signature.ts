// D-Bus type signatures as trees: enough to interpret the values dbus-next hands over, whose JavaScript form
// alone does not say whether 936 was an int32 or a double.

export type TypeCode = 'y' | 'b' | 'n' | 'q' | 'i' | 'u' | 'x' | 't' | 'd' | 's' | 'o' | 'g' | 'h' | 'v' | 'a' | '(' | '{';

export interface TypeNode {
    code: TypeCode;
    /** 'a': one child (the element type; a dict entry for dicts); '(' : the members; '{': key and value. */
    children: TypeNode[];
}

const BASIC = new Set<string>(['y', 'b', 'n', 'q', 'i', 'u', 'x', 't', 'd', 's', 'o', 'g', 'h']);
const MAX_DEPTH = 64;

export class SignatureError extends Error {}

/** Parses one or more complete types. Throws SignatureError on anything the D-Bus spec does not allow. */
export function parseSignature(signature: string): TypeNode[] {
    if (signature.length > 255)
        throw new SignatureError(`signature longer than 255 characters: '${signature.slice(0, 40)}…'`);
    let pos = 0;

    function one(depth: number): TypeNode {
        if (depth > MAX_DEPTH)
            throw new SignatureError(`signature '${signature}' nests deeper than ${MAX_DEPTH}`);
        const c = signature[pos++];
        if (c === undefined)
            throw new SignatureError(`signature '${signature}' ends early`);
        if (BASIC.has(c) || c === 'v')
            return { code: c as TypeCode, children: [] };
        if (c === 'a') {
            if (signature[pos] === '{') {
                pos++;
                const key = one(depth + 1);
                if (!BASIC.has(key.code))
                    throw new SignatureError(`signature '${signature}': a dict key must be a basic type`);
                const value = one(depth + 1);
                if (signature[pos++] !== '}')
                    throw new SignatureError(`signature '${signature}': a dict entry holds exactly two types`);
                return { code: 'a', children: [{ code: '{', children: [key, value] }] };
            }
            return { code: 'a', children: [one(depth + 1)] };
        }
        if (c === '(') {
            const members: TypeNode[] = [];
            while (signature[pos] !== ')') {
                if (pos >= signature.length)
                    throw new SignatureError(`signature '${signature}': unclosed struct`);
                members.push(one(depth + 1));
            }
            pos++;
            if (members.length === 0)
                throw new SignatureError(`signature '${signature}': empty struct`);
            return { code: '(', children: members };
        }
        throw new SignatureError(`signature '${signature}': unexpected '${c}'`);
    }

    const types: TypeNode[] = [];
    while (pos < signature.length)
        types.push(one(0));
    return types;
}

// Variants carry their signature as text, and the same few ('d', 'i', 'ai', ...) come again and again.
const singleTypes = new Map<string, TypeNode>();

/** One complete type, e.g. a variant's signature. Parsed trees are shared: do not modify them. */
export function parseSingleType(signature: string): TypeNode {
    const cached = singleTypes.get(signature);
    if (cached)
        return cached;
    const types = parseSignature(signature);
    if (types.length !== 1)
        throw new SignatureError(`'${signature}' is not a single complete type`);
    if (singleTypes.size < 1000)
        singleTypes.set(signature, types[0]!);
    return types[0]!;
}

export function isDict(node: TypeNode): boolean {
    return node.code === 'a' && node.children[0]!.code === '{';
}
