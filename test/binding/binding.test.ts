// The native binding (native/binding.cc) built as an ordinary addon with a test double of the broker
// (native/testing/fake_host.cc): what crosses the boundary, in both directions, byte for byte.
import { strict as assert } from 'node:assert';
import * as path from 'node:path';

import { Logger } from '../../ts/log';
import type { FlashmqBinding } from '../../ts/native/binding';
import { AuthResult, LogLevel } from '../../ts/native/binding';
import type { LoginAnswer } from '../../ts/native/broker';
import { Broker } from '../../ts/native/broker';
import { encodeFrame, FrameBatch } from '../../ts/native/frames';
import { brokerLogSink } from '../../ts/native/log-sink';
import { realTimers } from '../../ts/util/timers';

interface Call {
    fn: string;
    [key: string]: unknown;
}

interface Testing {
    takeCalls(): Call[];
    setOptions(o: Record<string, string>): void;
    login(clientId: string, username: string, password: string, address: string, userProperties?: Array<[string, string]>): number;
    dropClient(clientId: string): void;
    publish(clientId: string, username: string, topic: string, payload: string | Buffer, qos: number, retain: boolean,
        props?: { responseTopic?: string; correlationData?: Buffer; userProperties?: Array<[string, string]> }): number;
    alterPublish(clientId: string, topic: string, qos: number, retain: boolean): { changed: boolean; topic: string; qos: number; retain: boolean };
    readAllowed(username: string, topic: string, clientId?: string): boolean;
    forwards(kind: 'publish' | 'alterPublish', topic: string, retain?: boolean): boolean;
    clientDisconnected(clientId: string): void;
    periodic(): void;
    reload(o: Record<string, string>): void;
    shutdown(): boolean;
    runTasks(): number;
    counters(): { ready: number; shutdownDone: number; reduceMemory: number; pendingTasks: number; restart: number; restartReason: string };
    /** The fake broker's function `fn` throws from now on (a C++ exception, as the real one may), or no longer. */
    throwFrom(fn: HostFunction, kind?: 'bad_alloc' | 'runtime_error' | 'other'): void;
    statusJson(state: string, since: number, pid: number, reason: string): string;
}

type HostFunction = 'log' | 'publish' | 'addTask' | 'clientAddress' | 'sessionPointer' | 'removeClient' | 'continueLogin';

const addonPath = path.resolve(__dirname, '../../../build/Release/flashmq_binding_test.node');
// eslint-disable-next-line @typescript-eslint/no-require-imports
const addon = require(addonPath) as FlashmqBinding & { testing: Testing };
const t = addon.testing;

const flush = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

function calls(fn: string): Call[] {
    return t.takeCalls().filter((c) => c.fn === fn);
}

function broker(loginTimeoutMs = 5000): Broker {
    return new Broker(addon, new Logger(brokerLogSink(addon), 'test'), realTimers, { loginTimeoutMs });
}

