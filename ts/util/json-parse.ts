// A JSON parser that keeps what JSON.parse throws away: whether a number was written as an integer (`1`) or not
// (`1.0`, `1e2`). Writes to D-Bus depend on it (int32 versus double). It follows the parser of the original plugin
// (nlohmann::json): a UTF-8 byte-order mark is skipped, duplicate keys keep the last value, trailing garbage,
// NaN/Infinity and numbers that overflow a double are errors. It never recurses deeper than its depth limit and
// refuses input over its size limit, so a hostile payload costs bounded time and memory.

export type JsonNode =
    | { kind: 'null' }
    | { kind: 'bool'; value: boolean }
    | { kind: 'string'; value: string }
    | { kind: 'integer'; value: bigint }
    | { kind: 'double'; value: number }
    | { kind: 'array'; items: JsonNode[] }
    | { kind: 'object'; members: Map<string, JsonNode> };

export interface JsonLimits {
    /** Input size in bytes (UTF-8). */
    maxBytes: number;
    /** Nesting of arrays and objects. */
    maxDepth: number;
}

export const defaultJsonLimits: Readonly<JsonLimits> = { maxBytes: 1024 * 1024, maxDepth: 64 };

export class JsonParseError extends Error {
    constructor(message: string, readonly offset: number) {
        super(`${message} at offset ${offset}`);
    }
}

// Made on first use: TextDecoder is a built-in module that would be compiled at every start otherwise.
let decoder: InstanceType<typeof TextDecoder> | undefined;

export function parseJson(input: string | Uint8Array, limits: JsonLimits = defaultJsonLimits): JsonNode {
    let text: string;
    if (typeof input === 'string') {
        if (Buffer.byteLength(input) > limits.maxBytes)
            throw new JsonParseError(`input larger than ${limits.maxBytes} bytes`, 0);
        text = input;
    } else {
        if (input.byteLength > limits.maxBytes)
            throw new JsonParseError(`input larger than ${limits.maxBytes} bytes`, 0);
        try {
            text = (decoder ??= new TextDecoder('utf-8', { fatal: true, ignoreBOM: true })).decode(input);
        } catch {
            throw new JsonParseError('invalid UTF-8', 0);
        }
    }
    return new Parser(text, limits.maxDepth).document();
}

class Parser {
    private pos = 0;

    constructor(private readonly s: string, private readonly maxDepth: number) {}

    document(): JsonNode {
        if (this.s.charCodeAt(0) === 0xfeff)
            this.pos = 1;
        this.ws();
        const v = this.value(0);
        this.ws();
        if (this.pos !== this.s.length)
            this.fail('unexpected text after the value');
        return v;
    }

    private fail(message: string): never {
        throw new JsonParseError(message, this.pos);
    }

    private ws(): void {
        for (;;) {
            const c = this.s.charCodeAt(this.pos);
            if (c === 0x20 || c === 0x09 || c === 0x0a || c === 0x0d)
                this.pos++;
            else
                return;
        }
    }

    private value(depth: number): JsonNode {
        const c = this.s[this.pos];
        switch (c) {
            case '{': return this.object(depth + 1);
            case '[': return this.array(depth + 1);
            case '"': return { kind: 'string', value: this.string() };
            case 't': this.literal('true'); return { kind: 'bool', value: true };
            case 'f': this.literal('false'); return { kind: 'bool', value: false };
            case 'n': this.literal('null'); return { kind: 'null' };
            case undefined: return this.fail('unexpected end of input');
            default:
                if (c === '-' || (c >= '0' && c <= '9'))
                    return this.number();
                return this.fail(`unexpected character '${c}'`);
        }
    }

    private literal(word: string): void {
        if (this.s.startsWith(word, this.pos))
            this.pos += word.length;
        else
            this.fail(`invalid literal (expected '${word}')`);
    }

    private enter(depth: number): void {
        if (depth > this.maxDepth)
            this.fail(`nesting deeper than ${this.maxDepth}`);
    }

