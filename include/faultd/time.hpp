#pragma once

// Time as faultd uses it: wall-clock timestamps for what is stored and shown,
// steady durations for timers, and an injectable clock so that logic which
// depends on time (dedup windows, hysteresis, backoff) is tested without
// sleeping.

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace faultd {

using duration = std::chrono::nanoseconds;
using timestamp = std::chrono::time_point<std::chrono::system_clock, std::chrono::nanoseconds>;

constexpr duration seconds_d(int64_t s) { return std::chrono::seconds(s); }
constexpr duration millis_d(int64_t ms) { return std::chrono::milliseconds(ms); }

/// Parses `250ms`, `30s`, `5m`, `2h`, `1d`, `100us` or a bare integer
/// (seconds). Returns nullopt for anything else, including negatives and
/// values too large for a nanosecond count (about 292 years).
std::optional<duration> parse_duration(std::string_view s);

/// True if `s` is well-formed but too large for parse_duration.
bool duration_too_large(std::string_view s);

/// Formats a duration the way parse_duration reads it back ("250ms", "30s"),
/// exactly (so "590073349ns" for an odd value): for config values.
std::string format_duration(duration d);

/// A duration for people, rounded to what matters: "590ms", "4.3ms",
/// "29.7s", "1m30s", "2h5m", "850us". For logs, messages and faultctl.
std::string human_duration(duration d);

/// RFC 3339 UTC with milliseconds: "2026-11-24T15:48:21.123Z".
std::string format_timestamp(timestamp t);

/// Reads format_timestamp's output back (the milliseconds may be left out).
std::optional<timestamp> parse_timestamp(std::string_view s);

/// Nanoseconds since the epoch, and back (the storage representation).
int64_t to_unix_nanos(timestamp t);
timestamp from_unix_nanos(int64_t ns);

/// Milliseconds since the epoch (truncated), and back: for values kept or
/// sent as whole milliseconds.
int64_t to_unix_millis(timestamp t);
timestamp from_unix_millis(int64_t ms);

/// A source of time. Production code uses system_clock_source(); tests use a
/// manual_clock they advance by hand.
class clock_source {
public:
  virtual ~clock_source() = default;
  /// Wall-clock time (stored, shown).
  virtual timestamp now() const = 0;
  /// Monotonic time for measuring intervals.
  virtual std::chrono::steady_clock::time_point steady_now() const = 0;
};

/// The real clocks.
const clock_source& system_clock_source();

/// A clock that only moves when told to.
class manual_clock final : public clock_source {
public:
  explicit manual_clock(timestamp start = from_unix_nanos(1'700'000'000'000'000'000));
  timestamp now() const override { return now_; }
  std::chrono::steady_clock::time_point steady_now() const override { return steady_; }
  void advance(duration d) {
    now_ += d;
    steady_ += d;
  }

private:
  timestamp now_;
  std::chrono::steady_clock::time_point steady_;
};

} // namespace faultd
