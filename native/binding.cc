// The N-API binding "flashmq": the only door between the C++ shim and TypeScript (ts/native/binding.ts types it).
//
// JavaScript calls the broker through its methods (publish, log, finish a login, ...); the broker side calls
// JavaScript through the HookTarget interface, which turns hook arguments into JS values, calls the handler that
// TypeScript registered and turns the answer back into a broker result. Every hook is an exception boundary.
// The same source is built into the plugin (linked binding) and into a test addon with a test double of the host.

#include <napi.h>

#include <arpa/inet.h>
#include <crypt.h>
#include <netinet/in.h>
#include <sys/un.h>

#include <algorithm>
#include <chrono>
#include <cstring>
#include <unordered_map>

#ifdef DFMQ_CODE_CACHE // the plugin; the test addon (binding.gyp) runs under stock Node and has no code cache
#include "code_cache.h"
#endif
#include "hooks.h"
#include "memory_plan.h"

namespace dfmq
{

namespace
{

thread_local BindingHost *tlsHost = nullptr;

constexpr size_t kMaxLogMessage = 16 * 1024;
constexpr size_t kMaxTopicLength = 65535;
constexpr size_t kMaxPendingLogins = 10000;
// A forwarded publish's payload is copied to JavaScript up to this many bytes plus one: every handler refuses a
// payload over 1 MiB, and the one byte more tells it the payload was longer, without copying megabytes first.
constexpr size_t kMaxForwardedPayload = 1024 * 1024;
// The payload scratch (usePayloadScratch): a forwarded publish's payload up to this size is copied into one buffer
// made once, and JavaScript copies it out (a Buffer from its pool costs far less than one made here).
constexpr size_t kPayloadScratchBytes = 4096;

void logLine(int level, const std::string &message)
{
    flashmq_logf(level, "%s", message.c_str());
}

// Whether `topic` can be published: not empty, not too long, no wildcards, no NUL.
const char *topicProblem(std::string_view topic)
{
    if (topic.empty())
        return "the topic is empty";
    if (topic.size() > kMaxTopicLength)
        return "the topic is longer than 65535 bytes";
    // One pass: find_first_of with a set of three calls memchr once per character of the topic (5 % of a full
    // publish's CPU, every frame is checked).
    for (const char c : topic)
        if (c == '+' || c == '#' || c == '\0')
            return "the topic contains '+', '#' or a NUL character";
    return nullptr;
}

std::string valueToBytes(const Napi::Value &v, const char *what)
{
    if (v.IsString())
        return v.As<Napi::String>().Utf8Value();
    if (v.IsBuffer())
    {
        Napi::Buffer<char> b = v.As<Napi::Buffer<char>>();
        return std::string(b.Data(), b.Length());
    }
    if (v.IsTypedArray())
    {
        Napi::TypedArray t = v.As<Napi::TypedArray>();
        Napi::ArrayBuffer ab = t.ArrayBuffer();
        return std::string(static_cast<const char *>(ab.Data()) + t.ByteOffset(), t.ByteLength());
    }
    throw Napi::TypeError::New(v.Env(), std::string(what) + " must be a string or a Buffer");
}

uint8_t qosFrom(const Napi::Value &v)
{
    if (v.IsUndefined())
        return 0;
    if (!v.IsNumber())
        throw Napi::TypeError::New(v.Env(), "qos must be 0, 1 or 2");
    const double q = v.As<Napi::Number>().DoubleValue();
    if (q != 0 && q != 1 && q != 2)
        throw Napi::RangeError::New(v.Env(), "qos must be 0, 1 or 2");
    return static_cast<uint8_t>(q);
}

uint32_t readU32le(const uint8_t *p)
{
    return static_cast<uint32_t>(p[0]) | (static_cast<uint32_t>(p[1]) << 8) | (static_cast<uint32_t>(p[2]) << 16) |
           (static_cast<uint32_t>(p[3]) << 24);
}

Napi::Value userPropertiesToJs(Napi::Env env, const fmq::UserProperties *props)
{
    if (!props || props->empty())
        return env.Undefined();
    Napi::Array arr = Napi::Array::New(env, props->size());
    uint32_t i = 0;
    for (const auto &kv : *props)
    {
        Napi::Array pair = Napi::Array::New(env, 2);
        pair.Set(0u, Napi::String::New(env, kv.first));
        pair.Set(1u, Napi::String::New(env, kv.second));
        arr.Set(i++, pair);
    }
    return arr;
}

std::string errorText(const Napi::Error &e)
{
    std::string text = e.Message();
    try
    {
        Napi::Value stack = e.Value().Get("stack");
        if (stack.IsString())
            text = stack.As<Napi::String>().Utf8Value();
    }
    catch (...)
    {
    }
    // No message: JavaScript threw something that is not an Error, or it was terminated (stopped, to be restarted).
    return text.empty() ? std::string("(no message: not an Error, or JavaScript was stopped)") : text;
}

} // namespace

BindingHost *currentBindingHost()
{
    return tlsHost;
}

void setCurrentBindingHost(BindingHost *host)
{
    tlsHost = host;
}

std::string describeAddress(const sockaddr *addr, socklen_t len)
{
    char buf[INET6_ADDRSTRLEN] = {};
    if (addr->sa_family == AF_INET && len >= static_cast<socklen_t>(sizeof(sockaddr_in)))
    {
        const auto *in = reinterpret_cast<const sockaddr_in *>(addr);
        if (inet_ntop(AF_INET, &in->sin_addr, buf, sizeof(buf)))
            return buf;
    }
    else if (addr->sa_family == AF_INET6 && len >= static_cast<socklen_t>(sizeof(sockaddr_in6)))
    {
        const auto *in6 = reinterpret_cast<const sockaddr_in6 *>(addr);
        if (inet_ntop(AF_INET6, &in6->sin6_addr, buf, sizeof(buf)))
            return buf;
    }
    else if (addr->sa_family == AF_UNIX)
    {
        return "unix";
    }
    return std::string();
}

std::string clientAddress(const std::weak_ptr<Client> &client)
{
    if (flashmq_get_client_address_v4)
    {
        sockaddr_storage storage{};
        socklen_t len = sizeof(storage);
        flashmq_get_client_address_v4(client, nullptr, reinterpret_cast<sockaddr *>(&storage), &len);
        return describeAddress(reinterpret_cast<const sockaddr *>(&storage), len);
    }
    // FlashMQ 1.21: the address as text (an IP address; a Unix socket's client gets what FlashMQ writes for it).
    std::string text;
    if (flashmq_get_client_address)
        flashmq_get_client_address(client, &text, nullptr);
    in6_addr probe{};
    if (!text.empty() && inet_pton(AF_INET, text.c_str(), &probe) != 1 && inet_pton(AF_INET6, text.c_str(), &probe) != 1)
        return "unix";
    return text;
}

namespace
{

/** Checks a password against a crypt(3) hash on a pool thread: $2a$/$2b$/$2y$ (bcrypt), $5$, $6$, $1$, DES. */
class CryptWorker : public Napi::AsyncWorker
{
public:
    CryptWorker(Napi::Env env, std::string password, std::string hash)
        : Napi::AsyncWorker(env, "dbus-flashmq:crypt"), deferred_(Napi::Promise::Deferred::New(env)), password_(std::move(password)),
          hash_(std::move(hash))
    {
    }

