// Values as the simulated services hold them: dbus-next Variants on the wire, plus the Python view velib takes
// of them (ve_utils unwrap/wrap), which decides SetValue's equality check, type coercion and the default texts.
import { Variant } from 'dbus-next';

import type { SigNode } from '../dbus/wire/encode';
import { parseSingleType } from '../dbus/wire/encode';

/** A value as velib sees it after unwrap_dbus_value: Python's None, int, float, bool, str, list, dict. */
export type PyValue =
    | { kind: 'none' }
    | { kind: 'int'; value: bigint }
    | { kind: 'float'; value: number }
    | { kind: 'bool'; value: boolean }
    | { kind: 'str'; value: string }
    | { kind: 'list'; value: PyValue[] }
    | { kind: 'dict'; value: Array<[string, PyValue]> };

export const NONE: PyValue = { kind: 'none' };

/** Venus' invalid value: an empty array of int32. */
export function invalidVariant(): Variant {
    return new Variant('ai', []);
}

/** Any empty array is "invalid" to velib and dbus-flashmq (dicts excluded: an empty dict stays a dict). */
export function isInvalid(v: Variant): boolean {
    if (!v.signature.startsWith('a') || v.signature.startsWith('a{'))
        return false;
    const value = v.value as { length?: number } | null;
    return value !== null && typeof value === 'object' && value.length === 0;
}

// ---------------------------------------------------------------------------------------------------------------
// Recording types

export class ValueError extends Error {}

const SCALAR_TYPES: Record<string, string> = {
    INT32: 'i',
    INT16: 'n',
    UINT32: 'u',
    UINT16: 'q',
    BYTE: 'y',
    DOUBLE: 'd',
    STRING: 's',
    BOOLEAN: 'b',
};

const INTEGER_RANGES: Record<string, [number, number]> = {
    i: [-0x80000000, 0x7fffffff],
    n: [-0x8000, 0x7fff],
    u: [0, 0xffffffff],
    q: [0, 0xffff],
    y: [0, 0xff],
};

/** The D-Bus signature of a recording TYPE ('ARRAY' alone: the invalid value, 'ai'). */
export function signatureOfType(type: string): string {
    const scalar = SCALAR_TYPES[type];
    if (scalar)
        return scalar;
    if (type === 'ARRAY')
        return 'ai';
    const sub = /^ARRAY\[(.+)\]$/.exec(type);
    if (sub?.[1])
        return `a${signatureOfType(sub[1])}`;
    throw new ValueError(`unknown recording type '${type}'`);
}

function parseInteger(text: string, signature: string): number {
    const trimmed = text.trim();
    if (!/^[+-]?\d+$/.test(trimmed))
        throw new ValueError(`'${text}' is not an integer`);
    const n = Number(trimmed);
    const range = INTEGER_RANGES[signature];
    if (range && (n < range[0] || n > range[1]))
        throw new ValueError(`${trimmed} is out of range for '${signature}'`);
    return n;
}

function parseBoolean(text: string): boolean {
    const t = text.trim().toLowerCase();
    if (t === 'true' || t === '1')
        return true;
    if (t === 'false' || t === '0')
        return false;
    throw new ValueError(`'${text}' is not a boolean`);
}

/** Python float(): decimal and exponent forms, inf/infinity/nan, surrounding blanks. */
export function parsePythonFloat(text: string): number | undefined {
    const t = text.trim().toLowerCase().replace(/(\d)_(?=\d)/g, '$1');
    if (/^[+-]?(\d+\.?\d*|\.\d+)(e[+-]?\d+)?$/.test(t))
        return Number(t);
    const special = /^([+-]?)(inf|infinity|nan)$/.exec(t);
    if (special)
        return special[2] === 'nan' ? NaN : (special[1] === '-' ? -Infinity : Infinity);
    return undefined;
}

/** Python int() of a string: optional sign, digits (underscores between them), blanks around. */
export function parsePythonInt(text: string): bigint | undefined {
    const t = text.trim();
    if (!/^[+-]?\d+(_\d+)*$/.test(t))
        return undefined;
    return BigInt(t.replace(/_/g, ''));
}

function elementValue(element: unknown, signature: string): unknown {
    if (signature.startsWith('a')) {
        if (!Array.isArray(element))
            throw new ValueError('expected a nested list');
        return element.map((e) => elementValue(e, signature.slice(1)));
    }
    switch (signature) {
        case 'd':
            if (typeof element !== 'number')
                throw new ValueError(`${String(element)} is not a number`);
            return element;
        case 's':
            return typeof element === 'string' ? element : JSON.stringify(element);
        case 'b':
            return typeof element === 'boolean' ? element : parseBoolean(String(element));
        default:
            if (typeof element !== 'number')
                throw new ValueError(`${String(element)} is not an integer`);
            return parseInteger(String(element), signature);
    }
}

