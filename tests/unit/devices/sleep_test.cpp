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
  auto until = [&](std::string_view payload) {
    auto w = parse_sleep_payload(payload, start, err);
    return w ? w->until_ms : -1;
  };
  CHECK(until("3600") == start + hour);
  CHECK(until(" 90s\n") == start + 90'000);
  CHECK(until("8h") == start + 8 * hour);
  CHECK(parse_sleep_payload("8h", start, err)->relative);
  CHECK(until("@1800003600") == start + hour);
  CHECK_FALSE(parse_sleep_payload("@1800003600", start, err)->relative);
  CHECK(until("2027-01-15T09:00:00Z") == start + hour);
  CHECK(until("2027-01-15T09:00:00.500Z") == start + hour + 500);
  CHECK(until("@1700000000") == 1'700'000'000'000);  // in the past: awake
  for (auto awake : {"", "0", "awake", "  "})
    CHECK(until(awake) == start);
  // Nothing more than a year away (nor what would overflow a timestamp).
  for (auto far : {"367d", "100000d", "@999999999999", "@1900000000"}) {
    err.clear();
    CHECK_MESSAGE(!parse_sleep_payload(far, start, err), far);
    CHECK(err.find("366 days") != std::string::npos);
  }
  CHECK_FALSE(parse_sleep_payload("9999-12-31T23:59:59Z", start, err));
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
  sleep_schedule local{{window({"*"}, 1 * 60, 5 * 60)}, [](int64_t) -> int64_t { return 2 * hour; }};
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

TEST_CASE("a window's end stays at its local time when the clocks change within it") {
  // UTC+1 until 02:00 UTC, UTC+2 after (clocks forward at 03:00 local).
  auto summer = [](int64_t ms) -> int64_t { return ms < at_utc(midnight, 2, 0) ? hour : 2 * hour; };
  sleep_schedule s{{window({"*"}, 1 * 60, 5 * 60)}, summer};
  // 01:30 local (00:30 UTC): wakes at 05:00 local, which is 03:00 UTC now.
  CHECK(s.wake("x", at_utc(midnight, 0, 30)) == at_utc(midnight, 3, 0));
}