    Napi::Promise promise() { return deferred_.Promise(); }

    void Execute() override
    {
        // A hash that crypt cannot take ends in an error string such as "*0", never equal to a real hash.
        if (hash_.empty() || password_.find('\0') != std::string::npos)
            return;
        crypt_data data{};
        const char *out = crypt_r(password_.c_str(), hash_.c_str(), &data);
        if (!out || out[0] == '*')
            return;
        const size_t n = std::strlen(out);
        if (n != hash_.size())
            return;
        unsigned char diff = 0;
        for (size_t i = 0; i < n; i++)
            diff |= static_cast<unsigned char>(out[i] ^ hash_[i]);
        match_ = diff == 0;
    }

    void OnOK() override { deferred_.Resolve(Napi::Boolean::New(Env(), match_)); }
    void OnError(const Napi::Error &e) override { deferred_.Reject(e.Value()); }

private:
    Napi::Promise::Deferred deferred_;
    std::string password_;
    std::string hash_;
    bool match_ = false;
};

class Binding : public Napi::Addon<Binding>, public HookTarget
{
public:
    Binding(Napi::Env env, Napi::Object exports)
        : env_(env), host_(currentBindingHost())
    {
        DefineAddon(exports, {
            InstanceMethod("log", &Binding::Log),
            InstanceMethod("publish", &Binding::Publish),
            InstanceMethod("publishFrames", &Binding::PublishFrames),
            InstanceMethod("usePayloadScratch", &Binding::UsePayloadScratch),
            InstanceMethod("setHandlers", &Binding::SetHandlers),
            InstanceMethod("setForwardFilters", &Binding::SetForwardFilters),
            InstanceMethod("setReadRules", &Binding::SetReadRules),
            InstanceMethod("openReadGate", &Binding::OpenReadGate),
            InstanceMethod("finishLogin", &Binding::FinishLogin),
            InstanceMethod("clientAddress", &Binding::ClientAddress),
            InstanceMethod("disconnectClient", &Binding::DisconnectClient),
            InstanceMethod("ready", &Binding::Ready),
            InstanceMethod("shutdownDone", &Binding::ShutdownDone),
            InstanceMethod("reduceMemory", &Binding::ReduceMemory),
            InstanceMethod("options", &Binding::Options),
            InstanceMethod("capabilities", &Binding::Capabilities),
            InstanceMethod("stats", &Binding::Stats),
            InstanceMethod("setIntegrationPolicy", &Binding::SetIntegrationPolicy),
            InstanceMethod("setTrustedClient", &Binding::SetTrustedClient),
            InstanceMethod("verifyPassword", &Binding::VerifyPassword),
            InstanceMethod("restart", &Binding::Restart),
            InstanceMethod("entryCodeCache", &Binding::EntryCodeCache),
            InstanceMethod("entryCompiled", &Binding::EntryCompiled),
        });
        if (host_)
            host_->attach(this);
    }

    ~Binding() override
    {
        // Logins still waiting for JavaScript would wait forever: answer them. A broker call that throws must not
        // leave a destructor (that ends the process); the login then waits for the broker's own timeout.
        for (auto &entry : pending_)
        {
            try
            {
                continueLogin(entry.second.client, fmq::AuthResult::server_not_available, 0);
            }
            catch (...)
            {
            }
        }
        pending_.clear();
        if (host_)
            host_->detach(this);
    }

    // ---- HookTarget -------------------------------------------------------------------------------------------

    fmq::AuthResult onLogin(const LoginRequest &r) override
    {
        if (handlers_.login.IsEmpty())
            return fmq::AuthResult::success;

        if (pending_.size() >= kMaxPendingLogins)
        {
            logLine(fmq::LogWarning, "dbus-flashmq: " + std::to_string(pending_.size()) +
                                         " logins are waiting for an answer; refusing login of client '" + r.clientId + "' for now");
            return fmq::AuthResult::server_not_available;
        }

        const uint64_t authId = nextAuthId_++;
        // Registered before the call: a promise that settles while the call drains its microtasks finishes it.
        pending_.emplace(authId, PendingLogin{r.client, std::chrono::steady_clock::now()});

        fmq::AuthResult result = fmq::AuthResult::error;
        try
        {
            Napi::HandleScope scope(env_);
            Napi::Value v = handlers_.login.MakeCallback(
                env_.Global(), {Napi::Number::New(env_, static_cast<double>(authId)), Napi::String::New(env_, r.clientId),
                                Napi::String::New(env_, r.username), Napi::String::New(env_, r.password),
                                Napi::String::New(env_, clientAddress(r.client)), userPropertiesToJs(env_, r.userProperties)});
            result = loginResultFrom(v);
        }
        catch (const Napi::Error &e)
        {
            logLine(fmq::LogError, "dbus-flashmq: the login handler failed for client '" + r.clientId + "': " + errorText(e));
            result = fmq::AuthResult::error;
        }
        catch (const std::exception &e)
        {
            logLine(fmq::LogError, std::string("dbus-flashmq: login of client '") + r.clientId + "' failed: " + e.what());
            result = fmq::AuthResult::error;
        }
        catch (...)
        {
            result = fmq::AuthResult::error;
        }

        auto it = pending_.find(authId);
        if (result == fmq::AuthResult::async)
        {
            if (it == pending_.end())
            {
                // Already finished from inside the call; the broker gets the queued answer after our 'async'.
            }
        }
        else if (it != pending_.end())
        {
            pending_.erase(it);
        }
        return result;
    }

