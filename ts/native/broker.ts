// The broker as TypeScript sees it: a typed facade over the native binding. It turns the binding's positional
// hook calls into typed requests, settles promises (an asynchronous login, a shutdown that takes a moment), and is
// an exception boundary: a handler that throws is logged and answered with a deliberate result.

import type { Logger } from '../log';
import { describeErrorWithStack } from '../log';
import type { Timers } from '../util/timers';
import type {
    AlterPublishChange, AuthResultCode, BindingStats, Capabilities, DisconnectReasonCode, FlashmqBinding, ForwardFilter, IncomingProperties,
    IntegrationPolicy, NativeHandlers, OutgoingProperties, ReadRule, UserProperties,
} from './binding';
import { AuthResult, isAuthResult } from './binding';
import type { FrameBatch } from './frames';

export interface LoginRequest {
    clientId: string;
    username: string;
    password: string;
    /** The client's IP address as text ('127.0.0.1', '::1'), 'unix', or '' when unknown. */
    address: string;
    userProperties?: UserProperties;
}

/** true/false, an AuthResult, or one with a delay (the answer reaches the client that much later). */
export type LoginAnswer = boolean | AuthResultCode | { result: boolean | AuthResultCode; delayMs?: number };

export interface ClientPublish {
    clientId: string;
    username: string;
    topic: string;
    payload: Buffer;
    qos: number;
    retain: boolean;
    properties?: IncomingProperties;
}

/** true or undefined lets the publish through, false denies it; or an AuthResult. */
export type PublishAnswer = boolean | AuthResultCode | undefined | void;

export interface BrokerHandlers {
    login?(request: LoginRequest): LoginAnswer | Promise<LoginAnswer>;
    /** Client publishes that match the publish forward filter, and the broker's own (clientId ''). */
    publish?(message: ClientPublish): PublishAnswer;
    alterPublish?(clientId: string, topic: string, qos: number, retain: boolean): AlterPublishChange | undefined;
    clientDisconnected?(clientId: string): void;
    periodic?(): void;
    reload?(options: Record<string, string>): void;
    /** The broker is stopping; it waits (up to plugin_opt_shutdown_timeout_ms) for a returned promise. */
    shutdown?(): void | Promise<void>;
}

export interface BrokerOptions {
    /** An asynchronous login not answered within this time is refused. */
    loginTimeoutMs: number;
}

export interface PublishOptions extends OutgoingProperties {
    qos?: 0 | 1 | 2;
    retain?: boolean;
}

/** The first `length` bytes of `scratch`, in a Buffer of their own. */
function copyOut(scratch: Buffer, length: number): Buffer {
    const payload = Buffer.allocUnsafe(length);
    scratch.copy(payload, 0, 0, length);
    return payload;
}

function isThenable<T>(value: unknown): value is PromiseLike<T> {
    return typeof value === 'object' && value !== null && typeof (value as { then?: unknown }).then === 'function';
}

export class Broker {
    constructor(
        private readonly binding: FlashmqBinding,
        private readonly log: Logger,
        private readonly timers: Timers,
        private readonly options: BrokerOptions,
    ) {}

    /** A reload's new login timeout: for the logins that start from now on. */
    setLoginTimeout(ms: number): void {
        this.options.loginTimeoutMs = ms;
    }

    get capabilities(): Capabilities {
        return this.binding.capabilities();
    }

    pluginOptions(): Record<string, string> {
        return this.binding.options();
    }

    publish(topic: string, payload: string | Uint8Array, options: PublishOptions = {}): void {
        const { qos = 0, retain = false, ...properties } = options;
        const hasProperties = Object.keys(properties).length > 0;
        this.binding.publish(topic, payload, qos, retain, hasProperties ? properties : undefined);
    }

    /** Publishes every frame of the batch in one native call and empties it. */
    publishBatch(batch: FrameBatch): number {
        if (batch.count === 0)
            return 0;
        return this.binding.publishFrames(batch.take());
    }

    /** Publishes frames built earlier (encodeFrame, or several of them joined) in one native call. */
    publishFrames(frames: Uint8Array): number {
        return frames.byteLength === 0 ? 0 : this.binding.publishFrames(frames);
    }

