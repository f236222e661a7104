#include <doctest/doctest.h>

#include "faultd/domain.hpp"
#include "faultd/time.hpp"
#include "faultd/util.hpp"

using namespace faultd;
using namespace std::chrono;

TEST_CASE("durations accept ms, s, m and bare integers as seconds") {
  CHECK(parse_duration("250ms") == milliseconds(250));
  CHECK(parse_duration("30s") == seconds(30));
  CHECK(parse_duration("5m") == minutes(5));
  CHECK(parse_duration("2h") == hours(2));
  CHECK(parse_duration("42") == seconds(42));
  CHECK(parse_duration("0") == seconds(0));
  CHECK(parse_duration("100us") == microseconds(100));
}

TEST_CASE("durations reject negatives, empty strings and unknown units") {
  CHECK_FALSE(parse_duration(""));
  CHECK_FALSE(parse_duration("-1"));
  CHECK_FALSE(parse_duration("-5s"));
  CHECK_FALSE(parse_duration("5 s"));
  CHECK_FALSE(parse_duration("5x"));
  CHECK_FALSE(parse_duration("ms"));
  CHECK_FALSE(parse_duration("1.5s"));
}

TEST_CASE("formatted durations parse back to the same value") {
  using faultd::duration;
  for (auto d : {duration{milliseconds(250)}, duration{seconds(30)}, duration{minutes(5)},
                 duration{hours(3)}, duration{microseconds(7)}, duration{nanoseconds(3)}}) {
    auto text = format_duration(d);
    CHECK(parse_duration(text) == d);
  }
}

TEST_CASE("timestamps format as RFC 3339 UTC with milliseconds and parse back") {
  auto t = from_unix_nanos(1'795'000'000'123'000'000);
  auto text = format_timestamp(t);
  CHECK(text == "2026-11-18T11:06:40.123Z");
  CHECK(parse_timestamp(text) == t);
  CHECK_FALSE(parse_timestamp("2026-11-18 08:26:40"));
}

TEST_CASE("manual clock only moves when advanced") {
  manual_clock clk;
  auto t0 = clk.now();
  auto s0 = clk.steady_now();
  clk.advance(seconds(3));
  CHECK(clk.now() - t0 == seconds(3));
  CHECK(clk.steady_now() - s0 == seconds(3));
}

TEST_CASE("uuids are version 4 and distinct") {
  auto a = make_uuid();
  auto b = make_uuid();
  CHECK(a.size() == 36);
  CHECK(a[14] == '4');
  CHECK(a != b);
}

TEST_CASE("sha256 of a known string matches the published digest") {
  CHECK(sha256_hex("abc") == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  CHECK(sha256_hex("") == "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
}

TEST_CASE("glob patterns match with star and question mark") {
  CHECK(glob_match("*", "anything"));
  CHECK(glob_match("gw-*", "gw-mqtt"));
  CHECK_FALSE(glob_match("gw-*", "db"));
  CHECK(glob_match("n?de", "node"));
  CHECK(glob_match("", ""));
  CHECK_FALSE(glob_match("", "x"));
}

TEST_CASE("every enum value round-trips through its name") {
  for (auto t : all_fault_types())
    CHECK(parse_fault_type(to_string(t)) == t);
  for (auto s : all_fault_severities())
    CHECK(parse_fault_severity(to_string(s)) == s);
  for (auto a : all_action_types())
    CHECK(parse_action_type(to_string(a)) == a);
  CHECK(parse_execution_status("rolled_back") == execution_status::rolled_back);
  CHECK(parse_action_status("skipped") == action_status::skipped);
  CHECK(parse_action_status("rolled_back") == action_status::rolled_back);
  CHECK(to_string(action_status::rolled_back) == "rolled_back");
  CHECK_FALSE(parse_fault_type("NetworkTimeout"));
  CHECK_FALSE(parse_fault_severity("fatal"));
}

TEST_CASE("durations for people are rounded to what matters, never raw nanoseconds") {
  using faultd::duration;
  CHECK(human_duration(nanoseconds(590'073'349)) == "590ms");
  CHECK(human_duration(milliseconds(29'700)) == "29.7s");
  CHECK(human_duration(nanoseconds(29'712'345'678)) == "29.7s");
  CHECK(human_duration(seconds(30)) == "30s");
  CHECK(human_duration(microseconds(4'321)) == "4.3ms");
  CHECK(human_duration(microseconds(850)) == "850us");
  CHECK(human_duration(nanoseconds(12)) == "12ns");
  CHECK(human_duration(seconds(90)) == "1m30s");
  CHECK(human_duration(minutes(5)) == "5m");
  CHECK(human_duration(minutes(125)) == "2h5m");
  CHECK(human_duration(hours(3)) == "3h");
  CHECK(human_duration(milliseconds(999'600)) == "16m40s");
  CHECK(human_duration(milliseconds(999)) == "999ms");
  CHECK(human_duration(microseconds(999'700)) == "1s");
  CHECK(human_duration(duration{0}) == "0s");
  CHECK(human_duration(-milliseconds(250)) == "-250ms");
}

TEST_CASE("whole milliseconds since the epoch, truncated, and back") {
  auto t = from_unix_nanos(1'795'000'000'123'456'789);
  CHECK(to_unix_millis(t) == 1'795'000'000'123);
  CHECK(from_unix_millis(1'795'000'000'123) == from_unix_nanos(1'795'000'000'123'000'000));
  CHECK(to_unix_millis(from_unix_millis(-5)) == -5);
}
