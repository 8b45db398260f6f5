import { strict as assert } from 'node:assert';

import { Logger } from '../../ts/log';
import { AuthResult, LogLevel } from '../../ts/native/binding';
import type { LoginAnswer } from '../../ts/native/broker';
import { Broker } from '../../ts/native/broker';
import { encodeFrame, FrameBatch } from '../../ts/native/frames';
import { brokerLogSink } from '../../ts/native/log-sink';
import { FakeBinding } from '../fakes/fake-binding';
import { FakeTimers } from '../fakes/fake-timers';

function setup(loginTimeoutMs = 1000): { binding: FakeBinding; timers: FakeTimers; broker: Broker } {
    const binding = new FakeBinding();
    const timers = new FakeTimers();
    const broker = new Broker(binding, new Logger(brokerLogSink(binding), 'test'), timers, { loginTimeoutMs });
    return { binding, timers, broker };
}

const flush = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

describe('Broker facade', () => {
    describe('login answers', () => {
        const table: Array<[string, LoginAnswer, number]> = [
            ['true', true, AuthResult.success],
            ['false', false, AuthResult.loginDenied],
            ['an AuthResult', AuthResult.aclDenied, AuthResult.aclDenied],
            ['a boolean result object', { result: false }, AuthResult.loginDenied],
        ];
        for (const [name, answer, expected] of table) {
            it(`turns ${name} into ${expected}`, () => {
                const { binding, broker } = setup();
                broker.setHandlers({ login: () => answer });
                assert.equal(binding.handlers.login!(1, 'c', 'u', 'p', '127.0.0.1', undefined), expected);
                assert.deepEqual(binding.finished, []);
            });
        }

        it('refuses a nonsense answer with error, and says so', () => {
            const { binding, broker } = setup();
            broker.setHandlers({ login: () => 'yes' as unknown as boolean });
            assert.equal(binding.handlers.login!(1, 'c', 'u', 'p', '', undefined), AuthResult.error);
            assert.match(binding.messages(LogLevel.error).join('\n'), /not a login result/);
        });

        it('passes the request through, user properties included', () => {
            const { binding, broker } = setup();
            let seen: unknown;
            broker.setHandlers({ login: (r) => { seen = r; return true; } });
            binding.handlers.login!(3, 'client', 'user', 'secret', '::1', [['k', 'v']]);
            assert.deepEqual(seen, { clientId: 'client', username: 'user', password: 'secret', address: '::1', userProperties: [['k', 'v']] });
        });

        it('answers a throwing handler with error and logs it', () => {
            const { binding, broker } = setup();
            broker.setHandlers({ login: () => { throw new Error('boom'); } });
            assert.equal(binding.handlers.login!(1, 'c1', 'u', 'p', '', undefined), AuthResult.error);
            assert.match(binding.messages(LogLevel.error)[0]!, /login handler failed for client 'c1': Error: boom/);
        });

        it('makes a delayed answer asynchronous and hands the delay to the broker', () => {
            const { binding, broker } = setup();
            broker.setHandlers({ login: () => ({ result: AuthResult.loginDenied, delayMs: 2500 }) });
            assert.equal(binding.handlers.login!(7, 'c', 'u', 'p', '', undefined), AuthResult.async);
            assert.deepEqual(binding.finished, [{ authId: 7, result: AuthResult.loginDenied, delayMs: 2500 }]);
        });

        it('finishes a promise answer later with its result', async () => {
            const { binding, broker } = setup();
            let resolve!: (a: LoginAnswer) => void;
            broker.setHandlers({ login: () => new Promise<LoginAnswer>((r) => { resolve = r; }) });
            assert.equal(binding.handlers.login!(9, 'c', 'u', 'p', '', undefined), AuthResult.async);
            assert.deepEqual(binding.finished, []);
            resolve(true);
            await flush();
            assert.deepEqual(binding.finished, [{ authId: 9, result: AuthResult.success, delayMs: 0 }]);
        });

        it('finishes a rejected promise with error', async () => {
            const { binding, broker } = setup();
            broker.setHandlers({ login: () => Promise.reject(new Error('db down')) });
            assert.equal(binding.handlers.login!(4, 'c', 'u', 'p', '', undefined), AuthResult.async);
            await flush();
            assert.deepEqual(binding.finished, [{ authId: 4, result: AuthResult.error, delayMs: 0 }]);
            assert.match(binding.messages(LogLevel.error)[0]!, /db down/);
        });

        it('refuses a login whose promise never settles, once, at the timeout', async () => {
            const { binding, broker, timers } = setup(500);
            let resolve!: (a: LoginAnswer) => void;
            broker.setHandlers({ login: () => new Promise<LoginAnswer>((r) => { resolve = r; }) });
            binding.handlers.login!(5, 'slow', 'u', 'p', '', undefined);
            timers.advance(499);
            assert.deepEqual(binding.finished, []);
            timers.advance(1);
            assert.deepEqual(binding.finished, [{ authId: 5, result: AuthResult.error, delayMs: undefined }]);
            resolve(true);
            await flush();
            assert.equal(binding.finished.length, 1, 'a late answer is ignored');
            assert.match(binding.messages(LogLevel.warning)[0]!, /'slow' was not answered within 500 ms/);
        });

        it('cancels the timeout once the promise settles', async () => {
            const { binding, broker, timers } = setup(500);
            broker.setHandlers({ login: () => Promise.resolve(false) });
            binding.handlers.login!(6, 'c', 'u', 'p', '', undefined);
            await flush();
            assert.equal(timers.pendingCount, 0);
            timers.advance(1000);
            assert.deepEqual(binding.finished, [{ authId: 6, result: AuthResult.loginDenied, delayMs: 0 }]);
        });
    });

    describe('publish answers', () => {
        const table: Array<[string, unknown, number]> = [
            ['undefined', undefined, AuthResult.success],
            ['true', true, AuthResult.success],
            ['false', false, AuthResult.aclDenied],
            ['an AuthResult', AuthResult.successButDropPublish, AuthResult.successButDropPublish],
            ['async (not allowed here)', AuthResult.async, AuthResult.aclDenied],
            ['a string', 'ok', AuthResult.aclDenied],
        ];
        for (const [name, answer, expected] of table) {
            it(`turns ${name} into ${expected}`, () => {
                const { binding, broker } = setup();
                broker.setHandlers({ publish: () => answer as boolean });
                assert.equal(binding.handlers.publish!('c', 'u', 't/x', Buffer.from('p'), 0, false, undefined), expected);
            });
        }

        it('denies when the handler throws, with a log line naming topic and client', () => {
            const { binding, broker } = setup();
            broker.setHandlers({ publish: () => { throw new TypeError('bad'); } });
            assert.equal(binding.handlers.publish!('cl', 'u', 'W/x', Buffer.alloc(0), 1, false, undefined), AuthResult.aclDenied);
            assert.match(binding.messages(LogLevel.error)[0]!, /topic 'W\/x' from client 'cl': TypeError: bad/);
        });

        it('hands over the message with its properties', () => {
            const { binding, broker } = setup();
            let seen: unknown;
            broker.setHandlers({ publish: (m) => { seen = m; } });
            binding.handlers.publish!('c', 'u', 'a/b', Buffer.from('x'), 1, true, { responseTopic: 'r/t' });
            assert.deepEqual(seen, { clientId: 'c', username: 'u', topic: 'a/b', payload: Buffer.from('x'), qos: 1, retain: true, properties: { responseTopic: 'r/t' } });
        });

        it('copies a payload out of the binding\'s scratch buffer into one of its own', () => {
            const scratch = Buffer.alloc(64);
            const binding = Object.assign(new FakeBinding(), { usePayloadScratch: () => scratch });
            const broker = new Broker(binding, new Logger(brokerLogSink(binding), 'test'), new FakeTimers(), { loginTimeoutMs: 1000 });
            const seen: Buffer[] = [];
            broker.setHandlers({ publish: (m) => { seen.push(m.payload); } });
            // what the binding put in the scratch buffer, the length it handed over -> the payload the handler sees
            const table: Array<[string, number, string]> = [['{"value":1}', 11, '{"value":1}'], ['abc', 0, ''], ['abcdef', 3, 'abc']];
            for (const [bytes, length] of table) {
                scratch.write(bytes, 'latin1');
                binding.handlers.publish!('c', 'u', 'W/a', length, 0, false, undefined);
            }
            scratch.fill(0);
            assert.deepEqual(seen.map((b) => b.toString('latin1')), table.map(([, , expected]) => expected), 'copies, not views');
            binding.handlers.publish!('c', 'u', 'W/a', Buffer.from('big'), 0, false, undefined);
            assert.deepEqual(seen.at(-1), Buffer.from('big'), 'a Buffer passes as it is');
        });
    });

    it('guards the notification handlers', () => {
        const { binding, broker } = setup();
        broker.setHandlers({ periodic: () => { throw new Error('tick'); } });
        assert.doesNotThrow(() => binding.handlers.periodic!());
        assert.match(binding.messages(LogLevel.error)[0]!, /periodic handler failed: Error: tick/);
    });

    it('leaves an alterPublish unchanged when its handler throws', () => {
        const { binding, broker } = setup();
        broker.setHandlers({ alterPublish: () => { throw new Error('x'); } });
        assert.equal(binding.handlers.alterPublish!('c', 'N/1/x', 0, true), undefined);
    });

    it('registers null for handlers it does not have', () => {
        const { binding, broker } = setup();
        broker.setHandlers({ periodic: () => undefined });
        assert.equal(binding.handlers.login, null);
        assert.equal(binding.handlers.publish, null);
        assert.equal(typeof binding.handlers.periodic, 'function');
    });

    describe('shutdown', () => {
        it('reports done at once for a synchronous handler', () => {
            const { binding, broker } = setup();
            broker.setHandlers({ shutdown: () => undefined });
            binding.handlers.shutdown!();
            assert.equal(binding.shutdownDoneCalls, 1);
        });

        it('reports done when the returned promise settles', async () => {
            const { binding, broker } = setup();
            let resolve!: () => void;
            broker.setHandlers({ shutdown: () => new Promise<void>((r) => { resolve = r; }) });
            binding.handlers.shutdown!();
            assert.equal(binding.shutdownDoneCalls, 0);
            resolve();
            await flush();
            assert.equal(binding.shutdownDoneCalls, 1);
        });

        it('reports done even when the handler fails', async () => {
            const { binding, broker } = setup();
            broker.setHandlers({ shutdown: () => Promise.reject(new Error('x')) });
            binding.handlers.shutdown!();
            await flush();
            assert.equal(binding.shutdownDoneCalls, 1);
        });
    });

    it('publishes with options split from properties', () => {
        const { binding, broker } = setup();
        broker.publish('a/b', 'x');
        broker.publish('a/c', 'y', { retain: true, qos: 1, responseTopic: 'r' });
        assert.deepEqual(binding.published, [
            { topic: 'a/b', payload: 'x', qos: 0, retain: false, properties: undefined },
            { topic: 'a/c', payload: 'y', qos: 1, retain: true, properties: { responseTopic: 'r' } },
        ]);
    });

    it('sends a batch in one call and empties it', () => {
        const { binding, broker } = setup();
        const batch = new FrameBatch().add('a', '1').add('b', '2');
        broker.publishBatch(batch);
        assert.equal(binding.frames.length, 1);
        assert.equal(batch.count, 0);
        assert.equal(broker.publishBatch(batch), 0, 'an empty batch makes no call');
        assert.equal(binding.frames.length, 1);
    });

    it('sends frames built earlier as they are, and nothing for no frames', () => {
        const { binding, broker } = setup();
        const joined = Buffer.concat([encodeFrame('a', '1'), encodeFrame('b', '2', 0, true)]);
        assert.equal(broker.publishFrames(joined), 2);
        assert.deepEqual(binding.frames, [Uint8Array.from(joined)]);
        assert.equal(broker.publishFrames(Buffer.alloc(0)), 0);
        assert.equal(binding.frames.length, 1, 'no call for no frames');
    });
});
