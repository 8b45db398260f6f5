#include "code_cache.h"

#include <dlfcn.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <utility>

#include <node_version.h>

#include "replace_file.h"

// Node's built-in loader, as far as the cache needs it: the declarations of Node 18's src/node_builtins.h (the layout of
// CodeCacheInfo and the member functions' signatures; the class's data members are never touched). The functions are
// libnode's, found by their mangled names.
namespace node
{
class Realm;
namespace builtins
{
struct CodeCacheInfo
{
    std::string id;
    std::vector<uint8_t> data;
};
class BuiltinLoader
{
public:
    v8::MaybeLocal<v8::Function> LookupAndCompile(v8::Local<v8::Context> context, const char *id, node::Realm *optionalRealm);
    void RefreshCodeCache(const std::vector<CodeCacheInfo> &in);
    const v8::ScriptCompiler::CachedData *GetCodeCache(const char *id) const;
};
} // namespace builtins
} // namespace node

namespace dfmq
{
namespace code_cache
{

namespace
{

using Loader = node::builtins::BuiltinLoader;
using LookupAndCompileFn = v8::MaybeLocal<v8::Function> (*)(Loader *, v8::Local<v8::Context>, const char *, node::Realm *);
using CreateCodeCacheFn = v8::ScriptCompiler::CachedData *(*)(v8::Local<v8::Function>);
constexpr const char kLookupAndCompile[] = "_ZN4node8builtins13BuiltinLoader16LookupAndCompileEN2v85LocalINS2_7ContextEEEPKcPNS_5RealmE";
constexpr const char kCreateCodeCacheForFunction[] = "_ZN2v814ScriptCompiler26CreateCodeCacheForFunctionENS_5LocalINS_8FunctionEEE";

constexpr char kMagic[8] = {'D', 'F', 'M', 'Q', 'C', 'C', '0', '1'};
constexpr uint32_t kKindCache = 1;
constexpr uint32_t kKindOff = 2;               // V8 rejected a cache of this fingerprint and entry: none is made again
constexpr size_t kMaxFile = 64u * 1024 * 1024; // far above what Node's built-ins and the entry take (about 1-2 MB)

enum class Mode
{
    Off,  // no cache this start
    Use,  // the file matched: the loaders get it, the entry gets its part
    Make, // no usable file: the compiled functions are kept, and a cache is written at the first trim
};

struct Kept
{
    std::string id;
    v8::Global<v8::Function> function;
};

struct State
{
    Mode mode = Mode::Off;
    std::string path;
    std::string flags;
    std::string fingerprint;
    uint64_t entryHash = 0;                         // of the entry's file, read at prepare()
    std::vector<uint8_t> entrySource;               // that file, until the bootstrap takes it (Make: until save())
    std::vector<node::builtins::CodeCacheInfo> perContext; // Use: what the file holds for the context's own scripts
    std::vector<node::builtins::CodeCacheInfo> builtins; // Use: and for the other built-ins, until loaded()
    std::vector<uint8_t> entry;                     // Use: the entry's cached data, until the bootstrap takes it
    std::vector<Loader *> refreshed;                // the loaders already handed the built-ins' cache
    std::vector<Kept> kept;                         // Make: the built-ins compiled so far
    v8::Global<v8::Function> entryFunction;         // Make: the entry's function
    int compiled = 0;  // Use: built-ins compiled since prepare()
    int fromCache = 0; // Use: of them, those the cache had data for
    bool rejected = false; // Use: V8 refused the entry's cached data
};

// Plain pointer on purpose: no static destructor (the broker loads the plugin twice and exits on its own terms).
State *gState = nullptr;

State &state()
{
    if (!gState)
        gState = new State();
    return *gState;
}

// libnode's own definition of a symbol the plugin defines too (see the end of this file).
template <typename Fn> Fn libnodeFunction(const char *name, Fn &cached)
{
    if (cached)
        return cached;
    Dl_info info{};
    if (dladdr(reinterpret_cast<void *>(&v8::V8::GetVersion), &info) && info.dli_fname)
        if (void *libnode = dlopen(info.dli_fname, RTLD_LAZY | RTLD_NOLOAD))
            cached = reinterpret_cast<Fn>(dlsym(libnode, name));
    Dl_info found{};
    if (!cached || !dladdr(reinterpret_cast<void *>(cached), &found) || !found.dli_fname || !info.dli_fname ||
        std::strcmp(found.dli_fname, info.dli_fname) != 0)
    {
        std::fprintf(stderr, "dbus-flashmq: cannot find libnode's %s\n", name);
        std::abort();
    }
    return cached;
}

LookupAndCompileFn gLookupAndCompile = nullptr;
CreateCodeCacheFn gCreateCodeCache = nullptr;

// Set while libnode compiles a built-in for a start that uses or makes the cache: Node then serialises the function it
// compiled, for a later compile of the same built-in in this process (a restart of JavaScript), which the cache serves
// better. That copy is skipped (an empty one, which V8 would refuse, stands in: Node insists on one).
thread_local bool tSkipNodesCopy = false;

std::string libnodeIdentity()
{
    Dl_info info{};
    if (!dladdr(reinterpret_cast<void *>(&v8::V8::GetVersion), &info) || !info.dli_fname)
        return "libnode ?";
    struct stat st{};
    if (stat(info.dli_fname, &st) != 0)
        return std::string("libnode ") + info.dli_fname;
    return std::string("libnode ") + info.dli_fname + " " + std::to_string(st.st_size) + " " + std::to_string(st.st_mtime);
}

std::string architecture()
{
#if defined(__aarch64__)
    return "aarch64";
#elif defined(__arm__)
    return "arm";
#elif defined(__x86_64__)
    return "x86_64";
#elif defined(__i386__)
    return "i386";
#else
    return "other-" + std::to_string(sizeof(void *) * 8);
#endif
}

std::string makeFingerprint(const std::string &flags)
{
    return std::string("node ") + NODE_VERSION + "; v8 " + v8::V8::GetVersion() + "; " + architecture() + "; " + libnodeIdentity() +
           "; flags" + flags;
}

bool readFile(const std::string &path, std::vector<uint8_t> &out, int &error)
{
    const int fd = open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0)
    {
        error = errno;
        return false;
    }
    struct stat st{};
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode) || static_cast<uint64_t>(st.st_size) > kMaxFile)
    {
        error = S_ISREG(st.st_mode) ? EFBIG : EINVAL;
        close(fd);
        return false;
    }
    out.resize(static_cast<size_t>(st.st_size));
    size_t got = 0;
    while (got < out.size())
    {
        const ssize_t n = read(fd, out.data() + got, out.size() - got);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
        {
            error = n < 0 ? errno : EIO;
            close(fd);
            return false;
        }
        got += static_cast<size_t>(n);
    }
    close(fd);
    return true;
}

