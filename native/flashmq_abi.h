// The FlashMQ plugin ABI as this plugin uses it, declared by us from the interface facts
// (function names, C++ parameter types, enum values). We do not include FlashMQ's own headers.
//
// We implement plugin version 4: the version the Venus OS broker loads today, accepted by FlashMQ 1.21 and
// newer (1.26 accepts 1 to 5). Every function is `extern "C"` but takes C++ standard library types, so the
// plugin must be built with the broker's C++ ABI (g++/libstdc++). Only values and layouts matter across the
// boundary: `extern "C"` names carry no types, so our enums live in our own namespace.

#ifndef DFMQ_FLASHMQ_ABI_H
#define DFMQ_FLASHMQ_ABI_H

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <vector>

#include <sys/socket.h>

// The broker's client and session objects. Plugins only ever hold weak pointers to them.
class Client;
class Session;
class FlashMQSockAddr; // FlashMQ 1.21's address type: only ever passed as a null pointer

namespace fmq
{

constexpr int kPluginVersion = 4;

using PluginOptions = std::unordered_map<std::string, std::string>;
using UserProperties = std::vector<std::pair<std::string, std::string>>;

enum class AclAccess
{
    none = 0,
    read = 1,
    write = 2,
    subscribe = 4,
    register_will = 100,
};

enum class AuthResult
{
    success = 0,
    auth_method_not_supported = 10,
    login_denied = 11,
    acl_denied = 12,
    error = 13,
    server_not_available = 14,
    async = 50,
    success_without_retained_delivery = 51,
    success_without_setting_retained = 52,
    success_but_drop_publish = 53,
    auth_continue = -4,
};

// The MQTT 5 reason codes a plugin may give when it removes a client.
enum class ServerDisconnectReasons
{
    NormalDisconnect = 0,
    UnspecifiedError = 128,
    ProtocolError = 130,
    ImplementationSpecificError = 131,
    NotAuthorized = 135,
    ServerBusy = 137,
    MessageRateTooHigh = 150,
};

// Log levels of flashmq_logf. Not named LOG_* so they cannot clash with <syslog.h>.
enum LogLevel : int
{
    LogNone = 0x00,
    LogInfo = 0x01,
    LogNotice = 0x02,
    LogWarning = 0x04,
    LogError = 0x08,
    LogDebug = 0x10,
};

bool isKnownAuthResult(int value);

} // namespace fmq

#define DFMQ_EXPORT __attribute__((visibility("default")))

// Host functions, exported by the flashmq executable. The ones marked weak appeared in later FlashMQ versions
// than the oldest we run on (1.21), or were replaced in later ones; they are null when the broker lacks them, and
// the plugin degrades or takes the other form.
extern "C"
{
    void flashmq_logf(int level, const char *format, ...) __attribute__((format(printf, 2, 3)));

    // Any thread. From a worker thread it delivers synchronously, running the read ACL of every subscriber.
    void flashmq_publish_message(const std::string &topic, const uint8_t qos, const bool retain, const std::string &payload,
                                 uint32_t expiryInterval, const fmq::UserProperties *userProperties, const std::string *responseTopic,
                                 const std::string *correlationData, const std::string *contentType);

    // Worker thread only. Level-triggered unless EPOLLET is passed.
    void flashmq_poll_add_fd(int fd, uint32_t events, const std::weak_ptr<void> &p);
    void flashmq_poll_remove_fd(uint32_t fd);

    // Worker thread only; one-shot. A removed task still wakes the loop once at its time.
    uint32_t flashmq_add_task(std::function<void()> f, uint32_t delay_in_ms);
    void flashmq_remove_task(uint32_t id);

    // FlashMQ >= 1.22; 1.21 (Venus OS v3.6x) has the older form below, whose address object we never ask for.
    void flashmq_get_client_address_v4(const std::weak_ptr<Client> &client, std::string *text, sockaddr *addr, socklen_t *addrlen)
        __attribute__((weak));
    void flashmq_get_client_address(const std::weak_ptr<Client> &client, std::string *text, FlashMQSockAddr *addr) __attribute__((weak));
    void flashmq_get_session_pointer(const std::string &clientid, const std::string &username, std::weak_ptr<Session> &sessionOut);
    void flashmq_get_client_pointer(const std::weak_ptr<Session> &session, std::weak_ptr<Client> &clientOut);
    void flashmq_plugin_remove_client_v4(const std::weak_ptr<Session> &session, bool alsoSession, fmq::ServerDisconnectReasons reasonCode);

    // FlashMQ >= 1.25.
    void flashmq_continue_async_authentication_v4(const std::weak_ptr<Client> &client, fmq::AuthResult result, const std::string &authMethod,
                                                  const std::string &returnData, const uint32_t delay_in_ms) __attribute__((weak));
    // Older form, without a delay.
    void flashmq_continue_async_authentication(const std::weak_ptr<Client> &client, fmq::AuthResult result, const std::string &authMethod,
                                               const std::string &returnData) __attribute__((weak));

    // FlashMQ >= 1.26: hold the listeners closed until the plugin says it is ready. Worker thread, during init.
    void flashmq_defer_thread_ready() __attribute__((weak));
    void flashmq_signal_thread_ready() __attribute__((weak));
}

