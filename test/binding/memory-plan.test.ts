// The memory plan (native/memory_plan.cc): what the plugin chooses for its threads, V8's heap, the JIT and malloc
// from the process's limits, built into the test addon. Sizes in MiB.
import { strict as assert } from 'node:assert';
import * as path from 'node:path';

interface Process {
    addressSpaceLimit?: number;
    dataLimit?: number;
    stackLimit?: number;
    physicalMemory?: number;
    addressSpaceUsed?: number;
    dataUsed?: number;
    pointerBytes?: number;
}

interface Request {
    platformThreads?: number;
    threadpoolSize?: number;
    mallocArenaMax?: number;
    threadStackKb?: number;
    semiSpaceGiven?: boolean;
    oldSpaceGiven?: boolean;
    jitlessGiven?: boolean;
}

interface Plan {
    platformThreads: number;
    threadpoolSize: number;
    threadStackKb: number;
    mallocArenaMax: number;
    semiSpaceMb: number;
    oldSpaceMb: number;
    jitless: boolean;
    v8Args: string[];
    summary: string;
    shortfall: string;
}

const addonPath = path.resolve(__dirname, '../../../build/Release/flashmq_binding_test.node');
// eslint-disable-next-line @typescript-eslint/no-require-imports
const testing = (require(addonPath) as { testing: { planMemory(p: Process, r?: Request): Plan } }).testing;
const plan = (p: Process, r: Request = {}): Plan => testing.planMemory(p, r);

// Venus runs FlashMQ under softlimit -d 150000000 -s 10000000 -a 150000000 (-a x4 on aarch64).
const MB = 1_000_000 / 1_048_576;
const venus = { dataLimit: 150 * MB, stackLimit: 10 * MB, physicalMemory: 1024 };
const venusArm64: Process = { ...venus, addressSpaceLimit: 600 * MB, addressSpaceUsed: 170, dataUsed: 12, pointerBytes: 8 };
// What an armhf broker had mapped when the plugin planned, on a real kernel under Venus's limits (bench:gx).
const venusArmhf: Process = { ...venus, addressSpaceLimit: 150 * MB, addressSpaceUsed: 69 * MB, dataUsed: 17 * MB, physicalMemory: 1043 * MB, pointerBytes: 4 };
const unlimited: Process = { physicalMemory: 24_000, stackLimit: 8, addressSpaceUsed: 170, dataUsed: 10, pointerBytes: 8 };

