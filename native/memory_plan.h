// Sizing the embedded runtime to the process's limits. Venus runs FlashMQ under `softlimit -d 150000000
// -s 10000000 -a 150000000` (-a x4 on aarch64): a data limit (private writable memory: heaps and every thread's
// stack), an address-space limit (everything mapped, libraries included) and a stack limit (which is also the stack
// every thread gets by default). What the plugin controls - its threads and their stacks, V8's heap limits, the
// JIT's code range, malloc's arenas - is chosen at start so that the whole broker fits, and the choice is logged.
//
// planMemory() is a pure function of the limits, what is already in use, and the options given (which always win);
// readProcessMemory() and the functions below it touch the process.

#ifndef DFMQ_MEMORY_PLAN_H
#define DFMQ_MEMORY_PLAN_H

#include <cstdint>
#include <string>
#include <vector>

namespace dfmq
{

// Limits and use of the process when the plugin starts; 0 where there is no limit.
struct ProcessMemory
{
    uint64_t addressSpaceLimit = 0; // RLIMIT_AS (softlimit -a)
    uint64_t dataLimit = 0;         // RLIMIT_DATA (softlimit -d)
    uint64_t stackLimit = 0;        // RLIMIT_STACK (softlimit -s): also every new thread's default stack
    uint64_t physicalMemory = 0;
    uint64_t addressSpaceUsed = 0;  // VmSize now: the broker and the libraries, plugin and libnode included
    uint64_t dataUsed = 0;          // VmData now
    unsigned pointerBytes = sizeof(void *);
};

// What the options asked for; a negative number or false: not given, the plan chooses.
struct MemoryRequest
{
    int platformThreads = -1; // plugin_opt_node_platform_threads
    int threadpoolSize = -1;  // plugin_opt_threadpool_size
    int mallocArenaMax = -1;  // plugin_opt_malloc_arena_max (0: glibc's default)
    int threadStackKb = -1;   // plugin_opt_thread_stack_kb
    bool semiSpaceGiven = false; // --max-semi-space-size in plugin_opt_node_args
    bool oldSpaceGiven = false;  // --max-old-space-size in plugin_opt_node_args
    bool jitlessGiven = false;   // --jitless in plugin_opt_node_args
};

struct MemoryPlan
{
    int platformThreads = 1;   // V8's worker threads (Node adds one more that schedules delayed tasks)
    int threadpoolSize = 2;    // libuv's thread pool (password checks, file reads)
    uint64_t threadStack = 0;  // the stack of every thread the runtime starts; 0: the process's default
    int mallocArenaMax = 2;    // 0: glibc's default
    int semiSpaceMb = 0;       // V8's young generation: each of its two semi-spaces; 0: V8's default
    int oldSpaceMb = 0;        // V8's old generation; 0: V8's default
    bool jitless = false;      // no JIT, hence no code range (128 MiB of address space on 64-bit)
    std::vector<std::string> v8Args; // the V8 options the choice above adds to plugin_opt_node_args
    std::string summary;       // one log line: what was chosen and why
    std::string shortfall;     // one log line when the limits cannot hold the plugin, with the number it needs
};

MemoryPlan planMemory(const ProcessMemory &process, const MemoryRequest &request);

// The plan's summary line as main_init logged it, kept for the plugin's start line (empty before, and in tests).
void rememberPlanSummary(const std::string &summary);
const std::string &plannedSummary();

// The limits and use of this process now.
ProcessMemory readProcessMemory();

// Applies what is process-wide and must precede any thread the runtime starts (malloc's arenas, the thread pool's
// size), then runs `startThreads` with RLIMIT_STACK lowered to the plan's stack, so the threads created meanwhile
// (V8's workers, libuv's pool, started here on purpose) get that stack; the limit is put back afterwards.
template <typename F> void applyMemoryPlan(const MemoryPlan &plan, F &&startThreads);

// Returns to the system what start-up used and no longer needs: the free pages of malloc's heaps, and the
// read-only pages of libnode and ICU that were read while starting (they are read again from the page cache if
// they are needed). Returns a short description for the log.
std::string releaseStartupMemory();

// --- implementation details of applyMemoryPlan ---
void applyProcessWide(const MemoryPlan &plan);
class StackLimitScope
{
public:
    explicit StackLimitScope(uint64_t stack);
    ~StackLimitScope();
    StackLimitScope(const StackLimitScope &) = delete;
    StackLimitScope &operator=(const StackLimitScope &) = delete;

private:
    bool changed_ = false;
    uint64_t cur_ = 0;
    uint64_t max_ = 0;
};
void startThreadPool();

template <typename F> void applyMemoryPlan(const MemoryPlan &plan, F &&startThreads)
{
    applyProcessWide(plan);
    StackLimitScope scope(plan.threadStack);
    startThreadPool();
    startThreads();
}

} // namespace dfmq

#endif
