#include "plugin.h"

#include <dlfcn.h>
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cstdlib>
#include <sstream>
#include <stdexcept>

#include "node_runtime.h"
#include "status_file.h"
#include "code_cache.h"

namespace dfmq
{

namespace
{

// Constant-initialised, so the double load of the plugin by the broker does not matter.
std::atomic<int> gPluginCount{0};

// A whole number in [min, max] from a plugin option, or the fallback (with a log line naming the range) when the
// option is there but unusable.
long long parseWhole(const fmq::PluginOptions &options, const char *name, long long fallback, long long min, long long max)
{
    auto it = options.find(name);
    if (it == options.end())
        return fallback;
    const std::string &text = it->second;
    errno = 0;
    char *end = nullptr;
    const long long v = std::strtoll(text.c_str(), &end, 10);
    if (text.empty() || errno != 0 || *end != '\0' || v < min || v > max)
    {
        flashmq_logf(fmq::LogError, "dbus-flashmq: plugin_opt_%s '%s' must be a whole number from %lld to %lld; using %lld", name,
                     text.c_str(), min, max, fallback);
        return fallback;
    }
    return v;
}

std::chrono::milliseconds parseMs(const fmq::PluginOptions &options, const char *name, std::chrono::milliseconds fallback, int64_t max)
{
    return std::chrono::milliseconds(parseWhole(options, name, fallback.count(), 0, max));
}

int parseCount(const fmq::PluginOptions &options, const char *name, int fallback, int min, int max)
{
    return static_cast<int>(parseWhole(options, name, fallback, min, max));
}

std::string pluginDirectory()
{
    Dl_info info{};
    if (dladdr(reinterpret_cast<void *>(&flashmq_plugin_version), &info) == 0 || !info.dli_fname)
        return ".";
    std::string path = info.dli_fname;
    const size_t slash = path.rfind('/');
    return slash == std::string::npos ? std::string(".") : path.substr(0, slash);
}

bool isReadableFile(const std::string &path)
{
    struct stat st{};
    return stat(path.c_str(), &st) == 0 && S_ISREG(st.st_mode) && access(path.c_str(), R_OK) == 0;
}

// The compiled TypeScript entry: plugin_opt_entry (relative paths are relative to the plugin's directory), or
// dist/ts/index.js next to the plugin (installed layout) or up to two levels above it (the build tree).
std::string resolveEntry(const std::string &configured)
{
    const std::string dir = pluginDirectory();
    if (!configured.empty())
    {
        const std::string path = configured[0] == '/' ? configured : dir + "/" + configured;
        if (!isReadableFile(path))
            throw std::runtime_error("dbus-flashmq: plugin_opt_entry '" + path + "' is not a readable file");
        return path;
    }
    const char *candidates[] = {"/dist/ts/index.js", "/../dist/ts/index.js", "/../../dist/ts/index.js"};
    for (const char *c : candidates)
    {
        const std::string path = dir + c;
        if (isReadableFile(path))
        {
            char resolved[PATH_MAX];
            return realpath(path.c_str(), resolved) ? std::string(resolved) : path;
        }
    }
    throw std::runtime_error("dbus-flashmq: cannot find the compiled TypeScript entry (dist/ts/index.js) next to the plugin in '" + dir +
                             "' or above it; build it with 'npm run build:ts' or set plugin_opt_entry");
}

} // namespace

ShimOptions ShimOptions::from(const fmq::PluginOptions &options)
{
    ShimOptions o;
    if (auto it = options.find("entry"); it != options.end())
        o.entry = it->second;
    if (auto it = options.find("node_args"); it != options.end())
    {
        std::istringstream words(it->second);
        for (std::string w; words >> w;)
            o.nodeArgs.push_back(w);
    }
    // Not given: -1, the memory plan chooses (see memory_plan.h).
    o.memory.platformThreads = parseCount(options, "node_platform_threads", -1, 1, 8);
    o.memory.mallocArenaMax = parseCount(options, "malloc_arena_max", -1, 0, 64);
    o.memory.threadpoolSize = parseCount(options, "threadpool_size", -1, 1, 64);
    o.memory.threadStackKb = parseCount(options, "thread_stack_kb", -1, 256, 65536);
    for (const std::string &arg : o.nodeArgs)
    {
        const auto given = [&arg](const char *dashes, const char *underscores) { return arg.rfind(dashes, 0) == 0 || arg.rfind(underscores, 0) == 0; };
        o.memory.semiSpaceGiven |= given("--max-semi-space-size", "--max_semi_space_size");
        o.memory.oldSpaceGiven |= given("--max-old-space-size", "--max_old_space_size");
        o.memory.jitlessGiven |= given("--jitless", "--jitless");
    }
    o.readyTimeout = parseMs(options, "ready_timeout_ms", o.readyTimeout, 3600000);
    o.shutdownTimeoutAsked = parseMs(options, "shutdown_timeout_ms", o.shutdownTimeout, 3600000);
    o.shutdownTimeout = std::min(o.shutdownTimeoutAsked, kMaxShutdownTimeout);
    o.restartDelay = parseMs(options, "restart_delay_ms", o.restartDelay, kMaxRestartDelay.count());
    o.restartLimit = parseCount(options, "restart_limit", o.restartLimit, 1, 100);
    auto status = options.find("status_file");
    o.statusFile = status == options.end() ? std::string(kDefaultStatusFile) : status->second;
    auto cache = options.find("code_cache");
    o.codeCache = cache == options.end() ? std::string(kDefaultCodeCache) : cache->second == "none" ? std::string() : cache->second;
    return o;
}

Plugin *Plugin::allocate()
{
    if (gPluginCount.fetch_add(1) != 0)
    {
        gPluginCount.fetch_sub(1);
        throw std::runtime_error("dbus-flashmq needs 'thread_count 1' in flashmq.conf: one JavaScript world owns the D-Bus cache, "
                                 "and this broker started more than one worker thread");
    }
    return new Plugin();
}

Plugin::~Plugin()
{
    quitting_ = true;
    cancelRestart();
    stopJavaScript();
    if (currentBindingHost() == this)
        setCurrentBindingHost(nullptr);
    gPluginCount.fetch_sub(1);
}

void Plugin::detach(HookTarget *target)
{
    if (target_ == target)
        target_ = nullptr;
}

bool Plugin::javaScriptUsable() const
{
    return env_ && env_->usable();
}

void Plugin::startJavaScript(bool deferReadiness)
{
    const std::string entry = resolveEntry(shim_.entry);
    const auto started = std::chrono::steady_clock::now();

    setCurrentBindingHost(this);
    readySignalled_ = false;
    readinessDeferred_ = false;
    if (deferReadiness && flashmq_defer_thread_ready && flashmq_signal_thread_ready)
    {
        flashmq_defer_thread_ready();
        readinessDeferred_ = true;
    }

    flashmq_logf(fmq::LogNotice, "dbus-flashmq: %s", code_cache::prepare(shim_.codeCache, entry).c_str());
    std::string error;
    env_ = NodeEnvironment::create(entry, error);
    if (!env_)
        throw std::runtime_error("dbus-flashmq: " + error);
    env_->setOnOutermostExit([this]() { flushDeferred(); });
    env_->setOnStopped([this](const std::string &reason) { javaScriptStopped(reason); });

    const auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - started).count();
    const NodeEnvironment::StartCost &cost = env_->startCost();
    flashmq_logf(fmq::LogNotice,
                 "dbus-flashmq: JavaScript entry '%s' loaded in %lld ms (Node %s): Node's environment %.0f ms (CPU %.0f ms), the entry %.0f ms "
                 "(CPU %.0f ms)",
                 entry.c_str(), static_cast<long long>(ms), NODE_VERSION_STRING, cost.environmentMs, cost.environmentCpuMs, cost.entryMs,
                 cost.entryCpuMs);

