#include "devices/silence_detector.hpp"

#include <algorithm>
#include <climits>
#include <cmath>

#include "membership/phi_accrual.hpp"

namespace faultd::devices {

namespace {

int64_t ms_of(duration d) {
  return std::chrono::duration_cast<std::chrono::milliseconds>(d).count();
}

std::vector<std::string> split_levels(const std::string& s) {
  std::vector<std::string> out;
  size_t from = 0;
  for (;;) {
    auto slash = s.find('/', from);
    out.push_back(s.substr(from, slash - from));
    if (slash == std::string::npos)
      return out;
    from = slash + 1;
  }
}

/// Learned intervals weigh 1/n while fewer than this are known, then 1/this:
/// a device's rhythm may drift, slowly.
constexpr double ewma_window = 32;

} // namespace

const char* to_string(device_state s) {
  switch (s) {
    case device_state::active:
      return "active";
    case device_state::silent:
      return "silent";
    case device_state::asleep:
      return "asleep";
  }
  return "?";
}

// -- topic patterns -----------------------------------------------------------

std::optional<topic_pattern> topic_pattern::parse(const std::string& text, std::string& error) {
  topic_pattern p;
  p.text_ = text;
  p.levels_ = split_levels(text);
  bool device = false;
  for (size_t i = 0; i < p.levels_.size(); ++i) {
    const auto& l = p.levels_[i];
    if (l == "#" && i + 1 != p.levels_.size()) {
      error = "# must be the last level";
      return std::nullopt;
    }
    if (l.empty() || l[0] != '+') {
      if (l.find_first_of("+#") != std::string::npos && l != "#") {
        error = "a wildcard must be a whole level, got \"" + l + "\"";
        return std::nullopt;
      }
      continue;
    }
    auto name = l.substr(1);
    if (name == "device") {
      if (device) {
        error = "+device appears twice";
        return std::nullopt;
      }
      device = true;
    } else if (!name.empty() && name != "gateway") {
      error = "unknown wildcard name \"+" + name + "\" (+device, +gateway or a plain +)";
      return std::nullopt;
    }
  }
  if (!device) {
    error = "no +device level: which level names the device?";
    return std::nullopt;
  }
  return p;
}

std::string topic_pattern::subscription() const {
  std::string out;
  for (const auto& l : levels_)
    out += (out.empty() ? "" : "/") + (l.size() > 1 && l[0] == '+' ? std::string{"+"} : l);
  return out;
}

bool topic_pattern::match(const std::string& topic, std::string& device,
                          std::string& gateway) const {
  auto parts = split_levels(topic);
  device.clear();
  gateway.clear();
  size_t i = 0;
  for (; i < levels_.size(); ++i) {
    const auto& l = levels_[i];
    if (l == "#")
      return !device.empty();
    if (i >= parts.size())
      return false;
    if (l == "+device")
      device = parts[i];
    else if (l == "+gateway")
      gateway = parts[i];
    else if (l != "+" && l != parts[i])
      return false;
  }
  return i == parts.size() && !device.empty();
}

// -- the detector -------------------------------------------------------------

silence_detector::silence_detector(detector_params p) : p_(p) {
  // phi depends on (elapsed - mean) / std only: find where it reaches the
  // threshold once, by bisection.
  double lo = 0, hi = 60;
  for (int i = 0; i < 80; ++i) {
    double mid = (lo + hi) / 2;
    if (membership::phi_of(1000 + mid * 10, 1000, 10) < p_.phi_threshold)
      lo = mid;
    else
      hi = mid;
  }
  z_ = hi;
}

uint32_t silence_detector::gateway_index(const std::string& g) {
  auto [it, added] = gateway_ids_.emplace(g, static_cast<uint32_t>(gateways_.size()));
  if (added) {
    gateways_.push_back(g);
    known_.push_back(0);
    silent_.push_back(0);
  }
  return it->second;
}

void silence_detector::set(device& d, uint32_t g, device_state to) {
  if (d.gateway != UINT32_MAX) {
    --known_[d.gateway];
    if (d.state == device_state::silent)
      --silent_[d.gateway];
  }
  d.gateway = g;
  d.state = to;
  ++known_[g];
  if (to == device_state::silent)
    ++silent_[g];
}

std::vector<silence_detector::gateway_count> silence_detector::gateways() const {
  std::vector<gateway_count> out;
  for (size_t i = 0; i < gateways_.size(); ++i)
    if (known_[i] > 0)
      out.push_back({gateways_[i], known_[i], silent_[i]});
  return out;
}

double silence_detector::std_of(const device& d) const {
  return std::max({std::sqrt(std::max(d.var, 0.0)), p_.min_std_ratio * d.mean, 1.0});
}

double silence_detector::phi_of(const device& d, int64_t now_ms) const {
  if (d.samples < p_.min_samples || d.mean <= 0)
    return 0;
  return membership::phi_of(static_cast<double>(now_ms - d.last_ms), d.mean, std_of(d));
}

duration silence_detector::min_interval_of(const device& d) const {
  return d.pattern < p_.patterns.size() ? p_.patterns[d.pattern].min_interval : p_.min_interval;
}

std::optional<duration> silence_detector::max_silence_of(const device& d) const {
  return d.pattern < p_.patterns.size() ? p_.patterns[d.pattern].max_silence : p_.max_silence;
}

int64_t silence_detector::silent_at(const device& d) const {
  int64_t at = INT64_MAX;
  if (d.samples >= p_.min_samples && d.mean > 0)
    at = d.last_ms + static_cast<int64_t>(std::ceil(d.mean + z_ * std_of(d)));
  if (auto max = max_silence_of(d))
    at = std::min(at, d.last_ms + ms_of(*max));
  if (at != INT64_MAX && d.asleep_until_ms > 0) {
    // Asleep: judged from its wake-up, with one more interval to speak.
    auto from_wake = d.asleep_until_ms + (at - d.last_ms);
    at = std::max(at, from_wake);
  }
  return at;
}

void silence_detector::schedule(const std::string& id, device& d) {
  ++d.generation;
  auto at = silent_at(d);
  if (at != INT64_MAX)
    heap_.push(due{at, d.generation, id});
  // Entries of older generations leave the heap only when they come due:
  // a device told to sleep for years, again and again, would keep every
  // one. Past a few entries a device, rebuild it from the current ones.
  if (heap_.size() > 4 * devices_.size() + 4096)
    compact();
}

void silence_detector::compact() {
  std::vector<due> live;
  live.reserve(devices_.size());
  for (const auto& [id, d] : devices_) {
    if (d.state == device_state::silent)
      continue;  // judged: nothing due until it is heard again
    if (auto at = silent_at(d); at != INT64_MAX)
      live.push_back(due{at, d.generation, id});
  }
  heap_ = decltype(heap_){std::greater<due>{}, std::move(live)};
}

silence_event silence_detector::event_of(const std::string& id, const device& d, bool silent,
                                         int64_t now_ms) const {
  silence_event e;
  e.device = id;
  e.gateway = gateways_[d.gateway];
  e.silent = silent;
  e.last_seen = from_unix_millis(d.last_ms);
  e.interval_ms = d.mean;
  e.phi = phi_of(d, now_ms);
  e.silence = std::chrono::milliseconds(std::max<int64_t>(0, now_ms - d.last_ms));
  return e;
}

std::optional<silence_event> silence_detector::heard(const std::string& id,
                                                     const std::string& gateway, timestamp now,
                                                     uint16_t pattern) {
  auto now_ms = to_unix_millis(now);
  auto [it, added] = devices_.try_emplace(id);
  auto& d = it->second;
  std::optional<silence_event> back;
  if (d.state == device_state::silent)
    back = event_of(id, d, false, now_ms);
  d.pattern = pattern;
  if (!added && d.messages > 0 && !d.skip_interval) {
    auto interval = static_cast<double>(now_ms - d.last_ms);
    if (interval >= static_cast<double>(ms_of(min_interval_of(d))) && interval > 0) {
      ++d.samples;
      auto alpha = 1.0 / std::min<double>(d.samples, ewma_window);
      auto diff = interval - d.mean;
      d.mean += alpha * diff;
      d.var = (1 - alpha) * (d.var + alpha * diff * diff);
    }
  }
  d.last_ms = std::max(d.last_ms, now_ms);
  ++d.messages;
  d.asleep_until_ms = 0;
  d.skip_interval = false;
  set(d, gateway_index(gateway), device_state::active);
  if (back)
    back->gateway = gateway;
  schedule(id, d);
  return back;
}

std::optional<silence_event> silence_detector::announced_sleep(const std::string& id,
                                                               const std::string& gateway,
                                                               timestamp until, timestamp now,
                                                               bool live) {
  auto now_ms = to_unix_millis(now);
  auto until_ms = to_unix_millis(until);
  const bool sleeps = until_ms > now_ms;
  if (!live && !sleeps)
    return std::nullopt;  // an old announcement, read again: it says nothing now
  auto [it, added] = devices_.try_emplace(id);
  auto& d = it->second;
  std::optional<silence_event> back;
  if (d.state == device_state::silent)
    back = event_of(id, d, false, now_ms);
  if (live || added)
    d.last_ms = std::max(d.last_ms, now_ms);
  if (live)
    ++d.messages;
  d.asleep_until_ms = sleeps ? until_ms : 0;
  d.skip_interval = true;  // from the announcement, or over the sleep: not its rhythm
  auto g = gateway.empty() && d.gateway != UINT32_MAX ? d.gateway : gateway_index(gateway);
  set(d, g, sleeps ? device_state::asleep : device_state::active);
  if (back) {
    back->gateway = gateways_[g];
    if (sleeps)
      back->asleep_until = until;
  }
  schedule(id, d);
  return back;
}

std::vector<silence_event> silence_detector::scan(timestamp now) {
  auto now_ms = to_unix_millis(now);
  std::vector<silence_event> out;
  while (!heap_.empty() && heap_.top().at_ms <= now_ms) {
    auto top = heap_.top();
    heap_.pop();
    auto it = devices_.find(top.id);
    if (it == devices_.end() || it->second.generation != top.generation)
      continue;  // heard since
    auto& d = it->second;
    if (d.state == device_state::silent)
      continue;
    if (p_.scheduled_wake) {
      // Asleep when it became due (a late scan, after a broker outage, does
      // not excuse a device that fell silent before its window).
      if (auto wake = p_.scheduled_wake(top.id, top.at_ms); wake > now_ms) {
        // Asleep by the schedule: judged after its wake-up instead.
        d.asleep_until_ms = wake;
        d.skip_interval = true;
        set(d, d.gateway, device_state::asleep);
        schedule(top.id, d);
        continue;
      }
    }
    set(d, d.gateway, device_state::silent);
    out.push_back(event_of(top.id, d, true, now_ms));
  }
  return out;
}

std::vector<device_view> silence_detector::list(timestamp now, bool silent_only,
                                                const std::string& gateway) const {
  auto now_ms = to_unix_millis(now);
  std::vector<device_view> out;
  if (!silent_only && gateway.empty())
    out.reserve(devices_.size());
  for (const auto& [id, d] : devices_) {
    if ((silent_only && d.state != device_state::silent)
        || (!gateway.empty() && gateways_[d.gateway] != gateway))
      continue;
    device_view v;
    v.id = id;
    v.gateway = gateways_[d.gateway];
    v.state = d.state == device_state::asleep && now_ms >= d.asleep_until_ms
                ? device_state::active
                : d.state;
    v.last_seen = from_unix_millis(d.last_ms);
    v.interval_ms = d.samples > 0 ? d.mean : 0;
    v.phi = phi_of(d, now_ms);
    v.messages = d.messages;
    out.push_back(std::move(v));
  }
  std::sort(out.begin(), out.end(),
            [](const device_view& a, const device_view& b) { return a.id < b.id; });
  return out;
}

double silence_detector::phi(const std::string& id, timestamp now) const {
  auto it = devices_.find(id);
  return it == devices_.end() ? 0 : phi_of(it->second, to_unix_millis(now));
}

std::vector<silence_detector::learned> silence_detector::export_learned() const {
  std::vector<learned> out;
  out.reserve(devices_.size());
  for (const auto& [id, d] : devices_)
    out.push_back({id, gateways_[d.gateway], d.last_ms, d.mean, d.var, d.samples,
                   d.asleep_until_ms,
                   d.pattern < p_.patterns.size() ? p_.patterns[d.pattern].pattern : ""});
  return out;
}

void silence_detector::import_learned(const std::vector<learned>& xs) {
  for (const auto& x : xs) {
    auto& d = devices_[x.id];
    set(d, gateway_index(x.gateway),
        x.asleep_until_ms > 0 ? device_state::asleep : device_state::active);
    d.last_ms = x.last_seen_ms;
    d.mean = x.mean_ms;
    d.var = x.var_ms2;
    d.samples = x.samples;
    d.asleep_until_ms = x.asleep_until_ms;
    d.skip_interval = x.asleep_until_ms > 0;
    d.pattern = 0;
    for (size_t i = 0; i < p_.patterns.size(); ++i)
      if (p_.patterns[i].pattern == x.pattern)
        d.pattern = static_cast<uint16_t>(i);
    d.messages = std::max<uint64_t>(d.messages, 1);
    schedule(x.id, d);
  }
}

} // namespace faultd::devices
