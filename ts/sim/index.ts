// The Venus OS D-Bus simulator: recordings of real GX devices (and synthetic scale services) put on a private bus,
// each service on its own connection as a real device process would be, with localsettings' settings service
// next to them. For tests, benchmarks and the demo.
import * as fs from 'node:fs';
import * as path from 'node:path';

import type { Variant } from 'dbus-next';

import type { Timers } from '../util/timers';
import { realTimers } from '../util/timers';

import { defaultRecordingsDir, loadRecordings } from './catalog';
import type { HostedService } from './host';
import { Player } from './player';
import type { Recording, SetupLine } from './recording';
import { Churner, scaleDefinitions } from './scale';
import type { AnnounceStyle, ItemChange, ServiceDefinition, ServiceItemDefinition, WriteRecord } from './service';
import { BusItemService } from './service';
import { SETTINGS_SERVICE, SettingsService } from './settings';
import { settingVariant, SettingsStore } from './settings-store';
import { recordedVariant, ValueError } from './values';

export type { AnnounceStyle, ItemChange, OverrideResult, RawReply, ServiceDefinition, ServiceItemDefinition, WriteRecord } from './service';
export { defaultRecordingsDir, listSystems, loadRecordings } from './catalog';
export type { ScaleOptions } from './scale';
export { scaleServiceName } from './scale';
export { SETTINGS_SERVICE } from './settings';
export type { Player } from './player';
export type { DbusDaemon, DbusDaemonOptions } from './daemon';
export { startDbusDaemon } from './daemon';

export type SignalStyle = 'items' | 'properties' | 'mixed';

export interface SimulatorOptions {
    /** unix:path=... */
    busAddress: string;
    /** A system under the recordings directory ('bct'), a directory, or a single .csv file (or a name of one). */
    recording?: string;
    /** Default: DFMQ_RECORDINGS, else <repo>/test/fixtures/venus-recordings. */
    recordingsDir?: string;
    /** Run com.victronenergy.settings (default: true when a recording is played). */
    settings?: boolean;
    /** The settings tree (default: settings.xml in the recordings directory). */
    settingsXml?: string;
    /** Ticks per second; 0: the initial state only (default 1). */
    speed?: number;
    /** Start over at the end of the recording (default true). */
    loop?: boolean;
    scale?: { services: number; paths: number; churnPerSecond?: number; tickMs?: number; seed?: number };
    /** How device-side changes are announced (default 'items'; 'mixed': some services one way, some the other). */
    signalStyle?: SignalStyle;
    /** Bring a service back when its connection is lost (e.g. the bus daemon restarted); default true. */
    reconnect?: boolean;
    /** The clock of playback and churn (default: the real one). */
    timers?: Timers;
    log?: (line: string) => void;
}

export class SimulatorError extends Error {}

type AnyService = BusItemService | SettingsService;

const START_BATCH = 32;

function nameParity(name: string): number {
    let h = 0;
    for (let i = 0; i < name.length; i++)
        h = (h * 31 + name.charCodeAt(i)) >>> 0;
    return h & 1;
}

export class Simulator {
    private readonly services = new Map<string, AnyService>();
    private readonly wanted = new Set<string>();
    private readonly retryTimers = new Set<NodeJS.Timeout>();
    private readonly writeLog: WriteRecord[] = [];
    private readonly log: (line: string) => void;
    private readonly timers: Timers;
    private stopping = false;
    private playback?: Player;
    private churner?: Churner;
    private readonly recordingWarnings: string[] = [];

    private constructor(private readonly options: SimulatorOptions) {
        this.log = options.log ?? (() => undefined);
        this.timers = options.timers ?? realTimers;
    }

    /** Resolves when every service is on the bus with its name; playback and churn have started. */
    static async start(options: SimulatorOptions): Promise<Simulator> {
        const sim = new Simulator(options);
        try {
            await sim.boot();
        } catch (err) {
            await sim.stop();
            throw err;
        }
        return sim;
    }

