// The VRM bridge duties of the plugin (spec §7.8-7.9): asking venus-platform to register this device with VRM (which
// then writes the bridge configuration), and reporting the bridges' connection state to it.
//
//   - Registration: SetValue "1" on com.victronenergy.platform /Mqtt/RegisterOnVrm, once the platform service is
//     on the bus (the original tries once at start, whether it is there or not), and again after a bridge that
//     was connected drops, after a random 0-10 minutes; one registration at a time.
//   - State: FlashMQ announces its bridges on $SYS/broker/bridge/<name>/connected and .../connection_status; the
//     states of GXdbus and GXrpc go to /Mqtt/Bridges/<name>/Connected and /ConnectionStatus, 2 s after the last
//     change, only when what would be written changed (including a change of the VRM portal mode, which the
//     original overlooks, §12 Q7); a bridge the portal mode does not use is written as deactivated, as is every
//     bridge at shutdown.

import type { DbusBridge } from '../dbus/bridge';
import type { DbusTypedValue } from '../dbus/to-dbus';
import type { Logger } from '../log';
import { describeError } from '../log';
import type { TimerHandle, Timers } from '../util/timers';
import { VrmMode } from './acl';

export const PLATFORM = 'com.victronenergy.platform';
const PLATFORM_IFACE = 'com.victronenergy.platform';
const BRIDGES = ['GXdbus', 'GXrpc'] as const;
type BridgeName = (typeof BRIDGES)[number];

interface BridgeState {
    connected: boolean;
    message: string;
    /** Seen connected since the last registration. */
    wasConnected: boolean;
}

interface Written {
    connected: boolean | null;
    message: string;
}

export interface VrmOptions {
    registration: boolean;
    debounceMs: number;
    /** The most a re-registration after a lost bridge waits. */
    reregisterMaxDelayMs: number;
}

export const defaultVrmOptions: Readonly<VrmOptions> = { registration: true, debounceMs: 2000, reregisterMaxDelayMs: 600_000 };

export class VrmDuties {
    private mode: VrmMode = VrmMode.Unknown;
    private readonly states = new Map<BridgeName, BridgeState>(BRIDGES.map((b) => [b, { connected: false, message: 'pending', wasConnected: false }]));
    private lastWritten: Map<BridgeName, Written> | undefined;
    private debounce: TimerHandle | undefined;
    private registration: 'idle' | 'scheduled' | 'calling' = 'idle';
    private registrationTimer: TimerHandle | undefined;
    private registeredOnce = false;
    private stopped = false;

    constructor(
        private readonly bridge: DbusBridge,
        private readonly timers: Timers,
        private readonly log: Logger,
        private readonly random: () => number,
        private readonly options: VrmOptions = defaultVrmOptions,
    ) {
        bridge.cache.subscribe((event) => {
            if (event.kind === 'added' && event.service.name === PLATFORM && !this.registeredOnce)
                this.requestRegistration(0, 'the platform service is on the bus');
        });
    }

    get portalMode(): VrmMode {
        return this.mode;
    }

    /** /Settings/Network/VrmPortal changed (or was read). */
    setPortalMode(value: unknown): void {
        const n = typeof value === 'bigint' ? Number(value) : typeof value === 'number' ? value : NaN;
        this.mode = n === 0 ? VrmMode.Off : n === 1 ? VrmMode.ReadOnly : n === 2 ? VrmMode.Full : VrmMode.Unknown;
        this.writeStatesDebounced();
    }

    /** The broker's own $SYS/broker/bridge/<name>/connected|connection_status publishes. */
    onBridgeMessage(topic: string, payload: string): void {
        const m = /^\$SYS\/broker\/bridge\/([^/]+)\/(connected|connection_status)$/.exec(topic);
        if (!m)
            return;
        const name = m[1] as BridgeName;
        const state = this.states.get(name);
        if (!state)
            return;
        if (m[2] === 'connected') {
            const connected = payload === '1';
            if (connected) {
                state.wasConnected = true;
            } else if (state.wasConnected && state.connected) {
                state.wasConnected = false;
                const delay = Math.floor(this.random() * this.options.reregisterMaxDelayMs);
                this.requestRegistration(delay, `bridge ${name} lost its connection`);
            }
            state.connected = connected;
        } else {
            state.message = payload;
        }
        this.writeStatesDebounced();
    }

