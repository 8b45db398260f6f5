// Everything that decides who may do what, wired together: logins, the ACL of client publishes, the read rules
// handed to the broker, the VRM bridge duties, and the clients that have to go when a setting changes.

import type { DbusBridge } from '../dbus/bridge';
import type { CacheEvent } from '../dbus/cache';
import type { Logger } from '../log';
import { DisconnectReason } from '../native/binding';
import type { Broker, ClientPublish, LoginAnswer, LoginRequest } from '../native/broker';
import type { Timers } from '../util/timers';
import type { PublishVerdict } from './acl';
import type { AclContext } from './acl';
import { checkPublish, readRules, VRM_INTEREST_GATE, VRM_INTEREST_MS } from './acl';
import { Credentials } from './credentials';
import { BRIDGE_USERS, INTEGRATIONS_USER, LoginPolicy, MqttLocalMode } from './login';
import type { Network } from './networks';
import { LoginRateLimiter } from './rate-limiter';
import { VrmDuties } from './vrm';

export interface SecurityOptions {
    portalId: string;
    tokensFile: string;
    passwordFile: string;
    localNetworks: Network[];
    registration: boolean;
}

const SETTINGS = 'com.victronenergy.settings';

export class Security {
    readonly login: LoginPolicy;
    readonly vrm: VrmDuties;
    private mqttLocal: MqttLocalMode = MqttLocalMode.Unknown;
    private networks: Network[];
    private readonly logged = new Map<string, number>();
    private readonly limiter: LoginRateLimiter;
    private readonly credentials: Credentials;
    // What the publish rules ask about, made once: checkPublish runs for every client publish.
    private readonly aclContext: AclContext;

    constructor(
        options: SecurityOptions,
        private readonly broker: Broker,
        bridge: DbusBridge,
        private readonly timers: Timers,
        private readonly log: Logger,
        random: () => number = Math.random,
    ) {
        this.networks = options.localNetworks;
        this.aclContext = {
            portalId: options.portalId,
            vrmMode: () => this.vrm.portalMode,
            isPrivileged: (clientId, username) => this.login.isPrivileged(clientId, username),
            isLocal: (clientId) => this.login.isLocal(clientId),
        };
        const credentials = new Credentials(options.tokensFile, options.passwordFile, timers, log.child('credentials'));
        this.credentials = credentials;
        this.limiter = new LoginRateLimiter(() => timers.now());
        this.login = new LoginPolicy({
            credentials,
            verify: (password, hash) => broker.verifyPassword(password, hash),
            limiter: this.limiter,
            networks: () => this.networks,
            mqttLocal: () => this.mqttLocal,
            random,
            log: log.child('login'),
            trust: (clientId, username, trusted) => broker.setTrustedClient(clientId, username, trusted),
            connected: (clientId, username) => broker.clientAddress(clientId, username) !== undefined,
            // One thread of the pool (the memory plan sets UV_THREADPOOL_SIZE) stays free for file reads (the tokens,
            // the GUI apps of a full publish), which would otherwise wait behind the checks; more checks at once would
            // only wait in libuv's own queue, first come first served.
            checks: { concurrency: Math.max(1, (Number(process.env.UV_THREADPOOL_SIZE) || 2) - 1), perSource: 16, total: 1024 },
        }, () => timers.now());
        this.vrm = new VrmDuties(bridge, timers, log.child('vrm'), random, {
            registration: options.registration, debounceMs: 2000, reregisterMaxDelayMs: 600_000,
        });

        broker.setReadRules(readRules());
        broker.setIntegrationPolicy({ enabled: true, integrationsUser: INTEGRATIONS_USER, bridgeUsers: [...BRIDGE_USERS] });
        bridge.cache.subscribe((event) => this.onCacheEvent(event));
        bridge.onUserRemoved((username) => {
            for (const c of this.login.ofUser(username)) {
                this.log.notice(`disconnecting client '${c.clientId}' of removed token user '${username}'`);
                broker.disconnectClient(c.clientId, c.username, DisconnectReason.notAuthorized, true);
            }
        });
    }

    /** The sizes of what the access rules hold, for the stats line. */
    sizes(): Record<string, number> {
        return { ...this.login.sizes(), securityLogged: this.logged.size, wrongPasswordsRemembered: this.limiter.remembered };
    }

    setLocalNetworks(networks: Network[]): void {
        this.networks = networks;
    }

    /** A reload's credential files (tokens, the security-profile password): read at the next login. */
    setCredentialFiles(tokensFile: string, passwordFile: string): void {
        this.credentials.setFiles(tokensFile, passwordFile);
    }

    private onCacheEvent(event: CacheEvent): void {
        if (event.kind === 'removed' || event.service.name !== SETTINGS)
            return;
        const items = event.kind === 'added' ? [...event.service.items.values()] : event.items;
        for (const item of items) {
            if (item.path === '/Settings/Network/VrmPortal')
                this.vrm.setPortalMode(item.value);
            else if (item.path === '/Settings/Services/MqttLocal')
                this.setMqttLocal(item.value);
        }
    }

    private setMqttLocal(value: unknown): void {
        const n = typeof value === 'bigint' ? Number(value) : typeof value === 'number' ? value : NaN;
        this.mqttLocal = n === 0 ? MqttLocalMode.Off : n === 1 ? MqttLocalMode.On : n === 2 ? MqttLocalMode.TokensOnly : MqttLocalMode.Unknown;
        for (const c of this.login.affectedBy(this.mqttLocal)) {
            this.log.warning(`disconnecting client '${c.clientId}' ('${c.username}'): LAN MQTT is now ${this.mqttLocal === MqttLocalMode.Off ? 'off' : 'tokens only'}`);
            this.broker.disconnectClient(c.clientId, c.username, DisconnectReason.notAuthorized, false);
        }
    }

    decideLogin(request: LoginRequest): Promise<LoginAnswer> {
        return this.login.decide(request);
    }

    /** One line per cause every 10 s at most: a misbehaving client does not flood the log. */
    private note(level: 'warning' | 'error', cause: string, message: string): void {
        const now = this.timers.now();
        const last = this.logged.get(cause);
        if (last !== undefined && now - last < 10_000)
            return;
        if (this.logged.size > 1000)
            this.logged.clear();
        this.logged.set(cause, now);
        this.log[level](message);
    }

    /**
     * The ACL of a client publish (and the broker's own $SYS bridge messages). Returns the verdict; the caller acts
     * on R/ and W/ requests when `act` is set.
     */
    checkPublish(message: ClientPublish): PublishVerdict {
        if (message.topic.startsWith('$SYS/')) {
            if (message.clientId === '' && message.username === '')
                this.vrm.onBridgeMessage(message.topic, message.payload.toString());
            return { allow: true, act: false, vrmInterest: false };
        }
        const verdict = checkPublish(this.aclContext, message.clientId, message.username, message.topic);
        if (!verdict.allow)
            this.note('warning', `deny:${message.clientId}:${message.topic.split('/')[0]}`, `refused a publish: ${verdict.reason ?? ''}`);
        else if (verdict.reason)
            this.note('error', `relay:${message.topic.split('/').slice(0, 2).join('/')}`, verdict.reason);
        if (verdict.vrmInterest)
            this.broker.openReadGate(VRM_INTEREST_GATE, VRM_INTEREST_MS);
        return verdict;
    }

    onClientDisconnected(clientId: string): void {
        this.login.onDisconnected(clientId);
    }

    stop(): Promise<void> {
        return this.vrm.stop();
    }
}
