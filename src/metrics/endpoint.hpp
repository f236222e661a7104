#pragma once

// The metrics endpoint (metrics.listen): Prometheus text format at
// /metrics (prometheus-cpp's pull exposer) and /healthz: 200 "ok" while the
// node's heartbeat is recent, 503 with how long it has been silent when it
// is not (a wedged faultd is seen from outside). Read-only; it takes no
// input beyond the request line, and civetweb bounds request sizes.

#include <memory>
#include <string>

#include "faultd/error.hpp"
#include "metrics/hub.hpp"

namespace prometheus {
class Exposer;
}

namespace faultd::metrics {

class endpoint {
public:
  /// Listens on `host:port` (e.g. "127.0.0.1:9464"). One per process.
  static status open(const std::string& listen, std::shared_ptr<hub> h,
                     std::unique_ptr<endpoint>& out);
  ~endpoint();
  endpoint(const endpoint&) = delete;
  endpoint& operator=(const endpoint&) = delete;

  /// The port it listens on (what port 0 became).
  int port() const;

private:
  endpoint() = default;
  std::shared_ptr<hub> hub_;
  std::unique_ptr<prometheus::Exposer> exposer_;
};

} // namespace faultd::metrics