    fmq::AuthResult onPublish(const PublishRequest &r) override
    {
        if (handlers_.publish.IsEmpty())
            return fmq::AuthResult::success;
        try
        {
            Napi::HandleScope scope(env_);
            Napi::Value props = env_.Undefined();
            if (r.correlationData || r.responseTopic || (r.userProperties && !r.userProperties->empty()))
            {
                Napi::Object o = Napi::Object::New(env_);
                if (r.responseTopic)
                    o.Set("responseTopic", Napi::String::New(env_, *r.responseTopic));
                if (r.correlationData)
                    o.Set("correlationData", Napi::Buffer<char>::Copy(env_, r.correlationData->data(), r.correlationData->size()));
                if (r.userProperties && !r.userProperties->empty())
                    o.Set("userProperties", userPropertiesToJs(env_, r.userProperties));
                props = o;
            }
            const size_t payloadBytes = std::min(r.payload.size(), kMaxForwardedPayload + 1);
            Napi::Value payload;
            if (scratchData_ && payloadBytes <= kPayloadScratchBytes)
            {
                if (payloadBytes > 0)
                    std::memcpy(scratchData_, r.payload.data(), payloadBytes);
                payload = Napi::Number::New(env_, static_cast<double>(payloadBytes));
            }
            else
            {
                payload = Napi::Buffer<char>::Copy(env_, r.payload.data(), payloadBytes);
            }
            Napi::Value v = handlers_.publish.MakeCallback(
                env_.Global(), {Napi::String::New(env_, r.clientId), Napi::String::New(env_, r.username), Napi::String::New(env_, r.topic),
                                payload, Napi::Number::New(env_, r.qos),
                                Napi::Boolean::New(env_, r.retain), props});
            return publishResultFrom(v, r.topic);
        }
        catch (const Napi::Error &e)
        {
            logLine(fmq::LogError, "dbus-flashmq: the publish handler failed on topic '" + r.topic + "' from client '" + r.clientId +
                                       "': " + errorText(e) + "; the publish is denied");
        }
        catch (const std::exception &e)
        {
            logLine(fmq::LogError, std::string("dbus-flashmq: handling a publish on '") + r.topic + "' failed: " + e.what());
        }
        catch (...)
        {
        }
        return fmq::AuthResult::acl_denied;
    }

    bool onAlterPublish(const AlterPublishRequest &r) override
    {
        if (handlers_.alterPublish.IsEmpty())
            return false;
        try
        {
            Napi::HandleScope scope(env_);
            Napi::Value v = handlers_.alterPublish.MakeCallback(
                env_.Global(), {Napi::String::New(env_, r.clientId), Napi::String::New(env_, r.topic), Napi::Number::New(env_, r.qos),
                                Napi::Boolean::New(env_, r.retain)});
            if (v.IsUndefined() || v.IsNull())
                return false;
            if (!v.IsObject())
                throw Napi::TypeError::New(env_, "the alterPublish handler must return undefined or an object");
            Napi::Object o = v.As<Napi::Object>();
            Napi::Value topic = o.Get("topic");
            Napi::Value qos = o.Get("qos");
            Napi::Value retain = o.Get("retain");
            std::string newTopic = r.topic;
            if (!topic.IsUndefined())
            {
                if (!topic.IsString())
                    throw Napi::TypeError::New(env_, "alterPublish: 'topic' must be a string");
                newTopic = topic.As<Napi::String>().Utf8Value();
                if (const char *problem = topicProblem(newTopic))
                    throw Napi::TypeError::New(env_, std::string("alterPublish: ") + problem);
            }
            uint8_t newQos = r.qos;
            if (!qos.IsUndefined())
                newQos = qosFrom(qos);
            bool newRetain = r.retain;
            if (!retain.IsUndefined())
            {
                if (!retain.IsBoolean())
                    throw Napi::TypeError::New(env_, "alterPublish: 'retain' must be a boolean");
                newRetain = retain.As<Napi::Boolean>().Value();
            }
            const bool changed = newTopic != r.topic || newQos != r.qos || newRetain != r.retain;
            r.topic = std::move(newTopic);
            r.qos = newQos;
            r.retain = newRetain;
            return changed;
        }
        catch (const Napi::Error &e)
        {
            logLine(fmq::LogError, "dbus-flashmq: the alterPublish handler failed on topic '" + r.topic + "': " + errorText(e) +
                                       "; the publish is left unchanged");
        }
        catch (const std::exception &e)
        {
            logLine(fmq::LogError, std::string("dbus-flashmq: alterPublish failed: ") + e.what());
        }
        catch (...)
        {
        }
        return false;
    }

    void onClientDisconnected(const std::string &clientId) override
    {
        callVoid(handlers_.clientDisconnected, "clientDisconnected", [&](Napi::Env env) {
            return std::vector<napi_value>{Napi::String::New(env, clientId)};
        });
    }

    void onPeriodic() override
    {
        callVoid(handlers_.periodic, "periodic", [](Napi::Env) { return std::vector<napi_value>{}; });
    }

    void onReload(const fmq::PluginOptions &options) override
    {
        callVoid(handlers_.reload, "reload", [&](Napi::Env env) { return std::vector<napi_value>{optionsToJs(env, options)}; });
    }

    bool onShutdown() override
    {
        if (handlers_.shutdown.IsEmpty())
            return true;
        shutdownFinished_ = false;
        bool threw = false;
        callVoid(handlers_.shutdown, "shutdown", [](Napi::Env) { return std::vector<napi_value>{}; }, &threw);
        return threw || shutdownFinished_;
    }

    void purgeExpiredLogins() override
    {
        for (auto it = pending_.begin(); it != pending_.end();)
        {
            if (it->second.client.expired())
                it = pending_.erase(it);
            else
                ++it;
        }
    }

    bool hasHandler(const char *name) const override
    {
        const Napi::FunctionReference *ref = handlerByName(name);
        return ref && !ref->IsEmpty();
    }

private:
    struct PendingLogin
    {
        std::weak_ptr<Client> client;
        std::chrono::steady_clock::time_point since;
    };

    Napi::Reference<Napi::Buffer<char>> scratch_;
    char *scratchData_ = nullptr;

    struct Handlers
    {
        Napi::FunctionReference login, publish, alterPublish, clientDisconnected, periodic, reload, shutdown;
    };

    Napi::FunctionReference *handlerByName(const std::string &name)
    {
        if (name == "login")
            return &handlers_.login;
        if (name == "publish")
            return &handlers_.publish;
        if (name == "alterPublish")
            return &handlers_.alterPublish;
        if (name == "clientDisconnected")
            return &handlers_.clientDisconnected;
        if (name == "periodic")
            return &handlers_.periodic;
        if (name == "reload")
            return &handlers_.reload;
        if (name == "shutdown")
            return &handlers_.shutdown;
        return nullptr;
    }

