#include "devices/sleep.hpp"

#include <ctime>

#include "faultd/time.hpp"
#include "faultd/util.hpp"

namespace faultd::devices {

namespace {

constexpr int64_t day_ms = 86'400'000;

std::string_view trimmed(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t' || s.front() == '\r'
                        || s.front() == '\n'))
    s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t' || s.back() == '\r'
                        || s.back() == '\n'))
    s.remove_suffix(1);
  return s;
}

int64_t floor_mod(int64_t a, int64_t m) {
  auto r = a % m;
  return r < 0 ? r + m : r;
}

} // namespace

std::optional<sleep_word> parse_sleep_payload(std::string_view payload, int64_t now_ms,
                                              std::string& error) {
  if (payload.size() > max_sleep_payload) {
    error = "longer than " + std::to_string(max_sleep_payload) + " bytes";
    return std::nullopt;
  }
  auto s = trimmed(payload);
  sleep_word w;
  w.until_ms = now_ms;
  if (s.empty() || s == "0" || s == "awake")
    return w;
  if (s.front() == '@') {
    s.remove_prefix(1);
    bool ok = !s.empty() && s.size() <= 12;
    for (char c : s)
      ok = ok && c >= '0' && c <= '9';
    if (!ok) {
      error = "@ must be followed by unix seconds";
      return std::nullopt;
    }
    int64_t secs = 0;
    for (char c : s)
      secs = secs * 10 + (c - '0');
    w.until_ms = secs * 1000;  // at most 12 digits: no overflow
  } else if (auto t = parse_timestamp(s)) {
    w.until_ms = to_unix_millis(*t);
  } else if (auto d = parse_duration(s)) {
    auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(*d).count();
    if (ms > max_sleep_ms) {
      error = "a sleep of more than 366 days";
      return std::nullopt;
    }
    w.until_ms = now_ms + ms;
    w.relative = true;
  } else {
    error = "not a duration (8h, 3600), @<unix seconds>, an RFC 3339 time or awake";
    return std::nullopt;
  }
  if (w.until_ms - now_ms > max_sleep_ms) {
    error = "a wake-up more than 366 days away";
    return std::nullopt;
  }
  return w;
}

int64_t local_utc_offset_ms(int64_t unix_ms) {
  std::time_t t = static_cast<std::time_t>(unix_ms / 1000);
  std::tm tm{};
  if (localtime_r(&t, &tm) == nullptr)
    return 0;
  return static_cast<int64_t>(tm.tm_gmtoff) * 1000;
}

sleep_schedule::sleep_schedule(std::vector<device_sleep_window> windows, offset_fn utc_offset)
    : windows_(std::move(windows)), offset_(std::move(utc_offset)) {}

int64_t sleep_schedule::wake(const std::string& device, int64_t now_ms) const {
  int64_t wake_at = 0;
  // A window may end where another begins: follow them (at most once each).
  for (size_t round = 0; round <= windows_.size(); ++round) {
    auto at = wake_at == 0 ? now_ms : wake_at;
    auto of_day = floor_mod(at + offset_(at), day_ms);
    int64_t later = 0;
    for (const auto& w : windows_) {
      const int64_t from = w.from_minute * 60'000LL, to = w.to_minute * 60'000LL;
      const bool inside = from < to ? of_day >= from && of_day < to : of_day >= from || of_day < to;
      if (!inside)
        continue;
      bool matches = false;
      for (const auto& g : w.devices)
        matches = matches || glob_match(g, device);
      if (!matches)
        continue;
      auto end = at + floor_mod(to - of_day, day_ms);
      // Clocks that change in between move the window's end by as much.
      end -= offset_(end) - offset_(at);
      later = std::max(later, end);
    }
    if (later <= at)
      break;
    wake_at = later;
  }
  return wake_at;
}

} // namespace faultd::devices
