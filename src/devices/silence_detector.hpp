#pragma once

// Silent-device detection (the `devices:` section): every device seen on
// the subscribed topics learns its own rhythm, and its silence is scored
// with a phi-accrual detector, so a device that reports every 2 s is missed
// after a few seconds and one that reports every 10 minutes is not flagged
// for waiting 11 (a fixed inactivity timeout gets one of the two wrong).
//
// Memory per device is bounded: the last time it was heard, an
// exponentially weighted mean and variance of its intervals (no window of
// samples), its state and its gateway. Scanning does not look at every
// device: each one's "silent from" time (when its phi will pass the
// threshold, given its rhythm) sits in a min-heap, and scan() pops only
// those that are due.
//
// A plain class on injected time; not thread-safe (the devices actor owns
// it).

#include <cstdint>
#include <functional>
#include <optional>
#include <queue>
#include <string>
#include <unordered_map>
#include <vector>

#include "faultd/time.hpp"

namespace faultd::devices {

/// A subscription pattern with named wildcards: "sites/+gateway/+device/telemetry".
/// `+name` matches one level and names it; `+` matches one level; `#` (last)
/// matches the rest. The level named `device` is the device id (required);
/// the one named `gateway`, if any, its gateway.
class topic_pattern {
public:
  /// nullopt with `error` set for a pattern without a +device level, a `#`
  /// that is not last, or an unknown wildcard name.
  static std::optional<topic_pattern> parse(const std::string& text, std::string& error);

  /// What to subscribe to: the names stripped ("sites/+/+/telemetry").
  std::string subscription() const;

  /// Whether `topic` matches; sets `device` and `gateway` ("" if unnamed).
  bool match(const std::string& topic, std::string& device, std::string& gateway) const;

  const std::string& text() const { return text_; }

private:
  std::string text_;
  std::vector<std::string> levels_;  ///< "+device", "+gateway", "+", "#" or a literal
};

/// The bounds of the devices of one topic pattern.
struct pattern_bounds {
  std::string pattern;  ///< its text (what the learned file records)
  duration min_interval = millis_d(0);
  std::optional<duration> max_silence;
};

struct detector_params {
  double phi_threshold = 8.0;
  /// Intervals below this are not learned (bursts, duplicates, QoS resends).
  duration min_interval = millis_d(0);
  /// Silent after this long whatever its rhythm (unset: phi alone).
  std::optional<duration> max_silence;
  /// Per pattern (heard()'s `pattern` indexes it): bounds that replace the
  /// two above for the devices heard on it.
  std::vector<pattern_bounds> patterns;
  /// The sleep schedule: when a device due to be judged at `now_ms` sleeps
  /// by it, its wake-up time (unix ms), else 0. Unset: no schedule.
  std::function<int64_t(const std::string& device, int64_t now_ms)> scheduled_wake;
  /// Intervals a device must have shown before phi judges it.
  uint32_t min_samples = 3;
  /// The standard deviation used is at least this share of the mean: a
  /// device with a regular clock, or one judged on its first few intervals,
  /// is not flagged a hair late (a silence of mean + 5.6 * 0.25 * mean, with
  /// phi 8, before it counts).
  double min_std_ratio = 0.25;
};

enum class device_state : uint8_t { active, silent, asleep };
const char* to_string(device_state s);

struct device_view {
  std::string id;
  std::string gateway;
  device_state state = device_state::active;
  timestamp last_seen;
  double interval_ms = 0;  ///< learned mean interval (0: not learned yet)
  double phi = 0;
  uint64_t messages = 0;
};

/// A device became silent, or was heard again.
struct silence_event {
  std::string device;
  std::string gateway;
  bool silent = true;  ///< false: it is back (the fault clears)
  timestamp last_seen;
  double interval_ms = 0;
  double phi = 0;
  duration silence{0};  ///< how long it had been silent
  /// Set when a sleep announcement explains the silence (the fault clears).
  std::optional<timestamp> asleep_until;
};

class silence_detector {
public:
  explicit silence_detector(detector_params p);

