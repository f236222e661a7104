#include "support/http_receiver.hpp"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstring>
#include <stdexcept>

namespace faultd::test {

http_receiver::http_receiver(std::function<int(size_t)> status) : status_(std::move(status)) {
  listen_fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (listen_fd_ < 0)
    throw std::runtime_error("http_receiver: socket");
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof a;
  if (::bind(listen_fd_, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0
      || ::listen(listen_fd_, 16) != 0
      || ::getsockname(listen_fd_, reinterpret_cast<sockaddr*>(&a), &len) != 0)
    throw std::runtime_error("http_receiver: bind/listen");
  port_ = ntohs(a.sin_port);
  thread_ = std::thread([this] { serve(); });
}

http_receiver::~http_receiver() {
  stop_ = true;
  thread_.join();
  ::close(listen_fd_);
}

std::string http_receiver::url(const std::string& path) const {
  return "http://127.0.0.1:" + std::to_string(port_) + path;
}

std::vector<http_receiver::request> http_receiver::requests() const {
  std::lock_guard<std::mutex> guard{mtx_};
  return requests_;
}

void http_receiver::serve() {
  while (!stop_) {
    pollfd p{listen_fd_, POLLIN, 0};
    if (::poll(&p, 1, 50) <= 0)
      continue;
    int fd = ::accept4(listen_fd_, nullptr, nullptr, SOCK_CLOEXEC);
    if (fd < 0)
      continue;
    handle(fd);
    ::close(fd);
  }
}

void http_receiver::handle(int fd) {
  std::string in;
  size_t header_end = std::string::npos;
  size_t need = 0;
  char buf[4096];
  for (;;) {
    pollfd p{fd, POLLIN, 0};
    if (::poll(&p, 1, 2000) <= 0)
      return;
    auto n = ::read(fd, buf, sizeof buf);
    if (n <= 0)
      return;
    in.append(buf, static_cast<size_t>(n));
    if (header_end == std::string::npos) {
      header_end = in.find("\r\n\r\n");
      if (header_end == std::string::npos)
        continue;
      auto lower = in.substr(0, header_end);
      for (auto& c : lower)
        c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
      auto cl = lower.find("content-length:");
      need = cl == std::string::npos ? 0 : std::stoul(lower.substr(cl + 15));
    }
    if (in.size() >= header_end + 4 + need)
      break;
  }
  request r;
  auto line_end = in.find("\r\n");
  auto first = in.substr(0, line_end);
  auto sp1 = first.find(' ');
  auto sp2 = first.find(' ', sp1 + 1);
  r.method = first.substr(0, sp1);
  r.path = first.substr(sp1 + 1, sp2 - sp1 - 1);
  auto headers = in.substr(0, header_end);
  auto ct = headers.find("Content-Type: ");
  if (ct != std::string::npos)
    r.content_type = headers.substr(ct + 14, headers.find("\r\n", ct) - ct - 14);
  r.body = in.substr(header_end + 4, need);
  size_t index = 0;
  {
    std::lock_guard<std::mutex> guard{mtx_};
    index = requests_.size();
    requests_.push_back(std::move(r));
  }
  int status = status_(index);
  auto reply = "HTTP/1.1 " + std::to_string(status) + " X\r\nContent-Length: 0\r\n"
               + "Connection: close\r\n\r\n";
  (void) ::write(fd, reply.data(), reply.size());
}

std::string http_get(uint16_t port, const std::string& path, int timeout_ms) {
  int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0)
    return "";
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  a.sin_port = htons(port);
  std::string in;
  if (::connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0) {
    auto req = "GET " + path + " HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n";
    if (::write(fd, req.data(), req.size()) == static_cast<ssize_t>(req.size())) {
      char buf[4096];
      for (;;) {
        pollfd p{fd, POLLIN, 0};
        if (::poll(&p, 1, timeout_ms) <= 0)
          break;
        auto n = ::read(fd, buf, sizeof buf);
        if (n <= 0)
          break;
        in.append(buf, static_cast<size_t>(n));
      }
    }
  }
  ::close(fd);
  auto body = in.find("\r\n\r\n");
  if (in.rfind("HTTP/1.1 200", 0) != 0 && in.rfind("HTTP/1.0 200", 0) != 0)
    return "";
  return body == std::string::npos ? "" : in.substr(body + 4);
}

} // namespace faultd::test
