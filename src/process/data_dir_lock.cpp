#include "process/data_dir_lock.hpp"

#include <cerrno>
#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

#include <string>

#include "faultd/util.hpp"

namespace faultd::process {

data_dir_lock::~data_dir_lock() {
  if (fd_ >= 0)
    ::close(fd_);
}

data_dir_lock::data_dir_lock(data_dir_lock&& other) noexcept : fd_(other.fd_) {
  other.fd_ = -1;
}

data_dir_lock& data_dir_lock::operator=(data_dir_lock&& other) noexcept {
  if (this != &other) {
    if (fd_ >= 0)
      ::close(fd_);
    fd_ = other.fd_;
    other.fd_ = -1;
  }
  return *this;
}

std::string data_dir_lock::path_of(const std::string& data_dir) {
  return data_dir + "/faultd.lock";
}

status data_dir_lock::acquire(const std::string& data_dir) {
  auto path = path_of(data_dir);
  int fd = ::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
  if (fd < 0)
    return {errc::io, "cannot open lock file " + path + ": " + errno_text(errno)};
  if (::flock(fd, LOCK_EX | LOCK_NB) != 0) {
    int err = errno;
    std::string owner;
    char buf[32] = {};
    ssize_t n = ::pread(fd, buf, sizeof(buf) - 1, 0);
    for (ssize_t i = 0; i < n && buf[i] >= '0' && buf[i] <= '9'; ++i)
      owner += buf[i];
    ::close(fd);
    if (err == EWOULDBLOCK)
      return {errc::unavailable, "data dir " + data_dir + " is in use by another faultd"
                                   + (owner.empty() ? std::string{} : " (pid " + owner + ")")
                                   + "; stop it first or use another --data-dir"};
    return {errc::io, "cannot lock " + path + ": " + errno_text(err)};
  }
  auto pid = std::to_string(::getpid()) + "\n";
  if (::ftruncate(fd, 0) != 0
      || ::pwrite(fd, pid.data(), pid.size(), 0) != static_cast<ssize_t>(pid.size())) {
    int err = errno;
    ::close(fd);
    return {errc::io, "cannot write lock file " + path + ": " + errno_text(err)};
  }
  if (fd_ >= 0)
    ::close(fd_);
  fd_ = fd;
  return {};
}

} // namespace faultd::process