    if (readinessDeferred_ && !readySignalled_)
    {
        readyTimeoutTask_ = flashmq_add_task(
            [this]() {
                readyTimeoutTask_ = 0;
                signalReady("timeout");
            },
            static_cast<uint32_t>(shim_.readyTimeout.count()));
    }
    else if (!readinessDeferred_ && deferReadiness)
    {
        flashmq_logf(fmq::LogNotice, "dbus-flashmq: this broker cannot hold its listeners until JavaScript is ready (FlashMQ < 1.26)");
    }
}

void Plugin::stopJavaScript()
{
    if (readyTimeoutTask_)
    {
        flashmq_remove_task(readyTimeoutTask_);
        readyTimeoutTask_ = 0;
    }
    deferredDisconnects_.clear();
    env_.reset();
    target_ = nullptr;
}

void Plugin::signalReady(const char *why)
{
    if (!readinessDeferred_ || readySignalled_)
        return;
    readySignalled_ = true;
    if (readyTimeoutTask_)
    {
        flashmq_remove_task(readyTimeoutTask_);
        readyTimeoutTask_ = 0;
    }
    if (std::string(why) == "restart")
        flashmq_logf(fmq::LogNotice, "dbus-flashmq: opening the listeners: JavaScript stopped before it was ready");
    if (std::string(why) == "timeout")
        flashmq_logf(fmq::LogWarning, "dbus-flashmq: JavaScript did not report ready within %lld ms; opening the listeners anyway",
                     static_cast<long long>(shim_.readyTimeout.count()));
    flashmq_signal_thread_ready();
}

