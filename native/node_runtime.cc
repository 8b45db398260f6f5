#include "node_runtime.h"

#include <poll.h>
#include <signal.h>

#include <stdexcept>

#include "bootstrap_js.h"
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

} // namespace

void initialize(const std::vector<std::string> &nodeArgs, int platformThreads)
{
    if (gInitialized)
        return;

    std::vector<std::string> args{"flashmq", "--no-warnings"};
    args.insert(args.end(), nodeArgs.begin(), nodeArgs.end());

    using F = node::ProcessInitializationFlags::Flags;
    const uint64_t flags = F::kNoInitializeV8 | F::kNoInitializeNodeV8Platform | // we make the platform below
                           F::kNoDefaultSignalHandling |                         // the broker owns signals
                           F::kNoStdioInitialization |                           // and its stdio
                           F::kDisableNodeOptionsEnv |                           // a stray NODE_OPTIONS changes nothing
                           F::kNoAdjustResourceLimits | F::kNoUseLargePages | F::kNoPrintHelpOrVersionOutput;

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
    self->setup_ = node::CommonEnvironmentSetup::Create(node_process::platform(), &errors, args, execArgs, envFlags);
    if (!self->setup_)
    {
        error = "cannot create the JavaScript environment";
        for (const std::string &e : errors)
            error += "; " + e;
        return nullptr;
    }

    self->isolate_ = self->setup_->isolate();
    self->locker_ = std::make_unique<v8::Locker>(self->isolate_);
    self->isolate_->Enter();
    self->entered_ = true;

    node::Environment *env = self->setup_->env();
    node::SetProcessExitHandler(env, [raw](node::Environment *, int code) { raw->onExitRequested(code); });
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

    self->pump_->start();
    return self;
}

NodeEnvironment::~NodeEnvironment()
{
    onOutermostExit_ = nullptr;
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
    // The isolate must be neither entered nor locked by us when the setup disposes of it.
    locker_.reset();
    setup_.reset();
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
    if (exitRequested_)
        return;
    exitRequested_ = true;
    flashmq_logf(fmq::LogError,
                 "dbus-flashmq: JavaScript ended itself (exit code %d); its environment is stopped. The broker keeps running, "
                 "logins are refused and the publishes JavaScript handled are denied until a reload (SIGHUP) starts it again.",
                 code);
    node::Stop(setup_->env());
    if (depth_ == 0 && pump_)
        pump_->stop();
}

} // namespace dfmq
