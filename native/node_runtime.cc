#include "node_runtime.h"

#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <time.h>

#include <condition_variable>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <mutex>
#include <stdexcept>

#include "bootstrap_js.h"
#include "code_cache.h"
#include "flashmq_abi.h"
#include "hooks.h"

// Headers of one Node and a libnode of another build fine and then fail when the broker loads the plugin
// (undefined node:: symbols). CMake reads the module version from the library it links; they must agree.
#ifndef DFMQ_LIBNODE_MODULE_VERSION
#error "DFMQ_LIBNODE_MODULE_VERSION must be set by the build (the NODE_MODULE_VERSION of the linked libnode)"
#endif
static_assert(NODE_MODULE_VERSION == DFMQ_LIBNODE_MODULE_VERSION,
              "node.h does not belong to the libnode being linked: point LIBNODE_PREFIX at the headers of that libnode "
              "(Debian: libnode-dev), not at another Node's headers");

namespace dfmq
{

namespace node_process
{

namespace
{

// Plain pointers on purpose: no static destructors (the broker loads the plugin twice and exits on its own terms).
node::MultiIsolatePlatform *gPlatform = nullptr;
bool gInitialized = false;
int gOldSpaceMb = 0;
bool gProfiling = false; // --prof or --cpu-prof in node_args: V8's sampler signals the JavaScript thread

} // namespace

void initialize(const std::vector<std::string> &nodeArgs, int platformThreads)
{
    if (gInitialized)
        return;

    // --no-memory-reducer: V8's memory reducer starts incremental mark-compacts a few seconds after the allocation
    // rate drops, to give memory back; on the broker's thread they are pauses of 4-14 ms in the middle of a low rate
    // of changes (bench:venus --gc: 0.16-0.32 of them per second at 100 changes/s, the longest 7-14 ms; none
    // without the reducer, and the same RSS, since the plugin gives back what start-up took itself, memory-trim.ts,
    // and a change allocates ~0.1 KB). The options' node_args come after and can turn it back on.
    std::vector<std::string> args{"flashmq", "--no-warnings", "--no-memory-reducer"};
    args.insert(args.end(), nodeArgs.begin(), nodeArgs.end());
    for (const std::string &arg : nodeArgs) // the last one counts, as for V8
        for (const char *name : {"--max-old-space-size=", "--max_old_space_size="})
            if (arg.rfind(name, 0) == 0)
                gOldSpaceMb = std::atoi(arg.c_str() + std::strlen(name));
    for (const std::string &arg : nodeArgs)
        gProfiling |= arg == "--prof" || arg == "--cpu-prof";

    using F = node::ProcessInitializationFlags::Flags;
    const uint64_t flags = F::kNoInitializeV8 | F::kNoInitializeNodeV8Platform | // we make the platform below
                           F::kNoDefaultSignalHandling |                         // the broker owns signals
                           F::kNoStdioInitialization |                           // and its stdio
                           F::kDisableNodeOptionsEnv |                           // a stray NODE_OPTIONS changes nothing
                           F::kNoAdjustResourceLimits | F::kNoUseLargePages | F::kNoPrintHelpOrVersionOutput |
                           // Node's OpenSSL set-up (its config section, a CSPRNG check, the CA certificates of
                           // NODE_EXTRA_CA_CERTS) took 55 ms of every start on x86-64, most of the runtime's
                           // initialisation, for TLS and keys that the plugin never uses; OpenSSL initialises itself
                           // on first use (a checksum of a GUI app's files, with crypto's hashes)
                           F::kNoInitOpenSSL;

    code_cache::setRuntimeFlags(args);
    std::unique_ptr<node::InitializationResult> result = node::InitializeOncePerProcess(args, static_cast<F>(flags));
    if (result->early_return() || result->exit_code() != 0 || !result->errors().empty())
    {
        std::string message = "Node.js refused its start-up options";
        for (const std::string &e : result->errors())
            message += "; " + e;
        message += " (check plugin_opt_node_args)";
        throw std::runtime_error(message);
    }

    // The platform's threads inherit the signal mask of the thread that creates them: block everything while they
    // start, so no process-directed signal is ever handled on a V8 thread.
    sigset_t all, previous;
    sigfillset(&all);
    pthread_sigmask(SIG_BLOCK, &all, &previous);
    std::unique_ptr<node::MultiIsolatePlatform> platform = node::MultiIsolatePlatform::Create(platformThreads);
    pthread_sigmask(SIG_SETMASK, &previous, nullptr);

    gPlatform = platform.release();
    v8::V8::InitializePlatform(gPlatform);
    v8::V8::Initialize();
    gInitialized = true;
}

void teardown()
{
    if (!gInitialized)
        return;
    v8::V8::Dispose();
    v8::V8::DisposePlatform();
    delete gPlatform;
    gPlatform = nullptr;
    node::TearDownOncePerProcess();
    gInitialized = false;
}

bool initialized()
{
    return gInitialized;
}

int oldSpaceMb()
{
    return gOldSpaceMb;
}

node::MultiIsolatePlatform *platform()
{
    return gPlatform;
}

} // namespace node_process

namespace
{

std::string jsonString(const std::string &s)
{
    std::string out = "\"";
    for (unsigned char c : s)
    {
        if (c == '"' || c == '\\')
        {
            out += '\\';
            out += static_cast<char>(c);
        }
        else if (c < 0x20)
        {
            char buf[8];
            snprintf(buf, sizeof(buf), "\\u%04x", c);
            out += buf;
        }
        else
        {
            out += static_cast<char>(c);
        }
    }
    return out + "\"";
}

std::string exceptionText(v8::Isolate *isolate, v8::TryCatch &tc)
{
    if (!tc.HasCaught())
        return "unknown error";
    v8::String::Utf8Value text(isolate, tc.Exception());
    return *text ? std::string(*text) : std::string("unprintable exception");
}

} // namespace

NodeEnvironment::Scope::Scope(NodeEnvironment &env)
    : env_(env), handleScope_(env.isolate_), contextScope_(env.setup_->context())
{
    env_.depth_++;
}

NodeEnvironment::Scope::~Scope()
{
    if (--env_.depth_ == 0)
        env_.scopeEnded();
}

void NodeEnvironment::scopeEnded()
{
    // Runs in a destructor: nothing may leave it (an exception there ends the process).
    try
    {
        if (exitRequested_)
        {
            if (pump_)
                pump_->stop();
            return;
        }
        if (onOutermostExit_)
            onOutermostExit_();
        if (pump_)
            pump_->reschedule();
    }
    catch (const std::exception &e)
    {
        flashmq_logf(fmq::LogError, "dbus-flashmq: after a call into JavaScript: %s", e.what());
    }
    catch (...)
    {
        flashmq_logf(fmq::LogError, "dbus-flashmq: after a call into JavaScript: unknown exception");
    }
}

namespace
{

double threadCpuMs()
{
    timespec ts{};
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return static_cast<double>(ts.tv_sec) * 1e3 + static_cast<double>(ts.tv_nsec) / 1e6;
}

double steadyMs()
{
    return std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now().time_since_epoch()).count();
}

} // namespace

