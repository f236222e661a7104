#include "process/log_rotation.hpp"

#include <cerrno>
#include <cstdio>
#include <fcntl.h>
#include <sys/sendfile.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>

#include "faultd/util.hpp"

namespace faultd::process {

namespace {

/// Copies `length` bytes of `from` starting at `offset` to the file `to`
/// (fewer if the file ends first).
status copy_file(int from, off_t offset, uint64_t length, const std::string& to) {
  int out = ::open(to.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (out < 0)
    return {errc::io, "open " + to + ": " + errno_text(errno)};
  while (length > 0) {
    ssize_t n = ::sendfile(out, from, &offset, std::min<uint64_t>(length, 1 << 20));
    if (n == 0)
      break;
    if (n > 0)
      length -= static_cast<uint64_t>(n);
    if (n < 0) {
      if (errno == EINTR)
        continue;
      int err = errno;
      ::close(out);
      return {errc::io, "copy to " + to + ": " + errno_text(err)};
    }
  }
  ::close(out);
  return {};
}

} // namespace

status rotate_if_larger(const std::string& path, uint64_t max_size, uint32_t keep,
                        bool* rotated) {
  if (rotated != nullptr)
    *rotated = false;
  int fd = ::open(path.c_str(), O_RDWR | O_CLOEXEC);
  if (fd < 0)
    return errno == ENOENT ? status{} : status{errc::io, "open " + path + ": " + errno_text(errno)};
  struct stat st;
  if (::fstat(fd, &st) != 0 || static_cast<uint64_t>(st.st_size) <= max_size) {
    ::close(fd);
    return {};
  }
  status result;
  if (keep > 0) {
    for (uint32_t i = keep; i > 1; --i) {
      auto older = path + "." + std::to_string(i - 1);
      auto newer = path + "." + std::to_string(i);
      if (::rename(older.c_str(), newer.c_str()) != 0 && errno != ENOENT)
        result = {errc::io, "rename " + older + ": " + errno_text(errno)};
    }
    // At most the last max_size bytes: a file that grew far past the limit
    // between two checks (a runaway writer) cannot make a huge copy.
    auto size = static_cast<uint64_t>(st.st_size);
    auto from = static_cast<off_t>(size > max_size ? size - max_size : 0);
    if (auto st1 = copy_file(fd, from, max_size, path + ".1"); !st1.ok())
      result = st1;
  }
  // Truncate even when the copy failed: a full disk must not grow further.
  if (::ftruncate(fd, 0) != 0 && result.ok())
    result = {errc::io, "truncate " + path + ": " + errno_text(errno)};
  ::close(fd);
  if (rotated != nullptr)
    *rotated = true;
  return result;
}

} // namespace faultd::process