    private async boot(): Promise<void> {
        const o = this.options;
        if (!o.busAddress.startsWith('unix:') && !o.busAddress.startsWith('tcp:'))
            throw new SimulatorError(`busAddress must be a D-Bus address like unix:path=/run/bus.sock, got '${o.busAddress}'`);
        const recordingsDir = o.recordingsDir ?? defaultRecordingsDir();
        let recordings: Recording[] = [];
        let setup: SetupLine[] = [];
        if (o.recording !== undefined) {
            const loaded = loadRecordings(o.recording, recordingsDir);
            recordings = loaded.recordings;
            setup = loaded.setup;
            this.recordingWarnings.push(...loaded.warnings);
            loaded.warnings.forEach((w) => this.log(`recording: ${w}`));
            this.log(`recording '${loaded.name}'${loaded.description ? ` (${loaded.description})` : ''}: ${recordings.length} services`);
        }
        if (o.settings ?? o.recording !== undefined)
            this.createSettings(o.settingsXml ?? path.join(recordingsDir, 'settings.xml'), setup);
        for (const recording of recordings)
            this.createService(this.recordingDefinition(recording, setup));
        for (const line of setup) {
            if (line.service !== SETTINGS_SERVICE && !this.services.has(line.service))
                this.log(`setup: no service ${line.service} for ${line.path}; ignored`);
        }
        let scaleDefs: ServiceDefinition[] = [];
        if (o.scale) {
            scaleDefs = scaleDefinitions(o.scale);
            scaleDefs.forEach((def) => this.createService(def));
            this.log(`scale: ${o.scale.services} services x ${o.scale.paths} paths, churn ${o.scale.churnPerSecond ?? 0}/s`);
        }

        const settings = this.services.get(SETTINGS_SERVICE);
        if (settings)
            await this.bringUp(settings);
        const rest = [...this.services.values()].filter((s) => s !== settings);
        for (let i = 0; i < rest.length; i += START_BATCH)
            await Promise.all(rest.slice(i, i + START_BATCH).map((s) => this.bringUp(s)));
        this.log(`on the bus: ${this.services.size} services, ${this.itemCount()} items`);

        if (recordings.length > 0) {
            this.playback = new Player(recordings.map((r) => ({ service: r.service, changes: r.changes })), {
                apply: (service, changes) => this.busItemService(service).change(changes, this.styleFor(service)),
                restart: (service) => this.busItemService(service).restoreInitial(this.styleFor(service)),
            }, { speed: o.speed ?? 1, loop: o.loop ?? true, timers: this.timers });
            this.playback.start();
        }
        if (o.scale && (o.scale.churnPerSecond ?? 0) > 0) {
            this.churner = new Churner(scaleDefs, (service, changes) => {
                const svc = this.services.get(service);
                if (svc instanceof BusItemService)
                    svc.change(changes, this.styleFor(service));
            }, { churnPerSecond: o.scale.churnPerSecond ?? 0, timers: this.timers, tickMs: o.scale.tickMs, seed: o.scale.seed });
            this.churner.start();
        }
    }

    private createSettings(xmlFile: string, setup: readonly SetupLine[]): void {
        let store: SettingsStore;
        if (fs.existsSync(xmlFile)) {
            store = SettingsStore.fromXml(fs.readFileSync(xmlFile, 'utf8'), (w) => this.log(`settings: ${w}`));
        } else {
            this.log(`settings: ${xmlFile} not found; the settings service starts empty`);
            store = new SettingsStore();
        }
        for (const line of setup) {
            if (line.service !== SETTINGS_SERVICE)
                continue;
            const warning = store.applySetup(line.path, line.value, line.quoted);
            if (warning)
                this.log(`setup: ${warning}`);
        }
        this.register(new SettingsService(store, (w) => this.writeLog.push(w), this.log));
    }

    private recordingDefinition(recording: Recording, setup: readonly SetupLine[]): ServiceDefinition {
        const items: ServiceItemDefinition[] = recording.items.map((item) => ({ path: item.path, value: item.value, text: item.text }));
        for (const line of setup) {
            if (line.service !== recording.service)
                continue;
            const index = recording.items.findIndex((item) => item.path === line.path);
            const recorded = recording.items[index];
            if (!recorded) {
                this.log(`setup: ${line.service} has no item ${line.path}; ignored`);
                continue;
            }
            try {
                items[index] = { path: line.path, value: recordedVariant(recorded.type, line.value), text: line.value };
            } catch (err) {
                if (!(err instanceof ValueError))
                    throw err;
                this.log(`setup: ${line.service} ${line.path}: ${err.message}; ignored`);
            }
        }
        return { name: recording.service, items };
    }

    private createService(definition: ServiceDefinition): BusItemService {
        if (this.services.has(definition.name))
            throw new SimulatorError(`service ${definition.name} exists already`);
        const service = new BusItemService(definition, (w) => this.writeLog.push(w), this.log);
        this.register(service);
        return service;
    }

    private register(service: AnyService): void {
        this.services.set(service.name, service);
        service.onLost((lost, reason) => this.lost(lost, reason));
    }

    private async bringUp(service: HostedService): Promise<void> {
        this.wanted.add(service.name);
        await service.up(this.options.busAddress);
    }

    private lost(service: HostedService, reason: string): void {
        if (this.stopping || !this.wanted.has(service.name))
            return;
        this.log(`${service.name}: connection lost (${reason})`);
        if (this.options.reconnect === false)
            return;
        let delay = 100;
        const attempt = (): void => {
            const timer = setTimeout(() => {
                this.retryTimers.delete(timer);
                if (this.stopping || !this.wanted.has(service.name) || service.isUp)
                    return;
                service.up(this.options.busAddress).then(
                    () => this.log(`${service.name}: back on the bus as ${service.uniqueName ?? '?'}`),
                    () => {
                        delay = Math.min(delay * 2, 2000);
                        attempt();
                    },
                );
            }, delay);
            this.retryTimers.add(timer);
        };
        attempt();
    }

