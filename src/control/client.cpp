#include "control/client.hpp"

#include <cerrno>
#include <cstring>
#include <thread>

#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

namespace faultd::control {

namespace {

using steady = std::chrono::steady_clock;

struct fd_closer {
  int fd = -1;
  ~fd_closer() {
    if (fd >= 0)
      ::close(fd);
  }
};

int millis_left(steady::time_point deadline) {
  auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - steady::now());
  return left.count() < 0 ? 0 : static_cast<int>(left.count());
}

/// Waits for `events` on `fd` until the deadline; false on timeout.
bool wait_for(int fd, short events, steady::time_point deadline) {
  for (;;) {
    pollfd p{fd, events, 0};
    int n = ::poll(&p, 1, millis_left(deadline));
    if (n > 0)
      return true;
    if (n == 0)
      return false;
    if (errno != EINTR)
      return true; // let the next call report the error
  }
}

/// Connects `fd` (non-blocking) to `sa`; "" on success, else why.
std::string connect_by(int fd, const sockaddr* sa, socklen_t len, steady::time_point deadline,
                       bool& timed_out) {
  for (;;) {
    if (::connect(fd, sa, len) == 0)
      return "";
    if (errno == EINTR)
      continue;
    if (errno == EAGAIN) { // a Unix socket's backlog is full: try again shortly
      if (millis_left(deadline) == 0) {
        timed_out = true;
        return "connect timed out";
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(5));
      continue;
    }
    if (errno != EINPROGRESS)
      return std::strerror(errno);
    if (!wait_for(fd, POLLOUT, deadline)) {
      timed_out = true;
      return "connect timed out";
    }
    int err = 0;
    socklen_t elen = sizeof(err);
    ::getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &elen);
    return err == 0 ? "" : std::strerror(err);
  }
}

} // namespace

status call(const control_address& addr, const std::string& request,
            std::chrono::milliseconds timeout, std::string& response, size_t max_frame) {
  auto deadline = steady::now() + timeout;
  auto where = addr.to_string();
  auto late = [&](const std::string& what) {
    return status{errc::timeout, "no " + what + " from " + where + " within "
                                   + std::to_string(timeout.count()) + "ms"};
  };
  fd_closer sock;
  bool timed_out = false;
  std::string why;
  if (addr.is_unix()) {
    sockaddr_un sa{};
    sa.sun_family = AF_UNIX;
    if (addr.unix_path.size() >= sizeof(sa.sun_path))
      return {errc::bad_request, "socket path too long: " + addr.unix_path};
    std::memcpy(sa.sun_path, addr.unix_path.c_str(), addr.unix_path.size() + 1);
    sock.fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (sock.fd < 0)
      return {errc::io, std::string{"socket: "} + std::strerror(errno)};
    why = connect_by(sock.fd, reinterpret_cast<sockaddr*>(&sa), sizeof(sa), deadline, timed_out);
  } else {
    addrinfo hints{};
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_flags = AI_NUMERICSERV;
    addrinfo* res = nullptr;
    auto port = std::to_string(addr.tcp.port);
    if (int rc = ::getaddrinfo(addr.tcp.host.c_str(), port.c_str(), &hints, &res); rc != 0)
      return {errc::io, "cannot resolve " + where + ": " + ::gai_strerror(rc)};
    why = "no address";
    for (auto* ai = res; ai != nullptr && !timed_out; ai = ai->ai_next) {
      if (sock.fd >= 0)
        ::close(sock.fd);
      sock.fd = ::socket(ai->ai_family, ai->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC,
                         ai->ai_protocol);
      if (sock.fd < 0)
        continue;
      why = connect_by(sock.fd, ai->ai_addr, ai->ai_addrlen, deadline, timed_out);
      if (why.empty())
        break;
    }
    ::freeaddrinfo(res);
    if (why.empty()) {
      int one = 1;
      ::setsockopt(sock.fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    }
  }
  if (timed_out)
    return late("connection");
  if (!why.empty())
    return {errc::io, "cannot connect to " + where + ": " + why};

  auto out = encode_frame(request);
  size_t sent = 0;
  while (sent < out.size()) {
    ssize_t n = ::send(sock.fd, out.data() + sent, out.size() - sent, MSG_NOSIGNAL);
    if (n > 0) {
      sent += static_cast<size_t>(n);
      continue;
    }
    if (n < 0 && errno == EINTR)
      continue;
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
      if (!wait_for(sock.fd, POLLOUT, deadline) || millis_left(deadline) == 0)
        return late("room to send");
      continue;
    }
    return {errc::io, "sending to " + where + " failed: " + std::strerror(errno)};
  }

  frame_decoder in{max_frame};
  char buf[65536];
  for (;;) {
    if (auto frame = in.next()) {
      response = std::move(*frame);
      return {};
    }
    if (!wait_for(sock.fd, POLLIN, deadline))
      return late("reply");
    ssize_t n = ::recv(sock.fd, buf, sizeof(buf), 0);
    if (n < 0 && (errno == EINTR || errno == EAGAIN || errno == EWOULDBLOCK))
      continue;
    if (n < 0)
      return {errc::io, "reading from " + where + " failed: " + std::strerror(errno)};
    if (n == 0)
      return {errc::io, where + " closed the connection before replying"};
    if (!in.feed(std::string_view{buf, static_cast<size_t>(n)}))
      return {errc::malformed_payload, "bad reply from " + where + ": " + in.error()};
  }
}

} // namespace faultd::control