    /** Registration with VRM through venus-platform, after `delayMs`. */
    requestRegistration(delayMs: number, why: string): void {
        if (!this.options.registration || this.stopped)
            return;
        if (this.registration !== 'idle') {
            this.log.warning(`not registering with VRM (${why}): a registration is already under way`);
            return;
        }
        this.registration = 'scheduled';
        if (delayMs > 0)
            this.log.notice(`registering with VRM in ${Math.round(delayMs / 1000)} s (${why})`);
        this.registrationTimer = this.timers.setTimeout(() => {
            this.registrationTimer = undefined;
            void this.register();
        }, delayMs);
    }

    private async register(): Promise<void> {
        this.registration = 'calling';
        try {
            const code = await this.bridge.write(PLATFORM, '/Mqtt/RegisterOnVrm', { signature: 's', value: '1' }, PLATFORM_IFACE);
            this.registeredOnce = true;
            if (code === 0)
                this.log.notice('asked venus-platform to register this device with VRM');
            else
                this.log.error(`venus-platform refused the VRM registration (SetValue returned ${code})`);
        } catch (err) {
            this.log.error(`registering with VRM failed: ${describeError(err)}`);
        } finally {
            this.registration = 'idle';
        }
    }

    private effective(name: BridgeName): Written {
        const s = this.states.get(name)!;
        const unused = name === 'GXdbus' ? this.mode === VrmMode.Unknown || this.mode === VrmMode.Off : this.mode !== VrmMode.Full;
        if (s.message.includes('disappeared from config') || unused)
            return { connected: null, message: 'deactivated' };
        return { connected: s.connected, message: s.message };
    }

    private writeStatesDebounced(): void {
        if (this.stopped)
            return;
        if (this.debounce !== undefined) {
            this.timers.clearTimeout(this.debounce);
            this.debounce = undefined;
        }
        const target = new Map(BRIDGES.map((b) => [b, this.effective(b)]));
        if (this.lastWritten && BRIDGES.every((b) => this.lastWritten!.get(b)!.connected === target.get(b)!.connected
            && this.lastWritten!.get(b)!.message === target.get(b)!.message))
            return;
        this.debounce = this.timers.setTimeout(() => {
            this.debounce = undefined;
            void this.writeStates(new Map(BRIDGES.map((b) => [b, this.effective(b)])));
        }, this.options.debounceMs);
    }

    private async writeStates(states: Map<BridgeName, Written>): Promise<void> {
        this.lastWritten = states;
        await Promise.all(BRIDGES.map((b) => this.writeState(b, states.get(b)!)));
    }

    private async writeState(name: BridgeName, state: Written): Promise<void> {
        const shown = state.connected === null ? 'null' : state.connected ? '1' : '0';
        this.log.notice(`setting bridge connection status of ${name} to ${shown} (${state.message})`);
        const connected: DbusTypedValue = state.connected === null ? { signature: 'ai', value: [] } : { signature: 'b', value: state.connected };
        try {
            await this.bridge.write(PLATFORM, `/Mqtt/Bridges/${name}/Connected`, connected, PLATFORM_IFACE);
            await this.bridge.write(PLATFORM, `/Mqtt/Bridges/${name}/ConnectionStatus`, { signature: 's', value: state.message }, PLATFORM_IFACE);
        } catch (err) {
            this.log.error(`writing the state of bridge ${name} to venus-platform failed: ${describeError(err)}`);
        }
    }

    /** At shutdown: both bridges deactivated (awaited, unlike the original, whose calls never leave). */
    async stop(): Promise<void> {
        this.stopped = true;
        for (const t of [this.debounce, this.registrationTimer])
            if (t !== undefined)
                this.timers.clearTimeout(t);
        if (this.bridge.cache.get(PLATFORM) === undefined)
            return;
        await Promise.all(BRIDGES.map((b) => this.writeState(b, { connected: null, message: 'deactivated' })));
    }
}
