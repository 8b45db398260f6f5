#include "replace_file.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

namespace dfmq
{

std::string replaceFile(const std::string &path, const void *data, size_t size, mode_t mode)
{
    const std::string temp = path + ".tmp-" + std::to_string(static_cast<long>(getpid()));
    const auto failed = [](const char *what, const std::string &file, int error) {
        return std::string("cannot ") + what + " '" + file + "' (" + std::strerror(error) + ")";
    };
    const int fd = open(temp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode);
    if (fd < 0)
        return failed("create", temp, errno);
    const char *bytes = static_cast<const char *>(data);
    size_t done = 0;
    int error = 0;
    while (done < size && error == 0)
    {
        const ssize_t n = write(fd, bytes + done, size - done);
        if (n > 0)
            done += static_cast<size_t>(n);
        else if (n == 0 || errno != EINTR)
            error = n == 0 ? EIO : errno;
    }
    if (close(fd) != 0 && error == 0)
        error = errno;
    if (error != 0)
    {
        (void)unlink(temp.c_str());
        return failed("write", temp, error);
    }
    if (rename(temp.c_str(), path.c_str()) != 0)
    {
        error = errno;
        (void)unlink(temp.c_str());
        return failed("rename", path, error);
    }
    return "";
}

} // namespace dfmq
