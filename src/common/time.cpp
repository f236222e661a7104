#include "faultd/time.hpp"

#include <cctype>
#include <cstdint>
#include <cstdio>
#include <ctime>

namespace faultd {

std::optional<duration> parse_duration(std::string_view s) {
  if (s.empty())
    return std::nullopt;
  size_t i = 0;
  uint64_t n = 0;
  while (i < s.size() && std::isdigit(static_cast<unsigned char>(s[i]))) {
    if (n > (uint64_t{1} << 62) / 10)
      return std::nullopt; // more digits than any duration holds
    n = n * 10 + static_cast<uint64_t>(s[i] - '0');
    ++i;
  }
  if (i == 0)
    return std::nullopt; // no digits (also rejects a leading '-')
  auto unit = s.substr(i);
  uint64_t unit_ns = 0;
  if (unit.empty() || unit == "s")
    unit_ns = 1'000'000'000;
  else if (unit == "ms")
    unit_ns = 1'000'000;
  else if (unit == "us")
    unit_ns = 1'000;
  else if (unit == "ns")
    unit_ns = 1;
  else if (unit == "m")
    unit_ns = 60'000'000'000;
  else if (unit == "h")
    unit_ns = 3'600'000'000'000;
  else if (unit == "d")
    unit_ns = 86'400'000'000'000;
  else
    return std::nullopt;
  // The product must fit the nanosecond count (about 292 years): an
  // overflow would wrap to something short and silently act on it.
  if (n > static_cast<uint64_t>(INT64_MAX) / unit_ns)
    return std::nullopt;
  return duration{static_cast<int64_t>(n * unit_ns)};
}

bool duration_too_large(std::string_view s) {
  size_t i = 0;
  while (i < s.size() && std::isdigit(static_cast<unsigned char>(s[i])))
    ++i;
  if (i == 0)
    return false;
  auto unit = s.substr(i);
  bool known = unit.empty() || unit == "s" || unit == "ms" || unit == "us" || unit == "ns"
               || unit == "m" || unit == "h" || unit == "d";
  return known && !parse_duration(s);
}

std::string format_duration(duration d) {
  using namespace std::chrono;
  auto ns = d.count();
  auto fmt = [](int64_t v, const char* unit) { return std::to_string(v) + unit; };
  if (ns == 0)
    return "0s";
  if (ns % 3'600'000'000'000 == 0)
    return fmt(ns / 3'600'000'000'000, "h");
  if (ns % 60'000'000'000 == 0)
    return fmt(ns / 60'000'000'000, "m");
  if (ns % 1'000'000'000 == 0)
    return fmt(ns / 1'000'000'000, "s");
  if (ns % 1'000'000 == 0)
    return fmt(ns / 1'000'000, "ms");
  if (ns % 1'000 == 0)
    return fmt(ns / 1'000, "us");
  return fmt(ns, "ns");
}

std::string human_duration(duration d) {
  auto ns = d.count();
  std::string sign;
  if (ns < 0) {
    sign = "-";
    ns = -ns;
  }
  char buf[64];
  auto one_decimal = [&](double v, const char* unit) {
    std::snprintf(buf, sizeof(buf), "%.1f", v);
    std::string t = buf;
    if (t.size() > 2 && t.compare(t.size() - 2, 2, ".0") == 0)
      t.resize(t.size() - 2);
    return sign + t + unit;
  };
  if (ns == 0)
    return "0s";
  if (ns < 1'000)
    return sign + std::to_string(ns) + "ns";
  if (ns < 1'000'000)
    return sign + std::to_string((ns + 500) / 1'000) + "us";
  if (ns < 10'000'000)
    return one_decimal(static_cast<double>(ns) / 1e6, "ms");
  if (ns < 999'500'000)
    return sign + std::to_string((ns + 500'000) / 1'000'000) + "ms";
  if (ns < 59'950'000'000)
    return one_decimal(static_cast<double>(ns) / 1e9, "s");
  int64_t secs = (ns + 500'000'000) / 1'000'000'000;
  if (secs < 3600) {
    auto m = secs / 60, s2 = secs % 60;
    return sign + std::to_string(m) + "m" + (s2 ? std::to_string(s2) + "s" : "");
  }
  int64_t mins = (secs + 30) / 60;
  auto h = mins / 60, m = mins % 60;
  return sign + std::to_string(h) + "h" + (m ? std::to_string(m) + "m" : "");
}

int64_t to_unix_nanos(timestamp t) { return t.time_since_epoch().count(); }

timestamp from_unix_nanos(int64_t ns) { return timestamp{duration{ns}}; }

int64_t to_unix_millis(timestamp t) {
  return std::chrono::duration_cast<std::chrono::milliseconds>(t.time_since_epoch()).count();
}

timestamp from_unix_millis(int64_t ms) { return timestamp{std::chrono::milliseconds(ms)}; }

std::string format_timestamp(timestamp t) {
  auto ns = to_unix_nanos(t);
  auto secs = static_cast<time_t>(ns / 1'000'000'000);
  auto ms = static_cast<int>((ns / 1'000'000) % 1000);
  if (ns < 0 && ms != 0) { // floor for pre-epoch times
    secs -= 1;
    ms += 1000;
  }
  std::tm tm{};
  gmtime_r(&secs, &tm);
  char buf[96];
  std::snprintf(buf, sizeof(buf), "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tm.tm_year + 1900,
                tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, ms);
  return buf;
}

std::optional<timestamp> parse_timestamp(std::string_view s) {
  std::tm tm{};
  int ms = 0;
  std::string str{s};
  int consumed = 0;
  const bool with_ms =
    std::sscanf(str.c_str(), "%4d-%2d-%2dT%2d:%2d:%2d.%3dZ%n", &tm.tm_year, &tm.tm_mon,
                &tm.tm_mday, &tm.tm_hour, &tm.tm_min, &tm.tm_sec, &ms, &consumed)
      == 7;
  if (!with_ms) {
    ms = 0;
    consumed = 0;
    if (std::sscanf(str.c_str(), "%4d-%2d-%2dT%2d:%2d:%2dZ%n", &tm.tm_year, &tm.tm_mon,
                    &tm.tm_mday, &tm.tm_hour, &tm.tm_min, &tm.tm_sec, &consumed)
        != 6)
      return std::nullopt;
  }
  if (consumed != static_cast<int>(str.size()))
    return std::nullopt;
  tm.tm_year -= 1900;
  tm.tm_mon -= 1;
  auto secs = timegm(&tm);
  // A timestamp is nanoseconds in an int64: about 1678 .. 2262.
  if (secs < -9'000'000'000LL || secs > 9'000'000'000LL)
    return std::nullopt;
  return from_unix_nanos(static_cast<int64_t>(secs) * 1'000'000'000 + int64_t{ms} * 1'000'000);
}

namespace {

class system_clock_impl final : public clock_source {
public:
  timestamp now() const override {
    return std::chrono::time_point_cast<duration>(std::chrono::system_clock::now());
  }
  std::chrono::steady_clock::time_point steady_now() const override {
    return std::chrono::steady_clock::now();
  }
};

} // namespace

const clock_source& system_clock_source() {
  static const system_clock_impl clk;
  return clk;
}

manual_clock::manual_clock(timestamp start)
  : now_(start), steady_(std::chrono::steady_clock::time_point{} + std::chrono::hours(1)) {
}

} // namespace faultd
