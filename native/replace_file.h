// Replacing a small file whole: written beside it (<path>.tmp-<pid>), then renamed over it, so a reader sees the old
// file or the new one, never half of one. For the status file and the code cache.
#ifndef DFMQ_REPLACE_FILE_H
#define DFMQ_REPLACE_FILE_H

#include <sys/types.h>

#include <cstddef>
#include <string>

namespace dfmq
{

// "" when done, else what failed: "cannot create|write|rename '<file>' (<why>)"; the temporary file is not left behind.
std::string replaceFile(const std::string &path, const void *data, size_t size, mode_t mode);

} // namespace dfmq

#endif
