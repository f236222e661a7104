// Silent-device detection against a real mosquitto started by the test: a
// publisher of the test's own plays devices of a gateway; faultd learns
// their rhythm, raises device:<id> when one falls silent, clears it when it
// speaks again, lists them with faultctl devices, and after a restart knows
// their rhythms at once; devices that announce a sleep, or sleep by the
// schedule, are asleep instead of silent.

#include <doctest/doctest.h>

#include <atomic>
#include <csignal>
#include <cstdio>
#include <ctime>
#include <string>
#include <thread>
#include <vector>

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

/// Devices publishing every 100 ms, each while its bit in `on` is set.
class device_sim {
public:
  device_sim(uint16_t port, std::vector<std::string> topics)
      : port_(port), topics_(std::move(topics)), on((1u << topics_.size()) - 1),
        thread_([this] { run(); }) {}
  ~device_sim() {
    stop_ = true;
    thread_.join();
  }
  void set(size_t i, bool publishing) {
    if (publishing)
      on |= 1u << i;
    else
      on &= ~(1u << i);
  }

private:
  void run() {
    mqtt::client_options o;
    o.port = port_;
    mqtt::client c{o};
    while (!stop_) {
      for (size_t i = 0; i < topics_.size(); ++i)
        if (on & (1u << i))
          c.publish(topics_[i], "{\"t\":21.5}", 1, millis_d(500));
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
  }
  uint16_t port_;
  std::vector<std::string> topics_;

public:
  std::atomic<uint32_t> on;

private:
  std::atomic<bool> stop_{false};
  std::thread thread_;
};

} // namespace

