// MQTT clients for end-to-end tests (mqtt.js), with an inbox to wait on.
import type { IClientOptions, IPublishPacket, MqttClient } from 'mqtt';
import { connectAsync } from 'mqtt';

export interface Received {
    topic: string;
    payload: Buffer;
    retain: boolean;
    packet: IPublishPacket;
    at: number;
}

export async function connect(port: number, options: IClientOptions = {}): Promise<MqttClient> {
    return connectAsync(`mqtt://127.0.0.1:${port}`, { reconnectPeriod: 0, connectTimeout: 8000, protocolVersion: 5, ...options });
}

export class Inbox {
    readonly messages: Received[] = [];
    private waiters: Array<() => void> = [];

    constructor(readonly client: MqttClient) {
        client.on('message', (topic, payload, packet) => {
            this.messages.push({ topic, payload, retain: packet.retain, packet, at: Date.now() });
            for (const w of this.waiters.splice(0))
                w();
        });
    }

    static async subscribe(client: MqttClient, filters: string | string[]): Promise<Inbox> {
        const inbox = new Inbox(client);
        await client.subscribeAsync(filters, { qos: 0 });
        return inbox;
    }

    on(topic: string): Received[] {
        return this.messages.filter((m) => m.topic === topic);
    }

    async waitFor(match: string | ((m: Received) => boolean), timeoutMs = 5000): Promise<Received> {
        const pred = typeof match === 'string' ? (m: Received) => m.topic === match : match;
        const deadline = Date.now() + timeoutMs;
        for (;;) {
            const found = this.messages.find(pred);
            if (found)
                return found;
            const left = deadline - Date.now();
            if (left <= 0)
                throw new Error(`no message ${typeof match === 'string' ? `on '${match}'` : 'matching'} within ${timeoutMs} ms; got: ${this.messages.map((m) => m.topic).slice(-10).join(', ')}`);
            await new Promise<void>((resolve) => {
                const timer = setTimeout(resolve, left);
                this.waiters.push(() => { clearTimeout(timer); resolve(); });
            });
        }
    }

    /** Waits a while and returns what arrived on the topic: for asserting that something did not come. */
    async collect(topic: string, ms: number): Promise<Received[]> {
        await new Promise((resolve) => setTimeout(resolve, ms));
        return this.on(topic);
    }

    clear(): void {
        this.messages.length = 0;
    }
}

export async function closeAll(...clients: Array<MqttClient | undefined>): Promise<void> {
    await Promise.all(clients.filter((c): c is MqttClient => c !== undefined).map((c) => c.endAsync(true).catch(() => undefined)));
}
