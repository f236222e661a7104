#include "checks/health_check.hpp"

#include <chrono>

#include "faultd/util.hpp"
#include "mqtt/client.hpp"

namespace faultd::checks {

check_result run_mqtt_check(const check_config& cfg) {
  auto start = std::chrono::steady_clock::now();
  auto left = [&] {
    return std::max<duration>(duration{std::chrono::milliseconds(1)},
                              cfg.timeout - (std::chrono::steady_clock::now() - start));
  };
  auto where = cfg.host + ":" + std::to_string(cfg.port);
  check_result r;
  auto done = [&](const status& st, const std::string& ok_text) {
    r.latency_ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now()
                                                             - start)
                     .count();
    if (st.ok()) {
      r.outcome = check_outcome::ok;
      r.message = ok_text;
    } else {
      r.message = "mqtt " + where + ": " + st.message();
    }
    return r;
  };
  mqtt::client_options o;
  o.host = cfg.host;
  o.port = cfg.port;
  o.username = cfg.username;
  o.password = cfg.password;
  o.tls_ca = cfg.tls_ca;
  o.tls_certificate = cfg.tls_certificate;
  o.tls_key = cfg.tls_key;
  mqtt::client c{o};
  if (auto st = c.connect(cfg.timeout); !st.ok() || cfg.probe_topic.empty())
    return done(st, "CONNACK from " + where);
  // The round trip: a fresh payload, so an old retained or queued one does
  // not count.
  auto payload = "faultd-probe " + make_uuid();
  if (auto st = c.subscribe(cfg.probe_topic, 1, left()); !st.ok())
    return done(st, "");
  if (auto st = c.publish(cfg.probe_topic, payload, 1, left()); !st.ok())
    return done(st, "");
  return done(c.wait_for(cfg.probe_topic, payload, left()),
              "CONNACK and a round trip on " + cfg.probe_topic + " from " + where);
}

} // namespace faultd::checks
