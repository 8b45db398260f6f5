// The two interfaces between the broker side of the shim and the N-API binding, free of V8 and N-API types so
// that each side compiles without the other's headers:
//   HookTarget  - implemented by the binding; the broker side hands it the hooks that go to JavaScript.
//   BindingHost - implemented by whoever hosts the binding (the plugin, or the test double of the broker);
//                 the binding reaches the host state through it.
// Both run on the one worker thread that owns the JavaScript environment.

#ifndef DFMQ_HOOKS_H
#define DFMQ_HOOKS_H

#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "flashmq_abi.h"
#include "read_acl.h"
#include "topic_filter.h"

struct napi_env__;
struct napi_value__;

namespace dfmq
{

struct LoginRequest
{
    const std::string &clientId;
    const std::string &username;
    const std::string &password;
    const fmq::UserProperties *userProperties;
    const std::weak_ptr<Client> &client;
};

struct PublishRequest
{
    const std::string &clientId;
    const std::string &username;
    const std::string &topic;
    std::string_view payload;
    uint8_t qos;
    bool retain;
    const std::optional<std::string> &correlationData;
    const std::optional<std::string> &responseTopic;
    const fmq::UserProperties *userProperties;
};

struct AlterPublishRequest
{
    const std::string &clientId;
    std::string &topic;
    uint8_t &qos;
    bool &retain;
};

class HookTarget
{
public:
    virtual ~HookTarget() = default;

    // Each call is made with V8's handle and context scopes already entered by the caller. None may throw:
    // a failure becomes a log line and the documented default.
    virtual fmq::AuthResult onLogin(const LoginRequest &request) = 0;  // default on failure: error
    virtual fmq::AuthResult onPublish(const PublishRequest &request) = 0;  // default on failure: acl_denied
    virtual bool onAlterPublish(const AlterPublishRequest &request) = 0;  // default on failure: unchanged
    virtual void onClientDisconnected(const std::string &clientId) = 0;
    virtual void onPeriodic() = 0;
    virtual void onReload(const fmq::PluginOptions &options) = 0;
    // Returns true when the JavaScript side finished its shutdown work at once; otherwise the host waits until
    // BindingHost::shutdownDone() is called, or its time runs out.
    virtual bool onShutdown() = 0;
    // Forgets logins whose client went away; called from the periodic event.
    virtual void purgeExpiredLogins() = 0;
    virtual bool hasHandler(const char *name) const = 0;
};

// What the host keeps across the life of a JavaScript environment (and beyond it: the read rules stay in force
// if JavaScript stops).
struct HookRules
{
    ReadAcl read;
    TopicFilterSet publishForward = TopicFilterSet::everything();
    TopicFilterSet alterForward = TopicFilterSet::nothing();
    // Only retained publishes reach the alterPublish handler (one that changes nothing else: no call into
    // JavaScript for the others).
    bool alterRetainedOnly = false;

    bool forwardsAlter(const std::vector<std::string> &subtopics, bool retain) const
    {
        return (retain || !alterRetainedOnly) && alterForward.matches(subtopics);
    }
};

class BindingHost
{
public:
    virtual ~BindingHost() = default;

    virtual void attach(HookTarget *target) = 0;
    virtual void detach(HookTarget *target) = 0;
    virtual HookRules &rules() = 0;
    virtual const fmq::PluginOptions &options() const = 0;
    virtual void ready() = 0;
    virtual void shutdownDone() = 0;
    // Asks V8 to give back what it can (full collections, the young generation shrunk): for quiet moments.
    virtual void reduceMemory() = 0;
    // JavaScript cannot go on (the bootstrap counted a storm of uncaught errors): stop it and start it again, as
    // after Node's fatal path. Called from inside JavaScript; the restart happens later, from the broker's loop.
    virtual void requestRestart(const std::string &reason) = 0;
};

// The host of the binding that is created on this thread. Set by the host before JavaScript asks for the
// binding; a binding created on another thread (a Worker) sees none and refuses broker work.
BindingHost *currentBindingHost();
void setCurrentBindingHost(BindingHost *host);

// Registers the binding's exports; the N-API module init function, used by the linked binding and the test addon.
napi_value__ *registerFlashmqBinding(napi_env__ *env, napi_value__ *exports);

std::string describeAddress(const sockaddr *addr, socklen_t len);
std::string clientAddress(const std::weak_ptr<Client> &client);

} // namespace dfmq

#endif
