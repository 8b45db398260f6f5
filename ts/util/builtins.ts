// Node's built-in modules that the plugin needs only now and then, loaded the first time they are used rather than
// when the plugin starts. Node's built-ins are compiled from source at every start (Debian's libnode has no code
// cache for them): crypto costs about 11 ms of start-up on x86-64, several times that on a GX device's ARM CPU, for
// work (an app's checksum) that comes later. (File work uses fs's callbacks instead of fs/promises: util/files.ts.)
import type * as Crypto from 'node:crypto';
import type * as V8 from 'node:v8';

function once<T>(load: () => T): () => T {
    let loaded: T | undefined;
    return () => (loaded ??= load());
}

/* eslint-disable @typescript-eslint/no-require-imports -- loading on first use is the point of this module */
export const crypto = once(() => require('node:crypto') as typeof Crypto);
export const v8 = once(() => require('node:v8') as typeof V8);
/* eslint-enable @typescript-eslint/no-require-imports */
