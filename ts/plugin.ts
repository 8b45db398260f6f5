// Wiring: builds the plugin's parts around the broker facade and runs their life cycle (start, reload, shutdown).

import { parseOptions, reloadPlan } from './config';
import type { Settings } from './config';
import { DbusBridge, defaultBridgeOptions } from './dbus/bridge';
import { systemBusAddress } from './dbus/connection';
import { Logger } from './log';
import { VenusApi } from './mqtt/venus-api';
import type { FlashmqBinding } from './native/binding';
import { Broker } from './native/broker';
import { brokerLogSink } from './native/log-sink';
import { readPortalId } from './portal-id';
import { Security } from './security/security';
import { v8 } from './util/builtins';
import { MemoryTrim } from './util/memory-trim';
import { StatsReporter } from './util/stats';
import { stateOf, StatusFile } from './util/status';
import type { Timers } from './util/timers';
import { realTimers } from './util/timers';
import { packageVersion } from './version';

export interface RunningPlugin {
    readonly broker: Broker;
    readonly bridge: DbusBridge;
    readonly api: VenusApi;
    readonly log: Logger;
    settings(): Settings;
}

export function startPlugin(binding: FlashmqBinding, timers: Timers = realTimers): RunningPlugin {
    let options = binding.options();
    let parsed = parseOptions(options);
    const log = new Logger(brokerLogSink(binding), 'dbus-flashmq', () => parsed.settings.debug);
    const broker = new Broker(binding, log.child('broker'), timers, { loginTimeoutMs: parsed.settings.loginTimeoutMs });
    for (const problem of parsed.problems)
        log.warning(problem);

    // Without a portal id there are no topics: the entry fails to load, and the broker says why and does not start.
    const portalId = readPortalId(parsed.settings.portalId, parsed.settings.uniqueIdFile);
    const address = parsed.settings.dbusAddress || systemBusAddress();
    const bridge = new DbusBridge({ ...defaultBridgeOptions, address, callTimeoutMs: parsed.settings.dbusCallTimeoutMs },
        log.child('dbus'), timers);

    const settings = parsed.settings;
    const api = new VenusApi({
        portalId, chunkBytes: settings.fullPublishChunkBytes, keepaliveTimeoutMs: settings.keepaliveTimeoutMs, appsDir: settings.appsDir,
        readItemsPerSecond: settings.readItemsPerSecond, allReadItemsPerSecond: settings.allReadItemsPerSecond,
    }, broker, bridge, timers, log);
    const security = new Security({
        portalId, tokensFile: settings.tokensFile, passwordFile: settings.passwordFile, localNetworks: settings.localNetworks,
        registration: !settings.skipBrokerRegistration,
    }, broker, bridge, timers, log.child('security'));

    // The broker's count of its clients, which it publishes every 10 s, for the status file.
    const CLIENTS_TOPIC = '$SYS/broker/clients/total';
    let clients: number | null = null;
    broker.setForwardFilters({ publish: [...api.forwardFilters(), CLIENTS_TOPIC], alterPublish: api.alterFilters(), alterRetainedOnly: true });
    broker.setHandlers({
        login: (request) => security.decideLogin(request),
        publish(message) {
            if (message.topic === CLIENTS_TOPIC && message.clientId === '') {
                const n = Number(message.payload.toString('latin1'));
                if (Number.isSafeInteger(n) && n >= 0 && n !== clients) {
                    clients = n;
                    status.refresh();
                }
                return true;
            }
            const verdict = security.checkPublish(message);
            if (!verdict.allow)
                return false;
            return verdict.act ? api.onPublish(message) : true;
        },
        alterPublish: (_clientId, _topic, _qos, retain) => (retain ? { retain: false } : undefined),
        clientDisconnected: (clientId) => security.onClientDisconnected(clientId),
        reload(next) {
            const plan = reloadPlan(options, next);
            options = next;
            parsed = parseOptions(next);
            for (const problem of parsed.problems)
                log.warning(problem);
            const now = parsed.settings;
            broker.setLoginTimeout(now.loginTimeoutMs);
            bridge.setCallTimeout(now.dbusCallTimeoutMs);
            api.reconfigure({ keepaliveTimeoutMs: now.keepaliveTimeoutMs, readItemsPerSecond: now.readItemsPerSecond, allReadItemsPerSecond: now.allReadItemsPerSecond });
            security.setLocalNetworks(now.localNetworks);
            security.setCredentialFiles(now.tokensFile, now.passwordFile);
            stats.start(now.statsIntervalS * 1000);
            status.setPath(now.statusFile);
            log.notice(`configuration reloaded: ${plan.applied.length > 0 ? `applied ${plan.applied.map((o) => `plugin_opt_${o}`).join(', ')}` : 'no option changed'}`
                + (plan.afterRestart.length > 0 ? `; ${plan.afterRestart.map((o) => `plugin_opt_${o}`).join(', ')} take${plan.afterRestart.length === 1 ? 's' : ''} effect when FlashMQ restarts` : ''));
        },
        async shutdown() {
            memoryTrim.stop();
            stats.stop();
            status.stop();
            log.notice('stopping');
            api.stop();
            await security.stop();
            bridge.stop();
        },
    });

    const caps = broker.capabilities;
    const version = packageVersion();
    log.notice(`dbus-flashmq-ts ${version} started (Node ${process.versions.node}, plugin API ${caps.pluginVersion}, FlashMQ `
        + `${caps.deferredReadiness ? '1.26 or newer: listeners held until ready' : 'before 1.26: listeners open before ready'}); `
        + `portal id '${portalId}', D-Bus at '${address}', status in '${settings.statusFile || 'nowhere'}'`
        + (caps.memoryPlan ? `; ${caps.memoryPlan}` : ''));
    api.publisher.announce();
    bridge.start();
    const started = timers.now();
    const stats = new StatsReporter(() => {
        const native = broker.stats();
        return { dbus: bridge.sizes(), requests: api.sizes(), logins: { ...security.sizes(), pendingLogins: native.pendingLogins, readRules: native.readRules } };
    }, (line) => log.notice(line), timers);
    stats.start(settings.statsIntervalS * 1000);
    const memoryTrim = new MemoryTrim({
        rssBytes: () => process.memoryUsage.rss(),
        heapBytes: () => {
            const heap = v8().getHeapStatistics();
            return { used: heap.used_heap_size, total: heap.total_heap_size };
        },
        items: () => bridge.cache.itemCount(),
        reduce: () => broker.reduceMemory(),
        log: (line) => log.info(line),
    }, timers);
    let discovered = false;
    const status = new StatusFile({ path: settings.statusFile, refreshMs: 10_000 }, () => {
        const memory = process.memoryUsage();
        const mb = (bytes: number): number => Math.round(bytes / 1e5) / 10;
        return {
            pid: process.pid, version, node: process.versions.node, pluginApi: caps.pluginVersion, holdsListeners: caps.deferredReadiness,
            dbus: { connected: bridge.connected, services: bridge.cache.size, items: bridge.cache.itemCount() },
            clients,
            memory: { rssMb: mb(memory.rss), heapUsedMb: mb(memory.heapUsed), heapTotalMb: mb(memory.heapTotal) },
        };
    }, () => stateOf(discovered, bridge.connected), timers, (line) => log.warning(line));
    status.start();
    void bridge.whenDiscovered().then(() => {
        const s = bridge.stats();
        const cpu = process.cpuUsage();
        log.notice(`D-Bus discovery done in ${Math.round(timers.now() - started)} ms: ${s.services} services, ${s.items} items; ready `
            + `(the process's CPU so far ${Math.round((cpu.user + cpu.system) / 1000)} ms)`);
        discovered = true;
        status.check();
        broker.ready();
    });
    // Give back what start-up, or the scans after a reconnection, took once the first clients are served.
    bridge.onDiscovered((first) => {
        memoryTrim.after(first ? 'start-up' : 'rediscovery');
        status.check();
    });
    return { broker, bridge, api, log, settings: () => parsed.settings };
}
