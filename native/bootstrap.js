// The first JavaScript that runs in the embedded environment (compiled into the plugin; see CMakeLists.txt).
// Node runs it as the body of a function of (process, require), where `require` loads built-in modules only,
// after the shim has prepended `const entryPath = "<absolute path>";`.
//
// It fences JavaScript off from the broker's process before any of our code or a dependency runs:
//   - console.*, process.stdout/stderr and warnings go to FlashMQ's log, never to the broker's file descriptors;
//   - process.exit, process.reallyExit, process.abort and process.kill on the broker are refused with a log line;
//   - signal listeners are refused (the broker owns SIGHUP/SIGTERM/SIGINT/SIGUSR1/SIGUSR2);
//   - uncaught exceptions and unhandled rejections are logged and counted, and the broker keeps running; a storm of
//     them (more than 50 within 10 s) restarts JavaScript, as Node's fatal path does.
// Then it loads the entry module. It returns nothing on success, or a one-line reason why the entry did not load.

'use strict';

const binding = process._linkedBinding('flashmq');
const { format, inspect } = require('util');
const { Writable, Readable } = require('stream');
const { constants: osConstants } = require('os');
// Node's CommonJS loader itself: the public 'module' would load the ES-module loader and source maps (3 more
// built-in modules to compile) for nothing the plugin uses.
const { Module } = require('internal/modules/cjs/loader');
const fs = require('fs');
const path = require('path');

const LOG_INFO = 0x01;
const LOG_WARNING = 0x04;
const LOG_ERR = 0x08;
const LOG_DEBUG = 0x10;

function log(level, message) {
    try {
        binding.log(level, message);
    } catch {
        // Logging must never throw into the caller.
    }
}

function describe(err) {
    if (err instanceof Error)
        return err.stack || `${err.name}: ${err.message}`;
    return inspect(err);
}

// console.* -> FlashMQ's log.
const consoleLevels = { log: LOG_INFO, info: LOG_INFO, debug: LOG_DEBUG, warn: LOG_WARNING, error: LOG_ERR, trace: LOG_DEBUG, dir: LOG_INFO };
for (const [name, level] of Object.entries(consoleLevels)) {
    console[name] = name === 'dir'
        ? (obj, options) => log(level, `[js console] ${inspect(obj, options)}`)
        : (...args) => log(level, `[js console] ${format(...args)}`);
}

// process.stdout/stderr/stdin: streams of our own, so nothing touches (or makes non-blocking) the broker's fds.
function lineLogger(level, tag) {
    let pending = '';
    return new Writable({
        decodeStrings: false,
        write(chunk, encoding, callback) {
            pending += typeof chunk === 'string' ? chunk : Buffer.from(chunk).toString('utf8');
            let nl;
            while ((nl = pending.indexOf('\n')) >= 0) {
                log(level, `[js ${tag}] ${pending.slice(0, nl)}`);
                pending = pending.slice(nl + 1);
            }
            if (pending.length > 16384) {
                log(level, `[js ${tag}] ${pending}`);
                pending = '';
            }
            callback();
        },
    });
}
const fencedStreams = {
    stdout: lineLogger(LOG_INFO, 'stdout'),
    stderr: lineLogger(LOG_ERR, 'stderr'),
    stdin: new Readable({ read() { this.push(null); } }),
};
for (const [name, stream] of Object.entries(fencedStreams))
    Object.defineProperty(process, name, { configurable: true, enumerable: true, get: () => stream });

// Nothing in JavaScript may end or signal the broker's process.
function refuse(what) {
    log(LOG_ERR, `dbus-flashmq: JavaScript called ${what}; refused, the broker keeps running\n${new Error('called from').stack}`);
}
process.exit = function exit(code) {
    refuse(`process.exit(${code === undefined ? '' : inspect(code)})`);
};
process.reallyExit = function reallyExit(code) {
    refuse(`process.reallyExit(${code === undefined ? '' : inspect(code)})`);
};
process.abort = function abort() {
    refuse('process.abort()');
};
const originalKill = process.kill;
process.kill = function kill(pid, signal) {
    const target = Number(pid);
    if ((target === process.pid || target <= 0) && signal !== 0) {
        refuse(`process.kill(${inspect(pid)}, ${inspect(signal)}) on the broker's own process`);
        return false;
    }
    return originalKill.call(process, pid, signal);
};

// Signals belong to the broker. Node starts a libuv signal watcher when a signal listener is added, and leaves the
// signal at SIG_DFL when the environment goes away; so no signal listener may ever be added.
const signalNames = new Set(Object.keys(osConstants.signals));
for (const internal of process.listeners('newListener'))
    if (internal.name === 'startListeningIfSignal')
        process.removeListener('newListener', internal);
for (const method of ['on', 'addListener', 'once', 'prependListener', 'prependOnceListener']) {
    const original = process[method];
    process[method] = function (event, listener) {
        if (typeof event === 'string' && signalNames.has(event)) {
            refuse(`process.${method}('${event}', ...)`);
            return this;
        }
        return original.call(this, event, listener);
    };
}

