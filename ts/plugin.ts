// Wiring: builds the plugin's parts around the broker facade and runs their life cycle (start, reload, shutdown).
// The D-Bus bridge, the MQTT API and the security rules plug in here as they are built.

import { parseOptions } from './config';
import type { Settings } from './config';
import { Logger } from './log';
import type { FlashmqBinding } from './native/binding';
import { Broker } from './native/broker';
import { brokerLogSink } from './native/log-sink';
import type { Timers } from './util/timers';
import { realTimers } from './util/timers';

export interface RunningPlugin {
    readonly broker: Broker;
    readonly log: Logger;
    settings(): Settings;
}

export function startPlugin(binding: FlashmqBinding, timers: Timers = realTimers): RunningPlugin {
    let settings = parseOptions(binding.options());
    const log = new Logger(brokerLogSink(binding), 'dbus-flashmq', () => settings.settings.debug);
    const broker = new Broker(binding, log.child('broker'), timers, { loginTimeoutMs: settings.settings.loginTimeoutMs });
    for (const problem of settings.problems)
        log.warning(problem);

    // Nothing of ours needs client publishes yet: keep them out of JavaScript entirely.
    broker.setForwardFilters({ publish: false, alterPublish: false });
    broker.setHandlers({
        reload(options) {
            settings = parseOptions(options);
            for (const problem of settings.problems)
                log.warning(problem);
            log.notice('configuration reloaded');
        },
        shutdown() {
            log.notice('stopping');
        },
    });

    const caps = broker.capabilities;
    log.notice(`started (plugin API ${caps.pluginVersion}, Node ${process.versions.node})`);
    broker.ready();
    return { broker, log, settings: () => settings.settings };
}
