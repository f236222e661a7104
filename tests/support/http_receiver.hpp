#pragma once

// An HTTP/1.1 receiver on 127.0.0.1 for tests of faultd's webhooks: it
// records every request (method, path, body) and answers each with the
// status a policy chooses (e.g. 500 for the first two, then 200). One
// request per connection; runs on its own thread until destroyed.

#include <atomic>
#include <cstdint>
#include <functional>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

namespace faultd::test {

class http_receiver {
public:
  struct request {
    std::string method;
    std::string path;
    std::string content_type;
    std::string body;
  };

  /// `status(n)` answers the n-th request (0-based).
  explicit http_receiver(std::function<int(size_t)> status = [](size_t) { return 200; });
  ~http_receiver();
  http_receiver(const http_receiver&) = delete;
  http_receiver& operator=(const http_receiver&) = delete;

  uint16_t port() const { return port_; }
  std::string url(const std::string& path = "/hook") const;
  std::vector<request> requests() const;

private:
  void serve();
  void handle(int fd);

  int listen_fd_ = -1;
  uint16_t port_ = 0;
  std::function<int(size_t)> status_;
  std::atomic<bool> stop_{false};
  mutable std::mutex mtx_;
  std::vector<request> requests_;
  std::thread thread_;
};

/// GET http://127.0.0.1:<port><path> (HTTP/1.0); the body, or "" when
/// the server does not answer 200 within `timeout_ms`.
std::string http_get(uint16_t port, const std::string& path, int timeout_ms = 2000);

} // namespace faultd::test
