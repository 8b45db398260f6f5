import { strict as assert } from 'node:assert';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';

import type { AclContext } from '../../ts/security/acl';
import { checkPublish, readRules, VrmMode } from '../../ts/security/acl';
import { Credentials } from '../../ts/security/credentials';
import type { LoginDeps } from '../../ts/security/login';
import { LoginPolicy, MqttLocalMode } from '../../ts/security/login';
import { isLocalAddress, parseNetworks } from '../../ts/security/networks';
import { LoginRateLimiter } from '../../ts/security/rate-limiter';
import { Logger } from '../../ts/log';
import { AuthResult } from '../../ts/native/binding';
import type { LoginAnswer, LoginRequest } from '../../ts/native/broker';
import { FakeTimers } from '../fakes/fake-timers';

const ID = 'c0619ab1a2b3';

describe('the ACL of client publishes (spec §7.5, §7.6)', () => {
    function ctx(mode: VrmMode, privileged: string[] = [], local: string[] = []): AclContext {
        return {
            portalId: ID,
            vrmMode: () => mode,
            isPrivileged: (clientId, username) => ['GXdbus', 'GXrpc'].includes(username) || privileged.includes(clientId),
            isLocal: (clientId) => local.includes(clientId),
        };
    }

    describe("the original's 14 assertions (§10.3)", () => {
        const table: Array<[VrmMode, string, string, string, boolean]> = [
            [VrmMode.Full, 'some_client_id', 'token/evcharger/HQ2401ABCDE', 'I/local/in/evcharger/HQ2401ABCDE/vregset/gx2evcs', true],
            [VrmMode.Full, 'some_client_id', 'token/evcharger/HQ2401ABCDE', 'I/local/out/evcharger/HQ2401ABCDE/vregset/gx2evcs', false],
            [VrmMode.Full, 'some_client_id', 'token/evcharger/QQ2401ABCDE', 'I/local/in/evcharger/HQ2401ABCDE/vregset/gx2evcs', false],
            [VrmMode.Full, 'some_client_id', 'token/evcharger/QQ2401ABCDE', 'I/local/out/evcharger/HQ2401ABCDE/vregset/gx2evcs', false],
            [VrmMode.Full, 'some_client_id', 'token/evcharger/HQ2401ABCDE', 'I/local/in/otherrole/HQ2401ABCDE/vregset/gx2evcs', false],
            [VrmMode.Full, 'some_client_id', 'token/evcharger/HQ2401ABCDE', 'I/local/out/otherrole/HQ2401ABCDE/vregset/gx2evcs', false],
            [VrmMode.Full, 'GXdbus_foo', 'GXdbus', `W/${ID}/keepalive/bla/0`, true],
            [VrmMode.Full, 'GXdbus_foo', 'GXdbus', `R/${ID}/settings/0/Settings/Gui/StartWithMenuView`, true],
            [VrmMode.Full, 'GXdbus_foo', 'GXdbus', `P/${ID}/in`, true],
            [VrmMode.Full, 'GXdbus_foo', 'GXdbus', `I/${ID}/in`, true],
            [VrmMode.ReadOnly, 'GXdbus_foo', 'GXdbus', `W/${ID}/x`, false],
            [VrmMode.ReadOnly, 'GXdbus_foo', 'GXdbus', `R/${ID}/settings/0/Settings/LoadSheddingApi/Token`, true],
            [VrmMode.ReadOnly, 'GXdbus_foo', 'GXdbus', `P/${ID}/in`, false],
            [VrmMode.ReadOnly, 'GXdbus_foo', 'GXdbus', `I/${ID}/in`, false],
        ];
        for (const [mode, clientId, username, topic, allowed] of table)
            it(`${allowed ? 'allows' : 'refuses'} ${username} on ${topic} (VRM ${mode === VrmMode.Full ? 'full' : 'read-only'})`,
                () => assert.equal(checkPublish(ctx(mode), clientId, username, topic).allow, allowed));
    });

    const rules: Array<[string, AclContext, string, string, string, Partial<{ allow: boolean; act: boolean; vrmInterest: boolean }>]> = [
        ['one level', ctx(VrmMode.Full), 'c', 'u', 'x', { allow: true, act: false }],
        ['an own R/', ctx(VrmMode.Full), 'c', 'u', `R/${ID}/keepalive`, { allow: true, act: true, vrmInterest: false }],
        ['an own W/', ctx(VrmMode.Full), 'c', 'u', `W/${ID}/settings/0/X`, { allow: true, act: true }],
        ['a foreign R/ (routed, not acted on)', ctx(VrmMode.Full), 'c', 'u', 'R/other/keepalive', { allow: true, act: false }],
        ['a foreign W/ (routed, not acted on)', ctx(VrmMode.Full), 'c', 'u', 'W/other/x', { allow: true, act: false }],
        ['a foreign P/', ctx(VrmMode.Full), 'c', 'u', 'P/other/in/x', { allow: false }],
        ['a foreign I/ from a local client', ctx(VrmMode.Full, [], ['c']), 'c', 'u', 'I/other/in/x', { allow: false }],
        ['an own N/ from a client', ctx(VrmMode.Full), 'c', 'u', `N/${ID}/x/0/y`, { allow: false }],
        ['a foreign N/', ctx(VrmMode.Full), 'c', 'u', 'N/other/x/0/y', { allow: true }],
        ['VRM reading', ctx(VrmMode.ReadOnly), 'GXdbus_1', 'GXdbus', `R/${ID}/x/0/y`, { allow: true, act: true, vrmInterest: true }],
        ['VRM writing in full mode', ctx(VrmMode.Full), 'GXdbus_1', 'GXdbus', `W/${ID}/x/0/y`, { allow: true, act: true, vrmInterest: true }],
        ['VRM writing with the portal off', ctx(VrmMode.Off), 'GXdbus_1', 'GXdbus', `W/${ID}/x/0/y`, { allow: false }],
        ['VRM writing before the mode is known', ctx(VrmMode.Unknown), 'GXdbus_1', 'GXdbus', `W/${ID}/x/0/y`, { allow: false }],
        ['VRM rpc out in read-only mode', ctx(VrmMode.ReadOnly), 'GXrpc_1', 'GXrpc', `P/${ID}/out/x`, { allow: true }],
        ['the security API by a LAN client', ctx(VrmMode.Full), 'lan', 'u', `W/${ID}/platform/0/Security/Api`, { allow: false }],
        ['the security API by a privileged client', ctx(VrmMode.Full, ['admin']), 'admin', 'u', `W/${ID}/platform/0/Security/Api`, { allow: true, act: true }],
        ['the security API by VRM in full mode', ctx(VrmMode.Full), 'GXdbus_1', 'GXdbus', `W/${ID}/platform/0/Security/Api`, { allow: true }],
        ['integrations out by the integrations service', ctx(VrmMode.Full), 'i', 'dbus-mqtt-integrations', 'I/local/out/evcharger/HQ/x', { allow: true }],
        ['integrations in by the integrations service', ctx(VrmMode.Full), 'i', 'dbus-mqtt-integrations', 'I/local/in/evcharger/HQ/x', { allow: false }],
        ['a short integrations topic', ctx(VrmMode.Full), 'c', 'token/a/b', 'I/local/in/a', { allow: false }],
        ['integrations by a local client', ctx(VrmMode.Full, [], ['loc']), 'loc', '', 'I/local/out/a/b/c', { allow: true }],
        ['a foreign I/ by the integrations service', ctx(VrmMode.Full), 'i', 'dbus-mqtt-integrations', 'I/other/in/x', { allow: false }],
    ];
    for (const [name, context, clientId, username, topic, expected] of rules) {
        it(`decides ${name}`, () => {
            const verdict = checkPublish(context, clientId, username, topic);
            for (const [k, val] of Object.entries(expected))
                assert.equal(verdict[k as keyof typeof verdict], val, `${k} of ${topic}`);
        });
    }

    // The rules read as they are written (the topic split into its levels), the oracle for checkPublish, which reads
    // the levels in place: every combination of the topics, users, clients and VRM modes below must agree.
    function byLevels(c: AclContext, clientId: string, username: string, topic: string): { allow: boolean; act: boolean; vrmInterest: boolean; reason: boolean } {
        const s = topic.split('/');
        const verdict = (allow: boolean, act = false, vrmInterest = false, reason = !allow) => ({ allow, act, vrmInterest, reason });
        if (s.length < 2)
            return verdict(true);
        const [action, systemId] = s as [string, string];
        const bridge = username === 'GXdbus' || username === 'GXrpc';
        if (action === 'I') {
            if (systemId === 'local') {
                const user = username.split('/');
                const ok = s.length >= 5 && (username === 'dbus-mqtt-integrations' ? s[2] === 'out'
                    : s[2] !== 'out' && user.length === 3 && user[0] === 'token' && user[2] !== '' && user[1] === s[3] && user[2] === s[4]);
                return verdict(ok || c.isLocal(clientId));
            }
            if (username !== 'dbus-mqtt-integrations' && !bridge && !c.isLocal(clientId))
                return verdict(false);
        }
        if (action === 'W' && s[2] === 'platform' && topic.includes('/Security/Api') && !c.isPrivileged(clientId, username))
            return verdict(false);
        if (['W', 'R', 'P', 'I'].includes(action)) {
            if (systemId !== c.portalId)
                return action === 'W' || action === 'R' ? verdict(true, false, false, true) : verdict(false);
            if ((action === 'W' || ((action === 'P' || action === 'I') && s[2] === 'in')) && bridge && c.vrmMode() !== VrmMode.Full)
                return verdict(false);
            const act = action === 'R' || action === 'W';
            return verdict(true, act, bridge && act);
        }
        if (action === 'N' && systemId === c.portalId && (clientId !== '' || username !== ''))
            return verdict(false);
        return verdict(true);
    }

    it('decides as the rules read level by level, for every combination of awkward topics, users and modes', () => {
        const topics = ['', '/', 'W', 'W/', 'W//', `W/${ID}`, `W/${ID}/`, `W/${ID}/platform`, `W/${ID}/platform/0/Security/Api`,
            `W/${ID}/platformx/0/Security/Api`, `W/${ID}x/y`, `W/${ID.slice(0, -1)}/y`, `WW/${ID}/x`, `w/${ID}/x`, `R/${ID}`, `R/${ID}/a/b/c/d/e/f`,
            'R/other', `P/${ID}/in`, `P/${ID}/in/x`, `P/${ID}/out/x`, `P/${ID}`, `I/${ID}/in`, `I/${ID}/inx`, 'I/local', 'I/local/in/a/b',
            'I/local/out/a/b/c', 'I/local/in/evcharger/HQ/x', 'I/localx/in/a/b', `N/${ID}`, `N/${ID}/x/0/y`, 'N//x', 'N/other/x', `X/${ID}/x`,
            `/${ID}/x`, `W/${ID}/settings/0/Settings/Services/MqttLocal`];
        const users: Array<[string, string]> = [['c', 'u'], ['', ''], ['GXdbus_1', 'GXdbus'], ['GXrpc_1', 'GXrpc'], ['i', 'dbus-mqtt-integrations'],
            ['t', 'token/evcharger/HQ'], ['t', 'token/a/b'], ['t', 'token/a/'], ['admin', 'u'], ['loc', 'u']];
        let compared = 0;
        for (const mode of [VrmMode.Full, VrmMode.ReadOnly, VrmMode.Off, VrmMode.Unknown]) {
            const c = ctx(mode, ['admin'], ['loc']);
            for (const topic of topics) {
                for (const [clientId, username] of users) {
                    const got = checkPublish(c, clientId, username, topic);
                    const { allow, act, vrmInterest, reason } = got;
                    assert.deepEqual({ allow, act, vrmInterest, reason: reason !== undefined }, byLevels(c, clientId, username, topic),
                        `${username} (${clientId}) on '${topic}', VRM mode ${mode}`);
                    compared++;
                }
            }
        }
        assert.equal(compared, 4 * 35 * 10);
    });

    it('hides write requests with secrets and gates N/ to VRM, in the read rules', () => {
        const r = readRules();
        assert.deepEqual(r.map((x) => x.filter), ['W/+/platform/#', 'W/+/settings/+/+/+/AccessPointPassword/#', 'W/#', 'N/#']);
        assert.deepEqual(r[3], { filter: 'N/#', usernames: ['GXdbus', 'GXrpc'], gate: 'vrm-interest' });
    });
});

