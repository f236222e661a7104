#pragma once

// When devices sleep, so that their silence is not judged meanwhile: what a
// device announces on a sleep topic, and the daily windows of the config's
// sleep schedule. Plain functions and a plain class on injected time.

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "faultd/config.hpp"

namespace faultd::devices {

/// Announcement payloads longer than this are malformed.
constexpr size_t max_sleep_payload = 64;

/// The longest sleep a device may announce.
constexpr int64_t max_sleep_ms = 366LL * 86'400'000;

/// What a sleep announcement says.
struct sleep_word {
  int64_t until_ms = 0;   ///< the wake-up time (unix ms); at or before now: awake
  bool relative = false;  ///< said as a duration (counts from when it was said)
};

/// Reads a sleep announcement said at `now_ms`, or nullopt with `error`
/// set. The payload, trimmed, is one of:
///   - a duration (`90s`, `8h`, a bare number of seconds): sleeps that long
///     from now (a retained announcement must not say this: a later reader
///     does not know when it was said);
///   - `@<unix seconds>` or an RFC 3339 UTC time (`2026-12-06T22:00:00Z`):
///     sleeps until then;
///   - empty, `0` or `awake`: awake.
/// A wake-up more than max_sleep_ms after now is an error.
std::optional<sleep_word> parse_sleep_payload(std::string_view payload, int64_t now_ms,
                                              std::string& error);

/// The local time's offset from UTC at `unix_ms`, in ms (tm_gmtoff).
int64_t local_utc_offset_ms(int64_t unix_ms);

/// devices.sleep.schedule: daily windows in which matching devices sleep.
class sleep_schedule {
public:
  using offset_fn = std::function<int64_t(int64_t unix_ms)>;

  explicit sleep_schedule(std::vector<device_sleep_window> windows,
                          offset_fn utc_offset = local_utc_offset_ms);

  /// When `device` wakes (unix ms) if a window holds it asleep at `now_ms`,
  /// else 0. Windows that overlap or follow one another are taken as one.
  int64_t wake(const std::string& device, int64_t now_ms) const;

  bool empty() const { return windows_.empty(); }

private:
  std::vector<device_sleep_window> windows_;
  offset_fn offset_;
};

} // namespace faultd::devices