// Entry points the broker calls (plugin version 4 signatures). Defined in plugin_entry.cc.
extern "C"
{
    DFMQ_EXPORT int flashmq_plugin_version();
    DFMQ_EXPORT void flashmq_plugin_main_init(fmq::PluginOptions &plugin_opts);
    DFMQ_EXPORT void flashmq_plugin_main_deinit(fmq::PluginOptions &plugin_opts);
    DFMQ_EXPORT void flashmq_plugin_allocate_thread_memory(void **thread_data, fmq::PluginOptions &plugin_opts);
    DFMQ_EXPORT void flashmq_plugin_deallocate_thread_memory(void *thread_data, fmq::PluginOptions &plugin_opts);
    DFMQ_EXPORT void flashmq_plugin_init(void *thread_data, fmq::PluginOptions &plugin_opts, bool reloading);
    DFMQ_EXPORT void flashmq_plugin_deinit(void *thread_data, fmq::PluginOptions &plugin_opts, bool reloading);
    DFMQ_EXPORT void flashmq_plugin_periodic_event(void *thread_data);
    DFMQ_EXPORT fmq::AuthResult flashmq_plugin_login_check(void *thread_data, const std::string &clientid, const std::string &username,
                                                           const std::string &password, const fmq::UserProperties *userProperties,
                                                           const std::weak_ptr<Client> &client);
    DFMQ_EXPORT fmq::AuthResult flashmq_plugin_acl_check(void *thread_data, const fmq::AclAccess access, const std::string &clientid,
                                                         const std::string &username, const std::string &topic,
                                                         const std::vector<std::string> &subtopics, const std::string &shareName,
                                                         std::string_view payload, const uint8_t qos, const bool retain,
                                                         const std::optional<std::string> &correlationData,
                                                         const std::optional<std::string> &responseTopic,
                                                         const fmq::UserProperties *userProperties);
    DFMQ_EXPORT bool flashmq_plugin_alter_publish(void *thread_data, const std::string &clientid, std::string &topic,
                                                  const std::vector<std::string> &subtopics, std::string_view payload, uint8_t &qos,
                                                  bool &retain, const std::optional<std::string> &correlationData,
                                                  const std::optional<std::string> &responseTopic, fmq::UserProperties *userProperties);
    DFMQ_EXPORT void flashmq_plugin_client_disconnected(void *thread_data, const std::string &clientid);
    DFMQ_EXPORT void flashmq_plugin_poll_event_received(void *thread_data, int fd, uint32_t events, const std::weak_ptr<void> &p);
}

#endif