describe('local networks', () => {
    const table: Array<[string, string, boolean]> = [
        ['127.0.0.1', '127.0.0.0/8,::1/128', true],
        ['127.255.1.2', '127.0.0.0/8', true],
        ['128.0.0.1', '127.0.0.0/8', false],
        ['::1', '127.0.0.0/8,::1/128', true],
        ['::2', '::1/128', false],
        ['::ffff:127.0.0.1', '127.0.0.0/8', true],
        ['::ffff:10.0.0.1', '127.0.0.0/8', false],
        ['192.168.1.20', '192.168.1.0/24', true],
        ['192.168.2.20', '192.168.1.0/24', false],
        ['fe80::1', 'fe80::/10', true],
        ['2001:db8::1', 'fe80::/10', false],
        ['unix', '127.0.0.0/8', true],
        ['', '127.0.0.0/8', false],
        ['127.0.0.1', '10.0.0.0/8', false],
    ];
    for (const [address, networks, local] of table)
        it(`takes ${address || '(none)'} as ${local ? 'local' : 'not local'} in ${networks}`, () => assert.equal(isLocalAddress(address, parseNetworks(networks)), local));

    for (const bad of ['127.0.0.0/33', 'nonsense', '::1/129', '10.0.0.0/x'])
        it(`refuses '${bad}'`, () => assert.throws(() => parseNetworks(bad)));
});

