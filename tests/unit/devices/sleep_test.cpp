#include <doctest/doctest.h>

#include "devices/sleep.hpp"

using namespace faultd;
using namespace faultd::devices;

namespace {

constexpr int64_t start = 1'800'000'000'000;  // 2027-01-15T08:00:00Z
constexpr int64_t hour = 3'600'000;

int64_t at_utc(int64_t day_start, int h, int m) { return day_start + h * hour + m * 60'000; }

/// 2027-01-15 00:00 UTC.
constexpr int64_t midnight = start - 8 * hour;

device_sleep_window window(std::vector<std::string> devices, int from, int to) {
  device_sleep_window w;
  w.devices = std::move(devices);
  w.from_minute = from;
  w.to_minute = to;
  return w;
}

} // namespace

TEST_CASE("a sleep announcement says how long or until when") {
  std::string err;
  CHECK(parse_sleep_payload("3600", start, err) == start + hour);
  CHECK(parse_sleep_payload(" 90s\n", start, err) == start + 90'000);
  CHECK(parse_sleep_payload("8h", start, err) == start + 8 * hour);
  CHECK(parse_sleep_payload("@1800003600", start, err) == start + hour);
  CHECK(parse_sleep_payload("2027-01-15T09:00:00Z", start, err) == start + hour);
  CHECK(parse_sleep_payload("2027-01-15T09:00:00.500Z", start, err) == start + hour + 500);
  for (auto awake : {"", "0", "awake", "  "})
    CHECK(parse_sleep_payload(awake, start, err) == start);
  for (auto bad : {"soon", "-5", "@", "@12a", "@1234567890123", "1h tomorrow"}) {
    err.clear();
    CHECK_FALSE(parse_sleep_payload(bad, start, err));
    CHECK_FALSE(err.empty());
  }
  CHECK_FALSE(parse_sleep_payload(std::string(65, '1'), start, err));
  CHECK(err.find("longer than 64") != std::string::npos);
}

TEST_CASE("the sleep schedule holds matching devices asleep in their daily window") {
  auto utc = [](int64_t) -> int64_t { return 0; };
  sleep_schedule s{{window({"meter-*"}, 1 * 60, 5 * 60)}, utc};
  CHECK(s.wake("meter-7", at_utc(midnight, 2, 30)) == at_utc(midnight, 5, 0));
  CHECK(s.wake("meter-7", at_utc(midnight, 1, 0)) == at_utc(midnight, 5, 0));
  CHECK(s.wake("meter-7", at_utc(midnight, 5, 0)) == 0);
  CHECK(s.wake("meter-7", at_utc(midnight, 0, 59)) == 0);
  CHECK(s.wake("pump-1", at_utc(midnight, 2, 30)) == 0);
  // In the node's local time: at UTC+2, 02:30 local is 00:30 UTC.
  sleep_schedule local{{window({"*"}, 1 * 60, 5 * 60)}, [](int64_t) { return 2 * hour; }};
  CHECK(local.wake("x", at_utc(midnight, 0, 30)) == at_utc(midnight, 3, 0));
  CHECK(local.wake("x", at_utc(midnight, 2, 30)) == at_utc(midnight, 3, 0));  // 04:30 local
  CHECK(local.wake("x", at_utc(midnight, 3, 30)) == 0);                      // 05:30 local
}

TEST_CASE("a window may span midnight, and windows that follow one another are one sleep") {
  auto utc = [](int64_t) -> int64_t { return 0; };
  sleep_schedule s{{window({"a"}, 22 * 60, 2 * 60), window({"a", "b"}, 2 * 60, 4 * 60)}, utc};
  CHECK(s.wake("a", at_utc(midnight, 23, 0)) == at_utc(midnight + 24 * hour, 4, 0));
  CHECK(s.wake("a", at_utc(midnight, 1, 0)) == at_utc(midnight, 4, 0));
  CHECK(s.wake("b", at_utc(midnight, 1, 0)) == 0);
  CHECK(s.wake("b", at_utc(midnight, 3, 0)) == at_utc(midnight, 4, 0));
  CHECK(s.wake("a", at_utc(midnight, 12, 0)) == 0);
  CHECK(sleep_schedule{{}, utc}.empty());
}
