// A test double of the broker for the binding tests: it defines every flashmq_* host function (recording the
// calls), hosts the binding like the plugin does, and lets JavaScript drive the hooks through `testing`.
// Built only into the node-gyp test addon (binding.gyp), never into the plugin.

#include <napi.h>

#include <arpa/inet.h>
#include <netinet/in.h>

#include <cstdarg>
#include <cstring>
#include <map>
#include <new>
#include <stdexcept>

#include "../hooks.h"
#include "../memory_plan.h"
#include "../status_file.h"

// The broker's opaque types, given bodies here for the fakes.
class Client
{
public:
    std::string clientId;
    std::string address;
};

class Session
{
public:
    std::string clientId;
    std::string username;
    std::shared_ptr<Client> client;
};

namespace
{

struct Call
{
    std::string fn;
    std::string topic;
    std::string payload;
    int level = 0;
    int qos = 0;
    bool retain = false;
    uint32_t expiry = 0;
    std::optional<std::string> responseTopic, correlationData, contentType;
    std::optional<fmq::UserProperties> userProperties;
    std::string clientId;
    int result = 0;
    uint32_t delay = 0;
    bool alsoSession = false;
    int reason = 0;
};

struct Task
{
    std::function<void()> fn;
    uint32_t delay;
};

class FakeHost : public dfmq::BindingHost
{
public:
    void attach(dfmq::HookTarget *t) override { target = t; }
    void detach(dfmq::HookTarget *t) override
    {
        if (target == t)
            target = nullptr;
    }
    dfmq::HookRules &rules() override { return hookRules; }
    const fmq::PluginOptions &options() const override { return opts; }
    void ready() override { readyCalls++; }
    void shutdownDone() override { shutdownDoneCalls++; }
    void reduceMemory() override { reduceMemoryCalls++; }
    void requestRestart(const std::string &reason) override
    {
        restartCalls++;
        lastRestartReason = reason;
    }

    dfmq::HookTarget *target = nullptr;
    dfmq::HookRules hookRules;
    fmq::PluginOptions opts;
    int readyCalls = 0;
    int shutdownDoneCalls = 0;
    int reduceMemoryCalls = 0;
    int restartCalls = 0;
    std::string lastRestartReason;
    // Host functions that throw when called (a testing switch): name -> 'bad_alloc' | 'runtime_error' | 'other'.
    std::map<std::string, std::string> throwing;

    std::vector<Call> calls;
    std::map<uint32_t, Task> tasks;
    uint32_t nextTask = 1;
    std::map<std::string, std::shared_ptr<Session>> sessions; // by client id
};

FakeHost &host()
{
    static FakeHost *h = new FakeHost();
    return *h;
}

// Throws what the switch says for this host function, as the real broker may (out of memory in a string copy,
// FlashMQ's own errors), so the tests see what reaches JavaScript.
void maybeThrow(const char *fn)
{
    auto it = host().throwing.find(fn);
    if (it == host().throwing.end())
        return;
    if (it->second == "bad_alloc")
        throw std::bad_alloc();
    if (it->second == "runtime_error")
        throw std::runtime_error(std::string("fake broker: ") + fn + " fails on purpose");
    throw 42; // not a std::exception at all
}

std::shared_ptr<Client> makeClient(const std::string &clientId, const std::string &address)
{
    auto c = std::make_shared<Client>();
    c->clientId = clientId;
    c->address = address;
    return c;
}

} // namespace

// ---- the host functions ------------------------------------------------------------------------------------------

