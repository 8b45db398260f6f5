// What a restart of JavaScript costs (native/plugin.cc: after Node's fatal path, a storm of uncaught errors, V8 at its
// heap limit): the product on the simulated GX (bct) on a private bus, its entry wrapped so that each JavaScript world
// ends itself through Node's fatal path a few seconds after it loaded, --restarts times. From the broker's log: the
// restart itself (the old environment freed, the new one loaded), the time the broker was without JavaScript and
// until the new world's discovery was done, with no restart delay (restart_delay_ms 0: on a device the delay, 1 s
// for the first restart and doubling, comes on top);
// from /proc: descriptors, threads and RSS before the first restart and after the last, each 5 s after a discovery
// (after the memory trim that follows it).
//
//   node dist/bench/js-restart.js [--restarts 10] [--recording bct] [--interval-ms 3000]
import * as fs from 'node:fs';
import * as path from 'node:path';

import { brokerScratchDir, repoRoot, sleep } from '../test/helpers/flashmq';
import { startGx } from '../test/helpers/venus';
import { numberOption, option } from './args';

const RESTARTS = numberOption('restarts', 10);
const RECORDING = option('recording') ?? 'bct';
const INTERVAL_MS = numberOption('interval-ms', 3000);

interface Proc {
    fds: number;
    threads: number;
    rssMb: number;
    anonMb: number;
}

function proc(pid: number): Proc {
    const status = fs.readFileSync(`/proc/${pid}/status`, 'utf8');
    const kb = (key: string): number => Number(new RegExp(`${key}:\\s+(\\d+)`).exec(status)?.[1] ?? 0);
    return { fds: fs.readdirSync(`/proc/${pid}/fd`).length, threads: kb('Threads'), rssMb: kb('VmRSS') / 1000, anonMb: kb('RssAnon') / 1000 };
}

/** Log lines with their time (the broker's timestamps, ms). */
function lines(log: string): Array<{ t: number; text: string }> {
    return log.split('\n').flatMap((text) => {
        const m = /^\[(\d{4}-\d\d-\d\d) (\d\d:\d\d:\d\d\.\d{3})\]/.exec(text);
        return m ? [{ t: Date.parse(`${m[1]}T${m[2]}`), text }] : [];
    });
}

const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] ?? NaN;
const range = (xs: number[]): string => `${Math.min(...xs)}–${Math.max(...xs)}`;

async function main(): Promise<void> {
    const dir = brokerScratchDir('dfmq-bench-restart-', true);
    const entry = path.join(dir, 'entry.js');
    const counter = path.join(dir, 'loads');
    // Each world loads the product, then (until the last) ends itself through Node's fatal path: an exception in
    // the exception capture callback, as test/fixtures/probe-entry.ts's 'fatal' does.
    fs.writeFileSync(entry, `'use strict';
const fs = require('fs');
require(${JSON.stringify(path.join(repoRoot, 'dist/ts/index.js'))});
const loads = Number(fs.existsSync(${JSON.stringify(counter)}) ? fs.readFileSync(${JSON.stringify(counter)}, 'utf8') : 0) + 1;
fs.writeFileSync(${JSON.stringify(counter)}, String(loads));
if (loads <= ${RESTARTS})
    setTimeout(() => {
        process.setUncaughtExceptionCaptureCallback(() => { throw new Error('bench: the capture callback throws'); });
        throw new Error('bench: fatal');
    }, loads === 1 ? Number(process.env.DFMQ_BENCH_FIRST_MS) : ${INTERVAL_MS});
`);
    fs.chmodSync(entry, 0o644);
    const firstMs = 8000; // the first world lives long enough for the 'before' figures
    const gx = await startGx({
        recording: RECORDING,
        broker: { entry, env: { DFMQ_BENCH_FIRST_MS: String(firstMs) } },
        // No delay: the figures are the restart's own.
        pluginOptions: { restart_limit: String(RESTARTS + 1), restart_delay_ms: '0', status_file: path.join(dir, 'status') },
    });
    try {
        const pid = gx.broker.proc.pid!;
        await sleep(5000);
        const before = proc(pid);
        const deadline = Date.now() + firstMs + RESTARTS * (INTERVAL_MS + 20_000);
        while ((gx.broker.log().match(/D-Bus discovery done/g)?.length ?? 0) < RESTARTS + 1) {
            if (Date.now() > deadline || !gx.broker.running)
                throw new Error(`not ${RESTARTS} restarts; log:\n${gx.broker.log().slice(-3000)}`);
            await sleep(200);
        }
        await sleep(5000);
        const after = proc(pid);

        const log = lines(gx.broker.log());
        const restartMs: number[] = [];
        const withoutJs: number[] = [];
        const untilReady: number[] = [];
        for (let i = 0; i < log.length; i++) {
            const stopped = log[i]!;
            if (!/JavaScript stopped: /.test(stopped.text))
                continue;
            const restarted = log.slice(i).find((l) => /JavaScript restarted in \d+ ms/.test(l.text));
            const ready = log.slice(i).find((l) => /D-Bus discovery done/.test(l.text));
            if (!restarted || !ready)
                continue;
            restartMs.push(Number(/restarted in (\d+) ms/.exec(restarted.text)![1]));
            withoutJs.push(Number(/stopped for (\d+) ms/.exec(restarted.text)![1]));
            untilReady.push(ready.t - stopped.t);
        }
        console.log(`\n## JavaScript restarts: the product with '${RECORDING}' on a private bus, ${restartMs.length} restarts through Node's fatal path`);
        console.log('| restart_delay_ms 0 | median | range |');
        console.log('|---|---|---|');
        console.log(`| restart: old environment freed, new one loaded, ms | ${median(restartMs)} | ${range(restartMs)} |`);
        console.log(`| broker without JavaScript (logins refused), ms | ${median(withoutJs)} | ${range(withoutJs)} |`);
        console.log(`| until the new world's D-Bus discovery was done, ms | ${median(untilReady)} | ${range(untilReady)} |`);
        console.log(`\n| process, 5 s after a discovery | before the first restart | after restart ${restartMs.length} |`);
        console.log('|---|---|---|');
        console.log(`| file descriptors | ${before.fds} | ${after.fds} |`);
        console.log(`| threads | ${before.threads} | ${after.threads} |`);
        console.log(`| RSS, MB | ${before.rssMb.toFixed(1)} | ${after.rssMb.toFixed(1)} |`);
        console.log(`| anonymous, MB | ${before.anonMb.toFixed(1)} | ${after.anonMb.toFixed(1)} |`);
        console.log(`\nstill serving at the end: ${gx.broker.running ? 'yes' : 'no'}`);
    } finally {
        await gx.stop();
        fs.rmSync(dir, { recursive: true, force: true });
    }
}

main().catch((err: unknown) => {
    console.error(err);
    process.exit(1);
});
