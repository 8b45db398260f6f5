// Every shared recording on a private bus, read back with a plain dbus-next client; the bct recording checked
// item by item against what the original plugin published for it (the D-Bus type of every value).
import { strict as assert } from 'node:assert';
import * as fs from 'node:fs';
import * as path from 'node:path';

import type { MessageBus, Variant } from 'dbus-next';

import type { DbusDaemon } from '../helpers/dbus-daemon';
import { call, closeClient, connectClient, describeWithDbus, startDbusDaemon } from '../helpers/dbus-daemon';
import { defaultRecordingsDir, listSystems, Simulator } from '../../ts/sim/index';

const recordingsDir = defaultRecordingsDir();
const conformanceFile = path.resolve(recordingsDir, '..', 'conformance', 'original-bct-full-publish.json');

/** An independent reading of a recording: line 1 is the service, then '/...' lines up to the first blank line. */
function expected(file: string): { service: string; items: number } {
    let text = fs.readFileSync(file, 'utf8');
    if (/^[^\n\t]+\.csv\s*$/.test(text))
        text = fs.readFileSync(path.resolve(path.dirname(file), text.trim()), 'utf8');
    const lines = text.split(/\r?\n/);
    let items = 0;
    for (const line of lines.slice(1)) {
        if (line.trim() === '')
            break;
        if (line.startsWith('/'))
            items++;
    }
    return { service: (lines[0] ?? '').trim(), items };
}

type Items = Record<string, { Value: Variant; Text: Variant }>;

async function getItems(client: MessageBus, service: string): Promise<Items> {
    const reply = await call(client, service, '/', 'GetItems');
    assert.equal(reply.signature, 'a{sa{sv}}');
    return reply.body[0] as Items;
}

const INTEGER_SIGNATURES = new Set(['y', 'n', 'q', 'i', 'u', 'x', 't']);

/** Does the value on the bus have the type and value the original plugin published as this JSON text? */
function conforms(value: Variant, json: string): string | undefined {
    const parsed: unknown = JSON.parse(json);
    if (parsed === null)
        return value.signature.startsWith('a') && (value.value as { length: number }).length === 0 ? undefined : 'expected an empty array';
    if (typeof parsed === 'string')
        return value.signature === 's' && value.value === parsed ? undefined : 'expected the string';
    if (typeof parsed === 'number') {
        if (/[.eE]/.test(json))
            return value.signature === 'd' && value.value === parsed ? undefined : 'expected a double';
        return INTEGER_SIGNATURES.has(value.signature) && Number(value.value) === parsed ? undefined : 'expected an integer';
    }
    if (Array.isArray(parsed)) {
        const elements = Buffer.isBuffer(value.value) ? [...value.value] : value.value as unknown[];
        return value.signature.startsWith('a') && JSON.stringify(elements) === JSON.stringify(parsed) ? undefined : 'expected the array';
    }
    return 'unexpected payload';
}

