#pragma once

// The phi-accrual failure detector (Hayashibara et al., as Akka and
// Cassandra use it) for one peer's heartbeats. Instead of a yes/no timeout
// it gives phi: how unlikely it is, given the intervals seen so far, that
// the next heartbeat is merely late. phi = -log10(P(a heartbeat arrives
// later than now)), under a normal distribution of the inter-arrival times
// whose mean is stretched by acceptable_heartbeat_pause and whose standard
// deviation is at least min_std_deviation. phi 1 means a 10% chance the
// peer is fine, 8 means 1e-8.
//
// Bounded memory: the last max_samples intervals (running sum and sum of
// squares). Before any interval is known, the first one is assumed to be
// heartbeat_interval (standard deviation a quarter of it), so a peer that
// never sends a second heartbeat still becomes suspect.
//
// A plain class on an injected clock; not thread-safe (one owner).

#include <cstddef>
#include <deque>
#include <optional>

#include "faultd/time.hpp"

namespace faultd::membership {

struct phi_config {
  duration heartbeat_interval = millis_d(100);
  double threshold = 8.0;
  duration min_std_deviation = millis_d(100);
  duration acceptable_heartbeat_pause = millis_d(0);
  size_t max_samples = 200;
};

class phi_accrual_detector {
public:
  /// REQUIRES: `clock` outlives the detector.
  phi_accrual_detector(phi_config cfg, const clock_source& clock);

  /// A heartbeat arrived now.
  void heartbeat();

  /// phi as of now; 0 before the first heartbeat.
  double phi() const;

  /// phi as of `at`.
  double phi_at(std::chrono::steady_clock::time_point at) const;

  /// phi is below the threshold (true before the first heartbeat).
  bool available() const { return phi() < cfg_.threshold; }

  /// Time since the last heartbeat (nullopt before the first).
  std::optional<duration> since_last() const;

  /// Mean and standard deviation of the intervals in use (with the
  /// bootstrap interval while none is known), in milliseconds.
  double mean_ms() const;
  double std_deviation_ms() const;

  /// Intervals recorded (at most max_samples).
  size_t samples() const { return intervals_.size(); }

  const phi_config& config() const { return cfg_; }

private:
  void add(double interval_ms);

  phi_config cfg_;
  const clock_source* clock_;
  std::optional<std::chrono::steady_clock::time_point> last_;
  std::deque<double> intervals_; ///< milliseconds, oldest first
  double sum_ = 0;
  double sum_sq_ = 0;
};

/// phi for a delay of `elapsed_ms` after the last heartbeat, for intervals
/// of mean `mean_ms` and standard deviation `std_ms` (the logistic
/// approximation of the normal distribution's tail that Akka uses).
double phi_of(double elapsed_ms, double mean_ms, double std_ms);

} // namespace faultd::membership
