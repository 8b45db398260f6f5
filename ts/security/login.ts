// Who may log in (spec §7.1-7.4), first match wins:
//   1. the bridge usernames (GXdbus, GXrpc) are refused at once: a real bridge never logs in, this is an impostor;
//   2. 'dbus-mqtt-integrations' only from localhost;
//   3. localhost clients, with any credentials (privileged);
//   4. token users from tokens.json, by their password hash (not rate limited; only they may log in while LAN MQTT
//      is 'tokens only'); other 'token/...' usernames are refused;
//   5. LAN MQTT must be On (/Settings/Services/MqttLocal);
//   6. the rate limiter must have tokens;
//   7. the security-profile password (vncpassword.txt; an empty one lets everybody in) (privileged).
// Every refusal except 1. is answered after a random 1-6 s, so guessing is slow. Passwords are checked on the thread
// pool, a few at a time, the waiting checks served by source address in turn (check-queue.ts): a flood of guesses
// from one address does not keep the right password from another out; beyond a bound a check is refused.

import type { Logger } from '../log';
import type { AuthResultCode } from '../native/binding';
import { AuthResult } from '../native/binding';
import type { LoginAnswer, LoginRequest } from '../native/broker';
import type { Credentials } from './credentials';
import type { Network } from './networks';
import { isLocalAddress } from './networks';
import type { CheckQueueLimits } from './check-queue';
import { CheckQueue } from './check-queue';
import type { LoginRateLimiter } from './rate-limiter';

export const BRIDGE_USERS: readonly string[] = ['GXdbus', 'GXrpc'];
export const INTEGRATIONS_USER = 'dbus-mqtt-integrations';

export const enum MqttLocalMode {
    Off = 0,
    On = 1,
    TokensOnly = 2,
    Unknown = -1,
}

export interface ClientRecord {
    clientId: string;
    username: string;
    /** Logged in from a local address. */
    local: boolean;
    /** A LAN login (token or password), subject to MqttLocal. */
    lan: boolean;
    /** Logged in with the security-profile password. */
    passwordLogin: boolean;
    privileged: boolean;
}

export interface LoginDeps {
    credentials: Credentials;
    verify(password: string, hash: string): Promise<boolean>;
    limiter: LoginRateLimiter;
    networks(): readonly Network[];
    mqttLocal(): MqttLocalMode;
    /** [0, 1) */
    random(): number;
    log: Logger;
    /** Tells the read ACL whether deliveries to this client count as local. */
    trust(clientId: string, username: string, trusted: boolean): void;
    /** Whether a client is connected under this id with this username (after a takeover, the new one is). */
    connected(clientId: string, username: string): boolean;
    /** Password checks at once (the thread pool's size), and how many may wait. */
    checks: CheckQueueLimits;
}

class Throttle {
    private readonly last = new Map<string, { at: number; suppressed: number }>();
    constructor(private readonly now: () => number, private readonly periodMs = 10_000) {}
    get size(): number {
        return this.last.size;
    }
    /** Whether to log now; the text to append says how many were left out since. */
    pass(cause: string): string | undefined {
        const now = this.now();
        const entry = this.last.get(cause);
        if (entry && now - entry.at < this.periodMs) {
            entry.suppressed++;
            return undefined;
        }
        const suppressed = entry?.suppressed ?? 0;
        if (this.last.size > 1000)
            this.last.clear();
        this.last.set(cause, { at: now, suppressed: 0 });
        return suppressed > 0 ? ` (${suppressed} more like it since the last report)` : '';
    }
}

export class LoginPolicy {
    private readonly clients = new Map<string, ClientRecord>();
    private readonly byUsername = new Map<string, Set<string>>();
    private readonly checks: CheckQueue;
    private readonly throttle: Throttle;

    constructor(private readonly deps: LoginDeps, now: () => number) {
        this.throttle = new Throttle(now);
        this.checks = new CheckQueue(deps.checks);
    }

    private warn(cause: string, message: string): void {
        const suffix = this.throttle.pass(cause);
        if (suffix !== undefined)
            this.deps.log.warning(message + suffix);
    }

    private delayed(result: AuthResultCode): LoginAnswer {
        return { result, delayMs: 1000 + Math.floor(this.deps.random() * 5000) };
    }

    private verify(request: LoginRequest, hash: string): Promise<boolean | 'busy'> {
        return this.checks.run(request.address, () => this.deps.verify(request.password, hash));
    }

    /** A login whose password check found the queue full: refused after the delay, as a wrong password is. */
    private refuseBusy(request: LoginRequest, username: string): LoginAnswer {
        this.warn('busy', `too many password checks waiting from ${request.address || 'an unknown address'}; refusing the login of '${username}'`);
        return this.delayed(AuthResult.loginDenied);
    }

    /** The sizes of what the policy holds, for the stats line. */
    sizes(): Record<string, number> {
        const checks = this.checks.sizes();
        return { loginClients: this.clients.size, loginUsernames: this.byUsername.size, loginThrottle: this.throttle.size,
            passwordChecking: checks.checking, passwordChecksWaiting: checks.waiting };
    }