    /** Publishes the first `length` bytes of frames of `buffer` in one native call (no view of them is made). */
    publishFramesOf(buffer: Uint8Array, length: number): number {
        return length === 0 ? 0 : this.binding.publishFrames(buffer, length);
    }

    /** What the binding holds: logins waiting for their answer, the read rules. */
    stats(): BindingStats {
        return this.binding.stats();
    }

    /** Gives back the memory the JavaScript heap grew to and no longer uses (a full collection, some ms). */
    reduceMemory(): void {
        this.binding.reduceMemory();
    }

    /** Tells the broker this side is ready: it opens its listeners (FlashMQ >= 1.26). */
    ready(): void {
        this.binding.ready();
    }

    setForwardFilters(filters: { publish?: ForwardFilter; alterPublish?: ForwardFilter; alterRetainedOnly?: boolean }): void {
        this.binding.setForwardFilters(filters);
    }

    setReadRules(rules: ReadRule[]): void {
        this.binding.setReadRules(rules);
    }

    openReadGate(name: string, durationMs: number): void {
        this.binding.openReadGate(name, durationMs);
    }

    setIntegrationPolicy(policy: IntegrationPolicy): void {
        this.binding.setIntegrationPolicy(policy);
    }

    /** Whether deliveries to this client count as local (for the read rules of I/ topics). */
    setTrustedClient(clientId: string, username: string, trusted: boolean): void {
        this.binding.setTrustedClient(clientId, username, trusted);
    }

    verifyPassword(password: string, hash: string): Promise<boolean> {
        return this.binding.verifyPassword(password, hash);
    }

    clientAddress(clientId: string, username: string): string | undefined {
        return this.binding.clientAddress(clientId, username);
    }

    disconnectClient(clientId: string, username: string, reason: DisconnectReasonCode, alsoSession = false): boolean {
        return this.binding.disconnectClient(clientId, username, alsoSession, reason);
    }

    setHandlers(handlers: BrokerHandlers): void {
        const native: NativeHandlers = {
            login: handlers.login ? this.wrapLogin(handlers.login.bind(handlers)) : null,
            publish: handlers.publish ? this.wrapPublish(handlers.publish.bind(handlers)) : null,
            alterPublish: handlers.alterPublish ? this.wrapAlterPublish(handlers.alterPublish.bind(handlers)) : null,
            clientDisconnected: handlers.clientDisconnected ? this.guard('clientDisconnected', handlers.clientDisconnected.bind(handlers)) : null,
            periodic: handlers.periodic ? this.guard('periodic', handlers.periodic.bind(handlers)) : null,
            reload: handlers.reload ? this.guard('reload', handlers.reload.bind(handlers)) : null,
            shutdown: handlers.shutdown ? this.wrapShutdown(handlers.shutdown.bind(handlers)) : null,
        };
        this.binding.setHandlers(native);
    }

    private guard<A extends unknown[]>(name: string, fn: (...args: A) => void): (...args: A) => void {
        return (...args: A) => {
            try {
                fn(...args);
            } catch (err) {
                this.log.error(`the ${name} handler failed: ${describeErrorWithStack(err)}`);
            }
        };
    }

    private answerOf(answer: unknown, clientId: string): { result: AuthResultCode; delayMs: number } {
        let result: unknown = answer;
        let delayMs = 0;
        if (typeof answer === 'object' && answer !== null && 'result' in answer) {
            result = answer.result;
            const d = (answer as { delayMs?: unknown }).delayMs;
            if (typeof d === 'number' && d > 0 && d <= 600_000)
                delayMs = Math.round(d);
        }
        if (result === true)
            return { result: AuthResult.success, delayMs };
        if (result === false)
            return { result: AuthResult.loginDenied, delayMs };
        if (isAuthResult(result) && result !== AuthResult.async)
            return { result, delayMs };
        this.log.error(`the login handler answered ${String(result)} for client '${clientId}', which is not a login result; refused`);
        return { result: AuthResult.error, delayMs: 0 };
    }