// The safety net for errors nobody caught. It cannot be removed: without it Node ends the environment.
// One error now and then is logged and forgotten. A storm of them (an error per message, per timer tick) means
// JavaScript no longer does its work and fills the log: more than STORM_COUNT within STORM_MS restart it. 50 in 10 s
// is far beyond anything a working plugin logs, and reached within seconds by a loop that fails every time.
const STORM_COUNT = 50;
const STORM_MS = 10000;
const recentErrors = []; // times of the last STORM_COUNT + 1 errors
let uncaughtCount = 0;
let restarting = false;
function onUncaught(err, origin) {
    if (restarting)
        return;
    uncaughtCount++;
    const what = origin === 'unhandledRejection' ? 'unhandled promise rejection' : 'uncaught exception';
    log(LOG_ERR, `dbus-flashmq: ${what} in JavaScript (the broker keeps running): ${describe(err)}`);
    const now = Date.now();
    recentErrors.push(now);
    if (recentErrors.length > STORM_COUNT + 1)
        recentErrors.shift();
    if (recentErrors.length > STORM_COUNT && now - recentErrors[0] <= STORM_MS) {
        restarting = true;
        try {
            binding.restart(`${recentErrors.length} uncaught errors within ${Math.round((now - recentErrors[0]) / 100) / 10} s ` +
                `(${uncaughtCount} since it started)`);
        } catch (restartError) {
            log(LOG_ERR, `dbus-flashmq: cannot restart JavaScript: ${describe(restartError)}`);
        }
    }
}
process.on('uncaughtException', onUncaught);
for (const method of ['removeListener', 'off']) {
    const original = process[method];
    process[method] = function (event, listener) {
        if (event === 'uncaughtException' && listener === onUncaught)
            return this;
        return original.call(this, event, listener);
    };
}
const originalRemoveAll = process.removeAllListeners;
process.removeAllListeners = function (event) {
    const result = originalRemoveAll.apply(this, arguments);
    if (event === undefined || event === 'uncaughtException')
        process.on('uncaughtException', onUncaught);
    return result;
};
process.on('warning', (warning) => {
    log(LOG_WARNING, `dbus-flashmq: JavaScript warning: ${warning.name}: ${warning.message}`);
});

// The public built-ins the plugin uses, handed to it as this function's `require` has them. Node's own loader would
// first build an ES-module facade for each one, reading every export, and the lazy ones load more modules: `fs`
// its `promises` (8 modules: readline, streams...), `util` 4 (parseArgs, MIMEType...), and the facade itself the
// ES-module loader (4). Debian's libnode compiles each from source at every start: tens of milliseconds on a GX
// device's ARM CPU before the first full publish. The exports are the same objects either way.
const direct = new Set(['fs', 'fs/promises', 'path', 'net', 'util', 'crypto', 'v8', 'os', 'events', 'stream', 'buffer', 'timers']);
const load = Module._load;
Module._load = function _load(request, parent, isMain) {
    const id = typeof request === 'string' && request.startsWith('node:') ? request.slice(5) : request;
    if (direct.has(id))
        return require(id);
    return load.call(this, request, parent, isMain);
};

// The entry module, compiled and run as Node's loader would (a module of its own, its require rooted where it is, in
// the module cache, called with Node's five arguments), but not registered with the ES-module loader too: Node does
// that for every CommonJS module it loads, and setting that loader up compiles 4 more built-in modules at every start.
// Its source comes from the shim when the code cache read it (with the cache's data for it, when there is some; see
// native/code_cache.h), and the compiled function goes back to the shim, which may cache it after start-up.
const { internalCompileFunction } = require('internal/vm');
const { makeRequireFunction } = require('internal/modules/helpers');
const wrapperParameters = ['exports', 'require', 'module', '__filename', '__dirname'];
function loadEntry(file) {
    const entry = new Module(file, null);
    entry.filename = file;
    entry.paths = Module._nodeModulePaths(path.dirname(file));
    Module._cache[file] = entry;
    try {
        const given = binding.entryCodeCache(); // the file as the shim read it for the code cache, and its data
        const source = given === undefined ? fs.readFileSync(file) : given.source;
        const { function: compiled } = internalCompileFunction(source.toString('utf8'), file, 0, 0, given?.cachedData, false,
            undefined, undefined, wrapperParameters, Symbol(`cjs:${file}`));
        binding.entryCompiled(compiled, compiled.cachedDataRejected === true);
        compiled.call(entry.exports, entry.exports, makeRequireFunction(entry, null), entry, file, path.dirname(file));
    } catch (err) {
        delete Module._cache[file];
        throw err;
    }
    entry.loaded = true;
}

// Load the entry module (CommonJS: what tsc emits), with a real require rooted at its own location.
try {
    if (/\.mjs$/i.test(entryPath))
        return `The entry '${entryPath}' is an ES module; the plugin loads CommonJS entries`;
    loadEntry(fs.realpathSync(entryPath));
} catch (err) {
    const first = describe(err).split('\n').slice(0, 6).join(' | ');
    return `Cannot load the JavaScript entry '${entryPath}': ${first}`;
}
return undefined;
