#include "status_file.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>

#include "flashmq_abi.h"

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

bool writeAll(int fd, const std::string &text)
{
    size_t done = 0;
    while (done < text.size())
    {
        const ssize_t n = write(fd, text.data() + done, text.size() - done);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            return false;
        done += static_cast<size_t>(n);
    }
    return true;
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

        const std::string temp = path + ".tmp-" + std::to_string(static_cast<long>(getpid()));
        const std::string text = statusJson(state, since, static_cast<long>(getpid()), reason);
        const char *failed = nullptr;
        int error = 0;
        const int fd = open(temp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
        if (fd < 0)
        {
            failed = "create";
            error = errno;
        }
        else
        {
            if (!writeAll(fd, text))
            {
                failed = "write";
                error = errno;
            }
            if (close(fd) != 0 && !failed)
            {
                failed = "write";
                error = errno;
            }
            if (!failed && rename(temp.c_str(), path.c_str()) != 0)
            {
                failed = "rename";
                error = errno;
            }
            if (failed)
                (void)unlink(temp.c_str());
        }
        if (failed)
            flashmq_logf(fmq::LogWarning, "dbus-flashmq: cannot %s the status file '%s' (%s); state '%s' not written", failed,
                         failed == std::string("rename") ? path.c_str() : temp.c_str(), std::strerror(error), state);
    }
    catch (...)
    {
        // Out of memory while saying how we are: nothing more to do.
    }
}

} // namespace dfmq
