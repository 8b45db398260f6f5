// Which client addresses count as "localhost": a list of networks (default 127.0.0.0/8 and ::1/128). IPv4-mapped
// IPv6 addresses (::ffff:127.0.0.1) are taken as the IPv4 address they carry, and clients on a Unix socket count
// as local (only local processes can reach one); the original plugin counted neither (spec §12 Q12).

import * as net from 'node:net';

export interface Network {
    family: 4 | 6;
    bytes: Uint8Array;
    prefix: number;
}

function ipv4Bytes(text: string): Uint8Array {
    return Uint8Array.from(text.split('.').map(Number));
}

function ipv6Bytes(text: string): Uint8Array {
    let t = text;
    const v4 = /(\d+\.\d+\.\d+\.\d+)$/.exec(t);
    let tail: number[] = [];
    if (v4) {
        tail = Array.from(ipv4Bytes(v4[1]!));
        t = t.slice(0, -v4[1]!.length) + '0:0';
    }
    const [head, rest] = t.includes('::') ? t.split('::') as [string, string] : [t, undefined];
    const headGroups = head ? head.split(':') : [];
    const restGroups = rest !== undefined && rest !== '' ? rest.split(':') : [];
    const missing = 8 - headGroups.length - restGroups.length;
    const groups = [...headGroups, ...Array<string>(rest !== undefined ? missing : 0).fill('0'), ...restGroups];
    const out = new Uint8Array(16);
    groups.forEach((g, i) => {
        const n = parseInt(g || '0', 16);
        out[i * 2] = n >> 8;
        out[i * 2 + 1] = n & 255;
    });
    if (tail.length === 4)
        out.set(tail, 12);
    return out;
}

/** 'a.b.c.d/n' or 'x::y/n' (or a single address); throws on anything else. */
export function parseNetwork(text: string): Network {
    const [addr, prefixText] = text.trim().split('/') as [string, string | undefined];
    const family = net.isIP(addr);
    if (family === 0)
        throw new Error(`'${text}' is not an IP network`);
    const max = family === 4 ? 32 : 128;
    const prefix = prefixText === undefined ? max : Number(prefixText);
    if (!Number.isInteger(prefix) || prefix < 0 || prefix > max || (prefixText !== undefined && !/^\d+$/.test(prefixText)))
        throw new Error(`'${text}' has an invalid prefix length`);
    return { family: family as 4 | 6, bytes: family === 4 ? ipv4Bytes(addr) : ipv6Bytes(addr), prefix };
}

export function parseNetworks(text: string): Network[] {
    return text.split(/[\s,]+/).filter((t) => t.length > 0).map(parseNetwork);
}

export const defaultLocalNetworks = '127.0.0.0/8,::1/128';

function inNetwork(bytes: Uint8Array, n: Network): boolean {
    let bits = n.prefix;
    for (let i = 0; bits > 0; i++, bits -= 8) {
        const mask = bits >= 8 ? 0xff : (0xff << (8 - bits)) & 0xff;
        if ((bytes[i]! & mask) !== (n.bytes[i]! & mask))
            return false;
    }
    return true;
}

/** Whether a client at `address` (as the binding reports it: an IP, 'unix', or '') is local. */
export function isLocalAddress(address: string, networks: readonly Network[]): boolean {
    if (address === 'unix')
        return true;
    const family = net.isIP(address);
    if (family === 0)
        return false;
    let bytes = family === 4 ? ipv4Bytes(address) : ipv6Bytes(address);
    let fam: 4 | 6 = family as 4 | 6;
    if (fam === 6 && bytes.slice(0, 10).every((b) => b === 0) && bytes[10] === 0xff && bytes[11] === 0xff) {
        bytes = bytes.slice(12);
        fam = 4;
    }
    return networks.some((n) => n.family === fam && inNetwork(bytes, n));
}
