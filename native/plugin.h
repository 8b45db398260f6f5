// The plugin's state on the broker's one worker thread (FlashMQ's thread_data): the plugin options it reads
// itself, the JavaScript environment, the rules the binding pushes, and the routing of every hook.

#ifndef DFMQ_PLUGIN_H
#define DFMQ_PLUGIN_H

#include <chrono>
#include <memory>
#include <string>
#include <vector>

#include "flashmq_abi.h"
#include "hooks.h"
#include "memory_plan.h"

namespace dfmq
{

class NodeEnvironment;

// The options the shim itself reads (the JavaScript side reads the whole map).
struct ShimOptions
{
    std::string entry;                              // plugin_opt_entry: path of the compiled entry module
    std::vector<std::string> nodeArgs;              // plugin_opt_node_args: Node/V8 options, main_init only
    MemoryRequest memory;                           // plugin_opt_node_platform_threads, _threadpool_size, _malloc_arena_max,
                                                    // _thread_stack_kb and the heap options in node_args; main_init only
    std::chrono::milliseconds readyTimeout{20000};  // plugin_opt_ready_timeout_ms
    std::chrono::milliseconds shutdownTimeout{2000}; // plugin_opt_shutdown_timeout_ms

    // Unusable values are logged and replaced by the default.
    static ShimOptions from(const fmq::PluginOptions &options);
};

class Plugin : public BindingHost
{
public:
    // Throws when a second worker thread asks for one: there is one JavaScript world.
    static Plugin *allocate();
    ~Plugin() override;

    void init(const fmq::PluginOptions &options, bool reloading);
    void deinit(bool reloading);

    fmq::AuthResult loginCheck(const std::string &clientId, const std::string &username, const std::string &password,
                               const fmq::UserProperties *userProperties, const std::weak_ptr<Client> &client);
    fmq::AuthResult aclCheck(fmq::AclAccess access, const std::string &clientId, const std::string &username, const std::string &topic,
                             const std::vector<std::string> &subtopics, std::string_view payload, uint8_t qos, bool retain,
                             const std::optional<std::string> &correlationData, const std::optional<std::string> &responseTopic,
                             const fmq::UserProperties *userProperties);
    bool alterPublish(const std::string &clientId, std::string &topic, const std::vector<std::string> &subtopics, uint8_t &qos, bool &retain);
    void clientDisconnected(const std::string &clientId);
    void periodic();
    void pollEvent(int fd);

    // BindingHost
    void attach(HookTarget *target) override { target_ = target; }
    void detach(HookTarget *target) override;
    HookRules &rules() override { return rules_; }
    const fmq::PluginOptions &options() const override { return options_; }
    void ready() override;
    void shutdownDone() override { shutdownDone_ = true; }
    void reduceMemory() override;

private:
    Plugin() = default;

    void startJavaScript(bool deferReadiness);
    void stopJavaScript();
    bool javaScriptUsable() const;
    void flushDeferred();
    void signalReady(const char *why);

    fmq::PluginOptions options_;
    ShimOptions shim_;
    std::unique_ptr<NodeEnvironment> env_;
    HookTarget *target_ = nullptr;
    HookRules rules_;

    bool readinessDeferred_ = false;
    bool readySignalled_ = false;
    uint32_t readyTimeoutTask_ = 0;
    bool shutdownDone_ = false;

    std::vector<std::string> deferredDisconnects_;
};

} // namespace dfmq

#endif