    private styleFor(service: string): 'items' | 'properties' {
        const svc = this.services.get(service);
        if (svc instanceof BusItemService && svc.signalStyle)
            return svc.signalStyle;
        const style = this.options.signalStyle ?? 'items';
        if (style === 'mixed')
            return nameParity(service) === 0 ? 'items' : 'properties';
        return style;
    }

    private service(name: string): AnyService {
        const service = this.services.get(name);
        if (!service)
            throw new SimulatorError(`no service ${name}`);
        return service;
    }

    private busItemService(name: string): BusItemService {
        const service = this.service(name);
        if (!(service instanceof BusItemService))
            throw new SimulatorError(`${name} is not a BusItem device service`);
        return service;
    }

    /** Every service, the settings service included, in start order. */
    get serviceNames(): string[] {
        return [...this.services.keys()];
    }

    /** Items of one service (settings: the settings), or of all together. */
    itemCount(service?: string): number {
        if (service !== undefined)
            return this.service(service).itemCount;
        let total = 0;
        for (const s of this.services.values())
            total += s.itemCount;
        return total;
    }

    /** Every SetValue received so far, in order. */
    get writes(): ReadonlyArray<WriteRecord> {
        return this.writeLog;
    }

    /** Warnings from reading the recordings (lenient parsing). */
    get warnings(): readonly string[] {
        return this.recordingWarnings;
    }

    /** The playback, when a recording is played. */
    get player(): Player | undefined {
        return this.playback;
    }

    /** The current value of an item (or setting). */
    value(service: string, path: string): Variant | undefined {
        const svc = this.service(service);
        if (svc instanceof SettingsService) {
            const setting = svc.setting(path);
            return setting ? settingVariant(setting.type, setting.value) : undefined;
        }
        return svc.value(path);
    }

    /** The unique name (':1.N') of a service's current connection; undefined while it is away. */
    uniqueName(service: string): string | undefined {
        return this.service(service).uniqueName;
    }

    /**
     * A device-side change of one item, announced per the signal style (or the given one; 'none': silently).
     * Announced even when the value is unchanged, as the recording player does (velib itself would skip it).
     * On the settings service it is a SetValue from inside (range and type rules apply).
     */
    change(service: string, path: string, value: Variant, style?: AnnounceStyle, text?: string): void {
        const svc = this.service(service);
        if (svc instanceof SettingsService) {
            if (svc.change(path, value) !== 0)
                throw new SimulatorError(`${service} ${path}: value refused`);
            return;
        }
        svc.change([{ path, value, text }], style ?? this.styleFor(service));
    }

    /** Several device-side changes of one service at once: one ItemsChanged in the 'items' style. */
    changeMany(service: string, changes: readonly ItemChange[], style?: AnnounceStyle): void {
        this.busItemService(service).change(changes, style ?? this.styleFor(service));
    }

    /** A new item appears (velib add_path; 'items': inside a context, so announced in an ItemsChanged). */
    addItem(service: string, item: ServiceItemDefinition, announce: 'items' | 'none' = 'none'): void {
        this.busItemService(service).addItem(item, announce);
    }

    /** An item goes away ('items': announced invalid in an ItemsChanged first, as del_tree in a context). */
    removeItem(service: string, path: string, announce: 'items' | 'none' = 'none'): boolean {
        return this.busItemService(service).removeItem(path, announce);
    }

    /** Any signal from a service's connection, body encoded as given (hostile-input tests). */
    rawSignal(service: string, path: string, iface: string, member: string, signature: string, body: readonly unknown[]): void {
        const svc = this.service(service);
        if (!svc.rawSignal(path, iface, member, signature, body))
            throw new SimulatorError(`${service} is not on the bus`);
    }

    /** The service's connection closes: NameOwnerChanged(name, ':1.N', ''). */
    async vanish(service: string): Promise<void> {
        const svc = this.service(service);
        this.wanted.delete(service);
        await svc.down();
        this.log(`${service}: vanished`);
    }

    /** The service comes back on a new connection (a new unique name) with its current items. */
    async reappear(service: string): Promise<void> {
        const svc = this.service(service);
        await this.bringUp(svc);
        this.log(`${service}: back as ${svc.uniqueName ?? '?'}`);
    }

    /** Adds a service defined in code and puts it on the bus. */
    async addService(definition: ServiceDefinition): Promise<void> {
        const service = this.createService(definition);
        try {
            await this.bringUp(service);
        } catch (err) {
            this.services.delete(definition.name);
            this.wanted.delete(definition.name);
            throw err;
        }
    }

    /** Takes a service off the bus and forgets it. */
    async removeService(service: string): Promise<void> {
        await this.vanish(service);
        this.services.delete(service);
    }

    /** Closes every connection and stops every timer. */
    async stop(): Promise<void> {
        this.stopping = true;
        this.playback?.stop();
        this.churner?.stop();
        for (const timer of this.retryTimers)
            clearTimeout(timer);
        this.retryTimers.clear();
        this.wanted.clear();
        await Promise.all([...this.services.values()].map((s) => s.down()));
    }
}
