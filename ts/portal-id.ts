// The portal id (VRM unique id) that every Venus topic carries: the first line of /data/venus/unique-id, trimmed,
// or what the plugin options say instead.
import * as fs from 'node:fs';

export const DEFAULT_UNIQUE_ID_FILE = '/data/venus/unique-id';

export function readPortalId(configured: string, file: string): string {
    if (configured !== '')
        return configured;
    let text: string;
    try {
        text = fs.readFileSync(file, 'utf8');
    } catch (err) {
        throw new Error(`cannot read the portal id from '${file}' (${(err as NodeJS.ErrnoException).code ?? String(err)}); `
            + 'set plugin_opt_portal_id or plugin_opt_unique_id_file');
    }
    const id = (text.split('\n')[0] ?? '').trim();
    if (id === '')
        throw new Error(`the portal id file '${file}' is empty; set plugin_opt_portal_id or plugin_opt_unique_id_file`);
    if (/[/+#\s]/.test(id) || id.includes('\0'))
        throw new Error(`the portal id '${id}' from '${file}' cannot be a topic level`);
    return id;
}