class Reader
{
public:
    Reader(const uint8_t *data, size_t size) : p_(data), end_(data + size) {}
    bool u32(uint32_t &v) { return take(&v, sizeof v); }
    bool u64(uint64_t &v) { return take(&v, sizeof v); }
    bool bytes(size_t n, const uint8_t *&at)
    {
        if (static_cast<size_t>(end_ - p_) < n)
            return false;
        at = p_;
        p_ += n;
        return true;
    }
    bool atEnd() const { return p_ == end_; }

private:
    bool take(void *v, size_t n)
    {
        const uint8_t *at;
        if (!bytes(n, at))
            return false;
        std::memcpy(v, at, n);
        return true;
    }
    const uint8_t *p_;
    const uint8_t *end_;
};

struct Parsed
{
    uint32_t kind = 0;
    std::string fingerprint;
    uint64_t entryHash = 0;
    std::vector<uint8_t> entry;
    std::vector<node::builtins::CodeCacheInfo> builtins;
};

// The file: the magic, a checksum of the rest, then kind, fingerprint, the entry's hash and cached data, and the
// built-ins' cached data by id. Numbers in the machine's byte order (the fingerprint names the architecture).
const char *parse(const std::vector<uint8_t> &file, Parsed &out)
{
    if (file.size() < sizeof kMagic + 8 || std::memcmp(file.data(), kMagic, sizeof kMagic) != 0)
        return "not a code cache of this plugin";
    uint64_t sum;
    std::memcpy(&sum, file.data() + sizeof kMagic, sizeof sum);
    const uint8_t *body = file.data() + sizeof kMagic + 8;
    const size_t bodySize = file.size() - sizeof kMagic - 8;
    if (checksum(body, bodySize) != sum)
        return "its checksum does not match (a damaged or cut-off file)";
    Reader r(body, bodySize);
    uint32_t n;
    const uint8_t *at;
    if (!r.u32(out.kind) || !r.u32(n) || !r.bytes(n, at))
        return "it is cut short";
    out.fingerprint.assign(reinterpret_cast<const char *>(at), n);
    if (!r.u64(out.entryHash) || !r.u32(n) || !r.bytes(n, at))
        return "it is cut short";
    out.entry.assign(at, at + n);
    uint32_t count;
    if (!r.u32(count))
        return "it is cut short";
    for (uint32_t i = 0; i < count; i++)
    {
        node::builtins::CodeCacheInfo info;
        if (!r.u32(n) || n == 0 || n > 256 || !r.bytes(n, at))
            return "a built-in's name is out of bounds";
        info.id.assign(reinterpret_cast<const char *>(at), n);
        if (!r.u32(n) || !r.bytes(n, at))
            return "it is cut short";
        info.data.assign(at, at + n);
        out.builtins.push_back(std::move(info));
    }
    if (!r.atEnd() || (out.kind != kKindCache && out.kind != kKindOff))
        return "it holds more than a cache";
    return nullptr;
}