    private array(depth: number): JsonNode {
        this.enter(depth);
        this.pos++;
        const items: JsonNode[] = [];
        this.ws();
        if (this.s[this.pos] === ']') {
            this.pos++;
            return { kind: 'array', items };
        }
        for (;;) {
            this.ws();
            items.push(this.value(depth));
            this.ws();
            const c = this.s[this.pos++];
            if (c === ']')
                return { kind: 'array', items };
            if (c !== ',')
                this.fail("expected ',' or ']'");
        }
    }

    private object(depth: number): JsonNode {
        this.enter(depth);
        this.pos++;
        const members = new Map<string, JsonNode>();
        this.ws();
        if (this.s[this.pos] === '}') {
            this.pos++;
            return { kind: 'object', members };
        }
        for (;;) {
            this.ws();
            if (this.s[this.pos] !== '"')
                this.fail('expected a string key');
            const key = this.string();
            this.ws();
            if (this.s[this.pos++] !== ':')
                this.fail("expected ':'");
            this.ws();
            members.delete(key); // the last duplicate wins, and takes the last place
            members.set(key, this.value(depth));
            this.ws();
            const c = this.s[this.pos++];
            if (c === '}')
                return { kind: 'object', members };
            if (c !== ',')
                this.fail("expected ',' or '}'");
        }
    }

    private string(): string {
        this.pos++; // opening quote
        let out = '';
        let runStart = this.pos;
        for (;;) {
            const c = this.s.charCodeAt(this.pos);
            if (Number.isNaN(c))
                this.fail('unterminated string');
            if (c === 0x22) { // "
                out += this.s.slice(runStart, this.pos);
                this.pos++;
                return out;
            }
            if (c < 0x20)
                this.fail('control character in a string');
            if (c >= 0xd800 && c <= 0xdfff) {
                // Raw surrogates in a JS string can only come from a string input; they must pair up.
                const next = this.s.charCodeAt(this.pos + 1);
                if (c > 0xdbff || !(next >= 0xdc00 && next <= 0xdfff))
                    this.fail('unpaired surrogate in a string');
                this.pos += 2;
                continue;
            }
            if (c !== 0x5c) { // not a backslash
                this.pos++;
                continue;
            }
            out += this.s.slice(runStart, this.pos);
            const e = this.s[this.pos + 1];
            this.pos += 2;
            switch (e) {
                case '"': out += '"'; break;
                case '\\': out += '\\'; break;
                case '/': out += '/'; break;
                case 'b': out += '\b'; break;
                case 'f': out += '\f'; break;
                case 'n': out += '\n'; break;
                case 'r': out += '\r'; break;
                case 't': out += '\t'; break;
                case 'u': out += this.unicodeEscape(); break;
                default: this.fail('invalid escape in a string');
            }
            runStart = this.pos;
        }
    }

    private hex4(): number {
        const h = this.s.slice(this.pos, this.pos + 4);
        if (!/^[0-9a-fA-F]{4}$/.test(h))
            this.fail('invalid \\u escape');
        this.pos += 4;
        return parseInt(h, 16);
    }

    private unicodeEscape(): string {
        const first = this.hex4();
        if (first >= 0xdc00 && first <= 0xdfff)
            this.fail('lone low surrogate in a \\u escape');
        if (first >= 0xd800 && first <= 0xdbff) {
            if (this.s[this.pos] !== '\\' || this.s[this.pos + 1] !== 'u')
                this.fail('high surrogate not followed by a low surrogate');
            this.pos += 2;
            const second = this.hex4();
            if (second < 0xdc00 || second > 0xdfff)
                this.fail('high surrogate not followed by a low surrogate');
            return String.fromCharCode(first, second);
        }
        return String.fromCharCode(first);
    }

    private number(): JsonNode {
        const start = this.pos;
        const m = /-?(?:0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?/y;
        m.lastIndex = start;
        const found = m.exec(this.s);
        if (!found || found[0] === '-')
            this.fail('invalid number');
        const token = found[0];
        this.pos = start + token.length;
        const next = this.s[this.pos];
        if (next !== undefined && /[0-9.eE+-]/.test(next))
            this.fail('invalid number');
        if (found[1] === undefined && found[2] === undefined)
            return { kind: 'integer', value: BigInt(token) };
        const value = Number(token);
        if (!Number.isFinite(value))
            this.fail('number out of the range of a double');
        return { kind: 'double', value };
    }
}