extern "C"
{

void flashmq_logf(int level, const char *format, ...)
{
    maybeThrow("log");
    char buf[65536];
    va_list ap;
    va_start(ap, format);
    vsnprintf(buf, sizeof(buf), format, ap);
    va_end(ap);
    Call c;
    c.fn = "log";
    c.level = level;
    c.payload = buf;
    host().calls.push_back(std::move(c));
}

void flashmq_publish_message(const std::string &topic, const uint8_t qos, const bool retain, const std::string &payload, uint32_t expiryInterval,
                             const fmq::UserProperties *userProperties, const std::string *responseTopic, const std::string *correlationData,
                             const std::string *contentType)
{
    maybeThrow("publish");
    Call c;
    c.fn = "publish";
    c.topic = topic;
    c.payload = payload;
    c.qos = qos;
    c.retain = retain;
    c.expiry = expiryInterval;
    if (userProperties)
        c.userProperties = *userProperties;
    if (responseTopic)
        c.responseTopic = *responseTopic;
    if (correlationData)
        c.correlationData = *correlationData;
    if (contentType)
        c.contentType = *contentType;
    host().calls.push_back(std::move(c));
}

void flashmq_poll_add_fd(int, uint32_t, const std::weak_ptr<void> &)
{
}

void flashmq_poll_remove_fd(uint32_t)
{
}

uint32_t flashmq_add_task(std::function<void()> f, uint32_t delay_in_ms)
{
    maybeThrow("addTask");
    const uint32_t id = host().nextTask++;
    host().tasks[id] = Task{std::move(f), delay_in_ms};
    Call c;
    c.fn = "addTask";
    c.delay = delay_in_ms;
    host().calls.push_back(std::move(c));
    return id;
}

void flashmq_remove_task(uint32_t id)
{
    host().tasks.erase(id);
}

void flashmq_get_client_address_v4(const std::weak_ptr<Client> &client, std::string *text, sockaddr *addr, socklen_t *addrlen)
{
    maybeThrow("clientAddress");
    if (addr && addrlen)
        std::memset(addr, 0, *addrlen);
    std::shared_ptr<Client> c = client.lock();
    if (!c)
        return;
    if (text)
        *text = c->address;
    if (!addr || !addrlen)
        return;
    sockaddr_in in4{};
    sockaddr_in6 in6{};
    if (inet_pton(AF_INET, c->address.c_str(), &in4.sin_addr) == 1)
    {
        in4.sin_family = AF_INET;
        const socklen_t n = std::min<socklen_t>(sizeof(in4), *addrlen);
        std::memcpy(addr, &in4, n);
        *addrlen = n;
    }
    else if (inet_pton(AF_INET6, c->address.c_str(), &in6.sin6_addr) == 1)
    {
        in6.sin6_family = AF_INET6;
        const socklen_t n = std::min<socklen_t>(sizeof(in6), *addrlen);
        std::memcpy(addr, &in6, n);
        *addrlen = n;
    }
}

void flashmq_get_session_pointer(const std::string &clientid, const std::string &username, std::weak_ptr<Session> &sessionOut)
{
    maybeThrow("sessionPointer");
    auto it = host().sessions.find(clientid);
    if (it != host().sessions.end() && it->second->username == username)
        sessionOut = it->second;
}

void flashmq_get_client_pointer(const std::weak_ptr<Session> &session, std::weak_ptr<Client> &clientOut)
{
    if (auto s = session.lock())
        clientOut = s->client;
}

void flashmq_plugin_remove_client_v4(const std::weak_ptr<Session> &session, bool alsoSession, fmq::ServerDisconnectReasons reasonCode)
{
    maybeThrow("removeClient");
    Call c;
    c.fn = "removeClient";
    if (auto s = session.lock())
        c.clientId = s->clientId;
    c.alsoSession = alsoSession;
    c.reason = static_cast<int>(reasonCode);
    host().calls.push_back(std::move(c));
}

void flashmq_continue_async_authentication_v4(const std::weak_ptr<Client> &client, fmq::AuthResult result, const std::string &,
                                              const std::string &, const uint32_t delay_in_ms)
{
    maybeThrow("continueLogin");
    Call c;
    c.fn = "continueLogin";
    if (auto cl = client.lock())
        c.clientId = cl->clientId;
    c.result = static_cast<int>(result);
    c.delay = delay_in_ms;
    host().calls.push_back(std::move(c));
}

void flashmq_continue_async_authentication(const std::weak_ptr<Client> &client, fmq::AuthResult result, const std::string &a,
                                           const std::string &b)
{
    flashmq_continue_async_authentication_v4(client, result, a, b, 0);
}

void flashmq_defer_thread_ready()
{
}

void flashmq_signal_thread_ready()
{
}

} // extern "C"

// ---- the JavaScript side of the test double ----------------------------------------------------------------------

