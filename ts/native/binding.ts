// The types of the native binding "flashmq" (native/binding.cc) and the one place that fetches it. Nothing else in
// ts/ touches process._linkedBinding; everything else goes through the Broker facade (broker.ts).

/** FlashMQ's AuthResult values. */
export const AuthResult = {
    success: 0,
    authMethodNotSupported: 10,
    loginDenied: 11,
    aclDenied: 12,
    error: 13,
    serverNotAvailable: 14,
    async: 50,
    successWithoutRetainedDelivery: 51,
    successWithoutSettingRetained: 52,
    successButDropPublish: 53,
} as const;
export type AuthResultCode = (typeof AuthResult)[keyof typeof AuthResult];

const knownAuthResults: ReadonlySet<number> = new Set(Object.values(AuthResult));
export function isAuthResult(value: unknown): value is AuthResultCode {
    return typeof value === 'number' && knownAuthResults.has(value);
}

/** FlashMQ's log levels (flashmq_logf). */
export const LogLevel = { info: 0x01, notice: 0x02, warning: 0x04, error: 0x08, debug: 0x10 } as const;
export type LogLevelCode = (typeof LogLevel)[keyof typeof LogLevel];

/** MQTT 5 reason codes for removing a client. */
export const DisconnectReason = {
    normal: 0,
    unspecifiedError: 128,
    protocolError: 130,
    implementationSpecificError: 131,
    notAuthorized: 135,
    serverBusy: 137,
    messageRateTooHigh: 150,
} as const;
export type DisconnectReasonCode = (typeof DisconnectReason)[keyof typeof DisconnectReason];

export type UserProperties = Array<[string, string]>;

export interface OutgoingProperties {
    responseTopic?: string;
    correlationData?: Uint8Array | string;
    contentType?: string;
    userProperties?: UserProperties;
    /** Message expiry interval in seconds. */
    expiryInterval?: number;
}

export interface IncomingProperties {
    responseTopic?: string;
    correlationData?: Buffer;
    userProperties?: UserProperties;
}

export interface AlterPublishChange {
    topic?: string;
    qos?: 0 | 1 | 2;
    retain?: boolean;
}

/**
 * The handlers as the binding calls them: positional arguments, cheap to marshal. A publish's payload is a copy of
 * at most 1 MiB and one byte: a longer payload arrives cut there (every handler refuses payloads over 1 MiB).
 */
export interface NativeHandlers {
    login?: ((authId: number, clientId: string, username: string, password: string, address: string,
        userProperties: UserProperties | undefined) => boolean | number) | null;
    /** payload: its bytes, or (after usePayloadScratch) their number, the bytes in the scratch buffer. */
    publish?: ((clientId: string, username: string, topic: string, payload: Buffer | number, qos: number, retain: boolean,
        properties: IncomingProperties | undefined) => boolean | number | undefined) | null;
    alterPublish?: ((clientId: string, topic: string, qos: number, retain: boolean) => AlterPublishChange | undefined) | null;
    clientDisconnected?: ((clientId: string) => void) | null;
    periodic?: (() => void) | null;
    reload?: ((options: Record<string, string>) => void) | null;
    shutdown?: (() => void) | null;
}

/** true: every topic; false: none; or a list of MQTT topic filters. */
export type ForwardFilter = boolean | string[];

/**
 * A read rule: a delivery to a subscriber is refused when every condition given holds. `gate` names a switch that
 * suspends the rule while it is open (see openReadGate).
 */
export interface ReadRule {
    filter: string;
    contains?: string;
    containsIgnoreCase?: string;
    usernames?: string[];
    gate?: string;
}

export interface Capabilities {
    pluginVersion: number;
    /** The broker can delay a login answer itself (FlashMQ >= 1.25). */
    delayedLoginAnswers: boolean;
    /** The broker keeps its listeners closed until ready() (FlashMQ >= 1.26). */
    deferredReadiness: boolean;
    /** The memory plan's summary as the shim logged it at start ('memory: limits ... Chose ...'); '' when none. */
    memoryPlan?: string;
}

export interface BindingStats {
    pendingLogins: number;
    published: number;
    readRules: number;
}

export interface FlashmqBinding {
    log(level: LogLevelCode, message: string): void;
    publish(topic: string, payload: string | Uint8Array, qos?: number, retain?: boolean, properties?: OutgoingProperties): void;
    /**
     * A buffer the binding copies a forwarded publish's payload into when it fits; the publish handler then gets the
     * payload's length in its place, and copies the bytes out at once; `false` goes back to Buffers (and returns
     * undefined). Optional: without it, payloads come as Buffers.
     */
    usePayloadScratch?(use?: boolean): Buffer | undefined;
    /** Many messages in one call; see frames.ts for the layout. Returns the number published. */
    /** Frames (see frames.ts): all of `frames`, or its first `length` bytes. */
    publishFrames(frames: Uint8Array, length?: number): number;
    setHandlers(handlers: NativeHandlers): void;
    /** alterRetainedOnly: of the publishes the alterPublish filters match, only retained ones reach its handler. */
    setForwardFilters(filters: { publish?: ForwardFilter; alterPublish?: ForwardFilter; alterRetainedOnly?: boolean }): void;
    setReadRules(rules: ReadRule[]): void;
    openReadGate(name: string, durationMs: number): void;
    finishLogin(authId: number, result: number, delayMs?: number): boolean;
    clientAddress(clientId: string, username: string): string | undefined;
    disconnectClient(clientId: string, username: string, alsoSession: boolean, reasonCode: number): boolean;
    ready(): void;
    shutdownDone(): void;
    /** V8 collects all it can and shrinks its heap; the shim trims malloc and releases start-up pages of libnode (once, after start-up). */
    reduceMemory(): void;
    options(): Record<string, string>;
    capabilities(): Capabilities;
    stats(): BindingStats;
    setIntegrationPolicy(policy: IntegrationPolicy): void;
    setTrustedClient(clientId: string, username: string, trusted: boolean): void;
    /** crypt(3) check of a password against a hash, on the thread pool. */
    verifyPassword(password: string, hash: string): Promise<boolean>;
}

/** The read rules of I/ topics, answered in C++ (see native/read_acl.h). */
export interface IntegrationPolicy {
    enabled: boolean;
    integrationsUser: string;
    bridgeUsers: string[];
}

interface ProcessWithLinkedBinding {
    _linkedBinding?: (name: string) => unknown;
}

/** The binding of the broker this code runs in. Throws outside the plugin. */
export function loadBinding(): FlashmqBinding {
    const p = process as unknown as ProcessWithLinkedBinding;
    if (typeof p._linkedBinding !== 'function')
        throw new Error('not running inside the dbus-flashmq plugin: no linked binding support');
    return p._linkedBinding('flashmq') as FlashmqBinding;
}
