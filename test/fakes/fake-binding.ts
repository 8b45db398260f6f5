// An in-memory stand-in for the native binding: records what TypeScript asks of the broker, and lets a test call
// the handlers the way the binding would.
import type {
    BindingStats, Capabilities, FlashmqBinding, ForwardFilter, IntegrationPolicy, LogLevelCode, NativeHandlers, OutgoingProperties, ReadRule,
} from '../../ts/native/binding';

export interface RecordedPublish {
    topic: string;
    payload: string | Uint8Array;
    qos: number | undefined;
    retain: boolean | undefined;
    properties: OutgoingProperties | undefined;
}

export class FakeBinding implements FlashmqBinding {
    logs: Array<{ level: LogLevelCode; message: string }> = [];
    published: RecordedPublish[] = [];
    frames: Uint8Array[] = [];
    /** The order of publish and publishFrames calls. */
    order: Array<'publish' | 'frames'> = [];
    handlers: NativeHandlers = {};
    forwardFilters: Array<{ publish?: ForwardFilter; alterPublish?: ForwardFilter; alterRetainedOnly?: boolean }> = [];
    readRules: ReadRule[][] = [];
    gates: Array<[string, number]> = [];
    finished: Array<{ authId: number; result: number; delayMs: number | undefined }> = [];
    disconnects: Array<[string, string, boolean, number]> = [];
    readyCalls = 0;
    shutdownDoneCalls = 0;
    reduceMemoryCalls = 0;
    opts: Record<string, string> = {};
    caps: Capabilities = { pluginVersion: 4, delayedLoginAnswers: true, deferredReadiness: true };

    log(level: LogLevelCode, message: string): void {
        this.logs.push({ level, message });
    }
    publish(topic: string, payload: string | Uint8Array, qos?: number, retain?: boolean, properties?: OutgoingProperties): void {
        this.published.push({ topic, payload, qos, retain, properties });
        this.order.push('publish');
    }
    publishFrames(all: Uint8Array, length?: number): number {
        const frames = length === undefined ? all : all.subarray(0, length);
        this.frames.push(Uint8Array.from(frames));
        this.order.push('frames');
        let count = 0;
        for (let pos = 0; pos < frames.length; count++) {
            const view = Buffer.from(frames.buffer, frames.byteOffset, frames.byteLength);
            const tl = view.readUInt32LE(pos + 1);
            pos += 9 + tl + view.readUInt32LE(pos + 5 + tl);
        }
        return count;
    }
    clear(): void {
        this.published = [];
        this.frames = [];
        this.order = [];
    }
    setHandlers(handlers: NativeHandlers): void {
        this.handlers = handlers;
    }
    setForwardFilters(filters: { publish?: ForwardFilter; alterPublish?: ForwardFilter; alterRetainedOnly?: boolean }): void {
        this.forwardFilters.push(filters);
    }
    setReadRules(rules: ReadRule[]): void {
        this.readRules.push(rules);
    }
    openReadGate(name: string, durationMs: number): void {
        this.gates.push([name, durationMs]);
    }
    finishLogin(authId: number, result: number, delayMs?: number): boolean {
        this.finished.push({ authId, result, delayMs });
        return true;
    }
    clientAddress(): string | undefined {
        return '192.0.2.7';
    }
    disconnectClient(clientId: string, username: string, alsoSession: boolean, reasonCode: number): boolean {
        this.disconnects.push([clientId, username, alsoSession, reasonCode]);
        return true;
    }
    ready(): void {
        this.readyCalls++;
    }
    shutdownDone(): void {
        this.shutdownDoneCalls++;
    }
    reduceMemory(): void {
        this.reduceMemoryCalls++;
    }
    options(): Record<string, string> {
        return { ...this.opts };
    }
    capabilities(): Capabilities {
        return this.caps;
    }
    stats(): BindingStats {
        return { pendingLogins: 0, published: this.published.length, readRules: this.readRules.at(-1)?.length ?? 0 };
    }

    integrationPolicies: IntegrationPolicy[] = [];
    trusted = new Map<string, string>();
    passwords = new Map<string, string>(); // hash -> password, for verifyPassword
    setIntegrationPolicy(policy: IntegrationPolicy): void {
        this.integrationPolicies.push(policy);
    }
    setTrustedClient(clientId: string, username: string, trusted: boolean): void {
        if (trusted)
            this.trusted.set(clientId, username);
        else
            this.trusted.delete(clientId);
    }
    verifyPassword(password: string, hash: string): Promise<boolean> {
        return Promise.resolve(this.passwords.get(hash) === password);
    }

    messages(level?: LogLevelCode): string[] {
        return this.logs.filter((l) => level === undefined || l.level === level).map((l) => l.message);
    }
}
