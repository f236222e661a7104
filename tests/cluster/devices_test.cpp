// Silent-device detection against a real mosquitto started by the test: a
// publisher of the test's own plays devices of a gateway; faultd learns
// their rhythm, raises device:<id> when one falls silent, clears it when it
// speaks again, lists them with faultctl devices, and after a restart knows
// their rhythms at once.

#include <doctest/doctest.h>

#include <atomic>
#include <csignal>
#include <string>
#include <thread>

#include "mqtt/client.hpp"
#include "support/mqtt_broker.hpp"
#include "support/node_process.hpp"
#include "support/support.hpp"

using namespace faultd;
using namespace faultd::test;

namespace {

bool contains(const std::string& s, const std::string& part) {
  return s.find(part) != std::string::npos;
}

/// Devices d1 and d2 of gateway gw1 publish every 100 ms, while their flag is set.
class device_sim {
public:
  explicit device_sim(uint16_t port) : port_(port), thread_([this] { run(); }) {}
  ~device_sim() {
    stop_ = true;
    thread_.join();
  }
  std::atomic<bool> d1{true};
  std::atomic<bool> d2{true};

private:
  void run() {
    mqtt::client_options o;
    o.port = port_;
    mqtt::client c{o};
    while (!stop_) {
      if (d1)
        c.publish("sites/gw1/d1/telemetry", "{\"t\":21.5}", 1, millis_d(500));
      if (d2)
        c.publish("sites/gw1/d2/telemetry", "{\"t\":19.0}", 1, millis_d(500));
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
  }
  uint16_t port_;
  std::atomic<bool> stop_{false};
  std::thread thread_;
};

} // namespace

TEST_CASE("a device that falls silent is a fault until it speaks, and its rhythm survives a restart") {
  mqtt_broker broker;
  node_process n{"services: []\ndevices:\n  broker: " + broker.address()
                 + "\n  topics: [\"sites/+gateway/+device/telemetry\"]\n"};
  device_sim sim{broker.port()};
  auto devices = [&](std::vector<std::string> extra = {}) {
    std::vector<std::string> args{"--json", "devices"};
    args.insert(args.end(), extra.begin(), extra.end());
    return n.ctl(args).out;
  };
  // Learned: both listed active with an interval.
  REQUIRE(wait_until([&] {
    auto out = devices();
    return contains(out, "\"id\":\"d1\"") && contains(out, "\"id\":\"d2\"")
           && !contains(out, "\"interval_ms\":\"0\"") && !contains(out, "\"interval_ms\":0");
  }));
  CHECK(contains(devices(), "\"gateway\":\"gw1\""));
  // A second of rhythm to learn (about 10 intervals; 3 are needed).
  std::this_thread::sleep_for(std::chrono::milliseconds(1000));
  auto open_for = [&](const std::string& component) {
    return contains(n.ctl({"--json", "incidents", "--open"}).out,
                    "\"component\":\"" + component + "\"");
  };
  CHECK_FALSE(open_for("device:d1"));
  // d1 stops: a network_timeout on device:d1, d2 stays fine.
  INFO("faultd log: ", read_file(n.dir.file("data") + "/faultd.log"));
  INFO("devices: ", devices());
  sim.d1 = false;
  REQUIRE(wait_until([&] { return open_for("device:d1"); }));
  auto silent = devices({"--silent"});
  CHECK(contains(silent, "\"id\":\"d1\""));
  CHECK(contains(silent, "\"state\":\"silent\""));
  CHECK_FALSE(contains(silent, "\"id\":\"d2\""));
  CHECK_FALSE(open_for("device:d2"));
  auto faults = n.ctl({"--json", "faults"}).out;
  CHECK(contains(faults, "\"component\":\"device:d1\""));
  CHECK(contains(faults, "\"gateway\":\"gw1\""));
  // d1 speaks again: the incident closes.
  sim.d1 = true;
  CHECK(wait_until([&] { return !open_for("device:d1"); }));
  CHECK_FALSE(contains(devices({"--silent"}), "\"id\":\"d1\""));
  CHECK(contains(devices({"--gateway", "gw1"}), "\"id\":\"d2\""));
  CHECK_FALSE(contains(devices({"--gateway", "gw9"}), "\"id\""));
  // A restart: the rhythms come back from <data_dir>/devices.tsv at once.
  sim.d1 = false;
  sim.d2 = false;
  n.proc->signal(SIGTERM);
  REQUIRE(n.proc->wait(std::chrono::seconds(10)) == 0);
  CHECK(contains(read_file(n.dir.file("data") + "/devices.tsv"), "d1\tgw1\t"));
  n.start();
  auto after = devices();
  CHECK(contains(after, "\"id\":\"d1\""));
  CHECK(contains(after, "\"id\":\"d2\""));
  // Both silent since before the restart: judged by the rhythm they had.
  CHECK(wait_until([&] { return open_for("device:d1") && open_for("device:d2"); }));
}

TEST_CASE("faultctl devices without a devices section says so") {
  node_process n{"services: []\n"};
  auto r = n.ctl({"devices"});
  CHECK(r.status == 1);
  CHECK(contains(r.err, "no devices detector runs here"));
}