void Plugin::requestRestart(const std::string &reason)
{
    if (env_)
        env_->stop(reason);
}

// Called when the environment stopped by itself: from inside JavaScript, or from V8's heap-limit callback. It frees
// nothing: the restart is a broker task, run from the broker's loop.
void Plugin::javaScriptStopped(const std::string &reason)
{
    if (quitting_ || gaveUp_)
        return;
    const auto now = std::chrono::steady_clock::now();
    stoppedAt_ = now;
    while (!restarts_.empty() && now - restarts_.front() > kRestartWindow)
        restarts_.pop_front();
    if (static_cast<int>(restarts_.size()) >= shim_.restartLimit)
    {
        giveUp(reason);
        return;
    }
    auto delay = shim_.restartDelay;
    for (size_t i = 0; i < restarts_.size() && delay < kMaxRestartDelay; i++)
        delay *= 2;
    delay = std::min(delay, kMaxRestartDelay);
    flashmq_logf(fmq::LogError,
                 "dbus-flashmq: JavaScript stopped: %s. Restarting it in %lld ms (restart %zu of at most %d within %lld minutes); "
                 "until then logins are refused and the publishes JavaScript handles are denied",
                 reason.c_str(), static_cast<long long>(delay.count()), restarts_.size() + 1, shim_.restartLimit,
                 static_cast<long long>(kRestartWindow.count()));
    writeStatusFile(shim_.statusFile, "restarting", std::time(nullptr), reason);
    cancelRestart();
    try
    {
        restartTask_ = flashmq_add_task(
            [this]() {
                restartTask_ = 0;
                restartJavaScript();
            },
            static_cast<uint32_t>(delay.count()));
    }
    catch (const std::exception &e)
    {
        // Without a restart the broker would go on without JavaScript until a reload: better started afresh.
        giveUp(reason + "; and its restart cannot be scheduled: " + e.what());
    }
}

void Plugin::restartJavaScript()
{
    const auto started = std::chrono::steady_clock::now();
    restarts_.push_back(started);
    // The listeners may still wait for the JavaScript that stopped; the new one starts with the broker running.
    signalReady("restart");
    stopJavaScript();
    try
    {
        startJavaScript(false);
    }
    catch (const std::exception &e)
    {
        javaScriptStopped(std::string("its restart failed: ") + e.what());
        return;
    }
    const auto now = std::chrono::steady_clock::now();
    const auto ms = [](auto d) { return static_cast<long long>(std::chrono::duration_cast<std::chrono::milliseconds>(d).count()); };
    flashmq_logf(fmq::LogNotice, "dbus-flashmq: JavaScript restarted in %lld ms; it was stopped for %lld ms", ms(now - started),
                 ms(now - stoppedAt_));
}

