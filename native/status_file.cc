#include "status_file.h"

#include <sys/stat.h>
#include <unistd.h>

#include <cstdio>

#include "flashmq_abi.h"
#include "replace_file.h"

namespace dfmq
{

namespace
{

std::string jsonText(const std::string &s)
{
    std::string out = "\"";
    for (unsigned char c : s)
    {
        if (c == '"' || c == '\\')
        {
            out += '\\';
            out += static_cast<char>(c);
        }
        else if (c < 0x20)
        {
            char buf[8];
            std::snprintf(buf, sizeof(buf), "\\u%04x", c);
            out += buf;
        }
        else
        {
            out += static_cast<char>(c);
        }
    }
    return out + "\"";
}

} // namespace

std::string statusJson(const char *state, std::time_t since, long pid, const std::string &reason)
{
    return std::string("{\"state\":") + jsonText(state) + ",\"since\":" + std::to_string(static_cast<long long>(since)) +
           ",\"pid\":" + std::to_string(pid) + ",\"reason\":" + jsonText(reason) + "}\n";
}

void writeStatusFile(const std::string &path, const char *state, std::time_t since, const std::string &reason)
{
    if (path.empty())
        return;
    try
    {
        // The directory under /run is made by whoever writes first (it is gone after a reboot).
        const size_t slash = path.rfind('/');
        if (slash != std::string::npos && slash > 0)
            (void)mkdir(path.substr(0, slash).c_str(), 0755);

        const std::string text = statusJson(state, since, static_cast<long>(getpid()), reason);
        const std::string failed = replaceFile(path, text.data(), text.size(), 0644);
        if (!failed.empty())
            flashmq_logf(fmq::LogWarning, "dbus-flashmq: the status file: %s; state '%s' not written", failed.c_str(), state);
    }
    catch (...)
    {
        // Out of memory while saying how we are: nothing more to do.
    }
}

} // namespace dfmq
