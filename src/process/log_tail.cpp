#include "process/log_tail.hpp"

#include <algorithm>
#include <cerrno>
#include <cstring>

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

namespace faultd::process {

namespace {

struct fd_guard {
  int fd;
  ~fd_guard() {
    if (fd >= 0)
      ::close(fd);
  }
};

status read_range(int fd, int64_t from, size_t n, std::string& out) {
  out.resize(n);
  size_t got = 0;
  while (got < n) {
    auto r = ::pread(fd, out.data() + got, n - got, static_cast<off_t>(from) + static_cast<off_t>(got));
    if (r < 0 && errno == EINTR)
      continue;
    if (r < 0)
      return {errc::io, std::string{"read: "} + std::strerror(errno)};
    if (r == 0)
      break;
    got += static_cast<size_t>(r);
  }
  out.resize(got);
  return {};
}

} // namespace

status tail_lines(const std::string& path, uint32_t lines, log_chunk& out, size_t max_bytes) {
  out = log_chunk{};
  fd_guard f{::open(path.c_str(), O_RDONLY | O_CLOEXEC)};
  if (f.fd < 0)
    return errno == ENOENT ? status{} : status{errc::io, path + ": " + std::strerror(errno)};
  struct stat st{};
  if (::fstat(f.fd, &st) != 0)
    return {errc::io, path + ": " + std::strerror(errno)};
  int64_t size = st.st_size;
  auto n = static_cast<size_t>(std::min<int64_t>(size, static_cast<int64_t>(max_bytes)));
  std::string buf;
  if (auto s = read_range(f.fd, size - static_cast<int64_t>(n), n, buf); !s.ok())
    return s;
  out.next_offset = size - static_cast<int64_t>(n) + static_cast<int64_t>(buf.size());
  // Keep the last `lines` lines (a trailing newline ends the last one).
  size_t end = buf.size();
  if (end > 0 && buf[end - 1] == '\n')
    --end;
  size_t start = end;
  uint32_t seen = 0;
  while (start > 0 && seen < lines) {
    auto nl = buf.rfind('\n', start - 1);
    if (nl == std::string::npos) {
      start = 0;
      break;
    }
    ++seen;
    if (seen == lines) {
      start = nl + 1;
      break;
    }
    start = nl;
  }
  if (seen < lines)
    start = 0;
  out.text = buf.substr(start);
  return {};
}

status read_from(const std::string& path, int64_t offset, log_chunk& out, size_t max_bytes) {
  out = log_chunk{};
  out.next_offset = offset;
  fd_guard f{::open(path.c_str(), O_RDONLY | O_CLOEXEC)};
  if (f.fd < 0)
    return errno == ENOENT ? status{} : status{errc::io, path + ": " + std::strerror(errno)};
  struct stat st{};
  if (::fstat(f.fd, &st) != 0)
    return {errc::io, path + ": " + std::strerror(errno)};
  if (st.st_size < offset)
    offset = 0; // rotated: the new file from its start
  auto n = static_cast<size_t>(std::min<int64_t>(st.st_size - offset, static_cast<int64_t>(max_bytes)));
  if (auto s = read_range(f.fd, offset, n, out.text); !s.ok())
    return s;
  out.next_offset = offset + static_cast<int64_t>(out.text.size());
  return {};
}

} // namespace faultd::process
