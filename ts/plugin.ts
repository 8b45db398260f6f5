// Wiring: builds the plugin's parts around the broker facade and runs their life cycle (start, reload, shutdown).

import * as v8 from 'node:v8';

import { parseOptions } from './config';
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
import { MemoryTrim } from './util/memory-trim';
import { StatsReporter } from './util/stats';
import type { Timers } from './util/timers';
import { realTimers } from './util/timers';

export interface RunningPlugin {
    readonly broker: Broker;
    readonly bridge: DbusBridge;
    readonly api: VenusApi;
    readonly log: Logger;
    settings(): Settings;
}

export function startPlugin(binding: FlashmqBinding, timers: Timers = realTimers): RunningPlugin {
    let parsed = parseOptions(binding.options());
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

    broker.setForwardFilters({ publish: api.forwardFilters(), alterPublish: api.alterFilters() });
    broker.setHandlers({
        login: (request) => security.decideLogin(request),
        publish(message) {
            const verdict = security.checkPublish(message);
            if (!verdict.allow)
                return false;
            return verdict.act ? api.onPublish(message) : true;
        },
        alterPublish: (_clientId, _topic, _qos, retain) => (retain ? { retain: false } : undefined),
        clientDisconnected: (clientId) => security.onClientDisconnected(clientId),
        reload(options) {
            const before = parsed.settings;
            parsed = parseOptions(options);
            for (const problem of parsed.problems)
                log.warning(problem);
            if (parsed.settings.dbusAddress !== before.dbusAddress)
                log.warning('plugin_opt_dbus_address changed; it takes effect when the broker restarts');
            security.setLocalNetworks(parsed.settings.localNetworks);
            stats.start(parsed.settings.statsIntervalS * 1000);
            log.notice('configuration reloaded');
        },
        async shutdown() {
            memoryTrim.stop();
            stats.stop();
            log.notice('stopping');
            api.stop();
            await security.stop();
            bridge.stop();
        },
    });

    const caps = broker.capabilities;
    log.notice(`started (plugin API ${caps.pluginVersion}, Node ${process.versions.node}); portal id '${portalId}', D-Bus at '${address}'`);
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
            const heap = v8.getHeapStatistics();
            return { used: heap.used_heap_size, total: heap.total_heap_size };
        },
        items: () => bridge.cache.itemCount(),
        reduce: () => broker.reduceMemory(),
        log: (line) => log.info(line),
    }, timers);
    void bridge.whenDiscovered().then(() => {
        const s = bridge.stats();
        log.notice(`D-Bus discovery done in ${Math.round(timers.now() - started)} ms: ${s.services} services, ${s.items} items; ready`);
        broker.ready();
    });
    // Give back what start-up, or the scans after a reconnection, took once the first clients are served.
    bridge.onDiscovered((first) => memoryTrim.after(first ? 'start-up' : 'rediscovery'));
    return { broker, bridge, api, log, settings: () => parsed.settings };
}
