#include "membership/port_probe.hpp"

#include <cerrno>
#include <fcntl.h>
#include <netdb.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>

namespace faultd::membership {

port_state probe_port(const endpoint& e, duration timeout) {
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  addrinfo* res = nullptr;
  auto host = e.host;
  if (host.size() > 2 && host.front() == '[' && host.back() == ']')
    host = host.substr(1, host.size() - 2);
  if (::getaddrinfo(host.c_str(), std::to_string(e.port).c_str(), &hints, &res) != 0 || !res)
    return port_state::unknown;
  auto result = port_state::unknown;
  int fd = ::socket(res->ai_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd >= 0) {
    int rc = ::connect(fd, res->ai_addr, res->ai_addrlen);
    if (rc == 0) {
      result = port_state::open;
    } else if (errno == ECONNREFUSED) {
      result = port_state::refused;
    } else if (errno == EINPROGRESS) {
      pollfd p{fd, POLLOUT, 0};
      auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(timeout).count();
      if (::poll(&p, 1, static_cast<int>(ms)) == 1) {
        int err = 0;
        socklen_t len = sizeof(err);
        ::getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len);
        result = err == 0 ? port_state::open
                          : err == ECONNREFUSED ? port_state::refused : port_state::unknown;
      }
    }
    ::close(fd);
  }
  ::freeaddrinfo(res);
  return result;
}

} // namespace faultd::membership
