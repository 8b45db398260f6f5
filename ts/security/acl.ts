// Who may publish what (spec §7.5-7.6), for the client publishes the plugin sees (R/, W/, N/, P/, I/), and the read
// rules it hands to the broker for every delivery (answered in C++, see native/read_acl.h).

import type { ReadRule } from '../native/binding';
import { BRIDGE_USERS, INTEGRATIONS_USER } from './login';

export const enum VrmMode {
    Off = 0,
    ReadOnly = 1,
    Full = 2,
    Unknown = -1,
}

export interface AclContext {
    portalId: string;
    vrmMode(): VrmMode;
    isPrivileged(clientId: string, username: string): boolean;
    isLocal(clientId: string): boolean;
}

export interface PublishVerdict {
    allow: boolean;
    /** The plugin acts on it (an R/ or W/ request for this device). */
    act: boolean;
    /** An R/ or W/ from a VRM bridge: VRM is interested, N/ may flow to it. */
    vrmInterest: boolean;
    /** Why it was refused, or why it is only routed (for the log). */
    reason?: string;
}

// The verdicts that carry no reason are shared (frozen): checkPublish runs for every client publish.
const ALLOW: PublishVerdict = Object.freeze({ allow: true, act: false, vrmInterest: false });
const ALLOW_ACT: PublishVerdict = Object.freeze({ allow: true, act: true, vrmInterest: false });
const ALLOW_ACT_VRM: PublishVerdict = Object.freeze({ allow: true, act: true, vrmInterest: true });
const deny = (reason: string): PublishVerdict => ({ allow: false, act: false, vrmInterest: false, reason });

/** I/local/<direction>/<role>/<uid>/...: who may publish (spec §7.6). */
function integrationWrite(username: string, topic: string): boolean {
    const s = topic.split('/', 5);
    if (s.length < 5)
        return false;
    const direction = s[2]!;
    if (username === INTEGRATIONS_USER)
        return direction === 'out';
    if (direction === 'out')
        return false;
    const parts = username.split('/');
    return parts.length === 3 && parts[0] === 'token' && parts[2] !== '' && parts[1] === s[3] && parts[2] === s[4];
}

/** Whether topic[start, end) is `text`, without making it a string of its own. */
function levelIs(topic: string, start: number, end: number, text: string): boolean {
    return end - start === text.length && topic.startsWith(text, start);
}

/** The level after the one that ends at `slash` (a '/' index; -1: there is none). */
function levelAfter(topic: string, slash: number): string | undefined {
    if (slash < 0)
        return undefined;
    const next = topic.indexOf('/', slash + 1);
    return topic.slice(slash + 1, next < 0 ? topic.length : next);
}

const W = 0x57;
const R = 0x52;
const P = 0x50;
const I = 0x49;
const N = 0x4e;

/**
 * The decision for a client publish (write access). It reads the topic's first levels in place rather than split
 * it: this runs for every client publish.
 */
export function checkPublish(ctx: AclContext, clientId: string, username: string, topic: string): PublishVerdict {
    const first = topic.indexOf('/');
    if (first < 0)
        return ALLOW;
    const second = topic.indexOf('/', first + 1);
    const idEnd = second < 0 ? topic.length : second; // the second level, the system id: [first + 1, idEnd)
    const action = first === 1 ? topic.charCodeAt(0) : 0; // every rule below is about a one-letter first level

    if (action === I) {
        if (levelIs(topic, first + 1, idEnd, 'local')) {
            if (integrationWrite(username, topic) || ctx.isLocal(clientId))
                return ALLOW;
            return deny(`'${username}' may not publish on '${topic}'`);
        }
        if (username !== INTEGRATIONS_USER && !BRIDGE_USERS.includes(username) && !ctx.isLocal(clientId))
            return deny(`'${username}' may not publish integration topics from a non-local client`);
    }

    if (action === W && levelAfter(topic, second) === 'platform' && topic.includes('/Security/Api') && !ctx.isPrivileged(clientId, username))
        return deny(`'${username}' is not privileged to write '${topic}'`);

    if (action === W || action === R || action === P || action === I) {
        if (!levelIs(topic, first + 1, idEnd, ctx.portalId)) {
            const systemId = topic.slice(first + 1, idEnd);
            if (action === W || action === R)
                return { ...ALLOW, reason: `'${topic}' is for portal id '${systemId}', not '${ctx.portalId}'; routed but not acted on` };
            return deny(`'${topic}' is for portal id '${systemId}', not '${ctx.portalId}'`);
        }
        const isBridge = BRIDGE_USERS.includes(username);
        if (isBridge && (action === W || ((action === P || action === I) && levelAfter(topic, second) === 'in')) && ctx.vrmMode() !== VrmMode.Full)
            return deny(`VRM may not write while the VRM portal is not in full mode ('${topic}')`);
        if (action === R || action === W)
            return isBridge ? ALLOW_ACT_VRM : ALLOW_ACT;
        return ALLOW;
    }

    if (action === N && levelIs(topic, first + 1, idEnd, ctx.portalId) && (clientId !== '' || username !== ''))
        return deny(`client '${clientId}' published on '${topic}'; clients may not publish notifications`);

    return ALLOW;
}

/** The read rules: write requests that carry secrets are hidden from other subscribers; N/ reaches a VRM bridge only
 *  while VRM showed interest (the 'vrm-interest' gate, opened for 130 s by each of its requests). */
export function readRules(): ReadRule[] {
    return [
        { filter: 'W/+/platform/#', contains: '/Security/Api' },
        { filter: 'W/+/settings/+/+/+/AccessPointPassword/#' },
        { filter: 'W/#', containsIgnoreCase: 'password' },
        { filter: 'N/#', usernames: [...BRIDGE_USERS], gate: VRM_INTEREST_GATE },
    ];
}

export const VRM_INTEREST_GATE = 'vrm-interest';
export const VRM_INTEREST_MS = 130_000;