void put32(std::vector<uint8_t> &out, uint32_t v)
{
    const size_t at = out.size();
    out.resize(at + sizeof v);
    std::memcpy(out.data() + at, &v, sizeof v);
}

void put64(std::vector<uint8_t> &out, uint64_t v)
{
    const size_t at = out.size();
    out.resize(at + sizeof v);
    std::memcpy(out.data() + at, &v, sizeof v);
}

void putBytes(std::vector<uint8_t> &out, const uint8_t *data, size_t n)
{
    put32(out, static_cast<uint32_t>(n));
    out.insert(out.end(), data, data + n);
}

std::vector<uint8_t> serialise(uint32_t kind, const std::string &fingerprint, uint64_t entryHash, const std::vector<uint8_t> &entry,
                               const std::vector<node::builtins::CodeCacheInfo> &builtins)
{
    std::vector<uint8_t> out(kMagic, kMagic + sizeof kMagic);
    put64(out, 0); // the checksum, below
    put32(out, kind);
    putBytes(out, reinterpret_cast<const uint8_t *>(fingerprint.data()), fingerprint.size());
    put64(out, entryHash);
    putBytes(out, entry.data(), entry.size());
    put32(out, static_cast<uint32_t>(builtins.size()));
    for (const auto &b : builtins)
    {
        putBytes(out, reinterpret_cast<const uint8_t *>(b.id.data()), b.id.size());
        putBytes(out, b.data.data(), b.data.size());
    }
    const size_t head = sizeof kMagic + 8;
    const uint64_t sum = checksum(out.data() + head, out.size() - head);
    std::memcpy(out.data() + sizeof kMagic, &sum, sizeof sum);
    return out;
}

std::string mb(size_t bytes)
{
    char text[32];
    std::snprintf(text, sizeof text, "%.1f MB", static_cast<double>(bytes) / 1e6);
    return text;
}

bool isPerContext(const char *id)
{
    return std::strncmp(id, "internal/per_context/", 21) == 0;
}

std::vector<uint8_t> cachedData(v8::Local<v8::Function> function)
{
    std::unique_ptr<v8::ScriptCompiler::CachedData> data(v8::ScriptCompiler::CreateCodeCacheForFunction(function));
    if (!data || !data->data || data->length <= 0)
        return {};
    return std::vector<uint8_t>(data->data, data->data + data->length);
}

