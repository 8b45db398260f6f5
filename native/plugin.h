// The plugin's state on the broker's one worker thread (FlashMQ's thread_data): the plugin options it reads
// itself, the JavaScript environment, the rules the binding pushes, and the routing of every hook.

#ifndef DFMQ_PLUGIN_H
#define DFMQ_PLUGIN_H

#include <chrono>
#include <ctime>
#include <deque>
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
    std::chrono::milliseconds shutdownTimeout{2000}; // plugin_opt_shutdown_timeout_ms, at most kMaxShutdownTimeout
    std::chrono::milliseconds shutdownTimeoutAsked{2000}; // what the option said (more than the most: one line)
    std::chrono::milliseconds restartDelay{1000};   // plugin_opt_restart_delay_ms: the first restart's delay, doubled
    int restartLimit = 5;                           // plugin_opt_restart_limit: restarts within kRestartWindow
    std::string statusFile;                         // plugin_opt_status_file ('': none)
    std::string codeCache;                          // plugin_opt_code_cache ('' or none: no cache; see code_cache.h)

    // Unusable values are logged and replaced by the default.
    static ShimOptions from(const fmq::PluginOptions &options);
};

// At quit FlashMQ waits 30 s for each worker thread to finish its clean-up (our deinit among it); a thread that
// takes longer is left running while the broker tears down (the runtime included) under it. The shutdown keeps
// well inside that: the JavaScript shutdown work gets at most this long, then a watchdog terminates JavaScript
// kShutdownGrace later, then the environment is freed (milliseconds).
constexpr std::chrono::milliseconds kMaxShutdownTimeout{10000};
constexpr std::chrono::milliseconds kShutdownGrace{1000};
// Restarts of JavaScript after it stopped by itself: the delay doubles with each restart in the window, up to
// kMaxRestartDelay; one restart more than restartLimit within the window ends the broker.
constexpr std::chrono::minutes kRestartWindow{10};
constexpr std::chrono::milliseconds kMaxRestartDelay{60000};

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
    void requestRestart(const std::string &reason) override;

private:
    Plugin() = default;

    void startJavaScript(bool deferReadiness);
    void stopJavaScript();
    // JavaScript stopped by itself: a restart is scheduled with backoff, or, after too many, the broker is ended.
    void javaScriptStopped(const std::string &reason);
    void restartJavaScript();
    void cancelRestart();
    void giveUp(const std::string &reason);
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

    bool quitting_ = false;                         // deinit(false) runs: no restart
    bool gaveUp_ = false;
    uint32_t restartTask_ = 0;
    std::deque<std::chrono::steady_clock::time_point> restarts_; // within kRestartWindow
    std::chrono::steady_clock::time_point stoppedAt_{};

    std::vector<std::string> deferredDisconnects_;
};

} // namespace dfmq

#endif
