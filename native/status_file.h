// The status file while JavaScript cannot write it (stopped, restarting, given up): one small JSON object,
// {"state":"restarting"|"degraded","since":<unix seconds>,"pid":<broker pid>,"reason":"..."}, written atomically
// (a temporary file beside it, then rename) to the path of plugin_opt_status_file, the same file the TypeScript
// side writes while it runs (ts/util/status.ts).

#ifndef DFMQ_STATUS_FILE_H
#define DFMQ_STATUS_FILE_H

#include <ctime>
#include <string>

namespace dfmq
{

// Where the status goes: plugin_opt_status_file, this when it is not given, nowhere when it is empty.
constexpr const char *kDefaultStatusFile = "/run/dbus-flashmq-ts/status";

// Writes the status; a failure is one log line, never more (and never an exception). An empty path writes nothing.
void writeStatusFile(const std::string &path, const char *state, std::time_t since, const std::string &reason);

// The JSON text written (for the tests).
std::string statusJson(const char *state, std::time_t since, long pid, const std::string &reason);

} // namespace dfmq

#endif