describe('native binding (test addon with a fake broker)', () => {
    beforeEach(() => {
        addon.setHandlers({ login: null, publish: null, alterPublish: null, clientDisconnected: null, periodic: null, reload: null, shutdown: null });
        addon.setReadRules([]);
        addon.setForwardFilters({ publish: true, alterPublish: false });
        t.runTasks();
        t.takeCalls();
    });

    describe('publish', () => {
        it('hands topic, payload bytes, QoS, retain and properties to the broker unchanged', () => {
            addon.publish('N/é/x', 'välue', 1, true, {
                responseTopic: 'resp/1', correlationData: Buffer.from([0, 1, 255]), contentType: 'application/json',
                userProperties: [['a', 'b'], ['a', 'c']], expiryInterval: 30,
            });
            addon.publish('bin', Buffer.from([0, 0xff, 0x80]));
            const [first, second] = calls('publish');
            assert.equal(first!.topic, 'N/é/x');
            assert.deepEqual(first!.payload, Buffer.from('välue'));
            assert.equal(first!.qos, 1);
            assert.equal(first!.retain, true);
            assert.equal(first!.responseTopic, 'resp/1');
            assert.deepEqual(first!.correlationData, Buffer.from([0, 1, 255]));
            assert.equal(first!.contentType, 'application/json');
            assert.deepEqual(first!.userProperties, [['a', 'b'], ['a', 'c']]);
            assert.equal(first!.expiryInterval, 30);
            assert.deepEqual(second!.payload, Buffer.from([0, 0xff, 0x80]));
            assert.equal(second!.qos, 0);
            assert.equal(second!.retain, false);
            assert.equal(second!.responseTopic, undefined);
        });

        const bad: Array<[string, () => void, RegExp]> = [
            ['an empty topic', () => addon.publish('', 'x'), /topic is empty/],
            ['a wildcard topic', () => addon.publish('a/+/b', 'x'), /'\+', '#'/],
            ['a # topic', () => addon.publish('a/#', 'x'), /'\+', '#'/],
            ['a NUL in the topic', () => addon.publish('a\0b', 'x'), /NUL/],
            ['QoS 3', () => addon.publish('a', 'x', 3), /qos must be 0, 1 or 2/],
            ['a numeric payload', () => addon.publish('a', 5 as unknown as string), /payload must be a string or a Buffer/],
            ['a bad user property', () => addon.publish('a', 'x', 0, false, { userProperties: [['k']] as unknown as Array<[string, string]> }), /userProperties/],
            ['a wildcard response topic', () => addon.publish('a', 'x', 0, false, { responseTopic: 'r/#' }), /responseTopic/],
        ];
        for (const [name, call, message] of bad) {
            it(`refuses ${name} and publishes nothing`, () => {
                assert.throws(call, message);
                assert.deepEqual(calls('publish'), []);
            });
        }
    });

    describe('publishFrames', () => {
        it('publishes every frame, in order, with its flags', () => {
            const batch = new FrameBatch();
            for (let i = 0; i < 100; i++)
                batch.add(`t/${i}`, `p${i}`, (i % 3) as 0 | 1 | 2, i % 2 === 1);
            assert.equal(addon.publishFrames(batch.take()), 100);
            const published = calls('publish');
            assert.equal(published.length, 100);
            published.forEach((c, i) => {
                assert.equal(c.topic, `t/${i}`);
                assert.deepEqual(c.payload, Buffer.from(`p${i}`));
                assert.equal(c.qos, i % 3);
                assert.equal(c.retain, i % 2 === 1);
            });
        });

        it('accepts a frame at an offset inside a larger buffer', () => {
            const all = Buffer.concat([Buffer.from('junk'), encodeFrame('x/y', 'z')]);
            assert.equal(addon.publishFrames(all.subarray(4)), 1);
            assert.equal(calls('publish')[0]!.topic, 'x/y');
        });

        it('publishes only the first `length` bytes when given a length, and refuses one beyond the buffer', () => {
            const batch = new FrameBatch();
            batch.add('a/1', 'x').add('a/2', 'y');
            const first = encodeFrame('a/1', 'x').length;
            assert.equal(addon.publishFrames(batch.storage, first), 1);
            assert.deepEqual(calls('publish').map((c) => c.topic), ['a/1']);
            assert.equal(addon.publishFrames(batch.storage, batch.byteLength), 2);
            assert.equal(addon.publishFrames(batch.storage, 0), 0);
            assert.throws(() => addon.publishFrames(batch.storage, batch.storage.length + 1), /length beyond the buffer/);
            assert.throws(() => addon.publishFrames(batch.storage, -1), /length beyond the buffer/);
            assert.throws(() => addon.publishFrames(batch.storage, first - 1), /truncated frame 0/);
        });

        const broken: Array<[string, Buffer, RegExp]> = [
            ['a truncated header', Buffer.concat([encodeFrame('a', 'b'), Buffer.from([0, 1])]), /truncated frame 1/],
            ['a payload length past the end', (() => { const f = encodeFrame('a', 'bc'); f.writeUInt32LE(99, 6); return Buffer.concat([encodeFrame('ok', '1'), f]); })(), /truncated frame 1/],
            ['bad flags', (() => { const f = encodeFrame('a', 'b'); f[0] = 0x08; return f; })(), /bad flags/],
            ['QoS 3 in the flags', (() => { const f = encodeFrame('a', 'b'); f[0] = 0x06; return f; })(), /bad flags/],
            ['a wildcard topic', Buffer.concat([encodeFrame('ok', '1'), encodeFrame('a/#', 'b')]), /frame 1: .*'#'/],
            ['an empty topic', encodeFrame('', 'b'), /frame 0: the topic is empty/],
        ];
        for (const [name, buffer, message] of broken) {
            it(`refuses a batch with ${name} before publishing any of it`, () => {
                assert.throws(() => addon.publishFrames(buffer), message);
                assert.deepEqual(calls('publish'), []);
            });
        }
    });

    describe('log', () => {
        it('writes at the given FlashMQ level', () => {
            addon.log(LogLevel.warning, 'careful %s %d');
            assert.deepEqual(calls('log'), [{ fn: 'log', level: LogLevel.warning, message: 'careful %s %d' }]);
        });

        it('refuses an unknown level', () => {
            assert.throws(() => addon.log(3 as 1, 'x'), /unknown level 3/);
        });

        it('truncates a huge message', () => {
            addon.log(LogLevel.info, 'x'.repeat(100_000));
            const [line] = calls('log');
            assert.ok((line!.message as string).length < 17_000);
            assert.match(line!.message as string, /\[truncated\]$/);
        });
    });

    describe('login hook', () => {
        it('answers success without a handler', () => {
            assert.equal(t.login('c1', 'u', 'p', '127.0.0.1'), AuthResult.success);
        });

        it('calls the handler with id, client id, username, password, address and user properties', () => {
            const seen: unknown[][] = [];
            addon.setHandlers({ login: (...args) => { seen.push(args); return false; } });
            assert.equal(t.login('c2', 'user', 'pw', '2001:db8::5', [['x', 'y']]), AuthResult.loginDenied);
            assert.equal(t.login('c3', '', '', '10.1.2.3'), AuthResult.loginDenied);
            assert.equal(typeof seen[0]![0], 'number');
            assert.deepEqual(seen[0]!.slice(1), ['c2', 'user', 'pw', '2001:db8::5', [['x', 'y']]]);
            assert.deepEqual(seen[1]!.slice(1), ['c3', '', '', '10.1.2.3', undefined]);
            assert.notEqual(seen[0]![0], seen[1]![0], 'every login has its own id');
        });

        it('maps numbers and refuses nonsense', () => {
            addon.setHandlers({ login: () => AuthResult.aclDenied });
            assert.equal(t.login('c', 'u', 'p', ''), AuthResult.aclDenied);
            addon.setHandlers({ login: () => 77 });
            assert.equal(t.login('c', 'u', 'p', ''), AuthResult.error);
            assert.match(calls('log')[0]!.message as string, /not a boolean or an AuthResult/);
        });

        it('answers error and logs when the handler throws', () => {
            addon.setHandlers({ login: () => { throw new Error('handler blew up'); } });
            assert.equal(t.login('c9', 'u', 'p', ''), AuthResult.error);
            const [line] = calls('log');
            assert.equal(line!.level, LogLevel.error);
            assert.match(line!.message as string, /login handler failed for client 'c9': Error: handler blew up/);
        });

        it('finishes an asynchronous login through the broker, with the result and delay', async () => {
            let resolve!: (a: LoginAnswer) => void;
            broker().setHandlers({ login: () => new Promise<LoginAnswer>((r) => { resolve = r; }) });
            assert.equal(t.login('slow', 'u', 'p', ''), AuthResult.async);
            assert.equal(addon.stats().pendingLogins, 1);
            assert.deepEqual(calls('continueLogin'), []);
            resolve({ result: false, delayMs: 1234 });
            await flush();
            assert.deepEqual(calls('continueLogin'), [{ fn: 'continueLogin', clientId: 'slow', result: AuthResult.loginDenied, delay: 1234 }]);
            assert.equal(addon.stats().pendingLogins, 0);
        });

        it('finishes an already resolved promise', async () => {
            // Inside the broker the hook has no JavaScript below it, so this settles before the hook returns (the
            // end-to-end tests cover that); here the test's own call is below it, so it settles just after.
            broker().setHandlers({ login: () => Promise.resolve(true) });
            assert.equal(t.login('quick', 'u', 'p', ''), AuthResult.async);
            await flush();
            assert.deepEqual(calls('continueLogin'), [{ fn: 'continueLogin', clientId: 'quick', result: AuthResult.success, delay: 0 }]);
            assert.equal(addon.stats().pendingLogins, 0);
        });

        it('knows each pending login once', async () => {
            let resolve!: (a: LoginAnswer) => void;
            broker().setHandlers({ login: () => new Promise<LoginAnswer>((r) => { resolve = r; }) });
            t.login('once', 'u', 'p', '');
            resolve(true);
            await flush();
            t.takeCalls();
            assert.equal(addon.finishLogin(123456, AuthResult.success), false, 'an unknown id');
            assert.deepEqual(calls('continueLogin'), []);
        });

        it('refuses to finish a login with a non-final result', () => {
            assert.throws(() => addon.finishLogin(1, AuthResult.async), /not a final AuthResult/);
            assert.throws(() => addon.finishLogin(1, 99), /not a final AuthResult/);
            assert.throws(() => addon.finishLogin(1, 0, -5), /delayMs/);
        });

        it('forgets pending logins of clients that went away', () => {
            broker().setHandlers({ login: () => new Promise<LoginAnswer>(() => undefined) });
            t.login('gone', 'u', 'p', '');
            t.login('stays', 'u', 'p', '');
            assert.equal(addon.stats().pendingLogins, 2);
            t.dropClient('gone');
            t.periodic();
            assert.equal(addon.stats().pendingLogins, 1);
            t.dropClient('stays');
            t.periodic();
            assert.equal(addon.stats().pendingLogins, 0);
        });
    });

    describe('publish hook', () => {
        it('hands over the publish with a copy of its payload and its properties', () => {
            const seen: unknown[][] = [];
            addon.setHandlers({ publish: (...args) => { seen.push(args); return true; } });
            assert.equal(t.publish('c', 'u', 'W/1/a', Buffer.from([1, 2, 0]), 1, true, {
                responseTopic: 'r/1', correlationData: Buffer.from('corr'), userProperties: [['p', 'q']],
            }), AuthResult.success);
            assert.equal(t.publish('c', 'u', 'W/1/b', 'x', 0, false), AuthResult.success);
            assert.deepEqual(seen[0], ['c', 'u', 'W/1/a', Buffer.from([1, 2, 0]), 1, true,
                { responseTopic: 'r/1', correlationData: Buffer.from('corr'), userProperties: [['p', 'q']] }]);
            assert.deepEqual(seen[1], ['c', 'u', 'W/1/b', Buffer.from('x'), 0, false, undefined]);
        });

        it('copies at most 1 MiB and one byte of a payload, so a handler sees it was longer without a copy of it all', () => {
            const seen: Buffer[] = [];
            addon.setHandlers({ publish: (_c, _u, _t, payload) => { seen.push(payload as Buffer); return true; } });
            const big = Buffer.alloc(3 * 1024 * 1024, 0x61);
            assert.equal(t.publish('c', 'u', 'W/1/a', big, 0, false), AuthResult.success);
            assert.equal(t.publish('c', 'u', 'W/1/b', big.subarray(0, 1024 * 1024), 0, false), AuthResult.success);
            assert.deepEqual(seen.map((b) => b.length), [1024 * 1024 + 1, 1024 * 1024]);
        });

        it('copies a payload that fits into the scratch buffer when asked, handing over its length instead', () => {
            const seen: Array<Buffer | string> = [];
            addon.setHandlers({ publish: (_c, _u, _t, payload) => { seen.push(typeof payload === 'number' ? `${payload}:${scratch.toString('latin1', 0, payload)}` : payload); return true; } });
            const scratch = addon.usePayloadScratch!()!;
            try {
                assert.equal(addon.usePayloadScratch!(), scratch, 'one buffer');
                const table: Array<[string | Buffer, Buffer | string]> = [
                    ['{"value":1}', '11:{"value":1}'], ['', '0:'], [Buffer.alloc(4096, 0x62), `4096:${'b'.repeat(4096)}`], [Buffer.alloc(4097, 0x63), Buffer.alloc(4097, 0x63)],
                ];
                for (const [payload] of table)
                    assert.equal(t.publish('c', 'u', 'W/1/a', payload, 0, false), AuthResult.success);
                assert.deepEqual(seen, table.map(([, expected]) => expected));
            } finally {
                assert.equal(addon.usePayloadScratch!(false), undefined);
            }
            seen.length = 0;
            t.publish('c', 'u', 'W/1/a', 'x', 0, false);
            assert.deepEqual(seen, [Buffer.from('x')], 'Buffers again');
        });

        const answers: Array<[unknown, number]> = [
            [undefined, AuthResult.success], [true, AuthResult.success], [false, AuthResult.aclDenied],
            [AuthResult.successButDropPublish, AuthResult.successButDropPublish], [AuthResult.async, AuthResult.aclDenied],
            ['yes', AuthResult.aclDenied], [{}, AuthResult.aclDenied],
        ];
        for (const [answer, expected] of answers) {
            it(`answers ${expected} for a handler result of ${JSON.stringify(answer)}`, () => {
                addon.setHandlers({ publish: () => answer as boolean });
                assert.equal(t.publish('c', 'u', 'x', '', 0, false), expected);
            });
        }

        it('denies and logs when the handler throws', () => {
            addon.setHandlers({ publish: () => { throw new RangeError('nope'); } });
            assert.equal(t.publish('c7', 'u', 'R/x', '', 0, false), AuthResult.aclDenied);
            assert.match(calls('log')[0]!.message as string, /publish handler failed on topic 'R\/x' from client 'c7': RangeError: nope/);
        });
    });

    describe('alterPublish hook', () => {
        it('applies the changes the handler returns', () => {
            addon.setHandlers({ alterPublish: () => ({ retain: false, qos: 1, topic: 'new/topic' }) });
            assert.deepEqual(t.alterPublish('c', 'N/1/x', 0, true), { changed: true, topic: 'new/topic', qos: 1, retain: false });
        });

        it('reports no change for undefined or an identical answer', () => {
            addon.setHandlers({ alterPublish: () => undefined });
            assert.deepEqual(t.alterPublish('c', 'a', 0, true), { changed: false, topic: 'a', qos: 0, retain: true });
            addon.setHandlers({ alterPublish: () => ({ retain: true }) });
            assert.deepEqual(t.alterPublish('c', 'a', 0, true), { changed: false, topic: 'a', qos: 0, retain: true });
        });

        it('leaves the publish alone when the answer is unusable', () => {
            for (const answer of [{ topic: 'a/#' }, { qos: 7 }, { retain: 'no' }, 5]) {
                addon.setHandlers({ alterPublish: () => answer as never });
                assert.deepEqual(t.alterPublish('c', 'a', 0, true), { changed: false, topic: 'a', qos: 0, retain: true }, JSON.stringify(answer));
            }
            assert.equal(calls('log').length, 4);
        });
    });

    describe('read rules (answered in C++)', () => {
        it('allows everything without rules', () => {
            assert.equal(t.readAllowed('anyone', 'W/1/x/password'), true);
        });

        it('applies filter, text, username and gate conditions together', () => {
            addon.setReadRules([
                { filter: 'W/+/platform/#', contains: '/Security/Api' },
                { filter: 'W/#', containsIgnoreCase: 'PassWord' },
                { filter: 'N/#', usernames: ['GXdbus', 'GXrpc'], gate: 'vrm-interest' },
            ]);
            const table: Array<[string, string, boolean]> = [
                ['lan', 'W/1/platform/0/Security/Api', false],
                ['lan', 'W/1/platform/0/Security/api', true],
                ['lan', 'W/1/settings/0/Settings/Foo', true],
                ['lan', 'W/1/settings/0/x/MyPASSWORDfield', false],
                ['lan', 'R/1/settings/0/x/password', true],
                ['lan', 'N/1/system/0/Serial', true],
                ['GXdbus', 'N/1/system/0/Serial', false],
                ['GXrpc', 'N/1', false],
                ['GXdbus', 'R/1/system/0/Serial', true],
                ['GXdbus', '$SYS/broker/uptime', true],
            ];
            for (const [user, topic, allowed] of table)
                assert.equal(t.readAllowed(user, topic), allowed, `${user} ${topic}`);

            addon.openReadGate('vrm-interest', 60_000);
            assert.equal(t.readAllowed('GXdbus', 'N/1/system/0/Serial'), true, 'gate open');
            addon.openReadGate('vrm-interest', 0);
            assert.equal(t.readAllowed('GXdbus', 'N/1/system/0/Serial'), false, 'gate closed');
            addon.openReadGate('vrm-interest', 1);
            const until = Date.now() + 20;
            while (Date.now() < until) { /* let the gate expire */ }
            assert.equal(t.readAllowed('GXdbus', 'N/1/system/0/Serial'), false, 'gate expired');
        });

        it('keeps the old rules when new ones are invalid', () => {
            addon.setReadRules([{ filter: 'secret/#' }]);
            assert.throws(() => addon.setReadRules([{ filter: 'ok/#' }, { filter: 'bad/#/x' }]), /rule 1: '#' must be a whole level and the last one/);
            assert.throws(() => addon.setReadRules([{ filter: 'x', usernames: [1] as unknown as string[] }]), /usernames/);
            assert.throws(() => addon.setReadRules([{ filter: 'x', contains: 3 } as never]), /'contains' must be a string/);
            assert.equal(t.readAllowed('u', 'secret/a'), false);
            assert.equal(t.readAllowed('u', 'ok/a'), true);
        });

        it('does not let a first-level wildcard match $ topics', () => {
            addon.setReadRules([{ filter: '#' }]);
            assert.equal(t.readAllowed('u', 'a'), false);
            assert.equal(t.readAllowed('u', '$SYS/x'), true);
            addon.setReadRules([{ filter: '$SYS/#' }]);
            assert.equal(t.readAllowed('u', '$SYS/x'), false);
        });
    });

    describe('integration topics (I/) in the read ACL', () => {
        afterEach(() => addon.setIntegrationPolicy({ enabled: false, integrationsUser: '', bridgeUsers: [] }));

        it('gives I/local/in to the integrations service, I/local/out to the matching token user, and all to trusted clients', () => {
            addon.setIntegrationPolicy({ enabled: true, integrationsUser: 'dbus-mqtt-integrations', bridgeUsers: ['GXdbus', 'GXrpc'] });
            addon.setTrustedClient('local-1', 'admin', true);
            const table: Array<[string, string, string, boolean]> = [
                ['dbus-mqtt-integrations', 'i', 'I/local/in/evcharger/HQ1/x', true],
                ['dbus-mqtt-integrations', 'i', 'I/local/out/evcharger/HQ1/x', false],
                ['token/evcharger/HQ1', 't', 'I/local/out/evcharger/HQ1/x', true],
                ['token/evcharger/HQ1', 't', 'I/local/in/evcharger/HQ1/x', false],
                ['token/evcharger/HQ2', 't', 'I/local/out/evcharger/HQ1/x', false],
                ['token/other/HQ1', 't', 'I/local/out/evcharger/HQ1/x', false],
                ['token/evcharger/HQ1/x', 't', 'I/local/out/evcharger/HQ1/x', false],
                ['someone', 'lan', 'I/local/out/evcharger/HQ1/x', false],
                ['admin', 'local-1', 'I/local/in/evcharger/HQ1/x', true],
                ['admin', 'local-1', 'I/local/out/a/b/c', true],
                ['token/evcharger/HQ1', 't', 'I/local/out/evcharger', false],
                ['someone', 'lan', 'I/c0619ab1a2b3/out/x', false],
                ['GXdbus', 'b', 'I/c0619ab1a2b3/out/x', true],
                ['dbus-mqtt-integrations', 'i', 'I/c0619ab1a2b3/out/x', true],
                ['admin', 'local-1', 'I/c0619ab1a2b3/out/x', true],
                ['someone', 'lan', 'N/c0619ab1a2b3/x', true],
            ];
            for (const [username, clientId, topic, allowed] of table)
                assert.equal(t.readAllowed(username, topic, clientId), allowed, `${username} (${clientId}) ${topic}`);
            addon.setTrustedClient('local-1', 'admin', false);
            assert.equal(t.readAllowed('admin', 'I/local/in/evcharger/HQ1/x', 'local-1'), false);
        });
    });

    describe('password checks (crypt on the thread pool)', () => {
        const table: Array<[string, string, string, boolean]> = [
            ['bcrypt $2b$', '$2b$04$.Wd.v7vwGPp6SJaFaJOGj.zySh7yPfMeHI4dGE/LWPBkV7izPZjVm', 'hallo', true],
            ['bcrypt $2a$', '$2a$04$.Wd.v7vwGPp6SJaFaJOGj.zySh7yPfMeHI4dGE/LWPBkV7izPZjVm', 'hallo', true],
            ['bcrypt $2y$', '$2y$04$.Wd.v7vwGPp6SJaFaJOGj.zySh7yPfMeHI4dGE/LWPBkV7izPZjVm', 'hallo', true],
            ['bcrypt, wrong password', '$2b$04$.Wd.v7vwGPp6SJaFaJOGj.zySh7yPfMeHI4dGE/LWPBkV7izPZjVm', 'hello', false],
            ['SHA-512 $6$', '$6$abcdefgh$XzzuTJkMqE0n3GxSZxB/Wh88fD6k0oiDEKSuH.A0GozLv0MvkFW5g5HM/MmWIVapkmopT7xXAIGhIwbIHtmFI1', 'hallo', true],
            ['SHA-256 $5$', '$5$abcdefgh$sx/SkAtQTXzQud87jlp76CNp5zf3S390Ykc8QHUs3UC', 'hallo', true],
            ['MD5 $1$', '$1$abcdefgh$.hbGN3STalOVXQCGB45N3.', 'hallo', true],
            ['MD5, wrong password', '$1$abcdefgh$.hbGN3STalOVXQCGB45N3.', 'Hallo', false],
            ['an empty hash', '', '', false],
            ['garbage', 'not a hash', 'not a hash', false],
            ['a password with a NUL', '$1$abcdefgh$.hbGN3STalOVXQCGB45N3.', 'hallo\0x', false],
        ];
        for (const [name, hash, password, ok] of table)
            it(`checks ${name}`, async () => assert.equal(await addon.verifyPassword(password, hash), ok));
    });

    describe('forward filters', () => {
        it('starts with every publish and no alterPublish forwarded', () => {
            assert.equal(t.forwards('publish', 'a/b'), true);
            assert.equal(t.forwards('alterPublish', 'a/b'), false);
        });

        it('takes lists of filters, true and false', () => {
            addon.setForwardFilters({ publish: ['R/#', 'W/+/x/#'], alterPublish: true });
            const table: Array<[string, boolean]> = [['R', true], ['R/1/a', true], ['W/1/x', true], ['W/1/y', false], ['N/1', false]];
            for (const [topic, forwarded] of table)
                assert.equal(t.forwards('publish', topic), forwarded, topic);
            assert.equal(t.forwards('alterPublish', 'any/thing'), true);
            addon.setForwardFilters({ publish: false });
            assert.equal(t.forwards('publish', 'R/1/a'), false);
            assert.equal(t.forwards('alterPublish', 'any/thing'), true, 'left alone');
        });

        it('forwards only retained publishes to alterPublish when told so', () => {
            addon.setForwardFilters({ alterPublish: ['W/#'], alterRetainedOnly: true });
            const table: Array<[string, boolean, boolean]> = [['W/1/a', true, true], ['W/1/a', false, false], ['N/1/a', true, false], ['N/1/a', false, false]];
            for (const [topic, retain, forwarded] of table)
                assert.equal(t.forwards('alterPublish', topic, retain), forwarded, `${topic} retain ${retain}`);
            addon.setForwardFilters({ alterRetainedOnly: false });
            assert.equal(t.forwards('alterPublish', 'W/1/a', false), true, 'every matching publish again');
            assert.throws(() => addon.setForwardFilters({ alterRetainedOnly: 1 as unknown as boolean }), /'alterRetainedOnly' must be a boolean/);
        });

        it('refuses invalid filters and keeps the old ones', () => {
            addon.setForwardFilters({ publish: ['R/#'] });
            assert.throws(() => addon.setForwardFilters({ publish: ['a+/b'] }), /'\+' must be a whole level/);
            assert.throws(() => addon.setForwardFilters({ publish: 'all' as unknown as boolean }), /true, false or an array/);
            assert.equal(t.forwards('publish', 'R/1'), true);
            assert.equal(t.forwards('publish', 'W/1'), false);
        });
    });

    describe('handlers', () => {
        it('refuses unknown names and non-functions without changing anything', () => {
            let called = 0;
            addon.setHandlers({ periodic: () => { called++; } });
            assert.throws(() => addon.setHandlers({ periodik: () => undefined } as never), /unknown handler 'periodik'/);
            assert.throws(() => addon.setHandlers({ periodic: 5 } as never), /'periodic' must be a function/);
            t.periodic();
            assert.equal(called, 1);
            addon.setHandlers({ periodic: null });
            t.periodic();
            assert.equal(called, 1);
        });

        it('hands over disconnects, reloads with the new options, and options()', () => {
            const seen: unknown[] = [];
            addon.setHandlers({ clientDisconnected: (id) => seen.push(id), reload: (o) => seen.push(o) });
            t.clientDisconnected('gone-client');
            t.reload({ portal_id: 'abc', debug: 'true' });
            assert.deepEqual(seen, ['gone-client', { portal_id: 'abc', debug: 'true' }]);
            assert.deepEqual(addon.options(), { portal_id: 'abc', debug: 'true' });
        });

        it('logs a throwing notification handler and carries on', () => {
            addon.setHandlers({ clientDisconnected: () => { throw new Error('x'); } });
            assert.doesNotThrow(() => t.clientDisconnected('c'));
            assert.match(calls('log')[0]!.message as string, /clientDisconnected handler failed/);
        });

        it('asks the host to give back memory', () => {
            const before = t.counters().reduceMemory;
            broker().reduceMemory();
            assert.equal(t.counters().reduceMemory, before + 1);
        });

        it('reports shutdown done at once, or when the handler says so', async () => {
            assert.equal(t.shutdown(), true, 'no handler');
            const before = t.counters().shutdownDone;
            let resolve!: () => void;
            broker().setHandlers({ shutdown: () => new Promise<void>((r) => { resolve = r; }) });
            assert.equal(t.shutdown(), false);
            resolve();
            await flush();
            assert.equal(t.counters().shutdownDone, before + 1);
            broker().setHandlers({ shutdown: () => undefined });
            assert.equal(t.shutdown(), true);
        });
    });

    describe('clients', () => {
        it('gives the address of a known client and nothing for others', () => {
            t.login('addr-v4', 'u1', '', '192.0.2.44');
            t.login('addr-v6', 'u2', '', '::1');
            assert.equal(addon.clientAddress('addr-v4', 'u1'), '192.0.2.44');
            assert.equal(addon.clientAddress('addr-v6', 'u2'), '::1');
            assert.equal(addon.clientAddress('addr-v4', 'wrong-user'), undefined);
            assert.equal(addon.clientAddress('nobody', ''), undefined);
        });

        it('disconnects a known client with the reason given', () => {
            t.login('victim', 'u', '', '10.0.0.1');
            assert.equal(addon.disconnectClient('victim', 'u', true, 135), true);
            assert.equal(addon.disconnectClient('nobody', 'u', false, 135), false);
            assert.deepEqual(calls('removeClient'), [{ fn: 'removeClient', clientId: 'victim', alsoSession: true, reason: 135 }]);
            assert.throws(() => addon.disconnectClient('victim', 'u', false, 5), /not a disconnect reason code/);
        });
    });

    describe('a broker call that throws a C++ exception', () => {
        const hostFunctions: HostFunction[] = ['log', 'publish', 'addTask', 'clientAddress', 'sessionPointer', 'removeClient', 'continueLogin'];
        afterEach(() => {
            for (const fn of hostFunctions)
                t.throwFrom(fn);
        });

        // Before NODE_ADDON_API_CPP_EXCEPTIONS_ALL each of these ended the process (std::terminate).
        for (const [kind, message] of [['bad_alloc', /^std::bad_alloc$/], ['runtime_error', /^fake broker: publish fails on purpose$/],
            ['other', /^A native exception was thrown$/]] as const) {
            it(`gives JavaScript an Error for ${kind} from publishing, and the next publish works`, () => {
                t.throwFrom('publish', kind);
                assert.throws(() => addon.publish('a/b', 'x'), (err: unknown) => err instanceof Error && message.test(err.message));
                assert.throws(() => addon.publishFrames(encodeFrame('a/b', 'x')), (err: unknown) => err instanceof Error && message.test(err.message));
                t.throwFrom('publish');
                t.takeCalls();
                addon.publish('a/b', 'y');
                assert.equal(calls('publish').length, 1);
            });
        }

        it('gives JavaScript an Error from logging, disconnecting a client and finishing a login', () => {
            t.throwFrom('log', 'bad_alloc');
            assert.throws(() => addon.log(LogLevel.info, 'x'), /std::bad_alloc/);
            t.throwFrom('log');

            t.login('kick', 'u', '', '10.0.0.2');
            t.throwFrom('removeClient', 'runtime_error');
            assert.throws(() => addon.disconnectClient('kick', 'u', false, 135), /fake broker: removeClient fails on purpose/);
            t.throwFrom('sessionPointer', 'bad_alloc');
            assert.throws(() => addon.disconnectClient('kick', 'u', false, 135), /std::bad_alloc/);
            assert.throws(() => addon.clientAddress('kick', 'u'), /std::bad_alloc/);
            t.throwFrom('sessionPointer');

            let authId = 0;
            addon.setHandlers({ login: (id: number) => { authId = id; return AuthResult.async; } });
            assert.equal(t.login('waits', 'u', 'p', ''), AuthResult.async);
            t.throwFrom('continueLogin', 'bad_alloc');
            assert.throws(() => addon.finishLogin(authId, AuthResult.success), /std::bad_alloc/);
            assert.equal(addon.stats().pendingLogins, 0, 'the login is forgotten, not finished twice');
        });

        it('answers a login with error when the broker fails inside the hook', () => {
            addon.setHandlers({ login: () => true });
            t.throwFrom('clientAddress', 'bad_alloc');
            assert.equal(t.login('addr-fails', 'u', 'p', '10.0.0.3'), AuthResult.error);
            assert.match(calls('log').map((c) => c.message).join('\n'), /login of client 'addr-fails' failed: std::bad_alloc/);
        });
    });

    it('asks the host to restart JavaScript, with the reason', () => {
        const before = t.counters().restart;
        assert.throws(() => (addon as unknown as { restart(r?: unknown): void }).restart(5), /restart\(reason: string\)/);
        (addon as unknown as { restart(r: string): void }).restart('51 uncaught errors within 0.2 s');
        assert.equal(t.counters().restart, before + 1);
        assert.equal(t.counters().restartReason, '51 uncaught errors within 0.2 s');
    });

    it('writes the status JavaScript cannot write as one JSON object', () => {
        const text = t.statusJson('restarting', 1700000000, 4321, 'V8\'s heap reached its limit "quoted"\n');
        assert.ok(text.endsWith('\n'));
        assert.deepEqual(JSON.parse(text), { state: 'restarting', since: 1700000000, pid: 4321, reason: 'V8\'s heap reached its limit "quoted"\n' });
    });

    it('tells what the broker can do', () => {
        assert.deepEqual(addon.capabilities(), { pluginVersion: 4, delayedLoginAnswers: true, deferredReadiness: true, memoryPlan: '' }); // no plan outside the broker
    });
});
