// A STAND-IN for Venus OS's stock FlashMQ plugin (/usr/libexec/flashmq/libflashmq-dbus-plugin.so), for the
// emulated GX device of scripts/gx-vm.sh only. It is not that plugin and does nothing of what it does: it lets every
// login in, allows every access, and publishes nothing. It exists because Venus's flashmq.conf names the stock
// plugin and FlashMQ refuses to start when a configured plugin file is missing; with it, the emulated device's
// broker starts as a stock device's would (same config, same service, same limits), and a test can tell
// "back on the stock plugin" from "ours" (this one logs one line when it loads).
//
// Plugin API 4, declared through our own ABI header. Built by scripts/gx-vm.sh with the target's cross compiler:
//   <triplet>-g++ -std=c++17 -O2 -shared -fPIC -o libflashmq-dbus-plugin.so native/testing/stock_standin.cc

#include "../flashmq_abi.h"

extern "C"
{
    DFMQ_EXPORT int flashmq_plugin_version()
    {
        return fmq::kPluginVersion;
    }

    DFMQ_EXPORT void flashmq_plugin_allocate_thread_memory(void **thread_data, fmq::PluginOptions &)
    {
        *thread_data = nullptr;
    }

    DFMQ_EXPORT void flashmq_plugin_deallocate_thread_memory(void *, fmq::PluginOptions &)
    {
    }

    DFMQ_EXPORT void flashmq_plugin_init(void *, fmq::PluginOptions &, bool reloading)
    {
        flashmq_logf(fmq::LogNotice, "stock-standin: the stand-in for the stock dbus-flashmq plugin is %s (it allows everything and publishes nothing)",
                     reloading ? "reloaded" : "loaded");
    }

    DFMQ_EXPORT void flashmq_plugin_deinit(void *, fmq::PluginOptions &, bool)
    {
    }

    DFMQ_EXPORT fmq::AuthResult flashmq_plugin_login_check(void *, const std::string &, const std::string &, const std::string &,
                                                           const fmq::UserProperties *, const std::weak_ptr<Client> &)
    {
        return fmq::AuthResult::success;
    }

    DFMQ_EXPORT fmq::AuthResult flashmq_plugin_acl_check(void *, const fmq::AclAccess, const std::string &, const std::string &,
                                                         const std::string &, const std::vector<std::string> &, const std::string &,
                                                         std::string_view, const uint8_t, const bool, const std::optional<std::string> &,
                                                         const std::optional<std::string> &, const fmq::UserProperties *)
    {
        return fmq::AuthResult::success;
    }
}