// The entry compiled anew, every function in it at once (V8 compiles a function's body when it first runs, so the
// running entry has none of the code that has not run by the first trim: a write's, a read's, a login's), as the
// bootstrap compiles it (the same source and the same five parameters, so V8 takes its cache for that compile).
// Empty when V8 cannot compile it.
std::vector<uint8_t> wholeEntry(v8::Isolate *isolate, const std::vector<uint8_t> &file)
{
    v8::TryCatch tryCatch(isolate);
    v8::Local<v8::Context> context = isolate->GetCurrentContext();
    v8::Local<v8::String> text;
    if (file.empty() || context.IsEmpty() ||
        !v8::String::NewFromUtf8(isolate, reinterpret_cast<const char *>(file.data()), v8::NewStringType::kNormal, static_cast<int>(file.size()))
             .ToLocal(&text))
        return {};
    v8::ScriptCompiler::Source source(text, v8::ScriptOrigin(isolate, v8::String::NewFromUtf8Literal(isolate, "dbus-flashmq-ts entry")));
    v8::Local<v8::String> parameters[] = {
        v8::String::NewFromUtf8Literal(isolate, "exports"), v8::String::NewFromUtf8Literal(isolate, "require"),
        v8::String::NewFromUtf8Literal(isolate, "module"), v8::String::NewFromUtf8Literal(isolate, "__filename"),
        v8::String::NewFromUtf8Literal(isolate, "__dirname")};
    v8::Local<v8::Function> function;
    if (!v8::ScriptCompiler::CompileFunction(context, &source, 5, parameters, 0, nullptr, v8::ScriptCompiler::kEagerCompile).ToLocal(&function))
        return {};
    return cachedData(function);
}

} // namespace

uint64_t checksum(const uint8_t *data, size_t length, uint64_t seed)
{
    constexpr uint64_t kMul = 0x9E3779B97F4A7C15ull;
    uint64_t h = seed ^ (length * kMul) ^ 0xcbf29ce484222325ull;
    size_t i = 0;
    for (; i + 8 <= length; i += 8)
    {
        uint64_t w;
        std::memcpy(&w, data + i, sizeof w);
        h = (h ^ w) * kMul;
        h ^= h >> 29;
    }
    for (; i < length; i++)
    {
        h = (h ^ data[i]) * kMul;
        h ^= h >> 29;
    }
    h ^= h >> 32;
    return h;
}

void setRuntimeFlags(const std::vector<std::string> &args)
{
    std::string flags;
    for (const std::string &a : args)
        flags += " " + a;
    state().flags = flags;
}

std::string prepare(const std::string &path, const std::string &entryPath)
{
    forget();
    State &s = state();
    s.mode = Mode::Off;
    s.path = path;
    loaded(); // drops what an earlier start left unused
    s.compiled = 0;
    s.fromCache = 0;
    s.rejected = false;
    if (path.empty())
        return "code cache: off (plugin_opt_code_cache none)";

    int error = 0;
    if (!readFile(entryPath, s.entrySource, error))
        return "code cache: off this start (cannot read the entry '" + entryPath + "': " + std::strerror(error) + ")";
    s.entryHash = checksum(s.entrySource.data(), s.entrySource.size());
    s.fingerprint = makeFingerprint(s.flags);

    std::vector<uint8_t> file;
    if (!readFile(path, file, error))
    {
        if (error != ENOENT)
            return "code cache: off this start (cannot read " + path + ": " + std::strerror(error) + ")";
        const size_t slash = path.rfind('/');
        const std::string dir = slash == std::string::npos ? "." : slash == 0 ? "/" : path.substr(0, slash);
        if (access(dir.c_str(), W_OK) != 0)
            return "code cache: off (" + dir + " " + (errno == ENOENT ? "does not exist" : "is not writable") +
                   "; install.sh makes it on a GX device)";
        s.mode = Mode::Make;
        return "code cache: none yet at " + path + "; it is made after start-up";
    }

    Parsed parsed;
    if (const char *why = parse(file, parsed))
    {
        s.mode = Mode::Make;
        return "code cache: " + path + " is not used (" + why + "); it is made again after start-up";
    }
    if (parsed.fingerprint != s.fingerprint)
    {
        s.mode = Mode::Make;
        return "code cache: " + path + " was made by another libnode, V8 flags or architecture; it is made again after start-up";
    }
    if (parsed.entryHash != s.entryHash)
    {
        s.mode = Mode::Make;
        return "code cache: " + path + " was made for another entry; it is made again after start-up";
    }
    if (parsed.kind == kKindOff)
        return "code cache: off for this libnode and entry (V8 rejected the cache made for them; " + path + " says so)";

    s.mode = Mode::Use;
    for (node::builtins::CodeCacheInfo &b : parsed.builtins)
        (isPerContext(b.id.c_str()) ? s.perContext : s.builtins).push_back(std::move(b));
    s.entry = std::move(parsed.entry);
    return "code cache: " + path + " (" + mb(file.size()) + ", " + std::to_string(parsed.builtins.size()) + " built-ins and the entry)";
}

