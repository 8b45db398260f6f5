// Synthetic load: N battery-like services (com.victronenergy.battery.sim<k>, /DeviceInstance k) of M paths each,
// with realistic names and a mix of value types, and a churn of device-side changes per second spread over the
// services. Each service updates once per tick (1 s by default, the services' phases spread over the tick) with
// its share of the churn, announced as one batch, as a velib driver's periodic update does.
import { Variant } from 'dbus-next';

import type { Timers, TimerHandle } from '../util/timers';

import type { ItemChange, ServiceDefinition, ServiceItemDefinition } from './service';
import { invalidVariant } from './values';

export interface ScaleOptions {
    services: number;
    paths: number;
    churnPerSecond?: number;
    /** How often each service sends its batch (default 1000 ms). */
    tickMs?: number;
    /** Seed of the pseudo-random values (default 1): the same options give the same services and changes. */
    seed?: number;
}

export function scaleServiceName(k: number): string {
    return `com.victronenergy.battery.sim${k}`;
}

/** A small, fast, seeded generator (mulberry32). */
export function seededRandom(seed: number): () => number {
    let a = seed >>> 0;
    return () => {
        a = (a + 0x6d2b79f5) >>> 0;
        let t = a;
        t = Math.imul(t ^ (t >>> 15), t | 1);
        t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
        return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
    };
}

function round(x: number, decimals: number): number {
    const f = 10 ** decimals;
    return Math.round(x * f) / f;
}

type Template = [path: string, make: (k: number, r: () => number) => Variant, text?: string];

const d = (base: number, spread: number, decimals = 2) => (_k: number, r: () => number): Variant =>
    new Variant('d', round(base + (r() - 0.5) * spread, decimals));
const i = (value: number) => (): Variant => new Variant('i', value);
const s = (value: string | ((k: number) => string)) => (k: number): Variant =>
    new Variant('s', typeof value === 'string' ? value : value(k));

const TEMPLATES: Template[] = [
    ['/Mgmt/ProcessName', s('dbus-sim')],
    ['/Mgmt/ProcessVersion', s('1.0')],
    ['/Mgmt/Connection', s('Simulated')],
    ['/DeviceInstance', (k) => new Variant('i', k)],
    ['/ProductId', () => new Variant('q', 0xa381), '0xA381'],
    ['/ProductName', s('Simulated battery')],
    ['/FirmwareVersion', () => new Variant('u', 0x416), 'v4.16'],
    ['/HardwareVersion', () => invalidVariant()],
    ['/Connected', i(1)],
    ['/CustomName', s((k) => `Battery ${k}`)],
    ['/Serial', s((k) => `HQ${String(2300000 + k)}`)],
    ['/Dc/0/Voltage', d(52.4, 1)],
    ['/Dc/0/Current', d(-3, 20, 1)],
    ['/Dc/0/Power', d(-150, 1000, 0)],
    ['/Dc/0/Temperature', d(21, 4, 1)],
    ['/Dc/0/MidVoltage', () => invalidVariant()],
    ['/Dc/1/Voltage', d(12.8, 0.4)],
    ['/Soc', d(80, 30, 1)],
    ['/Soh', i(100)],
    ['/ConsumedAmphours', d(-40, 20, 1)],
    ['/TimeToGo', d(36000, 20000, 0)],
    ['/Capacity', d(200, 10, 1)],
    ['/InstalledCapacity', d(200, 0, 1)],
    ['/State', i(9)],
    ['/ErrorCode', i(0)],
    ['/Alarms/LowVoltage', i(0)],
    ['/Alarms/HighVoltage', i(0)],
    ['/Alarms/LowSoc', i(0)],
    ['/Alarms/HighTemperature', i(0)],
    ['/Alarms/LowTemperature', i(0)],
    ['/Alarms/CellImbalance', i(0)],
    ['/Alarms/InternalFailure', i(0)],
    ['/Info/MaxChargeCurrent', d(100, 0, 1)],
    ['/Info/MaxDischargeCurrent', d(200, 0, 1)],
    ['/Info/MaxChargeVoltage', d(56.8, 0, 1)],
    ['/Info/BatteryLowVoltage', d(44.8, 0, 1)],
    ['/System/MinCellVoltage', d(3.27, 0.02, 3)],
    ['/System/MaxCellVoltage', d(3.29, 0.02, 3)],
    ['/System/MinCellTemperature', d(20, 2, 1)],
    ['/System/MaxCellTemperature', d(22, 2, 1)],
    ['/System/MinVoltageCellId', s('C3')],
    ['/System/MaxVoltageCellId', s('C11')],
    ['/System/NrOfModulesOnline', i(4)],
    ['/System/NrOfModulesOffline', i(0)],
    ['/Io/AllowToCharge', i(1)],
    ['/Io/AllowToDischarge', i(1)],
    ['/Balancer/Status', s('Balanced')],
    ['/History/ChargeCycles', i(112)],
    ['/History/TotalAhDrawn', d(9000, 1000, 1)],
    ['/History/MinimumVoltage', d(46, 1)],
    ['/History/MaximumVoltage', d(57, 1)],
    ['/History/DeepestDischarge', d(-150, 20, 1)],
    ['/Relay/0/State', i(0)],
];

const CELLS = 400;

