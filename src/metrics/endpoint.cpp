#include "metrics/endpoint.hpp"

#include <cstring>
#include <mutex>

#include <CivetServer.h>
#include <civetweb.h>
#include <prometheus/exposer.h>

namespace faultd::metrics {

namespace {

// civetweb's callbacks are plain functions: the one endpoint of the process
// tells them its hub.
std::mutex current_mtx;
std::weak_ptr<hub> current;  // GUARDED_BY(current_mtx)

/// Answers /healthz itself (200 or 503); everything else goes on to the
/// exposer's handlers.
int begin_request(mg_connection* conn) {
  const auto* info = mg_get_request_info(conn);
  if (info == nullptr || info->local_uri == nullptr || std::strcmp(info->local_uri, "/healthz") != 0)
    return 0;
  std::shared_ptr<hub> h;
  {
    std::lock_guard<std::mutex> guard{current_mtx};
    h = current.lock();
  }
  std::string body;
  int code = 200;
  if (h && h->healthy()) {
    body = "ok\n";
  } else {
    code = 503;
    body = h ? "stale: no heartbeat from the node's actors for " + human_duration(h->since_beat())
                 + "\n"
             : "stopping\n";
  }
  mg_printf(conn,
            "HTTP/1.1 %d %s\r\nContent-Type: text/plain; charset=utf-8\r\n"
            "Content-Length: %zu\r\nConnection: close\r\n\r\n%s",
            code, code == 200 ? "OK" : "Service Unavailable", body.size(), body.c_str());
  return code;
}

} // namespace

status endpoint::open(const std::string& listen, std::shared_ptr<hub> h,
                      std::unique_ptr<endpoint>& out) {
  std::unique_ptr<endpoint> e{new endpoint};
  e->hub_ = std::move(h);
  static CivetCallbacks callbacks = [] {
    CivetCallbacks c;  // zeroed by its constructor
    c.begin_request = begin_request;
    return c;
  }();
  try {
    // Requests are small and read-only. A connection that sends nothing
    // holds a thread until request_timeout_ms: 8 threads and 1 s keep a
    // handful of idle connections from starving the scraper for long.
    e->exposer_ = std::make_unique<prometheus::Exposer>(
      std::vector<std::string>{"listening_ports", listen, "num_threads", "8",
                               "request_timeout_ms", "1000"},
      &callbacks);
  } catch (const std::exception& err) {
    return {errc::unavailable, "metrics.listen " + listen + ": cannot listen: " + err.what()};
  }
  for (auto& c : e->hub_->collectables())
    e->exposer_->RegisterCollectable(c);
  {
    std::lock_guard<std::mutex> guard{current_mtx};
    current = e->hub_;
  }
  out = std::move(e);
  return {};
}

endpoint::~endpoint() {
  exposer_.reset();  // stops civetweb's threads first
  std::lock_guard<std::mutex> guard{current_mtx};
  current.reset();
}

int endpoint::port() const {
  auto ports = exposer_->GetListeningPorts();
  return ports.empty() ? 0 : ports.front();
}

} // namespace faultd::metrics