    const Napi::FunctionReference *handlerByName(const std::string &name) const
    {
        return const_cast<Binding *>(this)->handlerByName(name);
    }

    template <typename MakeArgs>
    void callVoid(Napi::FunctionReference &fn, const char *name, MakeArgs &&makeArgs, bool *threw = nullptr)
    {
        if (fn.IsEmpty())
            return;
        try
        {
            Napi::HandleScope scope(env_);
            std::vector<napi_value> args = makeArgs(env_);
            fn.MakeCallback(env_.Global(), args);
        }
        catch (const Napi::Error &e)
        {
            if (threw)
                *threw = true;
            logLine(fmq::LogError, std::string("dbus-flashmq: the ") + name + " handler failed: " + errorText(e));
        }
        catch (const std::exception &e)
        {
            if (threw)
                *threw = true;
            logLine(fmq::LogError, std::string("dbus-flashmq: calling the ") + name + " handler failed: " + e.what());
        }
        catch (...)
        {
            if (threw)
                *threw = true;
        }
    }

    static Napi::Object optionsToJs(Napi::Env env, const fmq::PluginOptions &options)
    {
        Napi::Object o = Napi::Object::New(env);
        for (const auto &kv : options)
            o.Set(kv.first, Napi::String::New(env, kv.second));
        return o;
    }

    fmq::AuthResult loginResultFrom(const Napi::Value &v)
    {
        if (v.IsBoolean())
            return v.As<Napi::Boolean>().Value() ? fmq::AuthResult::success : fmq::AuthResult::login_denied;
        if (v.IsNumber())
        {
            const double d = v.As<Napi::Number>().DoubleValue();
            const int n = static_cast<int>(d);
            if (static_cast<double>(n) == d && fmq::isKnownAuthResult(n))
                return static_cast<fmq::AuthResult>(n);
        }
        logLine(fmq::LogError, "dbus-flashmq: the login handler returned something that is not a boolean or an AuthResult; "
                               "the login is refused");
        return fmq::AuthResult::error;
    }

    fmq::AuthResult publishResultFrom(const Napi::Value &v, const std::string &topic)
    {
        if (v.IsUndefined() || (v.IsBoolean() && v.As<Napi::Boolean>().Value()))
            return fmq::AuthResult::success;
        if (v.IsBoolean())
            return fmq::AuthResult::acl_denied;
        if (v.IsNumber())
        {
            const double d = v.As<Napi::Number>().DoubleValue();
            const int n = static_cast<int>(d);
            if (static_cast<double>(n) == d && fmq::isKnownAuthResult(n) && n != static_cast<int>(fmq::AuthResult::async))
                return static_cast<fmq::AuthResult>(n);
        }
        logLine(fmq::LogError, "dbus-flashmq: the publish handler returned an unusable result for topic '" + topic +
                                   "'; the publish is denied");
        return fmq::AuthResult::acl_denied;
    }

    static void continueLogin(const std::weak_ptr<Client> &client, fmq::AuthResult result, uint32_t delayMs)
    {
        static const std::string empty;
        if (flashmq_continue_async_authentication_v4)
        {
            flashmq_continue_async_authentication_v4(client, result, empty, empty, delayMs);
            return;
        }
        if (!flashmq_continue_async_authentication)
            return;
        if (delayMs == 0)
        {
            flashmq_continue_async_authentication(client, result, empty, empty);
            return;
        }
        // Brokers before 1.25 cannot delay the answer themselves.
        std::weak_ptr<Client> c = client;
        flashmq_add_task([c, result]() { flashmq_continue_async_authentication(c, result, empty, empty); }, delayMs);
    }

    BindingHost &host(const Napi::CallbackInfo &info)
    {
        if (!host_)
            throw Napi::Error::New(info.Env(), "the flashmq binding only works on the broker's thread, not in a Worker");
        return *host_;
    }

    // ---- methods for JavaScript -------------------------------------------------------------------------------

    // log(level, message)
    Napi::Value Log(const Napi::CallbackInfo &info)
    {
        if (info.Length() < 2 || !info[0].IsNumber() || !info[1].IsString())
            throw Napi::TypeError::New(info.Env(), "log(level: number, message: string)");
        const int level = info[0].As<Napi::Number>().Int32Value();
        if (level != fmq::LogInfo && level != fmq::LogNotice && level != fmq::LogWarning && level != fmq::LogError && level != fmq::LogDebug)
            throw Napi::RangeError::New(info.Env(), "log: unknown level " + std::to_string(level));
        std::string message = info[1].As<Napi::String>().Utf8Value();
        if (message.size() > kMaxLogMessage)
        {
            message.resize(kMaxLogMessage);
            message += " [truncated]";
        }
        logLine(level, message);
        return info.Env().Undefined();
    }

