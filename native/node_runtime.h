// The embedded Node runtime: the once-per-process set-up (main thread, in main_init) and the JavaScript
// environment (created on the broker's worker thread, in init, and kept across reloads).

#ifndef DFMQ_NODE_RUNTIME_H
#define DFMQ_NODE_RUNTIME_H

#include <chrono>
#include <functional>
#include <memory>
#include <string>
#include <vector>

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

    // False once JavaScript asked to exit (and was stopped): no more calls into it.
    bool usable() const { return !exitRequested_; }
    bool inJavaScript() const { return depth_ > 0; }

    UvPump &pump() { return *pump_; }
    void setOnOutermostExit(std::function<void()> fn) { onOutermostExit_ = std::move(fn); }

    // Runs the loop (blocking this thread) until `done` returns true or the time is up. For shutdown only, when
    // the broker's own loop no longer runs. Returns whether `done` became true.
    bool runUntil(const std::function<bool()> &done, std::chrono::milliseconds limit);

    // Runs the JavaScript 'exit' event; called once before the environment is freed.
    void emitExit();

    // Full garbage collections that also shrink the young generation (V8's low-memory notification).
    void reduceMemory();

private:
    NodeEnvironment() = default;
    void runLoopOnce();
    void onExitRequested(int code);
    void scopeEnded();

    std::unique_ptr<node::CommonEnvironmentSetup> setup_;
    v8::Isolate *isolate_ = nullptr;
    std::unique_ptr<v8::Locker> locker_;
    bool entered_ = false;
    std::unique_ptr<UvPump> pump_;
    std::function<void()> onOutermostExit_;
    int depth_ = 0;
    bool exitRequested_ = false;
    bool exitEmitted_ = false;
};

} // namespace dfmq

#endif
