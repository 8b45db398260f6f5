// Notification payloads, byte for byte as the original publishes them (spec §4): {"max":..,"min":..,"value":..}
// with min and max only when ever received, secrets masked, two paths never published, one topic retained.

import type { VeValue } from '../dbus/values';
import { doubleValuePayload, formatJson, integerValuePayload } from '../util/json-format';

// Path -> service type; looked up by path, so the check builds no string.
const MASKED = new Map([['/Settings/Ble/Service/Pincode', 'settings'], ['/Settings/Services/AccessPointPassword', 'settings']]);
// Service type -> its one path never published; a full publish looks it up once per service, not per item.
const BLOCKED = new Map([['vebus', '/Interfaces/Mk2/Tunnel'], ['paygo', '/LVD/Threshold']]);

/** The path of a service type that is never published, if it has one. */
export function blockedPathOf(type: string): string | undefined {
    return BLOCKED.get(type);
}

/** Never published: not on change, not in a full publish, not on a read, not when the service goes. */
export function isBlocked(type: string, path: string): boolean {
    return blockedPathOf(type) === path;
}

/** The path of a service type whose notification is retained, if it has one: only system's /Serial. */
export function retainedPathOf(type: string): string | undefined {
    return type === 'system' ? '/Serial' : undefined;
}

/** The one retained notification: N/<id>/system/<instance>/Serial. */
export function isRetained(type: string, path: string): boolean {
    return retainedPathOf(type) === path;
}

function masked(type: string, path: string, value: VeValue): VeValue {
    return typeof value === 'string' && MASKED.get(path) === type ? '******' : value;
}

/** What a payload is made of: an item's value, and its min and max when they were ever received. */
export interface PayloadSource {
    path: string;
    value: VeValue;
    min?: VeValue | undefined;
    max?: VeValue | undefined;
}

export function itemPayload(type: string, item: PayloadSource): string {
    if (item.min === undefined && item.max === undefined) {
        // The usual change: a number, in one string and nothing else allocated.
        if (typeof item.value === 'number')
            return doubleValuePayload(item.value);
        if (typeof item.value === 'bigint')
            return integerValuePayload(item.value);
    }
    const value = formatJson(masked(type, item.path, item.value));
    if (item.min === undefined && item.max === undefined)
        return `{"value":${value}}`;
    let out = '{';
    if (item.max !== undefined)
        out += `"max":${formatJson(item.max)},`;
    if (item.min !== undefined)
        out += `"min":${formatJson(item.min)},`;
    return `${out}"value":${value}}`;
}

/** {"value":<unix seconds>} and, with an echo, {"full-publish-completed-echo":"<echo>","value":<unix seconds>}. */
export function completionPayload(unixSeconds: number, echo?: string): string {
    const value = Math.floor(unixSeconds);
    return echo === undefined ? `{"value":${value}}` : `{"full-publish-completed-echo":${JSON.stringify(echo)},"value":${value}}`;
}