void Plugin::cancelRestart()
{
    if (restartTask_)
    {
        flashmq_remove_task(restartTask_);
        restartTask_ = 0;
    }
}

void Plugin::giveUp(const std::string &reason)
{
    gaveUp_ = true;
    cancelRestart();
    // A worker thread cannot end the broker itself (exit() would run the process's destructors under the other
    // threads). SIGTERM is FlashMQ's own way to quit: its main thread stops the threads, runs our deinit and exits
    // with 0, and the service (daemontools on Venus) starts it again, or the way back to the stock plugin takes over.
    flashmq_logf(fmq::LogError,
                 "dbus-flashmq: JavaScript stopped again (%s) after %zu restarts within %lld minutes; giving up: ending the broker "
                 "(SIGTERM) so that its service starts it afresh",
                 reason.c_str(), restarts_.size(), static_cast<long long>(kRestartWindow.count()));
    writeStatusFile(shim_.statusFile, "degraded", std::time(nullptr), "gave up after " + std::to_string(restarts_.size()) +
                                                                          " restarts within 10 minutes; last: " + reason);
    kill(getpid(), SIGTERM);
}

void Plugin::reduceMemory()
{
    if (env_)
    {
        // Before V8 collects: what start-up compiled is still there to be cached.
        const std::string cached = env_->saveCodeCache();
        if (!cached.empty())
            flashmq_logf(fmq::LogNotice, "dbus-flashmq: %s", cached.c_str());
        env_->reduceMemory();
    }
    flashmq_logf(fmq::LogInfo, "dbus-flashmq: memory: %s", releaseStartupMemory().c_str());
}

void Plugin::ready()
{
    if (readinessDeferred_ && !readySignalled_)
        signalReady("javascript");
}

void Plugin::init(const fmq::PluginOptions &options, bool reloading)
{
    options_ = options;
    shim_ = ShimOptions::from(options);
    if (shim_.shutdownTimeoutAsked > shim_.shutdownTimeout)
        flashmq_logf(fmq::LogWarning,
                     "dbus-flashmq: plugin_opt_shutdown_timeout_ms %lld is more than the shutdown can take inside FlashMQ's wait for its "
                     "threads (30 s); using %lld",
                     static_cast<long long>(shim_.shutdownTimeoutAsked.count()), static_cast<long long>(shim_.shutdownTimeout.count()));

    if (!reloading)
    {
        startJavaScript(true);
        return;
    }

    if (javaScriptUsable())
    {
        if (target_)
        {
            NodeEnvironment::Scope scope(*env_);
            target_->onReload(options_);
        }
        return;
    }

    flashmq_logf(fmq::LogNotice, "dbus-flashmq: JavaScript was not running; starting it again for the reload");
    cancelRestart();
    // The listeners may still wait for the JavaScript that stopped; the new one starts with the broker running.
    signalReady("restart");
    stopJavaScript();
    startJavaScript(false);
}

void Plugin::deinit(bool reloading)
{
    if (reloading)
        return;

    quitting_ = true;
    cancelRestart();
    if (javaScriptUsable())
    {
        // Bounded whatever JavaScript does: its shutdown work gets shim_.shutdownTimeout, and whatever still runs
        // kShutdownGrace later (a handler or an 'exit' listener that never returns) is terminated.
        NodeEnvironment::Watchdog watchdog(*env_, shim_.shutdownTimeout + kShutdownGrace);
        if (target_)
        {
            env_->pump().stop();
            shutdownDone_ = false;
            bool done = false;
            {
                NodeEnvironment::Scope scope(*env_);
                done = target_->onShutdown();
            }
            if (!done && !shutdownDone_ && !env_->runUntil([this]() { return shutdownDone_; }, shim_.shutdownTimeout))
                flashmq_logf(fmq::LogWarning, "dbus-flashmq: JavaScript did not finish its shutdown work within %lld ms",
                             static_cast<long long>(shim_.shutdownTimeout.count()));
        }
        env_->emitExit();
    }
    stopJavaScript();
}