describe('the memory plan', () => {
    it('without limits: one V8 worker, two pool threads, small stacks, two arenas, a small young generation', () => {
        const p = plan(unlimited);
        assert.deepEqual({ ...p, summary: undefined, shortfall: undefined }, {
            platformThreads: 1, threadpoolSize: 2, threadStackKb: 2048, mallocArenaMax: 2, semiSpaceMb: 1, oldSpaceMb: 256, jitless: false,
            v8Args: ['--max-semi-space-size=1', '--max-old-space-size=256'], summary: undefined, shortfall: undefined,
        });
        assert.equal(p.shortfall, '');
        assert.match(p.summary, /^memory: limits none, stack 8 MB, RAM 25166 MB; at start 178 MB mapped, 10 MB data\. Chose 1 V8 worker, 2 pool threads, 2048 KiB thread stacks, 2 malloc arenas, young generation 1 MiB semi-spaces, old generation 256 MiB, JIT on; at its heap limit V8 gets 64 MiB more while JavaScript restarts$/);
    });

    it('promises V8 no more than a quarter of a small machine\'s memory', () => {
        assert.equal(plan({ ...unlimited, physicalMemory: 512 }).oldSpaceMb, 128);
        assert.equal(plan({ ...unlimited, physicalMemory: 64 }).oldSpaceMb, 32, 'and never less than it needs');
    });

    it('sizes the old generation to what the data limit leaves (Venus on aarch64)', () => {
        const p = plan(venusArm64);
        assert.equal(p.shortfall, '');
        assert.equal(p.jitless, false, 'the 128 MiB code range fits in 600 MB');
        assert.ok(p.oldSpaceMb >= 48 && p.oldSpaceMb < 100, `old generation ${p.oldSpaceMb} MiB`);
        assert.deepEqual(p.v8Args, ['--max-semi-space-size=1', `--max-old-space-size=${p.oldSpaceMb}`]);
        assert.match(p.summary, /limits address space 600 MB, data 150 MB, stack 10 MB/);
        assert.match(p.summary, /old generation \d+ MiB \(what the data limit of 150 MB leaves beside about \d+ MB for the rest\)/);
    });

    it('gives the old generation less as the data limit shrinks, and says what it needs when it cannot fit', () => {
        const sizes = [250, 200, 150, 130].map((d) => plan({ ...venusArm64, dataLimit: d * MB }).oldSpaceMb);
        for (let i = 1; i < sizes.length; i++)
            assert.ok(sizes[i]! < sizes[i - 1]!, `${sizes.join(' > ')}`);
        const tight = plan({ ...venusArm64, dataLimit: 60 * MB });
        assert.match(tight.shortfall, /^the data limit \(softlimit -d\) of 60 MB cannot hold the broker with the plugin: it needs about (\d+) MB \(\d+ MB besides V8's heap of at least 32 MiB and the quarter more it gets at its limit\); raise it to (\d+) or more$/);
        const [, needMb, raiseTo] = /about (\d+) MB.*raise it to (\d+)/.exec(tight.shortfall)!;
        assert.ok(Number(needMb) > 60);
        assert.ok(Number(raiseTo) >= Number(needMb) * 1_000_000, 'in bytes, as softlimit takes it');
        assert.equal(tight.oldSpaceMb, 32, 'it still tries with the least');
    });

    it('turns the JIT off when the address space has room for everything but its code range (64-bit)', () => {
        const p = plan({ ...venusArm64, dataLimit: 0, addressSpaceLimit: 400 * MB });
        assert.equal(p.jitless, true);
        assert.ok(p.v8Args.includes('--jitless'));
        assert.match(p.summary, /JIT off \(the address space has no room for its 134 MB code range\)/);
        assert.equal(p.shortfall, '');
        assert.equal(plan({ ...venusArm64, dataLimit: 0, addressSpaceLimit: 800 * MB }).jitless, false);
    });

    it('has no code range to give up on 32-bit ARM', () => {
        const p = plan({ ...venusArmhf, dataLimit: 0, addressSpaceLimit: 400 * MB });
        assert.equal(p.jitless, false);
        assert.ok(!p.v8Args.includes('--jitless'));
    });

    it('fits Venus\'s limits on 32-bit ARM with default options, with room to spare for what a real kernel measured', () => {
        const p = plan(venusArmhf);
        assert.equal(p.shortfall, '');
        assert.ok(p.oldSpaceMb >= 24 && p.oldSpaceMb <= 40, `old generation ${p.oldSpaceMb} MiB`);
        const [, rest] = /what the address space limit of 150 MB leaves beside about (\d+) MB for the rest/.exec(p.summary)!;
        // On that kernel the broker's VmPeak grew 40.5 MB beyond its 69 MB at start besides V8's heap (bench:gx):
        // the plan counts more than that, and the old generation it allows on top stays within the limit.
        assert.ok(Number(rest) >= 69 + 40.5, `rest ${rest} MB`);
        assert.ok(Number(rest) + p.oldSpaceMb * 1.048576 <= 150, `rest ${rest} MB + old generation ${p.oldSpaceMb} MiB`);
    });

    it('keeps room under the limits for the quarter more V8 gets at its heap limit, and says how much', () => {
        for (const [name, p, limit] of [['armhf', plan(venusArmhf), 150], ['aarch64', plan(venusArm64), 150]] as const) {
            const [, rest] = /leaves beside about (\d+) MB for the rest/.exec(p.summary)!;
            const [, extra] = /at its heap limit V8 gets (\d+) MiB more while JavaScript restarts$/.exec(p.summary)!;
            assert.equal(Number(extra), Math.ceil(p.oldSpaceMb / 4), name);
            assert.ok(Number(rest) + (p.oldSpaceMb + Number(extra)) * 1.048576 <= limit + 1, `${name}: rest ${rest} MB + ${p.oldSpaceMb} + ${extra} MiB`);
        }
        assert.match(plan(venusArm64, { oldSpaceGiven: true }).summary, /at its heap limit V8 gets a quarter more while JavaScript restarts$/);
    });

    it('sizes to the address space on 32-bit ARM, and says what it needs beyond it', () => {
        const roomy = plan({ ...venusArmhf, addressSpaceLimit: 250 * MB });
        assert.equal(roomy.shortfall, '');
        const tight = plan({ ...venusArmhf, addressSpaceLimit: 120 * MB });
        assert.match(tight.shortfall, /^the address-space limit \(softlimit -a\) of 120 MB cannot hold the broker with the plugin: it needs about \d+ MB \(\d+ MB besides V8's heap of at least 24 MiB and the quarter more it gets at its limit\)/);
        assert.match(tight.summary, /old generation 24 MiB \(the least it starts with\)/);
    });

    it('lets the options win, and says so', () => {
        const p = plan(venusArm64, { platformThreads: 3, threadpoolSize: 4, mallocArenaMax: 0, threadStackKb: 4096 });
        assert.equal(p.platformThreads, 3);
        assert.equal(p.threadpoolSize, 4);
        assert.equal(p.mallocArenaMax, 0);
        assert.equal(p.threadStackKb, 4096);
        assert.match(p.summary, /3 V8 workers \(option\), 4 pool threads \(option\), 4096 KiB thread stacks \(option\), default malloc arenas \(option\)/);
        assert.ok(p.oldSpaceMb < plan(venusArm64).oldSpaceMb, 'more threads with bigger stacks leave the heap less');
    });

    it('leaves the heap options given in node_args alone', () => {
        const p = plan(venusArm64, { semiSpaceGiven: true, oldSpaceGiven: true, jitlessGiven: true });
        assert.deepEqual(p.v8Args, []);
        assert.match(p.summary, /young generation from node_args, old generation from node_args, JIT off/);
    });
});
