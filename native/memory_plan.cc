#include "memory_plan.h"

#include <malloc.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <sstream>

#include <uv.h>

namespace dfmq
{

namespace
{

constexpr uint64_t KiB = 1024;
constexpr uint64_t MiB = 1024 * KiB;

// What the plan reserves for what it does not size, per pointer size:
//   brokerHeap: FlashMQ itself (clients, subscriptions, its log) besides its thread stacks;
//   runtimeData: the runtime besides V8's heap and the stacks: V8's and Node's own structures, libnode's writable
//     data, buffers outside the heap, malloc's slack;
//   runtimeMapped: address space V8 maps besides its heap pages (read-only space, its tables);
//   minOldSpace: the least old generation worth starting with (less is not enough for a small system).
// 64-bit: measured with FlashMQ 1.26 on x86-64 (bench/venus.ts under Venus's limits). 32-bit: measured on a real
// armhf kernel enforcing Venus's limits (bench:gx, FlashMQ 1.23.2): the broker's VmPeak grew 40.5 MB beyond what
// was mapped at start, besides V8's heap, with bct and with 50,000 items alike, of which 28.4 MB are the stacks
// counted below; 16 MiB here leave 4.8 MB to spare. V8's heap there peaked at 5.7 MB (bct) and 12.5 MB (50,000
// items), young generation included, so 24 MiB of old generation hold twice what 50,000 items take.
struct Allowances
{
    uint64_t brokerHeap;
    uint64_t runtimeData;
    uint64_t runtimeMapped;
    uint64_t minOldSpace;
};
constexpr Allowances kAllowances64{16 * MiB, 16 * MiB, 8 * MiB, 32 * MiB};
constexpr Allowances kAllowances32{6 * MiB, 8 * MiB, 2 * MiB, 24 * MiB};
// FlashMQ with thread_count 1 runs four threads: main, log writer, worker, background tasks. Those not yet started
// when the plugin plans will take the default stack each.
constexpr int kBrokerThreads = 4;
// On 64-bit, V8 reserves this much address space for JIT code (none on 32-bit ARM, where it is not needed).
constexpr uint64_t kCodeRange64 = 128 * MiB;
// A malloc arena beyond the first reserves this much address space (64-bit: 2 x the largest mmap threshold).
constexpr uint64_t kArena64 = 64 * MiB;
constexpr uint64_t kArena32 = 1 * MiB;

// The runtime's threads need little stack: V8 keeps its own use within about 1 MiB (--stack-size), libuv's pool
// runs crypt() and file reads. The process's default (the stack limit, 8-10 MiB) would count against the limits
// once per thread.
constexpr uint64_t kThreadStack = 2 * MiB;
// V8's old generation at most: more is not needed for 50,000 items.
constexpr uint64_t kMaxOldSpace = 256 * MiB;
// The young generation's semi-spaces: each change allocates a little, and a bigger young generation only keeps the
// garbage longer (V8 grows it to 16 MiB per semi-space on 64-bit under load, and does not shrink it).
constexpr int kSemiSpaceMb = 1;

// Limits are given in bytes (softlimit -a 150000000): they are said in decimal megabytes.
uint64_t mb(uint64_t bytes)
{
    return (bytes + 500000) / 1000000;
}

std::string mbText(uint64_t bytes)
{
    return std::to_string(mb(bytes)) + " MB";
}

} // namespace

MemoryPlan planMemory(const ProcessMemory &p, const MemoryRequest &r)
{
    MemoryPlan plan;
    const bool is64 = p.pointerBytes >= 8;
    const Allowances &a = is64 ? kAllowances64 : kAllowances32;
    const uint64_t minOldSpace = a.minOldSpace;
    const uint64_t defaultStack = p.stackLimit ? p.stackLimit : 8 * MiB;

    plan.platformThreads = r.platformThreads > 0 ? r.platformThreads : 1;
    plan.threadpoolSize = r.threadpoolSize > 0 ? r.threadpoolSize : 2;
    plan.mallocArenaMax = r.mallocArenaMax >= 0 ? r.mallocArenaMax : 2;
    plan.threadStack = r.threadStackKb > 0 ? static_cast<uint64_t>(r.threadStackKb) * KiB : kThreadStack;
    plan.semiSpaceMb = r.semiSpaceGiven ? 0 : kSemiSpaceMb;
    // The runtime's threads: V8's workers, the one that schedules V8's delayed tasks, libuv's pool.
    const int threads = plan.platformThreads + 1 + plan.threadpoolSize;
    const uint64_t stacks = static_cast<uint64_t>(threads) * (plan.threadStack + 4 * KiB);
    const uint64_t young = 3 * static_cast<uint64_t>(plan.semiSpaceMb ? plan.semiSpaceMb : (is64 ? 16 : 8)) * MiB;
    const int brokerThreadsToCome = kBrokerThreads - 2; // the worker and the background tasks start after main_init
    const uint64_t brokerLater = static_cast<uint64_t>(brokerThreadsToCome) * defaultStack + a.brokerHeap;

    // The old generation gets what the limits leave, within [minOldSpace, kMaxOldSpace]. Each limit must hold what
    // is in use now, what the broker and the runtime add, and the heap; the address space also what is only
    // reserved: malloc's arenas and the JIT's code range.
    const uint64_t dataFixed = p.dataUsed + brokerLater + stacks + a.runtimeData + young;
    const uint64_t arenas = plan.mallocArenaMax > 0 ? static_cast<uint64_t>(plan.mallocArenaMax - 1) * (is64 ? kArena64 : kArena32)
                                                    : 8 * (is64 ? kArena64 : kArena32);
    const uint64_t codeRange = is64 && !r.jitlessGiven ? kCodeRange64 : 0;
    const uint64_t asFixedNoCode = p.addressSpaceUsed + brokerLater + stacks + a.runtimeData + a.runtimeMapped + young + arenas;
    // What is left under a limit holds the old generation and the quarter more V8 gets near its heap limit while
    // JavaScript is restarted (NodeEnvironment::nearHeapLimit): the old generation is four fifths of it.
    const auto leftUnder = [](uint64_t limit, uint64_t fixed) { return limit > fixed ? (limit - fixed) / 5 * 4 : 0; };

    // Without limits, a quarter of the machine's memory at most (V8's own rule), so a small device is not promised
    // more than it has.
    uint64_t oldSpace = p.physicalMemory ? std::max(minOldSpace, std::min(kMaxOldSpace, p.physicalMemory / 4)) : kMaxOldSpace;
    const char *binding = nullptr; // the limit that sized the old generation
    uint64_t bindingLimit = 0, bindingFixed = 0;
    if (p.dataLimit && leftUnder(p.dataLimit, dataFixed) < oldSpace)
    {
        oldSpace = leftUnder(p.dataLimit, dataFixed);
        binding = "data";
        bindingLimit = p.dataLimit;
        bindingFixed = dataFixed;
    }
    if (p.addressSpaceLimit)
    {
        uint64_t asFixed = asFixedNoCode + codeRange;
        if (codeRange && leftUnder(p.addressSpaceLimit, asFixed) < minOldSpace && leftUnder(p.addressSpaceLimit, asFixedNoCode) >= minOldSpace)
        {
            // No room for the code range: without the JIT, JavaScript runs in V8's interpreter (slower, still correct).
            plan.jitless = true;
            asFixed = asFixedNoCode;
        }
        if (leftUnder(p.addressSpaceLimit, asFixed) < oldSpace)
        {
            oldSpace = leftUnder(p.addressSpaceLimit, asFixed);
            binding = "address space";
            bindingLimit = p.addressSpaceLimit;
            bindingFixed = asFixed;
        }
    }
    if (oldSpace < minOldSpace)
    {
        // One line with the number it takes.
        const uint64_t needed = bindingFixed + minOldSpace + minOldSpace / 4;
        plan.shortfall = std::string("the ") + (std::string(binding) == "data" ? "data limit (softlimit -d)" : "address-space limit (softlimit -a)") +
                         " of " + mbText(bindingLimit) + " cannot hold the broker with the plugin: it needs about " + mbText(needed) +
                         " (" + mbText(bindingFixed) + " besides V8's heap of at least " + std::to_string(minOldSpace / MiB) +
                         " MiB and the quarter more it gets at its limit); raise it to " + std::to_string(((needed + 999999) / 1000000) * 1000000) +
                         " or more";
        oldSpace = minOldSpace;
    }
    plan.oldSpaceMb = r.oldSpaceGiven ? 0 : static_cast<int>(oldSpace / MiB);

    if (plan.semiSpaceMb)
        plan.v8Args.push_back("--max-semi-space-size=" + std::to_string(plan.semiSpaceMb));
    if (plan.oldSpaceMb)
        plan.v8Args.push_back("--max-old-space-size=" + std::to_string(plan.oldSpaceMb));
    if (plan.jitless)
        plan.v8Args.push_back("--jitless");

    std::ostringstream s;
    s << "memory: limits ";
    if (!p.addressSpaceLimit && !p.dataLimit)
        s << "none";
    else
        s << "address space " << (p.addressSpaceLimit ? mbText(p.addressSpaceLimit) : "none") << ", data "
          << (p.dataLimit ? mbText(p.dataLimit) : "none");
    s << ", stack " << (p.stackLimit ? mbText(p.stackLimit) : "none") << ", RAM " << mbText(p.physicalMemory) << "; at start "
      << mbText(p.addressSpaceUsed) << " mapped, " << mbText(p.dataUsed) << " data. Chose " << plan.platformThreads << " V8 worker"
      << (plan.platformThreads == 1 ? "" : "s") << (r.platformThreads > 0 ? " (option)" : "") << ", " << plan.threadpoolSize
      << " pool thread" << (plan.threadpoolSize == 1 ? "" : "s") << (r.threadpoolSize > 0 ? " (option)" : "") << ", "
      << plan.threadStack / KiB << " KiB thread stacks" << (r.threadStackKb > 0 ? " (option)" : "") << ", "
      << (plan.mallocArenaMax ? std::to_string(plan.mallocArenaMax) : std::string("default")) << " malloc arenas"
      << (r.mallocArenaMax >= 0 ? " (option)" : "") << ", young generation "
      << (plan.semiSpaceMb ? std::to_string(plan.semiSpaceMb) + " MiB semi-spaces" : std::string("from node_args")) << ", old generation "
      << (plan.oldSpaceMb ? std::to_string(plan.oldSpaceMb) + " MiB" : std::string("from node_args"));
    if (binding && plan.oldSpaceMb && plan.shortfall.empty())
        s << " (what the " << binding << " limit of " << mbText(bindingLimit) << " leaves beside about " << mbText(bindingFixed)
          << " for the rest)";
    else if (!plan.shortfall.empty() && plan.oldSpaceMb)
        s << " (the least it starts with)";
    s << ", JIT " << (plan.jitless || r.jitlessGiven ? "off" : "on");
    if (plan.jitless)
        s << " (the address space has no room for its " << mbText(kCodeRange64) << " code range)";
    s << "; at its heap limit V8 gets "
      << (plan.oldSpaceMb ? std::to_string((plan.oldSpaceMb + 3) / 4) + " MiB" : std::string("a quarter")) << " more while JavaScript restarts";
    plan.summary = s.str();
    return plan;
}

namespace
{

std::string gPlanSummary; // written once in main_init, before any other thread reads it

} // namespace

void rememberPlanSummary(const std::string &summary)
{
    gPlanSummary = summary;
}

const std::string &plannedSummary()
{
    return gPlanSummary;
}

namespace
{

uint64_t limitOf(int resource)
{
    struct rlimit l{};
    if (getrlimit(resource, &l) != 0 || l.rlim_cur == RLIM_INFINITY)
        return 0;
    return static_cast<uint64_t>(l.rlim_cur);
}

// A "Key:   123 kB" line of /proc/self/status, in bytes.
uint64_t statusField(const std::string &status, const char *key)
{
    const size_t at = status.find(key);
    if (at == std::string::npos)
        return 0;
    return std::strtoull(status.c_str() + at + std::strlen(key), nullptr, 10) * KiB;
}

} // namespace

ProcessMemory readProcessMemory()
{
    ProcessMemory p;
    p.addressSpaceLimit = limitOf(RLIMIT_AS);
    p.dataLimit = limitOf(RLIMIT_DATA);
    p.stackLimit = limitOf(RLIMIT_STACK);
    const long pages = sysconf(_SC_PHYS_PAGES);
    const long pageSize = sysconf(_SC_PAGESIZE);
    if (pages > 0 && pageSize > 0)
        p.physicalMemory = static_cast<uint64_t>(pages) * static_cast<uint64_t>(pageSize);
    std::ifstream in("/proc/self/status");
    std::stringstream buffer;
    buffer << in.rdbuf();
    const std::string status = buffer.str();
    p.addressSpaceUsed = statusField(status, "VmSize:");
    p.dataUsed = statusField(status, "VmData:");
    return p;
}

void applyProcessWide(const MemoryPlan &plan)
{
    if (plan.mallocArenaMax > 0)
        mallopt(M_ARENA_MAX, plan.mallocArenaMax);
    // Read by libuv when its pool starts (below, in startThreadPool).
    setenv("UV_THREADPOOL_SIZE", std::to_string(plan.threadpoolSize).c_str(), 1);
}

StackLimitScope::StackLimitScope(uint64_t stack)
{
    struct rlimit l{};
    if (stack == 0 || getrlimit(RLIMIT_STACK, &l) != 0)
        return;
    if (l.rlim_cur != RLIM_INFINITY && l.rlim_cur <= stack)
        return;
    cur_ = l.rlim_cur;
    max_ = l.rlim_max;
    struct rlimit lowered = l;
    lowered.rlim_cur = static_cast<rlim_t>(stack);
    changed_ = setrlimit(RLIMIT_STACK, &lowered) == 0;
}

StackLimitScope::~StackLimitScope()
{
    if (!changed_)
        return;
    struct rlimit l{};
    l.rlim_cur = static_cast<rlim_t>(cur_);
    l.rlim_max = static_cast<rlim_t>(max_);
    setrlimit(RLIMIT_STACK, &l);
}

void startThreadPool()
{
    // libuv starts its pool with the first piece of work queued in the process; do that now, while the stack limit
    // is lowered, on a loop of its own that is closed again.
    uv_loop_t loop;
    if (uv_loop_init(&loop) != 0)
        return;
    uv_work_t work{};
    if (uv_queue_work(&loop, &work, [](uv_work_t *) {}, [](uv_work_t *, int) {}) == 0)
        uv_run(&loop, UV_RUN_DEFAULT);
    uv_loop_close(&loop);
}

std::string releaseStartupMemory()
{
    const size_t mallocBefore = mallinfo2().fordblks;
    malloc_trim(0);
    // Read-only, file-backed pages of libnode and ICU: start-up read much of them (relocations, the snapshot, code
    // that ran once). MADV_PAGEOUT (Linux 5.4) lets the kernel reclaim them now; pages written to (relocated data)
    // are anonymous and stay. Older kernels refuse the advice, and nothing changes.
    uint64_t advised = 0;
    bool refused = false;
    std::ifstream maps("/proc/self/maps");
    for (std::string line; std::getline(maps, line);)
    {
        if (line.find("libnode.so") == std::string::npos && line.find("libicu") == std::string::npos)
            continue;
        unsigned long start = 0, end = 0;
        char perms[5] = {};
        if (std::sscanf(line.c_str(), "%lx-%lx %4s", &start, &end, perms) != 3 || perms[1] == 'w' || perms[0] != 'r')
            continue;
#ifdef MADV_PAGEOUT
        if (madvise(reinterpret_cast<void *>(start), end - start, MADV_PAGEOUT) == 0)
            advised += end - start;
        else
            refused = true;
#else
        refused = true;
#endif
    }
    std::ostringstream s;
    s << "malloc kept " << mb(mallocBefore) << " MB free before trimming; ";
    if (refused && advised == 0)
        s << "this kernel keeps libnode's start-up pages (no MADV_PAGEOUT)";
    else
        s << "libnode's and ICU's read-only pages (" << mbText(advised) << " mapped) handed back to the page cache";
    return s.str();
}

} // namespace dfmq
