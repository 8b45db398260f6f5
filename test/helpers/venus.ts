// A simulated GX device for end-to-end tests: a private dbus-daemon, the Venus simulator on it, and the real
// flashmq running our plugin (the product entry) against that bus.
import * as path from 'node:path';

import { Variant } from 'dbus-next';

import type { SimulatorOptions } from '../../ts/sim';
import { Simulator } from '../../ts/sim';

import type { DbusDaemon } from './dbus-daemon';
import { call, closeClient, connectClient, startDbusDaemon } from './dbus-daemon';
import type { BrokerOptions, RunningBroker } from './flashmq';
import { repoRoot, startBroker } from './flashmq';

export const recordingsDir = process.env.DFMQ_RECORDINGS ?? path.resolve(repoRoot, 'test/fixtures/venus-recordings');
export const PORTAL_ID = 'c0619ab1a2b3';

export interface VenusOptions {
    recording?: string;
    scale?: SimulatorOptions['scale'];
    speed?: number;
    pluginOptions?: Record<string, string>;
    broker?: Partial<BrokerOptions>;
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

export async function startGx(options: VenusOptions = {}): Promise<SimulatedGx> {
    const daemon = await startDbusDaemon();
    const simOptions: SimulatorOptions = { busAddress: daemon.address, speed: options.speed ?? 0, recordingsDir };
    if (options.recording !== undefined)
        simOptions.recording = path.isAbsolute(options.recording) ? options.recording : path.join(recordingsDir, options.recording);
    if (options.scale !== undefined)
        simOptions.scale = options.scale;
    const sim = await Simulator.start(simOptions);
    const broker = await startBroker({
        entry: null,
        logLevel: 'info',
        ...options.broker,
        pluginOptions: { portal_id: PORTAL_ID, dbus_address: daemon.address, ...options.pluginOptions },
    });
    await broker.waitForLog(/D-Bus discovery done/, 20_000);
    return new SimulatedGx(daemon, sim, broker);
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
