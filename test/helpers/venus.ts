// A simulated GX device for end-to-end tests: a private dbus-daemon, the Venus simulator on it, and the real
// flashmq running our plugin (the product entry) against that bus.
import * as fs from 'node:fs';
import * as path from 'node:path';

import { Variant } from 'dbus-next';

import type { SimulatorOptions } from '../../ts/sim';
import { Simulator } from '../../ts/sim';

import type { DbusDaemon } from './dbus-daemon';
import { call, closeClient, connectClient, startDbusDaemon } from './dbus-daemon';
import type { BrokerOptions, RunningBroker } from './flashmq';
import { repoRoot, sleep, startBroker } from './flashmq';
import { closeAll, connect, Inbox } from './mqtt';

export const recordingsDir = process.env.DFMQ_RECORDINGS ?? path.resolve(repoRoot, 'test/fixtures/venus-recordings');
export const PORTAL_ID = 'c0619ab1a2b3';

export interface VenusOptions {
    recording?: string;
    scale?: SimulatorOptions['scale'];
    speed?: number;
    /** Run localsettings' com.victronenergy.settings (default: when a recording is played). */
    settings?: boolean;
    pluginOptions?: Record<string, string>;
    broker?: Partial<BrokerOptions>;
    /**
     * The original C++ plugin (a .so) instead of ours, for side-by-side measurements: it takes the bus from
     * DBUS_SYSTEM_BUS_ADDRESS and its portal id from /data/venus/unique-id, and logs nothing when its discovery is
     * done, so readiness is the retained N/<id>/system/0/Serial (a com.victronenergy.system service is added).
     */
    original?: string;
}

export class SimulatedGx {
    constructor(readonly daemon: DbusDaemon, readonly sim: Simulator, readonly broker: RunningBroker) {}

    get port(): number {
        return this.broker.port;
    }

    async stop(): Promise<void> {
        await this.broker.stop();
        this.broker.cleanup();
        await this.sim.stop();
        await this.daemon.stop();
    }
}

/** The portal id of the original plugin: the first line of /data/venus/unique-id, written when missing. */
export function devicePortalId(): string {
    const file = '/data/venus/unique-id';
    if (!fs.existsSync(file)) {
        fs.mkdirSync(path.dirname(file), { recursive: true });
        fs.writeFileSync(file, `${PORTAL_ID}\n`);
    }
    return fs.readFileSync(file, 'utf8').split('\n')[0]!.trim();
}

/** A private bus, the simulator and the broker; what was started is stopped again when a later step fails. */
export async function startGx(options: VenusOptions = {}): Promise<SimulatedGx> {
    const daemon = await startDbusDaemon();
    let sim: Simulator | undefined;
    let broker: RunningBroker | undefined;
    try {
        const simOptions: SimulatorOptions = { busAddress: daemon.address, speed: options.speed ?? 0, recordingsDir };
        if (options.recording !== undefined)
            simOptions.recording = path.isAbsolute(options.recording) ? options.recording : path.join(recordingsDir, options.recording);
        if (options.scale !== undefined)
            simOptions.scale = options.scale;
        if (options.settings !== undefined)
            simOptions.settings = options.settings;
        sim = await Simulator.start(simOptions);
        if (options.original !== undefined) {
            const id = devicePortalId();
            if (!sim.serviceNames.includes('com.victronenergy.system'))
                await sim.addService({ name: 'com.victronenergy.system', items: [
                    { path: '/DeviceInstance', value: new Variant('i', 0) }, { path: '/Serial', value: new Variant('s', id) },
                ] });
            broker = await startBroker({
                entry: null, logLevel: 'info', ...options.broker, plugin: options.original,
                env: { ...options.broker?.env, DBUS_SYSTEM_BUS_ADDRESS: daemon.address },
                pluginOptions: { skip_broker_registration: 'true', ...options.pluginOptions },
            });
            await waitForRetainedSerial(broker.port, id);
        } else {
            broker = await startBroker({
                entry: null,
                logLevel: 'info',
                ...options.broker,
                pluginOptions: { portal_id: PORTAL_ID, dbus_address: daemon.address, ...options.pluginOptions },
            });
            await broker.waitForLog(/D-Bus discovery done/, 20_000);
        }
        return new SimulatedGx(daemon, sim, broker);
    } catch (err) {
        if (broker) {
            await broker.stop().catch(() => undefined);
            broker.cleanup();
        }
        await sim?.stop().catch(() => undefined);
        await daemon.stop().catch(() => undefined);
        throw err;
    }
}

/** Waits until the broker hands a new subscriber the retained N/<id>/system/0/Serial (the plugin has scanned the bus). */
async function waitForRetainedSerial(port: number, id: string): Promise<void> {
    const deadline = Date.now() + 20_000;
    for (;;) {
        const client = await connect(port, { protocolVersion: 4 });
        try {
            const inbox = await Inbox.subscribe(client, `N/${id}/system/0/Serial`);
            await inbox.waitFor(`N/${id}/system/0/Serial`, 1000);
            await sleep(500); // the recording's services are scanned alongside
            return;
        } catch (err) {
            if (Date.now() > deadline)
                throw err;
        } finally {
            await closeAll(client);
        }
    }
}

/** Adds an integer setting to the simulated com.victronenergy.settings (as a Venus service would at start). */
export async function addSetting(gx: SimulatedGx, group: string, name: string, value: number, min: number, max: number): Promise<void> {
    const bus = await connectClient(gx.daemon.address);
    try {
        await call(bus, 'com.victronenergy.settings', '/', 'AddSetting', {
            iface: 'com.victronenergy.Settings', signature: 'ssvsvv',
            body: [group, name, new Variant('i', value), 'i', new Variant('i', min), new Variant('i', max)],
        });
    } finally {
        await closeClient(bus);
    }
}

/** Changes an integer setting, as the GUI would. */
export async function setSetting(gx: SimulatedGx, settingPath: string, value: number): Promise<void> {
    const bus = await connectClient(gx.daemon.address);
    try {
        await call(bus, 'com.victronenergy.settings', settingPath, 'SetValue', { signature: 'v', body: [new Variant('i', value)] });
    } finally {
        await closeClient(bus);
    }
}