/** The item definitions of scale service k: the templates, then /Voltages/Cell<n>, then /Sim/Group<g>/Value<j>. */
export function scaleItems(k: number, paths: number, random: () => number): ServiceItemDefinition[] {
    const items: ServiceItemDefinition[] = [];
    for (const [path, make, text] of TEMPLATES) {
        if (items.length >= paths)
            return items;
        items.push({ path, value: make(k, random), text });
    }
    for (let n = 1; n <= CELLS && items.length < paths; n++)
        items.push({ path: `/Voltages/Cell${n}`, value: new Variant('d', round(3.28 + (random() - 0.5) * 0.04, 3)) });
    for (let j = 0; items.length < paths; j++)
        items.push({ path: `/Sim/Group${Math.floor(j / 100)}/Value${j % 100}`, value: new Variant('d', round(random() * 100, 2)) });
    return items;
}

export function scaleDefinitions(options: ScaleOptions): ServiceDefinition[] {
    const random = seededRandom(options.seed ?? 1);
    const out: ServiceDefinition[] = [];
    for (let k = 0; k < options.services; k++)
        out.push({ name: scaleServiceName(k), items: scaleItems(k, options.paths, random) });
    return out;
}

const FIXED = new Set(['/DeviceInstance', '/ProductId', '/FirmwareVersion', '/Connected', '/Soh', '/State', '/ErrorCode']);

interface ChurnState {
    name: string;
    paths: string[];
    doubles: boolean[];
    values: Float64Array;
    cursor: number;
    quota: number;
}

export interface ChurnOptions {
    churnPerSecond: number;
    timers: Timers;
    tickMs?: number;
    seed?: number;
}

/** Produces the churn: numeric items of each service take new values, one batch per service per tick. */
export class Churner {
    private readonly states: ChurnState[];
    private readonly slots: number;
    private readonly tickMs: number;
    private readonly random: () => number;
    private timer?: TimerHandle;
    private fires = 0;
    private startedAt = 0;
    private count = 0;

    constructor(
        services: ReadonlyArray<{ name: string; items: readonly ServiceItemDefinition[] }>,
        private readonly sink: (service: string, changes: ItemChange[]) => void,
        private readonly options: ChurnOptions,
    ) {
        this.tickMs = options.tickMs ?? 1000;
        this.random = seededRandom((options.seed ?? 1) + 7919);
        this.states = services.map((service) => {
            // Measurements change, alarms and counters mostly do not: doubles churn; integers only without doubles.
            const doubles = service.items.filter((item) => item.value.signature === 'd');
            const churnable = doubles.length > 0
                ? doubles
                : service.items.filter((item) => !FIXED.has(item.path) && item.value.signature === 'i');
            const start = churnable.length > 0 ? Math.floor(this.random() * churnable.length) : 0;
            return {
                name: service.name,
                paths: churnable.map((item) => item.path),
                doubles: churnable.map((item) => item.value.signature === 'd'),
                values: Float64Array.from(churnable.map((item) => Number(item.value.value))),
                cursor: start,
                quota: 0,
            };
        });
        this.slots = Math.max(1, Math.min(this.states.length, 10));
    }

    /** Changes produced so far. */
    get produced(): number {
        return this.count;
    }

    start(): void {
        if (this.timer !== undefined || this.options.churnPerSecond <= 0 || this.states.length === 0)
            return;
        this.startedAt = this.options.timers.now();
        this.fires = 0;
        this.schedule();
    }

    stop(): void {
        if (this.timer !== undefined)
            this.options.timers.clearTimeout(this.timer);
        this.timer = undefined;
    }

    private schedule(): void {
        const slotMs = this.tickMs / this.slots;
        const due = this.startedAt + (this.fires + 1) * slotMs;
        this.timer = this.options.timers.setTimeout(() => {
            this.timer = undefined;
            this.fire(this.fires % this.slots);
            this.fires++;
            this.schedule();
        }, Math.max(0, due - this.options.timers.now()));
    }

    /** One slot of a tick: the services of that slot send their batches. */
    fire(slot: number): void {
        const share = this.options.churnPerSecond * (this.tickMs / 1000) / this.states.length;
        for (let k = slot; k < this.states.length; k += this.slots) {
            const state = this.states[k] as ChurnState;
            state.quota += share;
            const n = Math.min(Math.floor(state.quota), state.paths.length);
            state.quota -= Math.floor(state.quota);
            if (n === 0)
                continue;
            const changes: ItemChange[] = [];
            for (let j = 0; j < n; j++) {
                const at = state.cursor;
                state.cursor = (state.cursor + 1) % state.paths.length;
                changes.push({ path: state.paths[at] as string, value: this.next(state, at) });
            }
            this.count += n;
            this.sink(state.name, changes);
        }
    }

    private next(state: ChurnState, at: number): Variant {
        const old = state.values[at] as number;
        if (state.doubles[at]) {
            let v = round(old + (this.random() - 0.5) * Math.max(0.1, Math.abs(old) * 0.02), 2);
            if (v === old)
                v = round(old + 0.01, 2);
            state.values[at] = v;
            return new Variant('d', v);
        }
        const step = 1 + Math.floor(this.random() * 5);
        const v = Math.max(-0x80000000, Math.min(0x7fffffff, old + (this.random() < 0.5 ? -step : step)));
        state.values[at] = v;
        return new Variant('i', v);
    }
}