describe('the login rate limiter (spec §7.3)', () => {
    it('allows 20 new wrong passwords, then one more each second; a repeated one costs nothing', () => {
        const timers = new FakeTimers();
        const limiter = new LoginRateLimiter(() => timers.now());
        for (let i = 0; i < 20; i++) {
            assert.equal(limiter.allows(), true);
            limiter.failed(`pw${i}`);
        }
        assert.equal(limiter.allows(), false);
        timers.advance(1000);
        assert.equal(limiter.allows(), true);
        limiter.failed('pw0');
        assert.equal(limiter.allows(), true, 'a password seen before costs nothing');
        limiter.failed('new');
        assert.equal(limiter.allows(), false);
    });

    it('has a daily budget of 150', () => {
        const timers = new FakeTimers();
        const limiter = new LoginRateLimiter(() => timers.now());
        for (let i = 0; i < 150; i++) {
            timers.advance(1000);
            limiter.failed(`p${i}`);
        }
        timers.advance(60_000);
        assert.deepEqual(limiter.tokens, { shortTerm: 20, longTerm: 0 });
        assert.equal(limiter.allows(), false);
        timers.advance(24 * 3600 * 1000);
        assert.equal(limiter.allows(), true);
    });
});

describe('the login decisions (spec §7.1)', () => {
    const BCRYPT_HALLO = '$2b$04$.Wd.v7vwGPp6SJaFaJOGj.zySh7yPfMeHI4dGE/LWPBkV7izPZjVm';
    let dir: string;

    beforeEach(() => {
        dir = fs.mkdtempSync(path.join(os.tmpdir(), 'dfmq-login-'));
    });
    afterEach(() => fs.rmSync(dir, { recursive: true, force: true }));

    function setup(mode: MqttLocalMode, files: { tokens?: string; password?: string } = {}): { policy: LoginPolicy; trusted: Map<string, string>; logs: string[]; timers: FakeTimers } {
        if (files.tokens !== undefined)
            fs.writeFileSync(path.join(dir, 'tokens.json'), files.tokens);
        if (files.password !== undefined)
            fs.writeFileSync(path.join(dir, 'vnc.txt'), files.password);
        const timers = new FakeTimers();
        const logs: string[] = [];
        const log = new Logger({ write: (l, t) => logs.push(`${l}: ${t}`) }, 't');
        const trusted = new Map<string, string>();
        const deps: LoginDeps = {
            credentials: new Credentials(path.join(dir, 'tokens.json'), path.join(dir, 'vnc.txt'), timers, log),
            verify: (pw, hash) => Promise.resolve((hash === BCRYPT_HALLO && pw === 'hallo') || hash === `plain:${pw}`),
            limiter: new LoginRateLimiter(() => timers.now()),
            networks: () => parseNetworks('127.0.0.0/8,::1/128'),
            mqttLocal: () => mode,
            random: () => 0.5,
            log,
            trust: (c, u, t) => { if (t) trusted.set(c, u); else trusted.delete(c); },
            connected: () => false,
            checks: { concurrency: 2, perSource: 16, total: 1024 },
        };
        return { policy: new LoginPolicy(deps, () => timers.now()), trusted, logs, timers };
    }

    const req = (username: string, password: string, address: string, clientId = `c-${username}`): LoginRequest => ({ clientId, username, password, address });
    const result = (a: LoginAnswer): number => (typeof a === 'object' ? (typeof a.result === 'number' ? a.result : a.result ? 0 : 11) : typeof a === 'number' ? a : a ? 0 : 11);
    const delayed = (a: LoginAnswer): boolean => typeof a === 'object' && (a.delayMs ?? 0) >= 1000 && (a.delayMs ?? 0) < 6000;

    const table: Array<[string, MqttLocalMode, { tokens?: string; password?: string }, LoginRequest, number, boolean]> = [
        ['a bridge username, refused at once', MqttLocalMode.On, {}, req('GXdbus', 'x', '127.0.0.1'), AuthResult.aclDenied, false],
        ['the integrations user from localhost', MqttLocalMode.Off, {}, req('dbus-mqtt-integrations', '', '127.0.0.1'), AuthResult.success, false],
        ['the integrations user from the LAN', MqttLocalMode.On, { password: '' }, req('dbus-mqtt-integrations', '', '10.0.0.5'), AuthResult.loginDenied, true],
        ['anyone from localhost', MqttLocalMode.Off, {}, req('whoever', 'whatever', '127.0.0.1'), AuthResult.success, false],
        ['anyone from ::1', MqttLocalMode.Off, {}, req('whoever', '', '::1'), AuthResult.success, false],
        ['a token user with its password', MqttLocalMode.Off, { tokens: JSON.stringify([{ token_name: 'token/evc/HQ1', password_hash: BCRYPT_HALLO }]) }, req('token/evc/HQ1', 'hallo', '10.0.0.5'), AuthResult.success, false],
        ['a token user with a wrong password', MqttLocalMode.On, { tokens: JSON.stringify([{ token_name: 'token/evc/HQ1', password_hash: BCRYPT_HALLO }]) }, req('token/evc/HQ1', 'nope', '10.0.0.5'), AuthResult.aclDenied, true],
        ['an unknown token user', MqttLocalMode.On, { tokens: '[]', password: '' }, req('token/evc/XX', 'x', '10.0.0.5'), AuthResult.loginDenied, true],
        ['a LAN client while LAN MQTT is off', MqttLocalMode.Off, { password: '' }, req('u', 'x', '10.0.0.5'), AuthResult.loginDenied, true],
        ['a LAN client while LAN MQTT is tokens only', MqttLocalMode.TokensOnly, { password: '' }, req('u', 'x', '10.0.0.5'), AuthResult.loginDenied, true],
        ['a LAN client before MqttLocal is known', MqttLocalMode.Unknown, { password: '' }, req('u', 'x', '10.0.0.5'), AuthResult.loginDenied, true],
        ['a LAN client with no password set (empty file)', MqttLocalMode.On, { password: '' }, req('u', 'anything', '10.0.0.5'), AuthResult.success, false],
        ['a LAN client with no password set (empty first line)', MqttLocalMode.On, { password: '\nrest' }, req('u', '', '10.0.0.5'), AuthResult.success, false],
        ['a LAN client with the password', MqttLocalMode.On, { password: `${BCRYPT_HALLO}\n` }, req('u', 'hallo', '10.0.0.5'), AuthResult.success, false],
        ['a LAN client with a wrong password', MqttLocalMode.On, { password: `${BCRYPT_HALLO}\n` }, req('u', 'halo', '10.0.0.5'), AuthResult.loginDenied, true],
        ['a LAN client without a password file', MqttLocalMode.On, {}, req('u', 'x', '10.0.0.5'), AuthResult.loginDenied, true],
        ['a LAN client with a broken tokens file', MqttLocalMode.On, { tokens: '{not json', password: '' }, req('u', 'x', '10.0.0.5'), AuthResult.success, false],
    ];
    for (const [name, mode, files, request, expected, isDelayed] of table) {
        it(`decides ${name}`, async () => {
            const { policy } = setup(mode, files);
            const answer = await policy.decide(request);
            assert.equal(result(answer), expected);
            assert.equal(delayed(answer), isDelayed, `delayed: ${JSON.stringify(answer)}`);
        });
    }

    it('logs a broken tokens file once, and still serves password logins', async () => {
        const { policy, logs } = setup(MqttLocalMode.On, { tokens: '{not json', password: '' });
        await policy.decide(req('a', 'x', '10.0.0.5'));
        await policy.decide(req('b', 'x', '10.0.0.5'));
        assert.equal(logs.filter((l) => /token file/.test(l)).length, 1);
    });

    it('reads the files a reload names at the next login, not a second later', async () => {
        fs.writeFileSync(path.join(dir, 'other-tokens.json'), JSON.stringify([{ token_name: 'token/evc/NEW', password_hash: 'plain:pw' }]));
        fs.writeFileSync(path.join(dir, 'other-vnc.txt'), 'plain:secret\n');
        const timers = new FakeTimers();
        const log = new Logger({ write: () => undefined }, 't');
        const credentials = new Credentials(path.join(dir, 'tokens.json'), path.join(dir, 'vnc.txt'), timers, log);
        assert.equal(await credentials.tokenUsers(), undefined);
        assert.deepEqual(await credentials.passwordSetting(), { kind: 'absent' });
        credentials.setFiles(path.join(dir, 'other-tokens.json'), path.join(dir, 'other-vnc.txt'));
        assert.deepEqual(await credentials.tokenUsers(), [{ name: 'token/evc/NEW', hash: 'plain:pw' }]);
        assert.deepEqual(await credentials.passwordSetting(), { kind: 'hash', hash: 'plain:secret' });
    });

    it('marks privileged and trusted clients, and forgets them when they leave', async () => {
        const { policy, trusted } = setup(MqttLocalMode.On, { password: '' });
        await policy.decide(req('admin', 'x', '127.0.0.1', 'local-1'));
        await policy.decide(req('lan', 'x', '10.0.0.9', 'lan-1'));
        assert.equal(policy.isPrivileged('local-1', 'admin'), true);
        assert.equal(policy.isPrivileged('lan-1', 'lan'), true, 'security-profile password logins are privileged');
        assert.equal(policy.isPrivileged('lan-1', 'other'), false);
        assert.equal(policy.isLocal('local-1'), true);
        assert.equal(policy.isLocal('lan-1'), false);
        assert.deepEqual([...trusted], [['local-1', 'admin']]);
        policy.onDisconnected('local-1');
        assert.deepEqual([...trusted], []);
        assert.equal(policy.isPrivileged('local-1', 'admin'), false);
    });

    it('throws out password logins on tokens-only, and every LAN login on off', async () => {
        const tokens = JSON.stringify([{ token_name: 'token/a/1', password_hash: BCRYPT_HALLO }]);
        const { policy } = setup(MqttLocalMode.On, { password: '', tokens });
        await policy.decide(req('pw', 'x', '10.0.0.1', 'pw-1'));
        await policy.decide(req('token/a/1', 'hallo', '10.0.0.2', 'tok-1'));
        await policy.decide(req('loc', 'x', '127.0.0.1', 'loc-1'));
        assert.deepEqual(policy.affectedBy(MqttLocalMode.On), []);
        assert.deepEqual(policy.affectedBy(MqttLocalMode.TokensOnly).map((c) => c.clientId), ['pw-1']);
        assert.deepEqual(policy.affectedBy(MqttLocalMode.Off).map((c) => c.clientId), ['tok-1']);
        assert.equal(policy.size, 1);
    });

    it('names the clients of a removed token user', async () => {
        const tokens = JSON.stringify([{ token_name: 'token/a/1', password_hash: BCRYPT_HALLO }]);
        const { policy } = setup(MqttLocalMode.On, { tokens });
        await policy.decide(req('token/a/1', 'hallo', '10.0.0.2', 'one'));
        await policy.decide(req('token/a/1', 'hallo', '10.0.0.3', 'two'));
        assert.deepEqual(policy.ofUser('token/a/1').map((c) => c.clientId).sort(), ['one', 'two']);
        assert.deepEqual(policy.ofUser('token/a/1'), []);
    });

    it('rate-limits wrong passwords, and refuses even the right one while exhausted', async () => {
        const { policy } = setup(MqttLocalMode.On, { password: `${BCRYPT_HALLO}\n` });
        for (let i = 0; i < 20; i++)
            assert.equal(result(await policy.decide(req('u', `guess${i}`, '10.0.0.5'))), AuthResult.loginDenied);
        assert.equal(result(await policy.decide(req('u', 'hallo', '10.0.0.5'))), AuthResult.loginDenied);
    });
});
