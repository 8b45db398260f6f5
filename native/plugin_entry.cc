// The entry points FlashMQ calls, and nothing else. Each one is an exception boundary: hooks answer with a
// deliberate result and a log line; the life-cycle calls (main_init, allocate, init) let a failure through as
// an exception on purpose, because that is how the broker learns it must not start.

#include <sys/resource.h>

#include <chrono>
#include <sstream>
#include <stdexcept>

#include "flashmq_abi.h"
#include "node_runtime.h"
#include "plugin.h"

using dfmq::Plugin;

namespace
{

Plugin *pluginOf(void *threadData)
{
    return static_cast<Plugin *>(threadData);
}

// Called from the catch blocks of the boundaries: it must not throw itself (out of memory in the broker's logger).
void logHookFailure(const char *hook, const char *what) noexcept
{
    try
    {
        flashmq_logf(fmq::LogError, "dbus-flashmq: %s failed: %s", hook, what);
    }
    catch (...)
    {
    }
}

} // namespace

int flashmq_plugin_version()
{
    return fmq::kPluginVersion;
}

void flashmq_plugin_main_init(fmq::PluginOptions &plugin_opts)
{
    const dfmq::ShimOptions shim = dfmq::ShimOptions::from(plugin_opts);
    // Threads, their stacks, V8's heap and malloc's arenas, sized to the process's limits (Venus: softlimit), before
    // any thread of the runtime exists. V8 cannot fail gracefully when it runs out of its limits: it stops the
    // process. So the choice and, when the limits are too tight, the number they need, are said up front.
    const dfmq::MemoryPlan plan = dfmq::planMemory(dfmq::readProcessMemory(), shim.memory);
    flashmq_logf(fmq::LogNotice, "dbus-flashmq: %s", plan.summary.c_str());
    dfmq::rememberPlanSummary(plan.summary);
    if (!plan.shortfall.empty())
        flashmq_logf(fmq::LogError, "dbus-flashmq: memory: %s", plan.shortfall.c_str());
    std::vector<std::string> nodeArgs = plan.v8Args;
    nodeArgs.insert(nodeArgs.end(), shim.nodeArgs.begin(), shim.nodeArgs.end()); // the options' own come last and win
    const auto started = std::chrono::steady_clock::now();
    dfmq::applyMemoryPlan(plan, [&]() { dfmq::node_process::initialize(nodeArgs, plan.platformThreads); });
    const double ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - started).count();
    // The process's CPU so far is mostly the dynamic linker's work on libnode and its libraries: the broker itself
    // has barely started.
    rusage usage{};
    getrusage(RUSAGE_SELF, &usage);
    const double processCpuMs = (usage.ru_utime.tv_sec + usage.ru_stime.tv_sec) * 1e3 + (usage.ru_utime.tv_usec + usage.ru_stime.tv_usec) / 1e3;
    flashmq_logf(fmq::LogNotice, "dbus-flashmq: Node %s runtime initialised in %.0f ms (plugin API version %d; the process's CPU so far %.0f ms)",
                 NODE_VERSION_STRING, ms, fmq::kPluginVersion, processCpuMs);
}

void flashmq_plugin_main_deinit(fmq::PluginOptions &)
{
    try
    {
        dfmq::node_process::teardown();
    }
    catch (const std::exception &e)
    {
        logHookFailure("main_deinit", e.what());
    }
    catch (...)
    {
        logHookFailure("main_deinit", "unknown exception");
    }
}

void flashmq_plugin_allocate_thread_memory(void **thread_data, fmq::PluginOptions &)
{
    *thread_data = Plugin::allocate();
}

void flashmq_plugin_deallocate_thread_memory(void *thread_data, fmq::PluginOptions &)
{
    try
    {
        delete pluginOf(thread_data);
    }
    catch (const std::exception &e)
    {
        logHookFailure("deallocate_thread_memory", e.what());
    }
    catch (...)
    {
        logHookFailure("deallocate_thread_memory", "unknown exception");
    }
}