    // publish(topic, payload, qos?, retain?, properties?)
    Napi::Value Publish(const Napi::CallbackInfo &info)
    {
        Napi::Env env = info.Env();
        if (info.Length() < 2 || !info[0].IsString())
            throw Napi::TypeError::New(env, "publish(topic: string, payload: string | Buffer, qos?, retain?, properties?)");
        const std::string topic = info[0].As<Napi::String>().Utf8Value();
        if (const char *problem = topicProblem(topic))
            throw Napi::TypeError::New(env, std::string("publish: ") + problem);
        const std::string payload = valueToBytes(info[1], "publish: the payload");
        const uint8_t qos = qosFrom(info[2]);
        bool retain = false;
        if (!info[3].IsUndefined())
        {
            if (!info[3].IsBoolean())
                throw Napi::TypeError::New(env, "publish: retain must be a boolean");
            retain = info[3].As<Napi::Boolean>().Value();
        }

        uint32_t expiry = 0;
        std::optional<std::string> responseTopic, correlationData, contentType;
        std::optional<fmq::UserProperties> userProperties;
        if (info.Length() > 4 && !info[4].IsUndefined() && !info[4].IsNull())
        {
            if (!info[4].IsObject())
                throw Napi::TypeError::New(env, "publish: properties must be an object");
            Napi::Object p = info[4].As<Napi::Object>();
            Napi::Value v = p.Get("responseTopic");
            if (!v.IsUndefined())
            {
                if (!v.IsString())
                    throw Napi::TypeError::New(env, "publish: responseTopic must be a string");
                responseTopic = v.As<Napi::String>().Utf8Value();
                if (const char *problem = topicProblem(*responseTopic))
                    throw Napi::TypeError::New(env, std::string("publish: responseTopic: ") + problem);
            }
            v = p.Get("correlationData");
            if (!v.IsUndefined())
                correlationData = valueToBytes(v, "publish: correlationData");
            v = p.Get("contentType");
            if (!v.IsUndefined())
            {
                if (!v.IsString())
                    throw Napi::TypeError::New(env, "publish: contentType must be a string");
                contentType = v.As<Napi::String>().Utf8Value();
            }
            v = p.Get("expiryInterval");
            if (!v.IsUndefined())
            {
                if (!v.IsNumber() || v.As<Napi::Number>().DoubleValue() < 0 || v.As<Napi::Number>().DoubleValue() > 4294967295.0)
                    throw Napi::RangeError::New(env, "publish: expiryInterval must be a number of seconds");
                expiry = v.As<Napi::Number>().Uint32Value();
            }
            v = p.Get("userProperties");
            if (!v.IsUndefined())
            {
                if (!v.IsArray())
                    throw Napi::TypeError::New(env, "publish: userProperties must be an array of [name, value] pairs");
                Napi::Array arr = v.As<Napi::Array>();
                userProperties.emplace();
                for (uint32_t i = 0; i < arr.Length(); i++)
                {
                    Napi::Value pair = arr.Get(i);
                    if (!pair.IsArray() || pair.As<Napi::Array>().Length() != 2 || !pair.As<Napi::Array>().Get(0u).IsString() ||
                        !pair.As<Napi::Array>().Get(1u).IsString())
                        throw Napi::TypeError::New(env, "publish: userProperties must be an array of [name, value] string pairs");
                    userProperties->emplace_back(pair.As<Napi::Array>().Get(0u).As<Napi::String>().Utf8Value(),
                                                 pair.As<Napi::Array>().Get(1u).As<Napi::String>().Utf8Value());
                }
            }
        }

        flashmq_publish_message(topic, qos, retain, payload, expiry, userProperties ? &*userProperties : nullptr,
                                responseTopic ? &*responseTopic : nullptr, correlationData ? &*correlationData : nullptr,
                                contentType ? &*contentType : nullptr);
        stats_.published++;
        return env.Undefined();
    }

    // usePayloadScratch(use = true): Buffer | undefined
    // From now on, the payload of a forwarded publish that fits the returned buffer (kPayloadScratchBytes) is copied
    // into it, and the publish handler gets the payload's length (a number) in its place; it must copy the bytes out
    // before anything else can reach the broker. Larger payloads still come as a Buffer of their own. With false,
    // every payload comes as a Buffer again.
    Napi::Value UsePayloadScratch(const Napi::CallbackInfo &info)
    {
        if (info.Length() > 0 && info[0].IsBoolean() && !info[0].As<Napi::Boolean>().Value())
        {
            scratchData_ = nullptr;
            return info.Env().Undefined();
        }
        if (scratch_.IsEmpty())
            scratch_ = Napi::Persistent(Napi::Buffer<char>::New(info.Env(), kPayloadScratchBytes));
        scratchData_ = scratch_.Value().Data();
        return scratch_.Value();
    }

    // publishFrames(frames: Buffer, length?: number): number
    // Many messages in one call. Each frame: u8 flags (bit 0 retain, bits 1-2 QoS), u32le topic length, topic,
    // u32le payload length, payload. The whole buffer is checked before anything is published. With `length`, only
    // the first `length` bytes count: a batch buffer is handed over as it is, without a view made for each call.
    Napi::Value PublishFrames(const Napi::CallbackInfo &info)
    {
        Napi::Env env = info.Env();
        if (info.Length() < 1 || !info[0].IsTypedArray() || (info.Length() >= 2 && !info[1].IsUndefined() && !info[1].IsNumber()))
            throw Napi::TypeError::New(env, "publishFrames(frames: Buffer, length?: number)");
        Napi::TypedArray t = info[0].As<Napi::TypedArray>();
        const uint8_t *data = static_cast<const uint8_t *>(t.ArrayBuffer().Data()) + t.ByteOffset();
        size_t size = t.ByteLength();
        if (info.Length() >= 2 && info[1].IsNumber())
        {
            const double length = info[1].As<Napi::Number>().DoubleValue();
            if (!(length >= 0) || length > static_cast<double>(size))
                throw Napi::RangeError::New(env, "publishFrames: length beyond the buffer");
            size = static_cast<size_t>(length);
        }

        size_t count = 0;
        for (size_t pos = 0; pos < size; count++)
        {
            if (size - pos < 5)
                throw Napi::RangeError::New(env, "publishFrames: truncated frame " + std::to_string(count));
            const uint8_t flags = data[pos];
            if ((flags >> 1) > 2 || (flags & ~0x07u) != 0)
                throw Napi::RangeError::New(env, "publishFrames: bad flags in frame " + std::to_string(count));
            const uint32_t topicLen = readU32le(data + pos + 1);
            pos += 5;
            if (size - pos < static_cast<size_t>(topicLen) + 4)
                throw Napi::RangeError::New(env, "publishFrames: truncated frame " + std::to_string(count));
            if (const char *problem = topicProblem(std::string_view(reinterpret_cast<const char *>(data + pos), topicLen)))
                throw Napi::TypeError::New(env, "publishFrames: frame " + std::to_string(count) + ": " + problem);
            pos += topicLen;
            const uint32_t payloadLen = readU32le(data + pos);
            pos += 4;
            if (size - pos < payloadLen)
                throw Napi::RangeError::New(env, "publishFrames: truncated frame " + std::to_string(count));
            pos += payloadLen;
        }

        std::string topic, payload;
        for (size_t pos = 0; pos < size;)
        {
            const uint8_t flags = data[pos];
            const uint32_t topicLen = readU32le(data + pos + 1);
            pos += 5;
            topic.assign(reinterpret_cast<const char *>(data + pos), topicLen);
            pos += topicLen;
            const uint32_t payloadLen = readU32le(data + pos);
            pos += 4;
            payload.assign(reinterpret_cast<const char *>(data + pos), payloadLen);
            pos += payloadLen;
            flashmq_publish_message(topic, static_cast<uint8_t>(flags >> 1), (flags & 1) != 0, payload, 0, nullptr, nullptr, nullptr, nullptr);
        }
        stats_.published += count;
        return Napi::Number::New(env, static_cast<double>(count));
    }

