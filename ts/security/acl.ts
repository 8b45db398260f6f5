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

const allow = (act = false, vrmInterest = false): PublishVerdict => ({ allow: true, act, vrmInterest });
const deny = (reason: string): PublishVerdict => ({ allow: false, act: false, vrmInterest: false, reason });

/** I/local/<direction>/<role>/<uid>/...: who may publish (spec §7.6). */
function integrationWrite(username: string, s: readonly string[]): boolean {
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

/** The decision for a client publish (write access). */
export function checkPublish(ctx: AclContext, clientId: string, username: string, topic: string): PublishVerdict {
    const s = topic.split('/', 5); // the rules look at the first five levels at most (integrationWrite)
    if (s.length < 2)
        return allow();
    const [action, systemId] = s as [string, string];
    const bridge = BRIDGE_USERS.includes(username);

    if (action === 'I') {
        if (systemId === 'local') {
            if (integrationWrite(username, s) || ctx.isLocal(clientId))
                return allow();
            return deny(`'${username}' may not publish on '${topic}'`);
        }
        if (username !== INTEGRATIONS_USER && !bridge && !ctx.isLocal(clientId))
            return deny(`'${username}' may not publish integration topics from a non-local client`);
    }

    if (action === 'W' && s[2] === 'platform' && topic.includes('/Security/Api') && !ctx.isPrivileged(clientId, username))
        return deny(`'${username}' is not privileged to write '${topic}'`);

    if (action === 'W' || action === 'R' || action === 'P' || action === 'I') {
        if (systemId !== ctx.portalId) {
            if (action === 'W' || action === 'R')
                return { ...allow(), reason: `'${topic}' is for portal id '${systemId}', not '${ctx.portalId}'; routed but not acted on` };
            return deny(`'${topic}' is for portal id '${systemId}', not '${ctx.portalId}'`);
        }
        if ((action === 'W' || ((action === 'P' || action === 'I') && s[2] === 'in')) && bridge && ctx.vrmMode() !== VrmMode.Full)
            return deny(`VRM may not write while the VRM portal is not in full mode ('${topic}')`);
        const act = action === 'R' || action === 'W';
        return allow(act, bridge && act);
    }

    if (action === 'N' && systemId === ctx.portalId && (clientId !== '' || username !== ''))
        return deny(`client '${clientId}' published on '${topic}'; clients may not publish notifications`);

    return allow();
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
