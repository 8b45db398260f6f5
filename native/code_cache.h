// A code cache for the start-up: V8's compiled form of Node's built-in modules and of our entry, written once after a
// start and read at the next, so that neither is compiled from source again.
//
// Debian's libnode has neither a start-up snapshot nor a code cache: every start compiles each built-in Node loads
// (about 80) and our entry, and each function again when it first runs. The cache is made on the device itself, at the
// first memory trim after start-up (start-up is over, discovery and the first full publishes have run): each built-in's
// function is serialised with what has been compiled inside it by then, and the entry whole (compiled anew with every
// function in it, so that a write, a read or a login does not compile its code from source at every start either).
// So it always matches the libnode, the V8 flags and the entry that made it, and nothing of another machine is ever
// fed to V8.
//
// Node compiles its built-ins through BuiltinLoader::LookupAndCompile, which it calls through the PLT; the plugin
// defines that symbol (exports.map), so the call comes here first: a loader is handed the cache before its first
// compile, and the compiled functions are kept while a new cache is to be made. When the symbol does not match this
// libnode, Node never calls ours, and the built-ins are compiled from source as before.
//
// Fail-safe: the file carries a checksum of all of it and a fingerprint (Node and V8 versions, the libnode file, the
// architecture, the V8 flags) and the entry's hash; anything that does not match is not used (one log line) and the
// file is written anew after start-up. V8 checks its own version, flags and the source's length again. A cache V8
// rejects all the same is replaced by a marker that turns the cache off for this fingerprint and entry, so a device never
// writes the file at every start.
#ifndef DFMQ_CODE_CACHE_H
#define DFMQ_CODE_CACHE_H

#include <node.h>

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

namespace dfmq
{

// Where the cache is kept unless plugin_opt_code_cache says otherwise: persistent on a GX device (/data survives reboots
// and firmware updates), outside the package's own directory (its files are checked against its MANIFEST). install.sh
// makes the directory, writable by the broker's user; where it does not exist, there is no cache.
constexpr const char *kDefaultCodeCache = "/data/dbus-flashmq-ts-cache/code-cache";

namespace code_cache
{

// The V8 and Node flags the runtime was initialised with (part of the fingerprint: V8 rejects a cache made under other
// flags). Called once, before the first environment.
void setRuntimeFlags(const std::vector<std::string> &args);

// Before each environment is created (the first start and every restart of JavaScript): reads the file at `path` ('':
// no cache) and the entry's file, and decides whether this start uses the cache or makes a new one. Returns a line for
// the log.
std::string prepare(const std::string &path, const std::string &entryPath);

// For the bootstrap: the entry's file as prepare() read it (its hash is the one checked, so it is not read twice), and
// the cached data for it (empty when this start has none). False when prepare() did not read it (no cache).
bool takeEntry(std::vector<uint8_t> &source, std::vector<uint8_t> &cachedData);

// The function compiled from the entry (kept when a new cache is to be made); `rejected`: V8 refused the cached data.
void entryCompiled(v8::Isolate *isolate, v8::Local<v8::Function> function, bool rejected);

// The environment is loaded: the file's data is no longer needed (Node's loaders hold their own copies). Returns a line
// for the log when this start used the cache ("" otherwise).
std::string loaded();

// At the memory trims: writes a new cache when this start made one (or the marker, when V8 rejected the one it had),
// once. Returns a line for the log, or "" when there was nothing to write.
std::string save(v8::Isolate *isolate);

// The environment goes: the functions kept die with its isolate.
void forget();

// Node could not make the environment and disposed of its isolate itself: the handles kept in it are dropped without
// touching it (a few pointers are leaked instead).
void abandon();

// For tests: the checksum and the file's layout.
uint64_t checksum(const uint8_t *data, size_t length, uint64_t seed = 0);

} // namespace code_cache
} // namespace dfmq

#endif