void flashmq_plugin_init(void *thread_data, fmq::PluginOptions &plugin_opts, bool reloading)
{
    if (!thread_data)
        throw std::runtime_error("dbus-flashmq: init without thread data");
    pluginOf(thread_data)->init(plugin_opts, reloading);
}

void flashmq_plugin_deinit(void *thread_data, fmq::PluginOptions &, bool reloading)
{
    if (!thread_data)
        return;
    try
    {
        pluginOf(thread_data)->deinit(reloading);
    }
    catch (const std::exception &e)
    {
        logHookFailure("deinit", e.what());
    }
    catch (...)
    {
        logHookFailure("deinit", "unknown exception");
    }
}

void flashmq_plugin_periodic_event(void *thread_data)
{
    if (!thread_data)
        return;
    try
    {
        pluginOf(thread_data)->periodic();
    }
    catch (const std::exception &e)
    {
        logHookFailure("periodic_event", e.what());
    }
    catch (...)
    {
        logHookFailure("periodic_event", "unknown exception");
    }
}

fmq::AuthResult flashmq_plugin_login_check(void *thread_data, const std::string &clientid, const std::string &username,
                                           const std::string &password, const fmq::UserProperties *userProperties,
                                           const std::weak_ptr<Client> &client)
{
    if (!thread_data)
        return fmq::AuthResult::error;
    try
    {
        return pluginOf(thread_data)->loginCheck(clientid, username, password, userProperties, client);
    }
    catch (const std::exception &e)
    {
        logHookFailure("login_check", e.what());
    }
    catch (...)
    {
        logHookFailure("login_check", "unknown exception");
    }
    return fmq::AuthResult::error;
}

fmq::AuthResult flashmq_plugin_acl_check(void *thread_data, const fmq::AclAccess access, const std::string &clientid,
                                         const std::string &username, const std::string &topic, const std::vector<std::string> &subtopics,
                                         const std::string &, std::string_view payload, const uint8_t qos, const bool retain,
                                         const std::optional<std::string> &correlationData, const std::optional<std::string> &responseTopic,
                                         const fmq::UserProperties *userProperties)
{
    if (!thread_data)
        return fmq::AuthResult::error;
    try
    {
        return pluginOf(thread_data)
            ->aclCheck(access, clientid, username, topic, subtopics, payload, qos, retain, correlationData, responseTopic, userProperties);
    }
    catch (const std::exception &e)
    {
        logHookFailure("acl_check", e.what());
    }
    catch (...)
    {
        logHookFailure("acl_check", "unknown exception");
    }
    return fmq::AuthResult::acl_denied;
}

bool flashmq_plugin_alter_publish(void *thread_data, const std::string &clientid, std::string &topic, const std::vector<std::string> &subtopics,
                                  std::string_view, uint8_t &qos, bool &retain, const std::optional<std::string> &,
                                  const std::optional<std::string> &, fmq::UserProperties *)
{
    if (!thread_data)
        return false;
    try
    {
        return pluginOf(thread_data)->alterPublish(clientid, topic, subtopics, qos, retain);
    }
    catch (const std::exception &e)
    {
        logHookFailure("alter_publish", e.what());
    }
    catch (...)
    {
        logHookFailure("alter_publish", "unknown exception");
    }
    return false;
}

void flashmq_plugin_client_disconnected(void *thread_data, const std::string &clientid)
{
    if (!thread_data)
        return;
    try
    {
        pluginOf(thread_data)->clientDisconnected(clientid);
    }
    catch (const std::exception &e)
    {
        logHookFailure("client_disconnected", e.what());
    }
    catch (...)
    {
        logHookFailure("client_disconnected", "unknown exception");
    }
}

void flashmq_plugin_poll_event_received(void *thread_data, int fd, uint32_t, const std::weak_ptr<void> &)
{
    if (!thread_data)
        return;
    try
    {
        pluginOf(thread_data)->pollEvent(fd);
    }
    catch (const std::exception &e)
    {
        logHookFailure("poll_event_received", e.what());
    }
    catch (...)
    {
        logHookFailure("poll_event_received", "unknown exception");
    }
}