    private accept(request: LoginRequest, record: Omit<ClientRecord, 'clientId' | 'username'>): LoginAnswer {
        const { clientId, username } = request;
        this.forget(clientId);
        this.clients.set(clientId, { clientId, username, ...record });
        if (clientId !== '' && username !== '') {
            let set = this.byUsername.get(username);
            if (!set) {
                set = new Set();
                this.byUsername.set(username, set);
            }
            set.add(clientId);
        }
        this.deps.trust(clientId, username, record.local);
        return AuthResult.success;
    }

    async decide(request: LoginRequest): Promise<LoginAnswer> {
        const { username, password } = request;
        if (BRIDGE_USERS.includes(username))
            return AuthResult.aclDenied;
        const local = isLocalAddress(request.address, this.deps.networks());
        if (username === INTEGRATIONS_USER)
            return local ? this.accept(request, { local, lan: false, passwordLogin: false, privileged: false }) : this.delayed(AuthResult.loginDenied);
        if (local)
            return this.accept(request, { local, lan: false, passwordLogin: false, privileged: true });

        const tokens = await this.deps.credentials.tokenUsers();
        const token = tokens?.find((t) => t.name === username);
        if (token) {
            const ok = await this.verify(request, token.hash);
            if (ok === 'busy')
                return this.refuseBusy(request, username);
            if (ok)
                return this.accept(request, { local, lan: true, passwordLogin: false, privileged: false });
            this.warn(`token:${username}`, `wrong password for token user '${username}' from ${request.address || 'an unknown address'}`);
            return this.delayed(AuthResult.aclDenied);
        }
        if (username.startsWith('token/')) {
            this.warn(`token:${username}`, `unknown token user '${username}' from ${request.address || 'an unknown address'}`);
            return this.delayed(AuthResult.loginDenied);
        }
        if (this.deps.mqttLocal() !== MqttLocalMode.On) {
            this.warn('lan-off', `refusing the login of '${username}' from ${request.address || 'an unknown address'}: LAN MQTT is not on (/Settings/Services/MqttLocal)`);
            return this.delayed(AuthResult.loginDenied);
        }
        if (!this.deps.limiter.allows()) {
            const t = this.deps.limiter.tokens;
            this.warn('rate', `refusing the login of '${username}' from ${request.address || 'an unknown address'}: too many failed logins (tokens left: ${t.shortTerm} short-term, ${t.longTerm} long-term)`);
            return this.delayed(AuthResult.loginDenied);
        }
        const setting = await this.deps.credentials.passwordSetting();
        let match = setting.kind === 'open';
        if (setting.kind === 'hash') {
            const ok = await this.verify(request, setting.hash);
            if (ok === 'busy')
                return this.refuseBusy(request, username);
            match = ok;
        }
        if (match)
            return this.accept(request, { local, lan: true, passwordLogin: true, privileged: true });
        this.deps.limiter.failed(password);
        return this.delayed(AuthResult.loginDenied);
    }

    private forget(clientId: string): ClientRecord | undefined {
        const record = this.clients.get(clientId);
        if (!record)
            return undefined;
        this.clients.delete(clientId);
        const set = this.byUsername.get(record.username);
        set?.delete(clientId);
        if (set && set.size === 0)
            this.byUsername.delete(record.username);
        return record;
    }

    /** The broker says a client with this id left; a client that took the id over may still be there. */
    onDisconnected(clientId: string): void {
        const record = this.clients.get(clientId);
        if (!record || this.deps.connected(clientId, record.username))
            return;
        this.forget(clientId);
        this.deps.trust(clientId, record.username, false);
    }

    client(clientId: string): ClientRecord | undefined {
        return this.clients.get(clientId);
    }

    /** Bridge usernames, localhost logins and security-profile password logins (spec §7.4). */
    isPrivileged(clientId: string, username: string): boolean {
        if (BRIDGE_USERS.includes(username))
            return true;
        const record = this.clients.get(clientId);
        return record !== undefined && record.username === username && record.privileged;
    }

    isLocal(clientId: string): boolean {
        return this.clients.get(clientId)?.local ?? false;
    }

    /** The clients a new LAN MQTT mode throws out: password logins for 'tokens only', every LAN login for 'off'. */
    affectedBy(mode: MqttLocalMode): ClientRecord[] {
        if (mode !== MqttLocalMode.Off && mode !== MqttLocalMode.TokensOnly)
            return [];
        const out = [...this.clients.values()].filter((c) => c.lan && (mode === MqttLocalMode.Off || c.passwordLogin));
        for (const c of out)
            this.forget(c.clientId);
        return out;
    }

    /** The clients of a removed token user. */
    ofUser(username: string): ClientRecord[] {
        const ids = [...(this.byUsername.get(username) ?? [])];
        return ids.map((id) => this.forget(id)).filter((c): c is ClientRecord => c !== undefined);
    }

    get size(): number {
        return this.clients.size;
    }
}
