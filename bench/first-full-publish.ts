// The moment a plugin first answers a keep-alive with every topic: a client subscribes to N/<id>/# and sends
// keep-alives, one at a time (each waited for up to 2 s), until one's full_publish_completed follows at least
// `expected` topics (`onAnswered` runs at that moment, `onSending` before each keep-alive). Shared by the benchmarks that time a start-up (bench:venus,
// bench:phases).
import { closeAll, connect } from '../test/helpers/mqtt';
import { sleep } from '../test/helpers/flashmq';

export interface FirstFullPublish {
    /** performance.now() when the full publish completed, NaN if none did within the attempts. */
    at: number;
    /** The topics of the last keep-alive's answer. */
    topics: number;
    /** That keep-alive's publish to its full_publish_completed, ms (the first full publish the client had whole). */
    tookMs: number;
}

export async function firstFullPublish(port: number, id: string, expected: number, attempts: number, pauseMs: number,
    onAnswered?: () => void, onSending?: () => void): Promise<FirstFullPublish> {
    const client = await connect(port, { protocolVersion: 4 });
    const topics = new Set<string>();
    let done = false;
    client.on('message', (topic) => {
        if (topic.endsWith('/full_publish_completed'))
            done = true;
        else if (!topic.endsWith('/heartbeat'))
            topics.add(topic);
    });
    await client.subscribeAsync(`N/${id}/#`);
    let at = NaN;
    let tookMs = NaN;
    for (let attempt = 0; attempt < attempts && Number.isNaN(at); attempt++) {
        done = false;
        topics.clear();
        onSending?.();
        const sent = performance.now();
        await client.publishAsync(`R/${id}/keepalive`, '');
        const deadline = performance.now() + 2000;
        while (!done && performance.now() < deadline)
            await sleep(1);
        if (done && topics.size >= expected) {
            at = performance.now();
            tookMs = at - sent;
            onAnswered?.();
        } else
            await sleep(pauseMs);
    }
    await closeAll(client);
    return { at, topics: topics.size, tookMs };
}