std::unique_ptr<NodeEnvironment> NodeEnvironment::create(const std::string &entryPath, std::string &error)
{
    if (!node_process::initialized())
    {
        error = "the Node.js runtime was not initialised (flashmq_plugin_main_init did not run)";
        return nullptr;
    }

    std::unique_ptr<NodeEnvironment> self(new NodeEnvironment());
    NodeEnvironment *raw = self.get();

    std::vector<std::string> errors;
    const std::vector<std::string> args{"flashmq"};
    const std::vector<std::string> execArgs;
    using E = node::EnvironmentFlags::Flags;
    // Not kOwnsProcessState: JavaScript cannot chdir, umask or setuid the broker. No inspector (SIGUSR1 is the
    // broker's). No global module search paths: only the entry's own node_modules count.
    const auto envFlags = static_cast<E>(E::kNoCreateInspector | E::kNoGlobalSearchPaths);
    if (node_process::gProfiling)
    {
        // FlashMQ blocks every signal on its worker threads; V8's sampler ticks by sending SIGPROF to this one.
        sigset_t prof;
        sigemptyset(&prof);
        sigaddset(&prof, SIGPROF);
        pthread_sigmask(SIG_UNBLOCK, &prof, nullptr);
    }
    const double wall0 = steadyMs(), cpu0 = threadCpuMs();
    self->setup_ = node::CommonEnvironmentSetup::Create(node_process::platform(), &errors, args, execArgs, envFlags);
    if (!self->setup_)
    {
        code_cache::abandon();
        error = "cannot create the JavaScript environment";
        for (const std::string &e : errors)
            error += "; " + e;
        return nullptr;
    }

    const double wall1 = steadyMs(), cpu1 = threadCpuMs();
    self->startCost_.environmentMs = wall1 - wall0;
    self->startCost_.environmentCpuMs = cpu1 - cpu0;
    self->isolate_ = self->setup_->isolate();
    self->locker_ = std::make_unique<v8::Locker>(self->isolate_);
    self->isolate_->Enter();
    self->entered_ = true;

    node::Environment *env = self->setup_->env();
    node::SetProcessExitHandler(env, [raw](node::Environment *, int code) { raw->onExitRequested(code); });
    // V8 at its heap limit would end the broker: it gets a little more room, and JavaScript is restarted instead.
    self->isolate_->AddNearHeapLimitCallback(&NodeEnvironment::nearHeapLimit, raw);
    node::AddLinkedBinding(env, "flashmq", &registerFlashmqBinding, 8);
    self->pump_ = std::make_unique<UvPump>(self->setup_->event_loop(), [raw]() { raw->runLoopOnce(); });

    const std::string source = "const entryPath = " + jsonString(entryPath) + ";\n" + kBootstrapJs;
    {
        Scope scope(*self);
        v8::TryCatch tc(self->isolate_);
        v8::MaybeLocal<v8::Value> result = node::LoadEnvironment(env, source.c_str());
        if (self->exitRequested_)
        {
            error = "the JavaScript entry '" + entryPath + "' asked to exit while loading";
            return nullptr;
        }
        if (result.IsEmpty())
        {
            error = "the JavaScript bootstrap failed: " + exceptionText(self->isolate_, tc);
            return nullptr;
        }
        v8::Local<v8::Value> value = result.ToLocalChecked();
        if (value->IsString())
        {
            v8::String::Utf8Value text(self->isolate_, value);
            error = *text ? *text : "the JavaScript entry did not load";
            return nullptr;
        }
    }

    const std::string cacheLine = code_cache::loaded();
    if (!cacheLine.empty())
        flashmq_logf(fmq::LogNotice, "dbus-flashmq: %s", cacheLine.c_str());
    self->startCost_.entryMs = steadyMs() - wall1;
    self->startCost_.entryCpuMs = threadCpuMs() - cpu1;
    self->pump_->start();
    return self;
}

