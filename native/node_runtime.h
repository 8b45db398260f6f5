// The embedded Node runtime: the once-per-process set-up (main thread, in main_init) and the JavaScript
// environment (created on the broker's worker thread, in init, and kept across reloads).

#ifndef DFMQ_NODE_RUNTIME_H
#define DFMQ_NODE_RUNTIME_H

#include <chrono>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include <pthread.h>

#include <node.h>
#include <uv.h>

#include "uv_pump.h"

namespace dfmq
{

// Process-wide V8/Node state. Not thread-safe: main_init and main_deinit run on the main thread.
namespace node_process
{

// Throws std::runtime_error with a readable reason (for example a bad node_args option).
void initialize(const std::vector<std::string> &nodeArgs, int platformThreads);
void teardown();
// V8's old generation as started (--max-old-space-size, the memory plan's or node_args'), in MiB; 0: V8's default.
int oldSpaceMb();
bool initialized();
node::MultiIsolatePlatform *platform();

} // namespace node_process

class NodeEnvironment
{
public:
    // Loads the bootstrap and, through it, the entry module. On failure returns null and sets `error` to one line.
    static std::unique_ptr<NodeEnvironment> create(const std::string &entryPath, std::string &error);
    ~NodeEnvironment();
    NodeEnvironment(const NodeEnvironment &) = delete;
    NodeEnvironment &operator=(const NodeEnvironment &) = delete;

    // Enters the isolate's handle and context scopes for a call into JavaScript from a broker hook. When the
    // outermost scope ends, the idle callback runs and the loop's timeout is re-read.
    class Scope
    {
    public:
        explicit Scope(NodeEnvironment &env);
        ~Scope();
        Scope(const Scope &) = delete;
        Scope &operator=(const Scope &) = delete;

    private:
        NodeEnvironment &env_;
        v8::HandleScope handleScope_;
        v8::Context::Scope contextScope_;
    };

    // False once the environment was stopped (Node's fatal path, V8 at its heap limit, a restart asked for): no
    // more calls into it; it is freed and made again by its owner.
    bool usable() const { return !exitRequested_; }
    bool inJavaScript() const { return depth_ > 0; }

    UvPump &pump() { return *pump_; }

    // What making it took, in wall-clock and this thread's CPU milliseconds: Node's environment (isolate, context,
    // Node's own bootstrap) and then the bootstrap script with the entry module.
    struct StartCost
    {
        double environmentMs = 0, environmentCpuMs = 0, entryMs = 0, entryCpuMs = 0;
    };
    const StartCost &startCost() const { return startCost_; }
    void setOnOutermostExit(std::function<void()> fn) { onOutermostExit_ = std::move(fn); }
    // Called once, with a one-line reason, when the environment stops by itself (see usable()). It may be called
    // from inside JavaScript, or from V8's garbage collector: it must not free the environment, only arrange that.
    void setOnStopped(std::function<void(const std::string &reason)> fn) { onStopped_ = std::move(fn); }

    // Stops JavaScript: what is running is terminated, nothing more runs, the loop is taken out of the broker's.
    // Safe from inside JavaScript (a binding call) and from V8's callbacks. Idempotent.
    void stop(const std::string &reason);

    // Runs the loop (blocking this thread) until `done` returns true or the time is up. For shutdown only, when
    // the broker's own loop no longer runs. Returns whether `done` became true.
    bool runUntil(const std::function<bool()> &done, std::chrono::milliseconds limit);

    // Runs the JavaScript 'exit' event; called once before the environment is freed.
    void emitExit();

    // Full garbage collections that also shrink the young generation (V8's low-memory notification).
    void reduceMemory();
    // Writes the code cache when this start made one (code_cache.h); a line for the log, or "".
    std::string saveCodeCache();

    // Terminates whatever JavaScript still runs once `after` has passed, and again every 250 ms until it goes out of
    // scope: bounds the shutdown (a handler or an 'exit' listener that never returns). A thread of its own with a
    // small stack; without one (the system refuses a thread), no bound, and a line says so.
    class Watchdog
    {
    public:
        Watchdog(NodeEnvironment &env, std::chrono::milliseconds after);
        ~Watchdog();
        Watchdog(const Watchdog &) = delete;
        Watchdog &operator=(const Watchdog &) = delete;
        bool fired() const;

        struct State;

    private:
        std::unique_ptr<State> state_;
        pthread_t thread_{};
    };

private:
    NodeEnvironment() = default;
    void runLoopOnce();
    void onExitRequested(int code);
    void scopeEnded();
    static size_t nearHeapLimit(void *data, size_t currentLimit, size_t initialLimit);

    std::unique_ptr<node::CommonEnvironmentSetup> setup_;
    v8::Isolate *isolate_ = nullptr;
    std::unique_ptr<v8::Locker> locker_;
    bool entered_ = false;
    std::unique_ptr<UvPump> pump_;
    std::function<void()> onOutermostExit_;
    std::function<void(const std::string &)> onStopped_;
    int depth_ = 0;
    int heapRaises_ = 0;
    bool exitRequested_ = false;
    bool exitEmitted_ = false;
    StartCost startCost_;
};

} // namespace dfmq

#endif