    // setHandlers({ login?, publish?, alterPublish?, clientDisconnected?, periodic?, reload?, shutdown? })
    Napi::Value SetHandlers(const Napi::CallbackInfo &info)
    {
        Napi::Env env = info.Env();
        host(info);
        if (info.Length() < 1 || !info[0].IsObject())
            throw Napi::TypeError::New(env, "setHandlers(handlers: object)");
        Napi::Object o = info[0].As<Napi::Object>();
        Napi::Array names = o.GetPropertyNames();
        for (uint32_t i = 0; i < names.Length(); i++)
        {
            const std::string name = names.Get(i).ToString().Utf8Value();
            Napi::FunctionReference *ref = handlerByName(name);
            if (!ref)
                throw Napi::TypeError::New(env, "setHandlers: unknown handler '" + name + "'");
            Napi::Value v = o.Get(name);
            if (!v.IsUndefined() && !v.IsNull() && !v.IsFunction())
                throw Napi::TypeError::New(env, "setHandlers: '" + name + "' must be a function");
        }
        for (uint32_t i = 0; i < names.Length(); i++)
        {
            const std::string name = names.Get(i).ToString().Utf8Value();
            Napi::Value v = o.Get(name);
            Napi::FunctionReference *ref = handlerByName(name);
            if (v.IsFunction())
                *ref = Napi::Persistent(v.As<Napi::Function>());
            else
                ref->Reset();
        }
        return env.Undefined();
    }

    static TopicFilterSet filtersFrom(Napi::Env env, const Napi::Value &v, const char *what)
    {
        if (v.IsBoolean())
            return v.As<Napi::Boolean>().Value() ? TopicFilterSet::everything() : TopicFilterSet::nothing();
        if (!v.IsArray())
            throw Napi::TypeError::New(env, std::string("setForwardFilters: '") + what + "' must be true, false or an array of topic filters");
        Napi::Array arr = v.As<Napi::Array>();
        std::vector<TopicFilter> filters;
        for (uint32_t i = 0; i < arr.Length(); i++)
        {
            Napi::Value f = arr.Get(i);
            if (!f.IsString())
                throw Napi::TypeError::New(env, std::string("setForwardFilters: '") + what + "' holds a non-string");
            std::string error;
            auto parsed = TopicFilter::parse(f.As<Napi::String>().Utf8Value(), error);
            if (!parsed)
                throw Napi::TypeError::New(env, std::string("setForwardFilters: '") + what + "': " + error);
            filters.push_back(std::move(*parsed));
        }
        TopicFilterSet set;
        set.setFilters(std::move(filters));
        return set;
    }

    // setForwardFilters({ publish?: true | false | string[], alterPublish?: ..., alterRetainedOnly?: boolean })
    // Which client publishes reach the publish and alterPublish handlers; the rest are allowed without calling
    // JavaScript. Before this is called, every publish goes to the publish handler and none to alterPublish.
    // alterRetainedOnly: of those the alterPublish filters match, only retained ones reach its handler.
    Napi::Value SetForwardFilters(const Napi::CallbackInfo &info)
    {
        Napi::Env env = info.Env();
        BindingHost &h = host(info);
        if (info.Length() < 1 || !info[0].IsObject())
            throw Napi::TypeError::New(env, "setForwardFilters(filters: object)");
        Napi::Object o = info[0].As<Napi::Object>();
        std::optional<TopicFilterSet> publish, alter;
        if (o.Has("publish"))
            publish = filtersFrom(env, o.Get("publish"), "publish");
        if (o.Has("alterPublish"))
            alter = filtersFrom(env, o.Get("alterPublish"), "alterPublish");
        if (publish)
            h.rules().publishForward = std::move(*publish);
        if (alter)
            h.rules().alterForward = std::move(*alter);
        if (o.Has("alterRetainedOnly"))
        {
            Napi::Value v = o.Get("alterRetainedOnly");
            if (!v.IsBoolean())
                throw Napi::TypeError::New(env, "setForwardFilters: 'alterRetainedOnly' must be a boolean");
            h.rules().alterRetainedOnly = v.As<Napi::Boolean>().Value();
        }
        return env.Undefined();
    }

    // setReadRules(rules: { filter, contains?, containsIgnoreCase?, usernames?, gate? }[])
    Napi::Value SetReadRules(const Napi::CallbackInfo &info)
    {
        Napi::Env env = info.Env();
        BindingHost &h = host(info);
        if (info.Length() < 1 || !info[0].IsArray())
            throw Napi::TypeError::New(env, "setReadRules(rules: array)");
        Napi::Array arr = info[0].As<Napi::Array>();
        std::vector<ReadRule> rules;
        for (uint32_t i = 0; i < arr.Length(); i++)
        {
            const std::string where = "setReadRules: rule " + std::to_string(i) + ": ";
            Napi::Value rv = arr.Get(i);
            if (!rv.IsObject())
                throw Napi::TypeError::New(env, where + "not an object");
            Napi::Object r = rv.As<Napi::Object>();
            Napi::Value filter = r.Get("filter");
            if (!filter.IsString())
                throw Napi::TypeError::New(env, where + "'filter' must be a string");
            std::string error;
            auto parsed = TopicFilter::parse(filter.As<Napi::String>().Utf8Value(), error);
            if (!parsed)
                throw Napi::TypeError::New(env, where + error);
            ReadRule rule{std::move(*parsed), {}, {}, {}, {}};
            auto optString = [&](const char *key, std::string &out) {
                Napi::Value v = r.Get(key);
                if (v.IsUndefined())
                    return;
                if (!v.IsString())
                    throw Napi::TypeError::New(env, where + "'" + key + "' must be a string");
                out = v.As<Napi::String>().Utf8Value();
            };
            optString("contains", rule.contains);
            optString("containsIgnoreCase", rule.containsIgnoreCase);
            optString("gate", rule.gate);
            Napi::Value users = r.Get("usernames");
            if (!users.IsUndefined())
            {
                if (!users.IsArray())
                    throw Napi::TypeError::New(env, where + "'usernames' must be an array of strings");
                Napi::Array ua = users.As<Napi::Array>();
                for (uint32_t j = 0; j < ua.Length(); j++)
                {
                    if (!ua.Get(j).IsString())
                        throw Napi::TypeError::New(env, where + "'usernames' must be an array of strings");
                    rule.usernames.push_back(ua.Get(j).As<Napi::String>().Utf8Value());
                }
            }
            rules.push_back(std::move(rule));
        }
        h.rules().read.setRules(std::move(rules));
        return env.Undefined();
    }