TEST_CASE("a device that falls silent is a fault until it speaks, and its rhythm survives a restart") {
  mqtt_broker broker;
  node_process n{"services: []\ndevices:\n  broker: " + broker.address()
                 + "\n  topics: [\"sites/+gateway/+device/telemetry\"]\n"};
  device_sim sim{broker.port(), {"sites/gw1/d1/telemetry", "sites/gw1/d2/telemetry"}};
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
  sim.set(0, false);
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
  sim.set(0, true);
  CHECK(wait_until([&] { return !open_for("device:d1"); }));
  CHECK_FALSE(contains(devices({"--silent"}), "\"id\":\"d1\""));
  CHECK(contains(devices({"--gateway", "gw1"}), "\"id\":\"d2\""));
  CHECK_FALSE(contains(devices({"--gateway", "gw9"}), "\"id\""));
  // A restart: the rhythms come back from <data_dir>/devices.tsv at once.
  sim.set(0, false);
  sim.set(1, false);
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

TEST_CASE("most devices of one gateway silent at once are one gateway incident with one alert") {
  mqtt_broker broker;
  node_process n{"services: []\ndevices:\n  broker: " + broker.address()
                 + "\n  topics: [\"sites/+gateway/+device/telemetry\"]\n"};
  device_sim sim{broker.port(),
                 {"sites/gw1/a1/telemetry", "sites/gw1/a2/telemetry", "sites/gw1/a3/telemetry",
                  "sites/gw1/a4/telemetry", "sites/gw2/b1/telemetry"}};
  REQUIRE(wait_until([&] {
    auto out = n.ctl({"--json", "devices"}).out;
    return contains(out, "\"id\":\"a4\"") && contains(out, "\"id\":\"b1\"");
  }));
  std::this_thread::sleep_for(std::chrono::milliseconds(1000));  // rhythms learned
  for (size_t i = 0; i < 4; ++i)
    sim.set(i, false);  // gateway gw1 goes away with its four devices
  auto incidents = [&] { return n.ctl({"--json", "incidents", "--open"}).out; };
  REQUIRE(wait_until([&] { return contains(incidents(), "\"component\":\"gateway:gw1\""); }));
  REQUIRE(wait_until([&] {
    auto out = incidents();
    for (auto d : {"a1", "a2", "a3", "a4"})
      if (!contains(out, std::string{"\"component\":\"device:"} + d + "\""))
        return false;
    return true;
  }));
  // The gateway's incident explains every device incident of gw1.
  auto out = incidents();
  auto gw_at = out.find("\"component\":\"gateway:gw1\"");
  auto gw_id = json_value(out.substr(out.rfind("{\"id\"", gw_at)), "id");
  REQUIRE(!gw_id.empty());
  for (auto d : {"a1", "a2", "a3", "a4"}) {
    auto at = out.find(std::string{"\"component\":\"device:"} + d + "\"");
    CHECK(json_value(out.substr(out.rfind("{\"id\"", at)), "root_cause") == gw_id);
  }
  CHECK_FALSE(contains(out, "\"component\":\"device:b1\""));
  CHECK_FALSE(contains(out, "\"component\":\"gateway:gw2\""));
  // One alert: the gateway's (and none comes late: no strategy applies to a
  // gateway or a device unless one names it).
  std::this_thread::sleep_for(std::chrono::milliseconds(1500));
  auto alerts = n.ctl({"--json", "alerts"}).out;
  size_t gw_alerts = 0;
  for (auto at = alerts.find("gateway:gw1"); at != std::string::npos;
       at = alerts.find("gateway:gw1", at + 1))
    if (alerts.compare(at - 13, 13, "\"component\":\"") == 0)
      ++gw_alerts;
  CHECK(gw_alerts == 1);
  CHECK_FALSE(contains(alerts, "\"component\":\"device:"));
  // The gateway comes back: its incident closes.
  for (size_t i = 0; i < 4; ++i)
    sim.set(i, true);
  CHECK(wait_until([&] { return !contains(incidents(), "\"component\":\"gateway:gw1\""); }));
}

namespace {

/// "HH:MM" of the local time `minutes` from now (the node shares our TZ).
std::string local_hhmm(int minutes) {
  auto t = std::time(nullptr) + minutes * 60;
  std::tm tm{};
  localtime_r(&t, &tm);
  char buf[8];
  std::snprintf(buf, sizeof buf, "%02d:%02d", tm.tm_hour, tm.tm_min);
  return buf;
}

/// The JSON object of device `id` in a `faultctl --json devices` answer.
std::string device_json(const std::string& out, const std::string& id) {
  auto at = out.find("{\"id\":\"" + id + "\"");
  return at == std::string::npos ? "" : out.substr(at, out.find('}', at) - at + 1);
}

} // namespace

TEST_CASE("devices that announce a sleep, or sleep by the schedule, are asleep and not silent") {
  mqtt_broker broker;
  node_process n{"services: []\ndevices:\n  broker: " + broker.address()
                 + "\n  topics: [\"sites/+gateway/+device/telemetry\"]\n"
                   "  sleep:\n    topics: [\"sites/+gateway/+device/sleep\"]\n"
                   "    schedule:\n      - devices: [\"m*\"]\n        from: \""
                 + local_hhmm(-1) + "\"\n        to: \"" + local_hhmm(30) + "\"\n"};
  device_sim sim{broker.port(),
                 {"sites/gw1/d1/telemetry", "sites/gw1/d2/telemetry", "sites/gw1/m1/telemetry"}};
  auto devices = [&] { return n.ctl({"--json", "devices"}).out; };
  auto state_of = [&](const std::string& id) {
    return json_value(device_json(devices(), id), "state");
  };
  auto open_for = [&](const std::string& component) {
    return contains(n.ctl({"--json", "incidents", "--open"}).out,
                    "\"component\":\"" + component + "\"");
  };
  REQUIRE(wait_until([&] {
    auto out = devices();
    return !device_json(out, "d1").empty() && !device_json(out, "m1").empty();
  }));
  std::this_thread::sleep_for(std::chrono::milliseconds(1000));  // rhythms learned
  INFO("faultd log: ", read_file(n.dir.file("data") + "/faultd.log"));
  // d1 says, retained, that it sleeps for an hour, and stops; m1 stops in
  // its scheduled window; d2 stops with no word.
  mqtt::client_options o;
  o.port = broker.port();
  mqtt::client c{o};
  sim.set(0, false);
  std::this_thread::sleep_for(std::chrono::milliseconds(300));  // its last telemetry is out
  // Retained: until when (a later reader cannot tell when "1h" was said).
  REQUIRE(c.publish("sites/gw1/d1/sleep", "@" + std::to_string(std::time(nullptr) + 3600), 1,
                    seconds_d(2), true)
            .ok());
  sim.set(2, false);
  sim.set(1, false);
  REQUIRE(wait_until([&] { return open_for("device:d2"); }));
  REQUIRE(wait_until([&] { return state_of("m1") == "asleep"; }));
  CHECK(state_of("d1") == "asleep");
  CHECK_FALSE(open_for("device:d1"));
  CHECK_FALSE(open_for("device:m1"));
  // A malformed announcement is dropped and counted; faultd lives on.
  REQUIRE(c.publish("sites/gw1/d2/sleep", "until the weekend", 1, seconds_d(2)).ok());
  REQUIRE(wait_until([&] {
    return contains(read_file(n.dir.file("data") + "/faultd.log"), "devices-messages-malformed");
  }));
  CHECK(state_of("d2") == "silent");
  // d9 says, retained, "8h": taken now (said live), refused when read back
  // from the broker's store after a restart (said when?).
  REQUIRE(c.publish("sites/gw1/d9/sleep", "8h", 1, seconds_d(2), true).ok());
  REQUIRE(wait_until([&] { return state_of("d9") == "asleep"; }));
  // A restart: the retained announcement (and the learned file) keep d1 asleep.
  n.proc->signal(SIGTERM);
  REQUIRE(n.proc->wait(std::chrono::seconds(10)) == 0);
  n.start();
  REQUIRE(wait_until([&] { return open_for("device:d2"); }));
  REQUIRE(wait_until([&] {
    return contains(read_file(n.dir.file("data") + "/faultd.log"), "says for how long");
  }));
  CHECK(state_of("d1") == "asleep");
  CHECK(state_of("m1") == "asleep");
  CHECK_FALSE(open_for("device:d1"));
  // d1 wakes and speaks: active; it says it is awake (the retained word
  // goes), then falls silent for real: judged again.
  REQUIRE(c.publish("sites/gw1/d1/sleep", "", 1, seconds_d(2), true).ok());
  sim.set(0, true);
  REQUIRE(wait_until([&] { return state_of("d1") == "active"; }));
  std::this_thread::sleep_for(std::chrono::milliseconds(1000));
  sim.set(0, false);
  CHECK(wait_until([&] { return open_for("device:d1"); }));
}

TEST_CASE("faultctl devices without a devices section says so") {
  node_process n{"services: []\n"};
  auto r = n.ctl({"devices"});
  CHECK(r.status == 1);
  CHECK(contains(r.err, "no devices detector runs here"));
}
