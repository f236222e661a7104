#include <doctest/doctest.h>

#include <algorithm>
#include <map>
#include <random>

#include "devices/silence_detector.hpp"

using namespace faultd;
using namespace faultd::devices;
using std::chrono::milliseconds;
using std::chrono::seconds;

namespace {

const timestamp t0{seconds(1'800'000'000)};

/// Feeds `n` messages `every` apart from `from`; returns the last time.
timestamp feed(silence_detector& d, const std::string& id, timestamp from, duration every, int n,
               const std::string& gw = "gw1") {
  auto t = from;
  for (int i = 0; i < n; ++i, t += every)
    d.heard(id, gw, t);
  return t - every;
}

} // namespace

TEST_CASE("topic patterns name the device and the gateway levels") {
  std::string err;
  auto p = topic_pattern::parse("sites/+gateway/+device/telemetry", err);
  REQUIRE(p);
  CHECK(p->subscription() == "sites/+/+/telemetry");
  std::string dev, gw;
  CHECK(p->match("sites/gw7/dev42/telemetry", dev, gw));
  CHECK(dev == "dev42");
  CHECK(gw == "gw7");
  CHECK_FALSE(p->match("sites/gw7/dev42/status", dev, gw));
  CHECK_FALSE(p->match("sites/gw7/telemetry", dev, gw));
  auto hash = topic_pattern::parse("d/+device/#", err);
  REQUIRE(hash);
  CHECK(hash->match("d/x/a/b", dev, gw));
  CHECK(dev == "x");
  CHECK(gw.empty());
  CHECK_FALSE(topic_pattern::parse("sites/+gateway/telemetry", err));
  CHECK(err.find("no +device level") != std::string::npos);
  CHECK_FALSE(topic_pattern::parse("a/#/+device", err));
  CHECK_FALSE(topic_pattern::parse("a/+dev/+device", err));
  CHECK(err.find("unknown wildcard name") != std::string::npos);
  CHECK_FALSE(topic_pattern::parse("a/x+/+device", err));
}

TEST_CASE("each device is judged by its own rhythm") {
  silence_detector d{detector_params{}};
  // A fast device (2 s) and a slow one (60 s), both regular.
  auto fast_last = feed(d, "fast", t0, seconds(2), 20);
  auto slow_last = feed(d, "slow", t0, seconds(60), 20);
  CHECK(d.scan(fast_last + seconds(3)).empty());  // a bit late is fine
  // The fast one silent for 5 intervals: flagged. The slow one is not
  // flagged for the same 10 s.
  auto events = d.scan(fast_last + seconds(10));
  REQUIRE(events.size() == 1);
  CHECK(events[0].device == "fast");
  CHECK(events[0].silent);
  CHECK(events[0].gateway == "gw1");
  CHECK(events[0].interval_ms == doctest::Approx(2000).epsilon(0.01));
  CHECK(events[0].phi >= 8);
  // The slow one only after several of its own intervals.
  CHECK(d.scan(slow_last + seconds(90)).empty());
  auto slow = d.scan(slow_last + seconds(200));
  REQUIRE(slow.size() == 1);
  CHECK(slow[0].device == "slow");
  // Flagged once.
  CHECK(d.scan(slow_last + seconds(400)).empty());
}

TEST_CASE("a silent device that speaks again clears its silence") {
  silence_detector d{detector_params{}};
  auto last = feed(d, "a", t0, seconds(5), 10);
  REQUIRE(d.scan(last + seconds(60)).size() == 1);
  auto back = d.heard("a", "gw1", last + seconds(61));
  REQUIRE(back);
  CHECK_FALSE(back->silent);
  CHECK(back->silence == seconds(61));
  auto views = d.list(last + seconds(61));
  REQUIRE(views.size() == 1);
  CHECK(views[0].state == device_state::active);
}

TEST_CASE("a device is not judged before it has shown a rhythm, unless max_silence says so") {
  silence_detector d{detector_params{}};
  d.heard("new", "gw", t0);
  d.heard("new", "gw", t0 + seconds(1));
  CHECK(d.scan(t0 + seconds(3600)).empty());
  detector_params p;
  p.max_silence = seconds(30);
  silence_detector bounded{p};
  bounded.heard("new", "gw", t0);
  CHECK(bounded.scan(t0 + seconds(29)).empty());
  CHECK(bounded.scan(t0 + seconds(30)).size() == 1);
}

TEST_CASE("intervals under min_interval are not learned") {
  detector_params p;
  p.min_interval = seconds(1);
  silence_detector d{p};
  auto last = feed(d, "a", t0, seconds(10), 10);
  // A burst of duplicates does not shrink the learned interval.
  for (int i = 1; i <= 5; ++i)
    d.heard("a", "gw", last + milliseconds(10 * i));
  auto v = d.list(last + seconds(1));
  REQUIRE(v.size() == 1);
  CHECK(v[0].interval_ms == doctest::Approx(10000).epsilon(0.01));
}

TEST_CASE("a device that announced a sleep is not flagged while asleep") {
  silence_detector d{detector_params{}};
  auto last = feed(d, "s", t0, seconds(10), 10);
  CHECK_FALSE(d.announced_sleep("s", "", last + seconds(3600), last + seconds(1), true));
  auto v = d.list(last + seconds(60)).at(0);
  CHECK(v.state == device_state::asleep);
  CHECK(v.gateway == "gw1");  // an announcement without a gateway level keeps it
  CHECK(d.scan(last + seconds(3600)).empty());
  // After its wake-up it has its usual silence to speak.
  CHECK(d.scan(last + seconds(3605)).empty());
  CHECK(d.list(last + seconds(3605)).at(0).state == device_state::active);
  CHECK(d.scan(last + seconds(3700)).size() == 1);
  // The hour over its sleep is not learned as its rhythm.
  d.heard("s", "gw1", last + seconds(3800));
  CHECK(d.list(last + seconds(3800)).at(0).interval_ms == doctest::Approx(10000).epsilon(0.01));
}

TEST_CASE("an announcement clears a silence, an awake one ends the sleep, an old retained one does nothing") {
  silence_detector d{detector_params{}};
  auto last = feed(d, "s", t0, seconds(10), 10);
  REQUIRE(d.scan(last + seconds(60)).size() == 1);
  // It was silent; now it says it sleeps for an hour: the fault clears.
  auto back = d.announced_sleep("s", "gw1", last + seconds(3660), last + seconds(60), false);
  REQUIRE(back);
  CHECK_FALSE(back->silent);
  REQUIRE(back->asleep_until);
  CHECK(*back->asleep_until == last + seconds(3660));
  CHECK(d.gateways().at(0).silent == 0);
  // "awake", said live: judged by its rhythm again from now.
  CHECK_FALSE(d.announced_sleep("s", "gw1", last + seconds(100), last + seconds(100), true));
  CHECK(d.list(last + seconds(101)).at(0).state == device_state::active);
  CHECK(d.scan(last + seconds(110)).empty());
  CHECK(d.scan(last + seconds(200)).size() == 1);
  // A retained announcement of a sleep that ended, read again: nothing.
  CHECK_FALSE(d.announced_sleep("s", "gw1", last + seconds(150), last + seconds(300), false));
  CHECK_FALSE(d.announced_sleep("unknown", "gw1", last, last + seconds(300), false));
  CHECK(d.size() == 1);
  CHECK(d.list(last + seconds(300)).at(0).state == device_state::silent);
}

TEST_CASE("announcements over and over keep the scan heap bounded") {
  silence_detector d{detector_params{}};
  auto last = feed(d, "s", t0, seconds(10), 10);
  for (int i = 0; i < 100000; ++i)
    d.announced_sleep("s", "gw1", last + seconds(86400 + i), last + milliseconds(i), true);
  CHECK(d.heap_size() <= 4 * d.size() + 4096 + 1);
  // The last word holds: asleep until then, judged after it.
  CHECK(d.scan(last + seconds(86400 + 99999)).empty());
  CHECK(d.scan(last + seconds(86400 + 99999 + 60)).size() == 1);
}

TEST_CASE("a device due before its sleep window is silent even when judged within it") {
  detector_params p;
  const auto window_from = to_unix_millis(t0) + 100'000;
  p.scheduled_wake = [&](const std::string&, int64_t at_ms) -> int64_t {
    return at_ms >= window_from ? window_from + 3'600'000 : 0;
  };
  silence_detector d{p};
  auto last = feed(d, "m", t0, seconds(10), 5);  // due about 24 s after t0 + 40 s
  auto late = d.scan(t0 + seconds(200));          // a late scan, inside the window
  REQUIRE(late.size() == 1);
  CHECK(late[0].device == "m");
  (void) last;
}

TEST_CASE("the sleep schedule puts a due device to sleep until its window ends") {
  detector_params p;
  // Asleep from when it is due until 100 s later, if its id starts with "m".
  const auto window_end = to_unix_millis(t0) + 200'000;
  p.scheduled_wake = [&](const std::string& id, int64_t now_ms) -> int64_t {
    return id[0] == 'm' && now_ms < window_end ? window_end : 0;
  };
  silence_detector d{p};
  auto last_m = feed(d, "meter", t0, seconds(10), 5);
  auto last_x = feed(d, "x", t0, seconds(10), 5);
  auto silent = d.scan(last_m + seconds(60));
  REQUIRE(silent.size() == 1);
  CHECK(silent[0].device == "x");
  CHECK(d.list(last_m + seconds(60), false).at(0).state == device_state::asleep);
  CHECK(d.scan(from_unix_millis(window_end) + seconds(5)).empty());
  CHECK(d.scan(from_unix_millis(window_end) + seconds(60)).size() == 1);
  (void) last_x;
}

TEST_CASE("each topic pattern may bound its devices on its own") {
  detector_params p;
  p.max_silence = seconds(600);
  p.patterns = {{"a/+device", millis_d(0), std::nullopt},
                {"b/+device", seconds(5), seconds(30)}};
  // Pattern 0 has no max_silence of its own here (the actor fills in the
  // section's): phi alone judges it.
  silence_detector d{p};
  d.heard("slow", "", t0, 1);
  CHECK(d.scan(t0 + seconds(29)).empty());
  CHECK(d.scan(t0 + seconds(31)).size() == 1);  // b's max_silence, before any rhythm
  d.heard("fast", "", t0, 0);
  CHECK(d.scan(t0 + seconds(700)).empty());
  // b's min_interval: bursts under 5 s are not learned.
  auto t = t0 + seconds(1000);
  for (int i = 0; i < 10; ++i, t += seconds(20)) {
    d.heard("burst", "", t, 1);
    d.heard("burst", "", t + seconds(1), 1);
  }
  auto v = d.list(t);
  auto burst = std::find_if(v.begin(), v.end(), [](auto& x) { return x.id == "burst"; });
  REQUIRE(burst != v.end());
  CHECK(burst->interval_ms == doctest::Approx(19000).epsilon(0.01));
  // The pattern goes to the learned file by its text and comes back.
  auto saved = d.export_learned();
  silence_detector e{p};
  e.import_learned(saved);
  // Its last message was 19 s before t: b's max_silence (30 s) ends at t + 11 s.
  auto is_burst = [](auto& x) { return x.device == "burst"; };
  auto early = e.scan(t + seconds(5));
  CHECK_FALSE(std::any_of(early.begin(), early.end(), is_burst));
  auto judged = e.scan(t + seconds(12));
  CHECK(std::any_of(judged.begin(), judged.end(), is_burst));
}

TEST_CASE("jittered devices that keep publishing are never flagged, stopped ones are within 3 intervals") {
  silence_detector d{detector_params{}};
  std::mt19937 rng{7};
  std::uniform_real_distribution<double> jitter(0.7, 1.3);
  const int devices = 200;
  std::vector<timestamp> next(devices, t0);
  std::vector<double> every_s(devices);
  for (int i = 0; i < devices; ++i)
    every_s[i] = 1 + i % 60;  // 1 s .. 60 s
  std::vector<timestamp> stopped_at(devices, timestamp::max());
  auto end = t0 + seconds(3 * 3600);
  // Devices 0..19 stop at the 2 h mark.
  auto stop = t0 + seconds(2 * 3600);
  size_t false_positives = 0;
  std::vector<double> delays;  // detection delay in the device's intervals
  for (auto now = t0; now < end; now += milliseconds(500)) {
    for (int i = 0; i < devices; ++i) {
      if (i < 20 && now >= stop) {
        if (stopped_at[i] == timestamp::max())
          stopped_at[i] = next[i] - std::chrono::duration_cast<duration>(
                                       std::chrono::duration<double>(every_s[i]));
        continue;
      }
      while (next[i] <= now) {
        d.heard("d" + std::to_string(i), "gw", next[i]);
        next[i] += std::chrono::duration_cast<duration>(
          std::chrono::duration<double>(every_s[i] * jitter(rng)));
      }
    }
    for (auto& e : d.scan(now)) {
      auto i = std::stoi(e.device.substr(1));
      if (i >= 20) {
        ++false_positives;
      } else {
        auto silent_for = std::chrono::duration<double>(now - e.last_seen).count();
        delays.push_back(silent_for / every_s[i]);
      }
    }
  }
  CHECK(false_positives == 0);
  CHECK(delays.size() == 20);
  for (auto x : delays)
    CHECK(x <= 3.0);
  CHECK(d.size() == devices);
}

TEST_CASE("learned rhythms survive an export and import") {
  silence_detector a{detector_params{}};
  auto last = feed(a, "x", t0, seconds(4), 10, "gwx");
  auto saved = a.export_learned();
  REQUIRE(saved.size() == 1);
  silence_detector b{detector_params{}};
  b.import_learned(saved);
  auto v = b.list(last);
  REQUIRE(v.size() == 1);
  CHECK(v[0].gateway == "gwx");
  CHECK(v[0].interval_ms == doctest::Approx(4000).epsilon(0.01));
  // No blind spot: it is judged at once, by the rhythm it had.
  CHECK(b.scan(last + seconds(30)).size() == 1);
}

#include "devices/learned_file.hpp"
#include "support/support.hpp"

TEST_CASE("learned rhythms go to a file and back, bad lines skipped and counted") {
  faultd::test::temp_dir dir;
  auto path = dir.file("devices.tsv");
  std::vector<silence_detector::learned> xs{{"a", "gw1", 1000, 2000.5, 40.25, 7, 0, ""},
                                            {"b", "", 5, 60000, 0, 3, 0, ""}};
  REQUIRE(save_learned(path, xs).ok());
  std::vector<silence_detector::learned> back;
  size_t bad = 0;
  REQUIRE(load_learned(path, back, bad).ok());
  CHECK(bad == 0);
  REQUIRE(back.size() == 2);
  CHECK(back[0].id == "a");
  CHECK(back[0].mean_ms == doctest::Approx(2000.5));
  CHECK(back[1].gateway.empty());
  CHECK(back[1].samples == 3);
  CHECK(back[1].pattern.empty());
  xs[0].asleep_until_ms = 99000;
  xs[0].pattern = "sites/+gateway/+device/t";
  REQUIRE(save_learned(path, xs).ok());
  back.clear();
  REQUIRE(load_learned(path, back, bad).ok());
  REQUIRE(back.size() == 2);
  CHECK(back[0].asleep_until_ms == 99000);
  CHECK(back[0].pattern == "sites/+gateway/+device/t");
  // Six fields (as written before sleeps and patterns were kept) still load.
  faultd::test::write_file(path, "a\tgw\t1\t2\t3\t4\nbroken line\nb\tgw\tx\t2\t3\t4\nc\tgw\t1\t-2\t3\t4\n"
                                 "d\tgw\t1\t2\t3\t4\t-5\t\ne\tgw\t1\t2\t3\t4\t5\n"
                                 "f\tgw\t\t5\t6\t7\ng\tgw\t1\t2\t3\t-1\nh\tgw\t1\tnan\t3\t4\n"
                                 "i\tgw\t1\t2\t3\t4\t9223372036854775807\tp\nj\tgw\t1 \t2\t3\t4\n");
  back.clear();
  REQUIRE(load_learned(path, back, bad).ok());
  CHECK(back.size() == 1);
  CHECK(bad == 10);
  back.clear();
  CHECK(load_learned(dir.file("none.tsv"), back, bad).ok());
  CHECK(back.empty());
}

TEST_CASE("each gateway counts its known and silent devices") {
  silence_detector d{detector_params{}};
  feed(d, "a", t0, seconds(1), 10, "g1");
  feed(d, "b", t0, seconds(1), 10, "g1");
  auto last = feed(d, "c", t0, seconds(1), 10, "g2");
  auto counts = [&] {
    std::map<std::string, std::pair<uint32_t, uint32_t>> out;
    for (auto& g : d.gateways())
      out[g.gateway] = {g.known, g.silent};
    return out;
  };
  CHECK(counts()["g1"] == std::make_pair(2u, 0u));
  d.scan(last + seconds(30));  // all three silent
  CHECK(counts()["g1"] == std::make_pair(2u, 2u));
  CHECK(counts()["g2"] == std::make_pair(1u, 1u));
  d.heard("a", "g1", last + seconds(31));
  CHECK(counts()["g1"] == std::make_pair(2u, 1u));
  // A device that moves to another gateway is counted there.
  d.heard("a", "g2", last + seconds(32));
  CHECK(counts()["g1"] == std::make_pair(1u, 1u));
  CHECK(counts()["g2"] == std::make_pair(2u, 1u));
}

TEST_CASE("the listing filters silent devices and one gateway") {
  silence_detector d{detector_params{}};
  feed(d, "a", t0, seconds(1), 10, "g1");
  auto last = feed(d, "b", t0, seconds(1), 10, "g2");
  d.heard("c", "g2", last + seconds(20));
  d.scan(last + seconds(20));  // a and b silent, c just heard
  auto ids = [](const std::vector<device_view>& v) {
    std::vector<std::string> out;
    for (auto& x : v)
      out.push_back(x.id);
    return out;
  };
  CHECK(ids(d.list(last + seconds(20))) == std::vector<std::string>{"a", "b", "c"});
  CHECK(ids(d.list(last + seconds(20), true)) == std::vector<std::string>{"a", "b"});
  CHECK(ids(d.list(last + seconds(20), false, "g2")) == std::vector<std::string>{"b", "c"});
  CHECK(ids(d.list(last + seconds(20), true, "g2")) == std::vector<std::string>{"b"});
}