    // openReadGate(name, durationMs): suspends the read rules of that gate for a while (0 closes it).
    Napi::Value OpenReadGate(const Napi::CallbackInfo &info)
    {
        Napi::Env env = info.Env();
        BindingHost &h = host(info);
        if (info.Length() < 2 || !info[0].IsString() || !info[1].IsNumber())
            throw Napi::TypeError::New(env, "openReadGate(name: string, durationMs: number)");
        const double ms = info[1].As<Napi::Number>().DoubleValue();
        if (!(ms >= 0 && ms <= 1e12))
            throw Napi::RangeError::New(env, "openReadGate: durationMs out of range");
        h.rules().read.openGate(info[0].As<Napi::String>().Utf8Value(), std::chrono::milliseconds(static_cast<int64_t>(ms)),
                                ReadAcl::Clock::now());
        return env.Undefined();
    }

    // finishLogin(authId, result, delayMs?): answers a login the login handler left pending ('async').
    Napi::Value FinishLogin(const Napi::CallbackInfo &info)
    {
        Napi::Env env = info.Env();
        if (info.Length() < 2 || !info[0].IsNumber() || !info[1].IsNumber())
            throw Napi::TypeError::New(env, "finishLogin(authId: number, result: number, delayMs?: number)");
        const int result = info[1].As<Napi::Number>().Int32Value();
        if (!fmq::isKnownAuthResult(result) || result == static_cast<int>(fmq::AuthResult::async))
            throw Napi::RangeError::New(env, "finishLogin: " + std::to_string(result) + " is not a final AuthResult");
        double delay = 0;
        if (info.Length() > 2 && !info[2].IsUndefined())
        {
            if (!info[2].IsNumber())
                throw Napi::TypeError::New(env, "finishLogin: delayMs must be a number");
            delay = info[2].As<Napi::Number>().DoubleValue();
            if (!(delay >= 0 && delay <= 600000))
                throw Napi::RangeError::New(env, "finishLogin: delayMs must be between 0 and 600000");
        }
        auto it = pending_.find(static_cast<uint64_t>(info[0].As<Napi::Number>().DoubleValue()));
        if (it == pending_.end())
            return Napi::Boolean::New(env, false);
        std::weak_ptr<Client> client = it->second.client;
        pending_.erase(it);
        continueLogin(client, static_cast<fmq::AuthResult>(result), static_cast<uint32_t>(delay));
        return Napi::Boolean::New(env, !client.expired());
    }

    static std::weak_ptr<Client> clientOf(const std::string &clientId, const std::string &username, std::weak_ptr<Session> *sessionOut)
    {
        std::weak_ptr<Session> session;
        flashmq_get_session_pointer(clientId, username, session);
        std::weak_ptr<Client> client;
        if (!session.expired())
            flashmq_get_client_pointer(session, client);
        if (sessionOut)
            *sessionOut = session;
        return client;
    }

    // clientAddress(clientId, username): the client's IP address as text, or undefined.
    Napi::Value ClientAddress(const Napi::CallbackInfo &info)
    {
        Napi::Env env = info.Env();
        if (info.Length() < 2 || !info[0].IsString() || !info[1].IsString())
            throw Napi::TypeError::New(env, "clientAddress(clientId: string, username: string)");
        std::weak_ptr<Client> client = clientOf(info[0].As<Napi::String>().Utf8Value(), info[1].As<Napi::String>().Utf8Value(), nullptr);
        if (client.expired())
            return env.Undefined();
        const std::string text = clientAddress(client);
        return text.empty() ? env.Undefined() : Napi::String::New(env, text);
    }

    // disconnectClient(clientId, username, alsoSession, reasonCode): whether such a session was found.
    Napi::Value DisconnectClient(const Napi::CallbackInfo &info)
    {
        Napi::Env env = info.Env();
        if (info.Length() < 4 || !info[0].IsString() || !info[1].IsString() || !info[2].IsBoolean() || !info[3].IsNumber())
            throw Napi::TypeError::New(env, "disconnectClient(clientId: string, username: string, alsoSession: boolean, reasonCode: number)");
        const int reason = info[3].As<Napi::Number>().Int32Value();
        if (reason != 0 && (reason < 128 || reason > 162))
            throw Napi::RangeError::New(env, "disconnectClient: " + std::to_string(reason) + " is not a disconnect reason code");
        std::weak_ptr<Session> session;
        flashmq_get_session_pointer(info[0].As<Napi::String>().Utf8Value(), info[1].As<Napi::String>().Utf8Value(), session);
        if (session.expired())
            return Napi::Boolean::New(env, false);
        flashmq_plugin_remove_client_v4(session, info[2].As<Napi::Boolean>().Value(), static_cast<fmq::ServerDisconnectReasons>(reason));
        return Napi::Boolean::New(env, true);
    }

    // setIntegrationPolicy({ enabled, integrationsUser, bridgeUsers }): the read rules of I/ topics.
    Napi::Value SetIntegrationPolicy(const Napi::CallbackInfo &info)
    {
        Napi::Env env = info.Env();
        BindingHost &h = host(info);
        if (info.Length() < 1 || !info[0].IsObject())
            throw Napi::TypeError::New(env, "setIntegrationPolicy({ enabled, integrationsUser, bridgeUsers })");
        Napi::Object o = info[0].As<Napi::Object>();
        IntegrationPolicy policy;
        Napi::Value enabled = o.Get("enabled");
        Napi::Value user = o.Get("integrationsUser");
        Napi::Value bridges = o.Get("bridgeUsers");
        if (!enabled.IsBoolean() || !user.IsString() || !bridges.IsArray())
            throw Napi::TypeError::New(env, "setIntegrationPolicy: enabled is a boolean, integrationsUser a string, bridgeUsers an array of strings");
        policy.enabled = enabled.As<Napi::Boolean>().Value();
        policy.integrationsUser = user.As<Napi::String>().Utf8Value();
        Napi::Array arr = bridges.As<Napi::Array>();
        for (uint32_t i = 0; i < arr.Length(); i++)
        {
            if (!arr.Get(i).IsString())
                throw Napi::TypeError::New(env, "setIntegrationPolicy: bridgeUsers holds a non-string");
            policy.bridgeUsers.push_back(arr.Get(i).As<Napi::String>().Utf8Value());
        }
        h.rules().read.setIntegrationPolicy(std::move(policy));
        return env.Undefined();
    }