/** A recorded TYPE and value text → the Variant the device had on the bus. Throws ValueError. */
export function recordedVariant(type: string, text: string): Variant {
    const signature = signatureOfType(type);
    if (type === 'ARRAY')
        return invalidVariant();
    switch (signature) {
        case 'd': {
            const n = parsePythonFloat(text);
            if (n === undefined)
                throw new ValueError(`'${text}' is not a number`);
            return new Variant('d', n);
        }
        case 's':
            return new Variant('s', text);
        case 'b':
            return new Variant('b', parseBoolean(text));
        default:
            break;
    }
    if (signature.startsWith('a')) {
        let list: unknown;
        try {
            list = JSON.parse(text);
        } catch {
            throw new ValueError(`'${text}' is not a JSON list`);
        }
        if (!Array.isArray(list))
            throw new ValueError(`'${text}' is not a JSON list`);
        const elementSignature = signature.slice(1);
        const elements = list.map((e) => elementValue(e, elementSignature));
        if (elementSignature === 'y')
            return new Variant('ay', Buffer.from(elements as number[]));
        return new Variant(signature, elements);
    }
    return new Variant(signature, parseInteger(text, signature));
}

// ---------------------------------------------------------------------------------------------------------------
// velib's Python view

function unwrapNode(type: SigNode, value: unknown): PyValue {
    switch (type.code) {
        case 'y': case 'n': case 'q': case 'i': case 'u': case 'h': case 'x': case 't':
            return { kind: 'int', value: BigInt(value as number | bigint) };
        case 'd':
            return { kind: 'float', value: value as number };
        case 'b':
            return { kind: 'bool', value: Boolean(value) };
        case 's': case 'o': case 'g':
            return { kind: 'str', value: String(value) };
        case 'v':
            return unwrap(value as Variant);
        case '(':
            return { kind: 'list', value: type.children.map((member, i) => unwrapNode(member, (value as unknown[])[i])) };
        case 'a': {
            const element = type.children[0] as SigNode;
            if (element.code === '{') {
                const valueType = element.children[1] as SigNode;
                const entries: Array<[unknown, unknown]> = value instanceof Map
                    ? [...(value as Map<unknown, unknown>).entries()]
                    : Object.entries(value as Record<string, unknown>);
                return { kind: 'dict', value: entries.map(([k, v]) => [String(k), unwrapNode(valueType, v)]) };
            }
            const elements = value instanceof Uint8Array ? [...value] : value as unknown[];
            if (elements.length === 0)
                return NONE;
            return { kind: 'list', value: elements.map((e) => unwrapNode(element, e)) };
        }
        default:
            return NONE;
    }
}

/** velib's unwrap_dbus_value: every integer type → int, empty array → None, and so on. */
export function unwrap(v: Variant): PyValue {
    return unwrapNode(parseSingleType(v.signature), v.value);
}

/** How many variant levels wrap the value (2 or more: a "double-wrapped" write). */
export function variantDepth(v: Variant): number {
    let depth = 1;
    let current: Variant = v;
    while (current.signature === 'v') {
        current = current.value as Variant;
        depth++;
    }
    return depth;
}

const INT32_MIN = -(2n ** 31n);
const INT32_MAX = 2n ** 31n - 1n;

/** velib's wrap_dbus_value: None → 'ai' [], int → 'i' (or 'x'), [] → 'au' [], list → 'av', dict → 'a{sv}'. */
export function wrap(p: PyValue): Variant {
    switch (p.kind) {
        case 'none':
            return invalidVariant();
        case 'float':
            return new Variant('d', p.value);
        case 'bool':
            return new Variant('b', p.value);
        case 'int':
            return p.value >= INT32_MIN && p.value <= INT32_MAX ? new Variant('i', Number(p.value)) : new Variant('x', p.value);
        case 'str':
            return new Variant('s', p.value);
        case 'list':
            return p.value.length === 0 ? new Variant('au', []) : new Variant('av', p.value.map(wrap));
        case 'dict': {
            const out: Record<string, Variant> = {};
            for (const [k, v] of p.value)
                out[k] = wrap(v);
            return new Variant('a{sv}', out);
        }
    }
}

function numeric(p: PyValue): number | bigint | undefined {
    switch (p.kind) {
        case 'int': return p.value;
        case 'float': return p.value;
        case 'bool': return p.value ? 1n : 0n;
        default: return undefined;
    }
}

/** Python ==: numbers compare by value across int/float/bool, containers element by element. */
export function pyEquals(a: PyValue, b: PyValue): boolean {
    const na = numeric(a);
    const nb = numeric(b);
    if (na !== undefined || nb !== undefined) {
        if (na === undefined || nb === undefined)
            return false;
        if (typeof na === 'bigint' && typeof nb === 'bigint')
            return na === nb;
        return Number(na) === Number(nb);
    }
    switch (a.kind) {
        case 'none':
            return b.kind === 'none';
        case 'str':
            return b.kind === 'str' && a.value === b.value;
        case 'list':
            return b.kind === 'list' && a.value.length === b.value.length && a.value.every((e, i) => pyEquals(e, b.value[i] as PyValue));
        case 'dict': {
            if (b.kind !== 'dict' || a.value.length !== b.value.length)
                return false;
            const other = new Map(b.value);
            return a.value.every(([k, v]) => {
                const w = other.get(k);
                return w !== undefined && pyEquals(v, w);
            });
        }
        default:
            return false;
    }
}

