// Service names and device instances, as the original maps them to topics.

import { formatDoubleLikeIostream, formatJson } from '../util/json-format';
import type { VeValue } from './values';
import { UNKNOWN_TYPE } from './values';

export const VICTRON_PREFIX = 'com.victronenergy.';

/**
 * The service type: the part after 'com.victronenergy.' up to the next dot ('com.victronenergy.vebus.ttyS4' ->
 * 'vebus'). Undefined for names that are not Victron services (including 'com.victronenergyX.y', which the original
 * half-accepts).
 */
export function serviceType(name: string): string | undefined {
    if (!name.startsWith(VICTRON_PREFIX))
        return undefined;
    const rest = name.slice(VICTRON_PREFIX.length);
    const type = rest.split('.')[0]!;
    return type.length > 0 ? type : undefined;
}

/** C's (int) conversion of a D-Bus value, as the original takes /DeviceInstance. */
function toCInt(value: VeValue): number {
    if (typeof value === 'bigint')
        return Number(BigInt.asIntN(32, value));
    if (typeof value === 'number') {
        if (!Number.isFinite(value))
            return 0;
        return Number(BigInt.asIntN(32, BigInt(Math.trunc(value))));
    }
    if (typeof value === 'boolean')
        return value ? 1 : 0;
    return 0;
}

/** /Identifier as text, the way the original prints it. */
function identifierText(value: VeValue): string {
    if (typeof value === 'string')
        return value;
    if (typeof value === 'bigint')
        return value.toString();
    if (typeof value === 'number')
        return formatDoubleLikeIostream(value);
    if (typeof value === 'boolean')
        return value ? 'true' : 'false';
    if (value === UNKNOWN_TYPE)
        return 'unknown_type';
    return formatJson(value);
}

/**
 * The instance part of a service's topics, from the items of its first scan: /DeviceInstance as an integer, else
 * /Identifier as text, else '0'. (The original prints a byte-typed /Identifier as a raw character; here every
 * integer type prints as a number.)
 */
export function instanceOf(items: ReadonlyMap<string, VeValue | undefined>): string {
    if (items.has('/DeviceInstance'))
        return String(toCInt(items.get('/DeviceInstance') ?? null));
    if (items.has('/Identifier'))
        return identifierText(items.get('/Identifier') ?? null);
    return '0';
}