    private wrapLogin(login: NonNullable<BrokerHandlers['login']>): NonNullable<NativeHandlers['login']> {
        return (authId, clientId, username, password, address, userProperties) => {
            const request: LoginRequest = { clientId, username, password, address };
            if (userProperties)
                request.userProperties = userProperties;

            let answer: LoginAnswer | Promise<LoginAnswer>;
            try {
                answer = login(request);
            } catch (err) {
                this.log.error(`the login handler failed for client '${clientId}': ${describeErrorWithStack(err)}`);
                return AuthResult.error;
            }

            if (!isThenable<LoginAnswer>(answer)) {
                const { result, delayMs } = this.answerOf(answer, clientId);
                if (delayMs === 0)
                    return result;
                this.binding.finishLogin(authId, result, delayMs);
                return AuthResult.async;
            }

            let settled = false;
            const timer = this.timers.setTimeout(() => {
                if (settled)
                    return;
                settled = true;
                this.log.warning(`the login of client '${clientId}' was not answered within ${this.options.loginTimeoutMs} ms; refused`);
                this.binding.finishLogin(authId, AuthResult.error);
            }, this.options.loginTimeoutMs);
            const finish = (result: AuthResultCode, delayMs: number): void => {
                if (settled)
                    return;
                settled = true;
                this.timers.clearTimeout(timer);
                this.binding.finishLogin(authId, result, delayMs);
            };
            answer.then(
                (a) => {
                    const { result, delayMs } = this.answerOf(a, clientId);
                    finish(result, delayMs);
                },
                (err: unknown) => {
                    this.log.error(`the login handler failed for client '${clientId}': ${describeErrorWithStack(err)}`);
                    finish(AuthResult.error, 0);
                },
            );
            return AuthResult.async;
        };
    }

    private wrapPublish(publish: NonNullable<BrokerHandlers['publish']>): NonNullable<NativeHandlers['publish']> {
        const scratch = this.binding.usePayloadScratch?.();
        return (clientId, username, topic, bytes, qos, retain, properties) => {
            // A payload in the binding's scratch buffer is copied out first (a Buffer from Node's pool).
            const payload = typeof bytes === 'number' ? copyOut(scratch!, bytes) : bytes;
            const message: ClientPublish = { clientId, username, topic, payload, qos, retain };
            if (properties)
                message.properties = properties;
            try {
                const answer = publish(message);
                if (answer === undefined || answer === true)
                    return AuthResult.success;
                if (answer === false)
                    return AuthResult.aclDenied;
                if (isAuthResult(answer) && answer !== AuthResult.async)
                    return answer;
                this.log.error(`the publish handler answered ${String(answer)} for topic '${topic}'; the publish is denied`);
            } catch (err) {
                this.log.error(`the publish handler failed on topic '${topic}' from client '${clientId}': ${describeErrorWithStack(err)}; the publish is denied`);
            }
            return AuthResult.aclDenied;
        };
    }

    private wrapAlterPublish(alter: NonNullable<BrokerHandlers['alterPublish']>): NonNullable<NativeHandlers['alterPublish']> {
        return (clientId, topic, qos, retain) => {
            try {
                return alter(clientId, topic, qos, retain);
            } catch (err) {
                this.log.error(`the alterPublish handler failed on topic '${topic}': ${describeErrorWithStack(err)}; the publish is left as it is`);
                return undefined;
            }
        };
    }

    private wrapShutdown(shutdown: NonNullable<BrokerHandlers['shutdown']>): NonNullable<NativeHandlers['shutdown']> {
        return () => {
            let result: void | Promise<void>;
            try {
                result = shutdown();
            } catch (err) {
                this.log.error(`the shutdown handler failed: ${describeErrorWithStack(err)}`);
                this.binding.shutdownDone();
                return;
            }
            if (!isThenable<void>(result)) {
                this.binding.shutdownDone();
                return;
            }
            result.then(
                () => this.binding.shutdownDone(),
                (err: unknown) => {
                    this.log.error(`the shutdown handler failed: ${describeErrorWithStack(err)}`);
                    this.binding.shutdownDone();
                },
            );
        };
    }
}