NodeEnvironment::~NodeEnvironment()
{
    onOutermostExit_ = nullptr;
    onStopped_ = nullptr;
    if (pump_)
        pump_->stop();
    if (setup_)
    {
        emitExit();
        node::Stop(setup_->env());
        if (pump_)
        {
            v8::HandleScope hs(isolate_);
            v8::Context::Scope cs(setup_->context());
            pump_->closeHandles();
        }
    }
    pump_.reset();
    if (entered_)
    {
        isolate_->Exit();
        entered_ = false;
    }
    code_cache::forget(); // its handles go before the isolate
    // The isolate must be neither entered nor locked by us when the setup disposes of it.
    locker_.reset();
    setup_.reset();
}

std::string NodeEnvironment::saveCodeCache()
{
    if (!isolate_)
        return "";
    Scope scope(*this);
    return code_cache::save(isolate_);
}

void NodeEnvironment::reduceMemory()
{
    if (isolate_)
        isolate_->LowMemoryNotification();
}

void NodeEnvironment::emitExit()
{
    if (exitEmitted_ || exitRequested_ || !setup_)
        return;
    exitEmitted_ = true;
    Scope scope(*this);
    v8::TryCatch tc(isolate_);
    (void)node::EmitProcessExit(setup_->env());
}

void NodeEnvironment::runLoopOnce()
{
    Scope scope(*this);
    uv_run(setup_->event_loop(), UV_RUN_NOWAIT);
}

bool NodeEnvironment::runUntil(const std::function<bool()> &done, std::chrono::milliseconds limit)
{
    uv_loop_t *loop = setup_->event_loop();
    const auto deadline = std::chrono::steady_clock::now() + limit;
    while (!done() && usable())
    {
        const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now()).count();
        if (left <= 0)
            return false;
        uv_update_time(loop);
        int timeout = uv_backend_timeout(loop);
        if (timeout < 0 || timeout > left)
            timeout = static_cast<int>(left);
        pollfd p{uv_backend_fd(loop), POLLIN, 0};
        (void)poll(&p, 1, timeout);
        Scope scope(*this);
        uv_run(loop, UV_RUN_NOWAIT);
    }
    return done();
}

void NodeEnvironment::onExitRequested(int code)
{
    // Called by Node from inside JavaScript (its fatal path, e.g. an exception in an exception handler): nothing may
    // leave it.
    try
    {
        stop("JavaScript ended itself through Node's fatal path (exit code " + std::to_string(code) + ")");
    }
    catch (...)
    {
        exitRequested_ = true;
    }
}