bool takeEntry(std::vector<uint8_t> &source, std::vector<uint8_t> &cachedData)
{
    State &s = state();
    if (s.entrySource.empty())
        return false;
    if (s.mode == Mode::Make)
        source = s.entrySource; // kept: compiled whole when the cache is made
    else
    {
        source = std::move(s.entrySource);
        s.entrySource.clear();
    }
    cachedData.clear();
    if (s.mode == Mode::Use)
        cachedData = std::move(s.entry);
    return true;
}

void entryCompiled(v8::Isolate *isolate, v8::Local<v8::Function> function, bool rejected)
{
    State &s = state();
    if (s.mode == Mode::Make)
        s.entryFunction.Reset(isolate, function);
    else if (s.mode == Mode::Use && rejected)
        s.rejected = true;
}

std::string loaded()
{
    State &s = state();
    std::string line;
    if (s.mode == Mode::Use)
        line = "code cache: " + std::to_string(s.fromCache) + " of the " + std::to_string(s.compiled) + " built-ins compiled so far had data in it; V8 " +
               (s.rejected ? "rejected" : "took") + " the entry's";
    std::vector<node::builtins::CodeCacheInfo>().swap(s.perContext);
    std::vector<node::builtins::CodeCacheInfo>().swap(s.builtins);
    std::vector<uint8_t>().swap(s.entry);
    if (s.mode != Mode::Make)
        std::vector<uint8_t>().swap(s.entrySource);
    return line;
}

std::string save(v8::Isolate *isolate)
{
    State &s = state();
    if (s.mode == Mode::Use && s.rejected)
    {
        s.mode = Mode::Off; // written once
        const std::vector<uint8_t> marker = serialise(kKindOff, s.fingerprint, s.entryHash, {}, {});
        const std::string error = replaceFile(s.path, marker.data(), marker.size(), 0600);
        return "code cache: V8 rejected " + s.path + "; the cache is off for this libnode and entry" +
               (error.empty() ? "" : " (" + error + ")");
    }
    if (s.mode != Mode::Make)
        return "";
    if (s.entryFunction.IsEmpty())
    {
        forget();
        s.mode = Mode::Off;
        return "";
    }

    const auto t0 = std::chrono::steady_clock::now();
    v8::HandleScope scope(isolate);
    std::vector<node::builtins::CodeCacheInfo> builtins;
    builtins.reserve(s.kept.size());
    for (const Kept &k : s.kept)
    {
        std::vector<uint8_t> data = cachedData(k.function.Get(isolate));
        if (!data.empty())
            builtins.push_back({k.id, std::move(data)});
    }
    // The whole entry, so that code first run after the trim is not compiled from source at every start either;
    // else what the running entry compiled by now.
    std::vector<uint8_t> entry = wholeEntry(isolate, s.entrySource);
    const bool whole = !entry.empty();
    if (!whole)
        entry = cachedData(s.entryFunction.Get(isolate));
    forget();
    s.mode = Mode::Off; // what compiles from now on is neither kept nor counted: libnode's own way again
    if (entry.empty())
        return "code cache: V8 made no cached data for the entry; none written";
    const std::vector<uint8_t> file = serialise(kKindCache, s.fingerprint, s.entryHash, entry, builtins);
    const std::string error = replaceFile(s.path, file.data(), file.size(), 0600);
    const auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - t0).count();
    if (!error.empty())
        return "code cache: " + error;
    return "code cache: wrote " + s.path + " (" + mb(file.size()) + ", " + std::to_string(builtins.size()) + " built-ins and the entry" +
           (whole ? "" : ", what of it has run") + ") in " + std::to_string(ms) + " ms; the next start uses it";
}