namespace
{

std::string str(const Napi::Value &v)
{
    return v.IsString() ? v.As<Napi::String>().Utf8Value() : std::string();
}

std::string bytes(const Napi::Value &v)
{
    if (v.IsBuffer())
    {
        auto b = v.As<Napi::Buffer<char>>();
        return std::string(b.Data(), b.Length());
    }
    return str(v);
}

std::optional<fmq::UserProperties> userProps(const Napi::Value &v)
{
    if (!v.IsArray())
        return std::nullopt;
    fmq::UserProperties out;
    Napi::Array a = v.As<Napi::Array>();
    for (uint32_t i = 0; i < a.Length(); i++)
    {
        Napi::Array pair = a.Get(i).As<Napi::Array>();
        out.emplace_back(str(pair.Get(0u)), str(pair.Get(1u)));
    }
    return out;
}

dfmq::HookTarget &target(Napi::Env env)
{
    if (!host().target)
        throw Napi::Error::New(env, "no binding is attached to the fake host");
    return *host().target;
}

Napi::Value TakeCalls(const Napi::CallbackInfo &info)
{
    Napi::Env env = info.Env();
    Napi::Array out = Napi::Array::New(env);
    uint32_t i = 0;
    for (const Call &c : host().calls)
    {
        Napi::Object o = Napi::Object::New(env);
        o.Set("fn", c.fn);
        if (c.fn == "log")
        {
            o.Set("level", c.level);
            o.Set("message", c.payload);
        }
        else if (c.fn == "publish")
        {
            o.Set("topic", c.topic);
            o.Set("payload", Napi::Buffer<char>::Copy(env, c.payload.data(), c.payload.size()));
            o.Set("qos", c.qos);
            o.Set("retain", c.retain);
            o.Set("expiryInterval", c.expiry);
            if (c.responseTopic)
                o.Set("responseTopic", *c.responseTopic);
            if (c.correlationData)
                o.Set("correlationData", Napi::Buffer<char>::Copy(env, c.correlationData->data(), c.correlationData->size()));
            if (c.contentType)
                o.Set("contentType", *c.contentType);
            if (c.userProperties)
            {
                Napi::Array props = Napi::Array::New(env);
                uint32_t j = 0;
                for (const auto &kv : *c.userProperties)
                {
                    Napi::Array pair = Napi::Array::New(env);
                    pair.Set(0u, kv.first);
                    pair.Set(1u, kv.second);
                    props.Set(j++, pair);
                }
                o.Set("userProperties", props);
            }
        }
        else if (c.fn == "continueLogin")
        {
            o.Set("clientId", c.clientId);
            o.Set("result", c.result);
            o.Set("delay", c.delay);
        }
        else if (c.fn == "removeClient")
        {
            o.Set("clientId", c.clientId);
            o.Set("alsoSession", c.alsoSession);
            o.Set("reason", c.reason);
        }
        else if (c.fn == "addTask")
        {
            o.Set("delay", c.delay);
        }
        out.Set(i++, o);
    }
    host().calls.clear();
    return out;
}

Napi::Value SetOptions(const Napi::CallbackInfo &info)
{
    host().opts.clear();
    Napi::Object o = info[0].As<Napi::Object>();
    Napi::Array names = o.GetPropertyNames();
    for (uint32_t i = 0; i < names.Length(); i++)
    {
        const std::string k = str(names.Get(i));
        host().opts[k] = str(o.Get(k));
    }
    return info.Env().Undefined();
}

// login(clientId, username, password, address, userProperties?): the AuthResult the hook returned
Napi::Value Login(const Napi::CallbackInfo &info)
{
    const std::string clientId = str(info[0]);
    auto session = std::make_shared<Session>();
    session->clientId = clientId;
    session->username = str(info[1]);
    session->client = makeClient(clientId, str(info[3]));
    host().sessions[clientId] = session;
    const std::string username = str(info[1]);
    const std::string password = str(info[2]);
    std::optional<fmq::UserProperties> props = userProps(info[4]);
    std::weak_ptr<Client> weak = session->client;
    const fmq::AuthResult r = target(info.Env()).onLogin(dfmq::LoginRequest{clientId, username, password, props ? &*props : nullptr, weak});
    return Napi::Number::New(info.Env(), static_cast<int>(r));
}

// dropClient(clientId): the client goes away (its weak pointers expire)
Napi::Value DropClient(const Napi::CallbackInfo &info)
{
    host().sessions.erase(str(info[0]));
    return info.Env().Undefined();
}

// publish(clientId, username, topic, payload, qos, retain, { responseTopic?, correlationData?, userProperties? }?)
Napi::Value Publish(const Napi::CallbackInfo &info)
{
    const std::string clientId = str(info[0]), username = str(info[1]), topic = str(info[2]);
    const std::string payload = bytes(info[3]);
    std::optional<std::string> responseTopic, correlationData;
    std::optional<fmq::UserProperties> props;
    if (info.Length() > 6 && info[6].IsObject())
    {
        Napi::Object p = info[6].As<Napi::Object>();
        if (p.Has("responseTopic"))
            responseTopic = str(p.Get("responseTopic"));
        if (p.Has("correlationData"))
            correlationData = bytes(p.Get("correlationData"));
        props = userProps(p.Get("userProperties"));
    }
    const fmq::AuthResult r = target(info.Env()).onPublish(dfmq::PublishRequest{
        clientId, username, topic, payload, static_cast<uint8_t>(info[4].As<Napi::Number>().Uint32Value()), info[5].As<Napi::Boolean>().Value(),
        correlationData, responseTopic, props ? &*props : nullptr});
    return Napi::Number::New(info.Env(), static_cast<int>(r));
}

// alterPublish(clientId, topic, qos, retain): { changed, topic, qos, retain }
Napi::Value AlterPublish(const Napi::CallbackInfo &info)
{
    const std::string clientId = str(info[0]);
    std::string topic = str(info[1]);
    uint8_t qos = static_cast<uint8_t>(info[2].As<Napi::Number>().Uint32Value());
    bool retain = info[3].As<Napi::Boolean>().Value();
    const bool changed = target(info.Env()).onAlterPublish(dfmq::AlterPublishRequest{clientId, topic, qos, retain});
    Napi::Object o = Napi::Object::New(info.Env());
    o.Set("changed", changed);
    o.Set("topic", topic);
    o.Set("qos", qos);
    o.Set("retain", retain);
    return o;
}

// readAllowed(username, topic, clientId?): the read ACL's answer for a delivery
Napi::Value ReadAllowed(const Napi::CallbackInfo &info)
{
    const std::string topic = str(info[1]);
    return Napi::Boolean::New(info.Env(), host().hookRules.read.allows(str(info[2]), str(info[0]), topic, dfmq::splitTopic(topic)));
}

// forwards('publish' | 'alterPublish', topic, retain?): whether such a publish would reach JavaScript
Napi::Value Forwards(const Napi::CallbackInfo &info)
{
    const std::string kind = str(info[0]);
    const std::vector<std::string> sub = dfmq::splitTopic(str(info[1]));
    const bool retain = info.Length() > 2 && info[2].IsBoolean() && info[2].As<Napi::Boolean>().Value();
    if (kind == "publish")
        return Napi::Boolean::New(info.Env(), host().hookRules.publishForward.matches(sub));
    return Napi::Boolean::New(info.Env(), host().hookRules.forwardsAlter(sub, retain));
}

Napi::Value ClientDisconnected(const Napi::CallbackInfo &info)
{
    target(info.Env()).onClientDisconnected(str(info[0]));
    return info.Env().Undefined();
}

Napi::Value Periodic(const Napi::CallbackInfo &info)
{
    target(info.Env()).purgeExpiredLogins();
    target(info.Env()).onPeriodic();
    return info.Env().Undefined();
}

Napi::Value Reload(const Napi::CallbackInfo &info)
{
    SetOptions(info);
    target(info.Env()).onReload(host().opts);
    return info.Env().Undefined();
}

Napi::Value Shutdown(const Napi::CallbackInfo &info)
{
    return Napi::Boolean::New(info.Env(), target(info.Env()).onShutdown());
}

// runTasks(): runs every queued broker task once; returns how many ran
Napi::Value RunTasks(const Napi::CallbackInfo &info)
{
    std::map<uint32_t, Task> tasks;
    tasks.swap(host().tasks);
    for (auto &t : tasks)
        t.second.fn();
    return Napi::Number::New(info.Env(), static_cast<double>(tasks.size()));
}

Napi::Value Counters(const Napi::CallbackInfo &info)
{
    Napi::Object o = Napi::Object::New(info.Env());
    o.Set("ready", host().readyCalls);
    o.Set("shutdownDone", host().shutdownDoneCalls);
    o.Set("reduceMemory", host().reduceMemoryCalls);
    o.Set("pendingTasks", static_cast<double>(host().tasks.size()));
    o.Set("restart", host().restartCalls);
    o.Set("restartReason", host().lastRestartReason);
    return o;
}

// throwFrom(fn, kind | undefined): the host function `fn` throws from now on ('bad_alloc', 'runtime_error', 'other'),
// or no longer.
Napi::Value ThrowFrom(const Napi::CallbackInfo &info)
{
    const std::string fn = str(info[0]);
    if (info[1].IsString())
        host().throwing[fn] = str(info[1]);
    else
        host().throwing.erase(fn);
    return info.Env().Undefined();
}

// planMemory(process, request): the memory plan (native/memory_plan.cc) for the given limits and options; sizes
// in MiB on both sides.
Napi::Value PlanMemory(const Napi::CallbackInfo &info)
{
    const Napi::Object in = info[0].As<Napi::Object>();
    const Napi::Object req = info[1].IsObject() ? info[1].As<Napi::Object>() : Napi::Object::New(info.Env());
    const auto mib = [](const Napi::Object &o, const char *key) -> uint64_t {
        return o.Has(key) ? static_cast<uint64_t>(o.Get(key).As<Napi::Number>().DoubleValue() * 1048576.0) : 0;
    };
    const auto num = [](const Napi::Object &o, const char *key, int fallback) {
        return o.Has(key) ? o.Get(key).As<Napi::Number>().Int32Value() : fallback;
    };
    const auto flag = [](const Napi::Object &o, const char *key) { return o.Has(key) && o.Get(key).ToBoolean().Value(); };
    dfmq::ProcessMemory p;
    p.addressSpaceLimit = mib(in, "addressSpaceLimit");
    p.dataLimit = mib(in, "dataLimit");
    p.stackLimit = mib(in, "stackLimit");
    p.physicalMemory = mib(in, "physicalMemory");
    p.addressSpaceUsed = mib(in, "addressSpaceUsed");
    p.dataUsed = mib(in, "dataUsed");
    p.pointerBytes = static_cast<unsigned>(num(in, "pointerBytes", 8));
    dfmq::MemoryRequest r;
    r.platformThreads = num(req, "platformThreads", -1);
    r.threadpoolSize = num(req, "threadpoolSize", -1);
    r.mallocArenaMax = num(req, "mallocArenaMax", -1);
    r.threadStackKb = num(req, "threadStackKb", -1);
    r.semiSpaceGiven = flag(req, "semiSpaceGiven");
    r.oldSpaceGiven = flag(req, "oldSpaceGiven");
    r.jitlessGiven = flag(req, "jitlessGiven");
    const dfmq::MemoryPlan plan = dfmq::planMemory(p, r);
    Napi::Env env = info.Env();
    Napi::Object o = Napi::Object::New(env);
    o.Set("platformThreads", plan.platformThreads);
    o.Set("threadpoolSize", plan.threadpoolSize);
    o.Set("threadStackKb", static_cast<double>(plan.threadStack / 1024));
    o.Set("mallocArenaMax", plan.mallocArenaMax);
    o.Set("semiSpaceMb", plan.semiSpaceMb);
    o.Set("oldSpaceMb", plan.oldSpaceMb);
    o.Set("jitless", plan.jitless);
    Napi::Array args = Napi::Array::New(env, plan.v8Args.size());
    for (size_t i = 0; i < plan.v8Args.size(); i++)
        args.Set(static_cast<uint32_t>(i), plan.v8Args[i]);
    o.Set("v8Args", args);
    o.Set("summary", plan.summary);
    o.Set("shortfall", plan.shortfall);
    return o;
}

// statusJson(state, since, pid, reason): the text the status file gets while JavaScript is down.
Napi::Value StatusJson(const Napi::CallbackInfo &info)
{
    return Napi::String::New(info.Env(), dfmq::statusJson(str(info[0]).c_str(), static_cast<std::time_t>(info[1].As<Napi::Number>().DoubleValue()),
                                                          static_cast<long>(info[2].As<Napi::Number>().DoubleValue()), str(info[3])));
}

} // namespace

