// The options of a keep-alive request (R/<id>/keepalive), read the way the original reads them (spec §6.2):
// 'suppress-republish' anywhere in the raw payload suppresses the full republish; otherwise the echo is taken from
// {"keepalive-options":[{"full-publish-completed-echo":"..."}]}, with the original's quirks: the last echo wins, and
// an object without the key, or a non-string echo, ends the search (keeping the echo found before it).

import { parseJson } from '../util/json-parse';

export interface KeepAliveOptions {
    suppressRepublish: boolean;
    echo?: string;
}

const SUPPRESS = Buffer.from('suppress-republish');

/** Keep-alive payloads are small; a bigger one is still a keep-alive, without options. */
const MAX_OPTIONS_BYTES = 64 * 1024;

export function parseKeepAliveOptions(payload: Uint8Array): KeepAliveOptions {
    const bytes = Buffer.from(payload.buffer, payload.byteOffset, payload.byteLength);
    if (bytes.includes(SUPPRESS))
        return { suppressRepublish: true };
    if (bytes.length === 0 || bytes.length > MAX_OPTIONS_BYTES)
        return { suppressRepublish: false };
    let echo: string | undefined;
    try {
        const doc = parseJson(bytes, { maxBytes: MAX_OPTIONS_BYTES, maxDepth: 16 });
        if (doc.kind !== 'object')
            return { suppressRepublish: false };
        const options = doc.members.get('keepalive-options');
        if (options?.kind !== 'array')
            return { suppressRepublish: false };
        for (const element of options.items) {
            if (element.kind !== 'object')
                continue;
            const value = element.members.get('full-publish-completed-echo');
            if (value?.kind !== 'string')
                break;
            echo = value.value;
        }
    } catch {
        // Not JSON: a keep-alive all the same.
    }
    return echo === undefined ? { suppressRepublish: false } : { suppressRepublish: false, echo };
}