void abandon()
{
    State &s = state();
    (void)new std::vector<Kept>(std::move(s.kept)); // moving a handle does not touch its isolate; resetting one would
    (void)new v8::Global<v8::Function>(std::move(s.entryFunction));
    s.kept.clear();
    s.refreshed.clear();
    std::vector<uint8_t>().swap(s.entrySource);
}

void forget()
{
    State &s = state();
    s.kept.clear(); // Global's destructor resets it; the isolate is still alive here
    s.entryFunction.Reset();
    std::vector<uint8_t>().swap(s.entrySource);
    s.refreshed.clear();
}

// Called by libnode (through its PLT) for every built-in it compiles.
v8::MaybeLocal<v8::Function> lookupAndCompile(Loader *loader, v8::Local<v8::Context> context, const char *id, node::Realm *realm)
{
    State &s = state();
    if (s.mode == Mode::Use && id)
    {
        bool seen = false;
        for (const Loader *l : s.refreshed)
            seen = seen || l == loader;
        if (!seen)
        {
            // A loader of its own (one per thread) runs the context's scripts before any environment exists; the
            // environment's loader runs all the others. Each gets its part only: what a loader is given stays in it.
            s.refreshed.push_back(loader);
            const std::vector<node::builtins::CodeCacheInfo> &part = isPerContext(id) ? s.perContext : s.builtins;
            if (!part.empty())
                loader->RefreshCodeCache(part);
        }
        s.compiled++;
        s.fromCache += loader->GetCodeCache(id) != nullptr;
    }
    const bool outer = tSkipNodesCopy;
    tSkipNodesCopy = s.mode != Mode::Off;
    v8::MaybeLocal<v8::Function> result = libnodeFunction(kLookupAndCompile, gLookupAndCompile)(loader, context, id, realm);
    tSkipNodesCopy = outer;
    v8::Local<v8::Function> function;
    if (s.mode == Mode::Make && id && result.ToLocal(&function))
        s.kept.push_back(Kept{id, v8::Global<v8::Function>(context->GetIsolate(), function)});
    return result;
}

} // namespace code_cache
} // namespace dfmq

// libnode's symbol, defined here so that libnode's calls come to the cache first (see code_cache.h).
__attribute__((visibility("default"))) v8::MaybeLocal<v8::Function>
node::builtins::BuiltinLoader::LookupAndCompile(v8::Local<v8::Context> context, const char *id, node::Realm *optionalRealm)
{
    return dfmq::code_cache::lookupAndCompile(this, context, id, optionalRealm);
}

// V8's, defined here for libnode's call right after it compiled a built-in (see tSkipNodesCopy); every other call,
// the plugin's own among them, goes on to V8.
__attribute__((visibility("default"))) v8::ScriptCompiler::CachedData *
v8::ScriptCompiler::CreateCodeCacheForFunction(v8::Local<v8::Function> function)
{
    using namespace dfmq::code_cache;
    if (tSkipNodesCopy)
        return new v8::ScriptCompiler::CachedData();
    return libnodeFunction(kCreateCodeCacheForFunction, gCreateCodeCache)(function);
}
