// The load both GX-device benches (gx-vm.ts, gx-prof.ts) put on the emulated device's bus, and the device's set-up
// for it: the simulator's services (the bct recording or 50,000 items), the system service with the portal id, a
// burst service whose 40 doubles the benches change and write, LAN MQTT on, the unique id and an empty password.
import { Variant } from 'dbus-next';

import { Simulator } from '../ts/sim';
import type { GxVm } from '../test/helpers/gx-vm';
import { turnOnLanMqtt } from '../test/helpers/gx-vm';
import { PORTAL_ID, recordingsDir } from '../test/helpers/venus';

export type Load = 'bct' | '50k';
export const BURST = 'com.victronenergy.battery.burst';
export const BURST_PATHS = Array.from({ length: 40 }, (_, i) => `/Burst/Value${i}`);

/** Puts the load on the device's bus and readies the device for a broker start; the simulator (stopped on failure). */
export async function loadDevice(vm: GxVm, load: Load): Promise<Simulator> {
    const sim = await Simulator.start({ busAddress: vm.busAddress, speed: 0, recordingsDir, settings: true,
        ...(load === 'bct' ? { recording: `${recordingsDir}/bct` } : { scale: { services: 100, paths: 500 } }) });
    try {
        await sim.addService({ name: 'com.victronenergy.system', items: [
            { path: '/DeviceInstance', value: new Variant('i', 0) }, { path: '/Serial', value: new Variant('s', PORTAL_ID) }] });
        await sim.addService({ name: BURST, items: [{ path: '/DeviceInstance', value: new Variant('i', 901) },
            ...BURST_PATHS.map((p) => ({ path: p, value: new Variant('d', 0.5) }))] });
        await turnOnLanMqtt(vm);
        await vm.writeFile('/data/venus/unique-id', `${PORTAL_ID}\n`);
        await vm.writeFile('/data/conf/vncpassword.txt', '');
        return sim;
    } catch (err) {
        await sim.stop();
        throw err;
    }
}
