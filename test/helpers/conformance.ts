// The original plugin's full publish of the bct recording (test/fixtures/conformance), and how to hold ours
// against it: every topic and every payload byte.
import * as fs from 'node:fs';
import * as path from 'node:path';

import type { MqttClient } from 'mqtt';

import type { Inbox } from './mqtt';
import { recordingsDir } from './venus';

interface Conformance {
    portal_id: string;
    topics: Record<string, string>;
    services: Record<string, { type_instance: string }>;
}

export function readConformance(): Conformance {
    return JSON.parse(fs.readFileSync(path.resolve(recordingsDir, '../conformance/original-bct-full-publish.json'), 'utf8')) as Conformance;
}

/** Sends a keep-alive with an echo and collects every notification up to its completion: topic -> payload. */
export async function fullPublish(client: MqttClient, inbox: Inbox, portalId: string, echo: string, timeoutMs = 20_000): Promise<Map<string, string>> {
    const N = `N/${portalId}`;
    inbox.clear();
    await client.publishAsync(`R/${portalId}/keepalive`, JSON.stringify({ 'keepalive-options': [{ 'full-publish-completed-echo': echo }] }));
    const done = await inbox.waitFor((m) => m.topic === `${N}/full_publish_completed` && m.payload.toString().includes(`"${echo}"`), timeoutMs);
    const out = new Map<string, string>();
    for (const m of inbox.messages) {
        if (m === done)
            break;
        out.set(m.topic, m.payload.toString());
    }
    return out;
}

/** The topics of the recording's services in `got`, and how they differ from the original's (empty: byte-exact). */
export function conformanceDifferences(got: ReadonlyMap<string, string>, portalId: string): { ours: Map<string, string>; differences: string[] } {
    const conformance = readConformance();
    const prefixes = Object.values(conformance.services).map((s) => `N/${portalId}/${s.type_instance}/`);
    const ours = new Map([...got].filter(([t]) => prefixes.some((p) => t.startsWith(p))));
    const differences: string[] = [];
    for (const [topic, payload] of Object.entries(conformance.topics))
        if (ours.get(topic) !== payload)
            differences.push(`${topic}: ${ours.get(topic)} != ${payload}`);
    for (const topic of ours.keys())
        if (!(topic in conformance.topics))
            differences.push(`${topic}: published, but not by the original`);
    return { ours, differences };
}