/** Python repr() of a float: the shortest round-trip digits, exponent form below 1e-4 and from 1e16. */
export function pyFloatRepr(x: number): string {
    if (Number.isNaN(x))
        return 'nan';
    if (!Number.isFinite(x))
        return x > 0 ? 'inf' : '-inf';
    if (x === 0)
        return Object.is(x, -0) ? '-0.0' : '0.0';
    const [mantissa = '', exponentText = '0'] = x.toExponential().split('e');
    const exponent = Number(exponentText);
    if (exponent < -4 || exponent >= 16) {
        const sign = exponent < 0 ? '-' : '+';
        const abs = Math.abs(exponent);
        return `${mantissa}e${sign}${abs < 10 ? '0' : ''}${abs}`;
    }
    const text = String(x);
    return /[.e]/.test(text) ? text : `${text}.0`;
}

function pyStrRepr(s: string): string {
    const quote = s.includes('\'') && !s.includes('"') ? '"' : '\'';
    let out = quote;
    for (const ch of s) {
        if (ch === '\\')
            out += '\\\\';
        else if (ch === quote)
            out += `\\${quote}`;
        else if (ch === '\n')
            out += '\\n';
        else if (ch === '\r')
            out += '\\r';
        else if (ch === '\t')
            out += '\\t';
        else if (ch < ' ' || ch === '\x7f')
            out += `\\x${ch.charCodeAt(0).toString(16).padStart(2, '0')}`;
        else
            out += ch;
    }
    return out + quote;
}

/** Python repr(). */
export function pyRepr(p: PyValue): string {
    return p.kind === 'str' ? pyStrRepr(p.value) : pyStr(p);
}

/** Python str(). */
export function pyStr(p: PyValue): string {
    switch (p.kind) {
        case 'none': return 'None';
        case 'int': return p.value.toString();
        case 'float': return pyFloatRepr(p.value);
        case 'bool': return p.value ? 'True' : 'False';
        case 'str': return p.value;
        case 'list': return `[${p.value.map(pyRepr).join(', ')}]`;
        case 'dict': return `{${p.value.map(([k, v]) => `${pyStrRepr(k)}: ${pyRepr(v)}`).join(', ')}}`;
    }
}

/** velib's GetText without a gettextcallback: '---' for invalid, '0x%X' for /ProductId, else str(value). */
export function velibText(path: string, p: PyValue): string {
    if (p.kind === 'none')
        return '---';
    if (path === '/ProductId' && p.kind === 'int')
        return `0x${p.value.toString(16).toUpperCase()}`;
    return pyStr(p);
}

export class CoercionError extends Error {}

/** Python int(x) (None is not accepted). */
export function pyInt(p: PyValue): bigint {
    switch (p.kind) {
        case 'int': return p.value;
        case 'bool': return p.value ? 1n : 0n;
        case 'float':
            if (!Number.isFinite(p.value))
                throw new CoercionError(`cannot convert ${pyFloatRepr(p.value)} to int`);
            return BigInt(Math.trunc(p.value));
        case 'str': {
            const n = parsePythonInt(p.value);
            if (n === undefined)
                throw new CoercionError(`invalid literal for int(): ${pyStrRepr(p.value)}`);
            return n;
        }
        default:
            throw new CoercionError(`int() argument must be a string or a number, not ${p.kind}`);
    }
}

/** Python float(x) (None is not accepted). */
export function pyFloat(p: PyValue): number {
    switch (p.kind) {
        case 'int': return Number(p.value);
        case 'bool': return p.value ? 1 : 0;
        case 'float': return p.value;
        case 'str': {
            const n = parsePythonFloat(p.value);
            if (n === undefined)
                throw new CoercionError(`could not convert string to float: ${pyStrRepr(p.value)}`);
            return n;
        }
        default:
            throw new CoercionError(`float() argument must be a string or a number, not ${p.kind}`);
    }
}

export type ValueType = 'int' | 'float' | 'str';

/** velib's coerce_value with a valuetype; None passes through. */
export function coerce(p: PyValue, type: ValueType | undefined): PyValue {
    if (type === undefined || p.kind === 'none')
        return p;
    switch (type) {
        case 'int': return { kind: 'int', value: pyInt(p) };
        case 'float': return { kind: 'float', value: pyFloat(p) };
        case 'str': return { kind: 'str', value: pyStr(p) };
    }
}

/** A short, readable form of a Variant for logs: "d 52.4", "ai []". */
export function describeVariant(v: Variant): string {
    const show = (x: unknown): string => {
        if (typeof x === 'bigint')
            return x.toString();
        if (x instanceof Uint8Array)
            return `[${[...x].join(', ')}]`;
        if (x instanceof Variant)
            return `<${describeVariant(x)}>`;
        if (Array.isArray(x))
            return `[${x.map(show).join(', ')}]`;
        if (x !== null && typeof x === 'object')
            return `{${Object.entries(x).map(([k, e]) => `${k}: ${show(e)}`).join(', ')}}`;
        return typeof x === 'string' ? JSON.stringify(x) : String(x);
    };
    return `${v.signature} ${show(v.value)}`;
}
