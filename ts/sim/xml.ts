// Just enough XML for localsettings' settings.xml: elements, attributes, text, the five named entities and
// character references, comments, CDATA, the declaration and a DOCTYPE (skipped). Throws XmlError on anything
// malformed instead of guessing.

export interface XmlElement {
    tag: string;
    attributes: Record<string, string>;
    children: XmlElement[];
    /** The element's own text (not its children's), entities decoded. */
    text: string;
}

export class XmlError extends Error {}

const NAMED: Record<string, string> = { amp: '&', lt: '<', gt: '>', quot: '"', apos: '\'' };

export function decodeEntities(text: string): string {
    return text.replace(/&(#x[0-9a-fA-F]+|#[0-9]+|[a-zA-Z]+);/g, (whole, ref: string) => {
        if (ref.startsWith('#x'))
            return String.fromCodePoint(parseInt(ref.slice(2), 16));
        if (ref.startsWith('#'))
            return String.fromCodePoint(parseInt(ref.slice(1), 10));
        const named = NAMED[ref];
        if (named === undefined)
            throw new XmlError(`unknown entity ${whole}`);
        return named;
    });
}

const NAME = /[A-Za-z_:][-A-Za-z0-9_:.]*/y;
const ATTRIBUTE = /\s+([A-Za-z_:][-A-Za-z0-9_:.]*)\s*=\s*(?:"([^"]*)"|'([^']*)')/y;

/** Parses a document and returns its root element. */
export function parseXml(source: string): XmlElement {
    let pos = 0;
    const lineAt = (at: number): number => source.slice(0, at).split('\n').length;
    const fail = (message: string): never => {
        throw new XmlError(`line ${lineAt(pos)}: ${message}`);
    };
    const skipMisc = (): void => {
        for (;;) {
            const rest = source.slice(pos, pos + 9);
            if (/^\s/.test(rest)) {
                pos++;
            } else if (rest.startsWith('<?')) {
                const end = source.indexOf('?>', pos);
                if (end < 0)
                    fail('unterminated processing instruction');
                pos = end + 2;
            } else if (rest.startsWith('<!--')) {
                const end = source.indexOf('-->', pos);
                if (end < 0)
                    fail('unterminated comment');
                pos = end + 3;
            } else if (rest.startsWith('<!DOCTYPE')) {
                const end = source.indexOf('>', pos);
                if (end < 0)
                    fail('unterminated DOCTYPE');
                pos = end + 1;
            } else {
                return;
            }
        }
    };
    const element = (): XmlElement => {
        if (source.charAt(pos) !== '<')
            fail('expected an element');
        pos++;
        NAME.lastIndex = pos;
        const name = NAME.exec(source);
        if (!name)
            fail('expected an element name');
        const tag = (name as RegExpExecArray)[0];
        pos = NAME.lastIndex;
        const attributes: Record<string, string> = {};
        for (;;) {
            ATTRIBUTE.lastIndex = pos;
            const attribute = ATTRIBUTE.exec(source);
            if (!attribute)
                break;
            attributes[attribute[1] as string] = decodeEntities(attribute[2] ?? attribute[3] ?? '');
            pos = ATTRIBUTE.lastIndex;
        }
        while (/\s/.test(source.charAt(pos)))
            pos++;
        const result: XmlElement = { tag, attributes, children: [], text: '' };
        if (source.startsWith('/>', pos)) {
            pos += 2;
            return result;
        }
        if (source.charAt(pos) !== '>')
            fail(`malformed start tag <${tag}>`);
        pos++;
        for (;;) {
            if (pos >= source.length)
                fail(`<${tag}> is not closed`);
            if (source.startsWith('</', pos)) {
                const end = source.indexOf('>', pos);
                const closing = source.slice(pos + 2, end).trim();
                if (closing !== tag)
                    fail(`</${closing}> closes <${tag}>`);
                pos = end + 1;
                return result;
            }
            if (source.startsWith('<!--', pos)) {
                const end = source.indexOf('-->', pos);
                if (end < 0)
                    fail('unterminated comment');
                pos = end + 3;
            } else if (source.startsWith('<![CDATA[', pos)) {
                const end = source.indexOf(']]>', pos);
                if (end < 0)
                    fail('unterminated CDATA');
                result.text += source.slice(pos + 9, end);
                pos = end + 3;
            } else if (source.charAt(pos) === '<') {
                result.children.push(element());
            } else {
                const end = source.indexOf('<', pos);
                const stop = end < 0 ? source.length : end;
                result.text += decodeEntities(source.slice(pos, stop));
                pos = stop;
            }
        }
    };
    skipMisc();
    const root = element();
    skipMisc();
    if (pos < source.length)
        fail('content after the root element');
    return root;
}