void NodeEnvironment::stop(const std::string &reason)
{
    if (exitRequested_)
        return;
    exitRequested_ = true;
    if (setup_)
        node::Stop(setup_->env()); // terminates what runs; Node calls into JavaScript no more
    if (depth_ == 0 && pump_)
        pump_->stop();
    if (onStopped_)
    {
        auto fn = std::move(onStopped_);
        onStopped_ = nullptr;
        fn(reason);
    }
}

size_t NodeEnvironment::nearHeapLimit(void *data, size_t currentLimit, size_t initialLimit)
{
    // Called by V8 in a garbage collection that cannot free enough. Returning the same limit lets V8 end the
    // process; so V8 gets a quarter of its limit more (the memory plan counts it), JavaScript is terminated and the
    // environment stopped, and its owner restarts it. A second call (the teardown needs room too) gets a quarter
    // more once more; after that V8 is left to its own rule.
    auto *self = static_cast<NodeEnvironment *>(data);
    const size_t extra = initialLimit / 4;
    if (self->heapRaises_ >= 2)
        return currentLimit;
    self->heapRaises_++;
    try
    {
        if (self->heapRaises_ == 1)
        {
            v8::HeapStatistics hs;
            self->isolate_->GetHeapStatistics(&hs);
            const int planned = node_process::oldSpaceMb();
            char line[512];
            std::snprintf(line, sizeof(line),
                          "V8's heap reached its limit: %.1f MB used of %.1f MB (heap total %.1f MB; old generation %s); "
                          "V8 gets %.1f MB more while JavaScript is restarted",
                          hs.used_heap_size() / 1e6, currentLimit / 1e6, hs.total_heap_size() / 1e6,
                          planned > 0 ? (std::to_string(planned) + " MiB").c_str() : "V8's default", extra / 1e6);
            flashmq_logf(fmq::LogError, "dbus-flashmq: %s", line);
            self->stop("V8's heap reached its limit");
        }
    }
    catch (...)
    {
        self->exitRequested_ = true;
    }
    return currentLimit + extra;
}

// ---- the shutdown's watchdog ----------------------------------------------------------------------------------------

struct NodeEnvironment::Watchdog::State
{
    std::mutex mutex;
    std::condition_variable wake;
    bool done = false;
    bool fired = false;
    v8::Isolate *isolate = nullptr;
    std::chrono::milliseconds after{0};
};

namespace
{

void *watchdogMain(void *arg)
{
    auto *s = static_cast<NodeEnvironment::Watchdog::State *>(arg); // the owner joins us before it frees it
    std::unique_lock<std::mutex> lock(s->mutex);
    if (s->wake.wait_for(lock, s->after, [&]() { return s->done; }))
        return nullptr;
    s->fired = true;
    flashmq_logf(fmq::LogWarning, "dbus-flashmq: JavaScript still runs %lld ms into the shutdown; terminating it",
                 static_cast<long long>(s->after.count()));
    do
        s->isolate->TerminateExecution(); // thread-safe; the owner holds the lock only to end us
    while (!s->wake.wait_for(lock, std::chrono::milliseconds(250), [&]() { return s->done; }));
    return nullptr;
}

} // namespace

NodeEnvironment::Watchdog::Watchdog(NodeEnvironment &env, std::chrono::milliseconds after)
    : state_(std::make_unique<State>())
{
    state_->isolate = env.isolate_;
    state_->after = after;
    pthread_attr_t attr;
    pthread_attr_init(&attr);
    pthread_attr_setstacksize(&attr, 256 * 1024); // not the process's default (10 MB under Venus's limits)
    sigset_t all, previous;
    sigfillset(&all);
    pthread_sigmask(SIG_BLOCK, &all, &previous); // no signal of the broker's is handled on it
    pthread_t thread;
    const int rc = pthread_create(&thread, &attr, &watchdogMain, state_.get());
    pthread_sigmask(SIG_SETMASK, &previous, nullptr);
    pthread_attr_destroy(&attr);
    if (rc != 0)
    {
        state_.reset();
        flashmq_logf(fmq::LogWarning, "dbus-flashmq: no thread for the shutdown's watchdog (%s); the shutdown waits for JavaScript unbounded",
                     std::strerror(rc));
        return;
    }
    thread_ = thread;
}

NodeEnvironment::Watchdog::~Watchdog()
{
    if (!state_)
        return;
    {
        std::lock_guard<std::mutex> lock(state_->mutex);
        state_->done = true;
    }
    state_->wake.notify_all();
    // Joined: after this the isolate may go away, the watchdog touches it no more.
    pthread_join(thread_, nullptr);
}

bool NodeEnvironment::Watchdog::fired() const
{
    if (!state_)
        return false;
    std::lock_guard<std::mutex> lock(state_->mutex);
    return state_->fired;
}

} // namespace dfmq