    // setTrustedClient(clientId, username, trusted): whether deliveries to this client count as local.
    Napi::Value SetTrustedClient(const Napi::CallbackInfo &info)
    {
        Napi::Env env = info.Env();
        BindingHost &h = host(info);
        if (info.Length() < 3 || !info[0].IsString() || !info[1].IsString() || !info[2].IsBoolean())
            throw Napi::TypeError::New(env, "setTrustedClient(clientId: string, username: string, trusted: boolean)");
        h.rules().read.setTrusted(info[0].As<Napi::String>().Utf8Value(), info[1].As<Napi::String>().Utf8Value(), info[2].As<Napi::Boolean>().Value());
        return env.Undefined();
    }

    // verifyPassword(password, hash): Promise<boolean>. crypt(3) on a thread of the pool, never on the loop
    // (bcrypt takes tens of milliseconds by design).
    Napi::Value VerifyPassword(const Napi::CallbackInfo &info)
    {
        Napi::Env env = info.Env();
        if (info.Length() < 2 || !info[0].IsString() || !info[1].IsString())
            throw Napi::TypeError::New(env, "verifyPassword(password: string, hash: string)");
        auto *worker = new CryptWorker(env, info[0].As<Napi::String>().Utf8Value(), info[1].As<Napi::String>().Utf8Value());
        Napi::Promise promise = worker->promise();
        worker->Queue();
        return promise;
    }

    Napi::Value Ready(const Napi::CallbackInfo &info)
    {
        host(info).ready();
        return info.Env().Undefined();
    }

    // restart(reason): JavaScript cannot go on; it is stopped now and started again later (the bootstrap's way out of
    // a storm of uncaught errors).
    Napi::Value Restart(const Napi::CallbackInfo &info)
    {
        if (info.Length() < 1 || !info[0].IsString())
            throw Napi::TypeError::New(info.Env(), "restart(reason: string)");
        host(info).requestRestart(info[0].As<Napi::String>().Utf8Value());
        return info.Env().Undefined();
    }

    // entryCodeCache(): { source, cachedData? } — the entry's file as the code cache read and checked it, and the cached
    // data for it; undefined when the cache did not read it (native/code_cache.h).
    Napi::Value EntryCodeCache(const Napi::CallbackInfo &info)
    {
#ifdef DFMQ_CODE_CACHE
        std::vector<uint8_t> source, cachedData;
        if (!code_cache::takeEntry(source, cachedData))
            return info.Env().Undefined();
        Napi::Object out = Napi::Object::New(info.Env());
        out.Set("source", Napi::Buffer<uint8_t>::Copy(info.Env(), source.data(), source.size()));
        if (!cachedData.empty())
            out.Set("cachedData", Napi::Buffer<uint8_t>::Copy(info.Env(), cachedData.data(), cachedData.size()));
        return out;
#else
        return info.Env().Undefined();
#endif
    }

    // entryCompiled(fn: Function, rejected: boolean): the function compiled from the entry, and whether V8 refused its
    // cached data.
    Napi::Value EntryCompiled(const Napi::CallbackInfo &info)
    {
        if (info.Length() < 2 || !info[0].IsFunction() || !info[1].IsBoolean())
            throw Napi::TypeError::New(info.Env(), "entryCompiled(fn: Function, rejected: boolean)");
#ifdef DFMQ_CODE_CACHE
        napi_value value = info[0];
        v8::Local<v8::Function> fn;
        // In Node a napi_value is the address a v8::Local holds (its v8impl::V8LocalValueFromJsValue copies it the same way).
        static_assert(sizeof(fn) == sizeof(value), "napi_value is a v8::Local");
        std::memcpy(static_cast<void *>(&fn), &value, sizeof value);
        code_cache::entryCompiled(v8::Isolate::GetCurrent(), fn, info[1].As<Napi::Boolean>().Value());
#endif
        return info.Env().Undefined();
    }

    Napi::Value ShutdownDone(const Napi::CallbackInfo &info)
    {
        shutdownFinished_ = true;
        host(info).shutdownDone();
        return info.Env().Undefined();
    }

    // reduceMemory(): V8 collects everything it can and shrinks its heap, and the host gives back what start-up or a discovery used
    // (malloc_trim, libnode's read-only pages); after each discovery (ts/util/memory-trim.ts).
    Napi::Value ReduceMemory(const Napi::CallbackInfo &info)
    {
        host(info).reduceMemory();
        return info.Env().Undefined();
    }

    Napi::Value Options(const Napi::CallbackInfo &info)
    {
        return optionsToJs(info.Env(), host(info).options());
    }

    Napi::Value Capabilities(const Napi::CallbackInfo &info)
    {
        Napi::Env env = info.Env();
        Napi::Object o = Napi::Object::New(env);
        o.Set("pluginVersion", Napi::Number::New(env, fmq::kPluginVersion));
        o.Set("delayedLoginAnswers", Napi::Boolean::New(env, flashmq_continue_async_authentication_v4 != nullptr));
        o.Set("deferredReadiness", Napi::Boolean::New(env, flashmq_defer_thread_ready != nullptr && flashmq_signal_thread_ready != nullptr));
        o.Set("memoryPlan", Napi::String::New(env, dfmq::plannedSummary()));
        return o;
    }

    Napi::Value Stats(const Napi::CallbackInfo &info)
    {
        Napi::Env env = info.Env();
        Napi::Object o = Napi::Object::New(env);
        o.Set("pendingLogins", Napi::Number::New(env, static_cast<double>(pending_.size())));
        o.Set("published", Napi::Number::New(env, static_cast<double>(stats_.published)));
        o.Set("readRules", Napi::Number::New(env, host_ ? static_cast<double>(host_->rules().read.ruleCount()) : 0.0));
        return o;
    }

    Napi::Env env_;
    BindingHost *host_;
    Handlers handlers_;
    std::unordered_map<uint64_t, PendingLogin> pending_;
    uint64_t nextAuthId_ = 1;
    bool shutdownFinished_ = false;
    struct
    {
        uint64_t published = 0;
    } stats_;
};

Napi::Object initBinding(Napi::Env env, Napi::Object exports)
{
    return Binding::Init(env, exports);
}

} // namespace

napi_value__ *registerFlashmqBinding(napi_env__ *env, napi_value__ *exports)
{
    return Napi::RegisterModule(env, exports, initBinding);
}

} // namespace dfmq

namespace fmq
{

bool isKnownAuthResult(int v)
{
    switch (v)
    {
    case 0: case 10: case 11: case 12: case 13: case 14: case 50: case 51: case 52: case 53: case -4:
        return true;
    default:
        return false;
    }
}

} // namespace fmq
