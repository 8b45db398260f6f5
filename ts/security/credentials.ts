// The credential files of a GX device, read without blocking the broker: the token users (tokens.json, an array of
// { token_name, password_hash }) and the security-profile password (vncpassword.txt: a crypt(3) hash on its first
// line; an empty file, or an empty first line, means no password). A file read is reused for a second, so a flood
// of logins does not become a flood of file reads.


import type { Logger } from '../log';
import { readSmallFile } from '../util/files';
import type { Timers } from '../util/timers';

export interface TokenUser {
    name: string;
    hash: string;
}

export type PasswordSetting = { kind: 'absent' } | { kind: 'open' } | { kind: 'hash'; hash: string };

const MAX_FILE_BYTES = 1024 * 1024;
const REUSE_MS = 1000;

/** A file's parsed content, read again only when the last reading is older than REUSE_MS (a login storm reads once). */
class Reused<T> {
    private last: { at: number; value: Promise<T> } | undefined;

    constructor(private readonly timers: Timers, private readonly read: () => Promise<T>) {}

    /** The next get() reads again. */
    forget(): void {
        this.last = undefined;
    }

    get(): Promise<T> {
        const now = this.timers.now();
        if (this.last && now - this.last.at < REUSE_MS)
            return this.last.value;
        this.last = { at: now, value: this.read() };
        return this.last.value;
    }
}

export class Credentials {
    private readonly tokens: Reused<TokenUser[] | undefined>;
    private readonly password: Reused<PasswordSetting>;
    private lastTokenProblem = '';

    constructor(
        private tokensFile: string,
        private passwordFile: string,
        timers: Timers,
        private readonly log: Logger,
    ) {
        this.tokens = new Reused(timers, () => this.readTokens());
        this.password = new Reused(timers, () => this.readPassword());
    }

    /** A reload's files: read at the next login. */
    setFiles(tokensFile: string, passwordFile: string): void {
        if (tokensFile !== this.tokensFile) {
            this.tokensFile = tokensFile;
            this.lastTokenProblem = '';
            this.tokens.forget();
        }
        if (passwordFile !== this.passwordFile) {
            this.passwordFile = passwordFile;
            this.password.forget();
        }
    }

    /** The token users, or undefined when there is no (usable) tokens file. */
    tokenUsers(): Promise<TokenUser[] | undefined> {
        return this.tokens.get();
    }

    private async readTokens(): Promise<TokenUser[] | undefined> {
        let problem = '';
        let users: TokenUser[] | undefined;
        try {
            const bytes = await readSmallFile(this.tokensFile, MAX_FILE_BYTES);
            if (bytes === undefined)
                return undefined;
            const doc: unknown = JSON.parse(bytes.toString('utf8'));
            if (!Array.isArray(doc))
                throw new Error('it is not a JSON array');
            users = [];
            for (const row of doc) {
                if (typeof row === 'object' && row !== null && typeof (row as Record<string, unknown>).token_name === 'string'
                    && typeof (row as Record<string, unknown>).password_hash === 'string')
                    users.push({ name: (row as Record<string, string>).token_name!, hash: (row as Record<string, string>).password_hash! });
                else
                    problem = 'a row without a string token_name and password_hash was skipped';
            }
        } catch (err) {
            problem = err instanceof Error ? err.message : String(err);
            users = undefined;
        }
        if (problem !== '' && problem !== this.lastTokenProblem)
            this.log.error(`the token file '${this.tokensFile}': ${problem}`);
        this.lastTokenProblem = problem;
        return users;
    }

    /** The security-profile password setting. */
    passwordSetting(): Promise<PasswordSetting> {
        return this.password.get();
    }

    private async readPassword(): Promise<PasswordSetting> {
        try {
            const bytes = await readSmallFile(this.passwordFile, MAX_FILE_BYTES);
            if (bytes === undefined)
                return { kind: 'absent' };
            if (bytes.length === 0)
                return { kind: 'open' };
            const first = (bytes.toString('utf8').split('\n')[0] ?? '').trim();
            return first === '' ? { kind: 'open' } : { kind: 'hash', hash: first };
        } catch (err) {
            this.log.error(`cannot read the password file '${this.passwordFile}': ${err instanceof Error ? err.message : String(err)}`);
            return { kind: 'absent' };
        }
    }
}
