// A message body made from JavaScript values, as the plugin's client hands one over: encoded by the plugin's own
// encoder, then read back on demand (values() or a reader). Fakes use it to speak as the bus would.
import type { Body } from '../../ts/dbus/connection';
import { BodyReader, decodeBody } from '../../ts/dbus/wire/decode';
import { encodeBody } from '../../ts/dbus/wire/encode';

export function body(signature: string, values: readonly unknown[]): Body {
    const bytes = encodeBody(signature, values);
    return {
        signature,
        values: () => decodeBody(bytes, 0, 0, bytes.length, true, signature),
        reader: () => new BodyReader(bytes, 0, 0, bytes.length, true),
    };
}