namespace dfmq::testing
{

void installFakeHost()
{
    setCurrentBindingHost(&host());
}

Napi::Object testingExports(Napi::Env env)
{
    Napi::Object t = Napi::Object::New(env);
    t.Set("takeCalls", Napi::Function::New(env, TakeCalls));
    t.Set("setOptions", Napi::Function::New(env, SetOptions));
    t.Set("login", Napi::Function::New(env, Login));
    t.Set("dropClient", Napi::Function::New(env, DropClient));
    t.Set("publish", Napi::Function::New(env, Publish));
    t.Set("alterPublish", Napi::Function::New(env, AlterPublish));
    t.Set("readAllowed", Napi::Function::New(env, ReadAllowed));
    t.Set("forwards", Napi::Function::New(env, Forwards));
    t.Set("clientDisconnected", Napi::Function::New(env, ClientDisconnected));
    t.Set("periodic", Napi::Function::New(env, Periodic));
    t.Set("reload", Napi::Function::New(env, Reload));
    t.Set("shutdown", Napi::Function::New(env, Shutdown));
    t.Set("runTasks", Napi::Function::New(env, RunTasks));
    t.Set("counters", Napi::Function::New(env, Counters));
    t.Set("planMemory", Napi::Function::New(env, PlanMemory));
    t.Set("throwFrom", Napi::Function::New(env, ThrowFrom));
    t.Set("statusJson", Napi::Function::New(env, StatusJson));
    return t;
}

} // namespace dfmq::testing