describeWithDbus('sim recordings on the bus', function () {
    this.timeout(60000);
    let daemon: DbusDaemon;
    let client: MessageBus;

    before(async function () {
        if (!fs.existsSync(recordingsDir))
            this.skip();
        daemon = await startDbusDaemon();
        client = await connectClient(daemon.address);
    });

    after(async () => {
        if (client)
            await closeClient(client);
        await daemon?.stop();
    });

    const systems = fs.existsSync(recordingsDir) ? listSystems(recordingsDir).filter((s) => s.name !== 'devices') : [];
    for (const system of systems) {
        it(`plays '${system.name}' with every service and item`, async () => {
            const sim = await Simulator.start({ busAddress: daemon.address, recording: system.name, speed: 0 });
            try {
                const names = (await call(client, 'org.freedesktop.DBus', '/org/freedesktop/DBus', 'ListNames', { iface: 'org.freedesktop.DBus' })).body[0] as string[];
                assert.ok(names.includes('com.victronenergy.settings'));
                for (const file of system.files) {
                    const { service, items } = expected(file);
                    assert.ok(names.includes(service), `${service} is on the bus`);
                    assert.equal(sim.itemCount(service), items);
                    assert.equal(Object.keys(await getItems(client, service)).length, items, `${service} GetItems`);
                }
                assert.equal(sim.serviceNames.length, system.files.length + 1);
            } finally {
                await sim.stop();
            }
        });
    }

    it('plays every single-device recording', async () => {
        const devices = path.join(recordingsDir, 'devices');
        for (const file of fs.readdirSync(devices).filter((f) => f.endsWith('.csv'))) {
            const sim = await Simulator.start({ busAddress: daemon.address, recording: `devices/${file}`, speed: 0, settings: false });
            try {
                const { service, items } = expected(path.join(devices, file));
                assert.deepEqual(sim.serviceNames, [service]);
                assert.equal(Object.keys(await getItems(client, service)).length, items, file);
            } finally {
                await sim.stop();
            }
        }
    });

    describe('bct against the original plugin\'s publish', () => {
        let sim: Simulator;

        before(async function () {
            if (!fs.existsSync(conformanceFile))
                this.skip();
            sim = await Simulator.start({ busAddress: daemon.address, recording: 'bct', speed: 0 });
        });

        after(async () => {
            await sim?.stop();
        });

        it('puts every recorded value on the bus with its recorded D-Bus type', async () => {
            const conformance = JSON.parse(fs.readFileSync(conformanceFile, 'utf8')) as {
                portal_id: string;
                services: Record<string, { type_instance: string; items: number }>;
                topics: Record<string, string>;
            };
            const byTypeInstance = new Map(Object.entries(conformance.services).map(([name, s]) => [s.type_instance, name]));
            const items = new Map<string, Items>();
            for (const name of Object.keys(conformance.services))
                items.set(name, await getItems(client, name));
            const problems: string[] = [];
            let checked = 0;
            for (const [topic, payload] of Object.entries(conformance.topics)) {
                const m = /^N\/[^/]+\/([^/]+\/\d+)(\/.*)$/.exec(topic);
                const service = m ? byTypeInstance.get(m[1] as string) : undefined;
                const json = /^\{"value":(.*)\}$/.exec(payload)?.[1];
                assert.ok(m && service && json !== undefined, `understood ${topic} ${payload}`);
                const item = items.get(service)?.[m[2] as string];
                if (!item) {
                    problems.push(`${topic}: not on the bus`);
                    continue;
                }
                const problem = conforms(item.Value, json);
                if (problem)
                    problems.push(`${topic}: ${problem}, bus has ${item.Value.signature} ${String(item.Value.value)}, original published ${json}`);
                checked++;
            }
            assert.deepEqual(problems, []);
            assert.equal(checked, 2778);
        });

        it('spot checks: doubles stay doubles, UINT16 stays q, an invalid ARRAY stays an empty ai, ARRAY[UINT32] is au', async () => {
            const vebus = await getItems(client, 'com.victronenergy.vebus.ttyS4');
            assert.deepEqual([vebus['/Soc']?.Value.signature, vebus['/Soc']?.Value.value], ['d', 83.5]);
            assert.deepEqual([vebus['/BatteryOperationalLimits/MaxChargeVoltage']?.Value.signature, vebus['/BatteryOperationalLimits/MaxChargeVoltage']?.Value.value], ['d', 54]);
            assert.deepEqual([vebus['/DeviceInstance']?.Value.signature, vebus['/DeviceInstance']?.Value.value], ['q', 276]);
            assert.deepEqual([vebus['/BatterySense/Temperature']?.Value.signature, vebus['/BatterySense/Temperature']?.Value.value], ['ai', []]);
            assert.deepEqual([vebus['/Mode']?.Value.signature, vebus['/Mode']?.Text.value], ['u', 'on']);
            const assistants = vebus['/Devices/0/Assistants']?.Value;
            assert.equal(assistants?.signature, 'au');
            assert.equal((assistants?.value as number[]).length, 56);
        });
    });
});