fmq::AuthResult Plugin::loginCheck(const std::string &clientId, const std::string &username, const std::string &password,
                                   const fmq::UserProperties *userProperties, const std::weak_ptr<Client> &client)
{
    if (!javaScriptUsable() || !target_)
    {
        flashmq_logf(fmq::LogWarning, "dbus-flashmq: refusing login of client '%s': the JavaScript side is not running", clientId.c_str());
        return fmq::AuthResult::server_not_available;
    }
    NodeEnvironment::Scope scope(*env_);
    return target_->onLogin(LoginRequest{clientId, username, password, userProperties, client});
}

fmq::AuthResult Plugin::aclCheck(fmq::AclAccess access, const std::string &clientId, const std::string &username, const std::string &topic,
                                 const std::vector<std::string> &subtopics, std::string_view payload, uint8_t qos, bool retain,
                                 const std::optional<std::string> &correlationData, const std::optional<std::string> &responseTopic,
                                 const fmq::UserProperties *userProperties)
{
    if (access == fmq::AclAccess::read)
        return rules_.read.allows(clientId, username, topic, subtopics) ? fmq::AuthResult::success : fmq::AuthResult::acl_denied;

    if (access != fmq::AclAccess::write)
        return fmq::AuthResult::success; // subscribe and register_will: open

    if (!rules_.publishForward.matches(subtopics))
        return fmq::AuthResult::success;

    if (!javaScriptUsable() || !target_)
        return clientId.empty() ? fmq::AuthResult::success : fmq::AuthResult::acl_denied;

    NodeEnvironment::Scope scope(*env_);
    const fmq::AuthResult r =
        target_->onPublish(PublishRequest{clientId, username, topic, payload, qos, retain, correlationData, responseTopic, userProperties});
    // The broker forces success for its own messages (empty client id) anyway.
    return clientId.empty() ? fmq::AuthResult::success : r;
}

bool Plugin::alterPublish(const std::string &clientId, std::string &topic, const std::vector<std::string> &subtopics, uint8_t &qos, bool &retain)
{
    if (!rules_.forwardsAlter(subtopics, retain) || !javaScriptUsable() || !target_)
        return false;
    NodeEnvironment::Scope scope(*env_);
    return target_->onAlterPublish(AlterPublishRequest{clientId, topic, qos, retain});
}

void Plugin::clientDisconnected(const std::string &clientId)
{
    // A trusted client id stays trusted only while a client with its login is still connected under it (a client
    // that took the id over, e.g. with another username, is not).
    if (rules_.read.trusted(clientId))
    {
        std::weak_ptr<Session> session;
        flashmq_get_session_pointer(clientId, rules_.read.trustedUsername(clientId), session);
        std::weak_ptr<Client> client;
        if (!session.expired())
            flashmq_get_client_pointer(session, client);
        if (client.expired())
            rules_.read.setTrusted(clientId, std::string(), false);
    }
    if (!javaScriptUsable() || !target_ || !target_->hasHandler("clientDisconnected"))
        return;
    if (env_->inJavaScript())
    {
        // Reached from inside a JavaScript call (a publish or disconnect it made): delivered when that call returns.
        deferredDisconnects_.push_back(clientId);
        return;
    }
    NodeEnvironment::Scope scope(*env_);
    target_->onClientDisconnected(clientId);
}

void Plugin::flushDeferred()
{
    while (!deferredDisconnects_.empty() && javaScriptUsable() && target_)
    {
        std::vector<std::string> batch;
        batch.swap(deferredDisconnects_);
        NodeEnvironment::Scope scope(*env_);
        for (const std::string &id : batch)
            target_->onClientDisconnected(id);
    }
}

void Plugin::periodic()
{
    if (!javaScriptUsable() || !target_)
        return;
    NodeEnvironment::Scope scope(*env_);
    target_->purgeExpiredLogins();
    target_->onPeriodic();
}

void Plugin::pollEvent(int fd)
{
    if (env_ && env_->usable())
        env_->pump().onPollEvent(fd);
}

} // namespace dfmq
