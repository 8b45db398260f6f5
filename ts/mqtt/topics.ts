// MQTT topics of the Venus API, parsed and built as the original does (spec §3.3, §5).

import { serviceType, VICTRON_PREFIX } from '../dbus/naming';

export function notificationTopic(portalId: string, type: string, instance: string, path: string): string {
    return `N/${portalId}/${type}/${instance}${path}`;
}

/** `N/<id>/<what>` topics of the plugin itself: keepalive, heartbeat, full_publish_completed. */
export function portalTopic(portalId: string, what: string): string {
    return `N/${portalId}/${what}`;
}

/**
 * The type level of an R/W topic: a plain word as it is; a full service name such as 'com.victronenergy.settings'
 * shortened to 'settings'. Anything else with a '.' or '/' is refused (undefined).
 */
export function typeLevel(level: string): string | undefined {
    if (level.startsWith(VICTRON_PREFIX))
        return serviceType(level);
    if (level.length === 0 || level.includes('.') || level.includes('/'))
        return undefined;
    return level;
}

export interface ItemAddress {
    type: string;
    instance: string;
    /** The D-Bus path: '/' + everything after the instance level ('/' alone for a trailing slash). */
    path: string;
}

/**
 * `<action>/<id>/<type>/<instance>/<path...>` -> the item it names, or the reason it names none. The topic is split
 * at most four times, so the path keeps its slashes.
 */
export function itemAddress(topic: string): ItemAddress | { problem: string } {
    const levels: string[] = [];
    let rest = topic;
    for (let i = 0; i < 4; i++) {
        const slash = rest.indexOf('/');
        if (slash < 0)
            return { problem: `'${topic}' does not name an item (<type>/<instance>/<path> expected)` };
        levels.push(rest.slice(0, slash));
        rest = rest.slice(slash + 1);
    }
    const type = typeLevel(levels[2]!);
    if (type === undefined)
        return { problem: `'${levels[2]}' in '${topic}' is not a service type` };
    return { type, instance: levels[3]!, path: `/${rest}` };
}