  /// A message of `device` (of `gateway`, on topic pattern `pattern`) at
  /// `now`. A silent device is active again: the event clears its fault.
  std::optional<silence_event> heard(const std::string& device, const std::string& gateway,
                                     timestamp now, uint16_t pattern = 0);

  /// The device announced, at `now`, that it sleeps until `until` (at or
  /// before `now`: it is awake). It is not judged before its wake-up, and
  /// then has its usual silence to speak; the interval over a sleep is not
  /// learned. `live`: said just now, a sign of life. Not live (a retained
  /// message read later): it says nothing of when the device last spoke,
  /// and an announcement of an awake device changes nothing. An asleep
  /// device that was judged silent is not any more: the event clears it.
  std::optional<silence_event> announced_sleep(const std::string& device,
                                               const std::string& gateway, timestamp until,
                                               timestamp now, bool live);

  /// Devices whose silence passed the threshold by `now`.
  std::vector<silence_event> scan(timestamp now);

  /// The devices as of `now`, sorted by id: every one, or only the silent
  /// ones, or only those of `gateway` ("" = any).
  std::vector<device_view> list(timestamp now, bool silent_only = false,
                                const std::string& gateway = "") const;

  size_t size() const { return devices_.size(); }
  /// Entries in the scan heap: stays within a few per device.
  size_t heap_size() const { return heap_.size(); }

  /// Devices of one gateway: how many are known, how many silent now.
  struct gateway_count {
    std::string gateway;
    uint32_t known = 0;
    uint32_t silent = 0;
  };
  std::vector<gateway_count> gateways() const;

  /// phi of a device at `now` (0 when it has no rhythm yet).
  double phi(const std::string& device, timestamp now) const;

  /// What persists across a restart: id, gateway, last seen, mean, variance, count.
  struct learned {
    std::string id;
    std::string gateway;
    int64_t last_seen_ms = 0;
    double mean_ms = 0;
    double var_ms2 = 0;
    uint32_t samples = 0;
    int64_t asleep_until_ms = 0;  ///< 0: not asleep
    std::string pattern;          ///< the text of its topic pattern ("" = the first)
  };
  std::vector<learned> export_learned() const;
  /// Takes rhythms back after a restart (the device counts as heard at its
  /// recorded last_seen).
  void import_learned(const std::vector<learned>& xs);

private:
  struct device {
    uint32_t gateway = UINT32_MAX;  ///< index into gateways_ (none yet)
    int64_t last_ms = 0;
    double mean = 0;       ///< ms
    double var = 0;        ///< ms^2
    uint32_t samples = 0;
    uint64_t messages = 0;
    uint64_t generation = 0;  ///< heap entries of older generations are stale
    int64_t asleep_until_ms = 0;
    uint16_t pattern = 0;
    bool skip_interval = false;  ///< the next interval spans a sleep: not learned
    device_state state = device_state::active;
  };
  struct due {
    int64_t at_ms;
    uint64_t generation;
    std::string id;
    bool operator>(const due& o) const { return at_ms > o.at_ms; }
  };

  uint32_t gateway_index(const std::string& g);
  /// Moves `d` to gateway `g` and/or state `to`, keeping the counts.
  void set(device& d, uint32_t g, device_state to);
  double std_of(const device& d) const;
  duration min_interval_of(const device& d) const;
  std::optional<duration> max_silence_of(const device& d) const;
  double phi_of(const device& d, int64_t now_ms) const;
  /// When `d` becomes silent (INT64_MAX: never, it has no rhythm).
  int64_t silent_at(const device& d) const;
  void schedule(const std::string& id, device& d);
  /// Rebuilds the heap from each device's current entry.
  void compact();
  silence_event event_of(const std::string& id, const device& d, bool silent, int64_t now_ms) const;

  detector_params p_;
  double z_;  ///< intervals of mean + z * std reach the threshold
  std::unordered_map<std::string, device> devices_;
  std::vector<std::string> gateways_;
  std::vector<uint32_t> known_;   ///< by gateway index
  std::vector<uint32_t> silent_;  ///< by gateway index
  std::unordered_map<std::string, uint32_t> gateway_ids_;
  std::priority_queue<due, std::vector<due>, std::greater<due>> heap_;
};

} // namespace faultd::devices
