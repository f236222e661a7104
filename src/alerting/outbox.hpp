#pragma once

// One alert sink's queue: bounded, one delivery in flight at a time, each
// retried with exponential backoff and jitter until it is delivered or has
// used its retries. A sink that is down never blocks anything else: the
// queue keeps at most `capacity` deliveries (a new one pushes out the
// oldest waiting one, counted as dropped), and after `down_after` failed
// attempts in a row the sink counts as down until a delivery succeeds (the
// alerting actor raises one network_timeout fault for it, and clears it).
//
// A plain class on injected time and randomness; the alerting actor owns
// one per sink.

#include <cstdint>
#include <deque>
#include <optional>
#include <string>

#include "faultd/time.hpp"
#include "recovery/backoff.hpp"

namespace faultd::alerting {

struct outbox_params {
  size_t capacity = 1000;              ///< deliveries queued at most
  uint32_t retries = 5;                ///< retries after the first attempt
  duration backoff_initial = seconds_d(1);
  duration backoff_max = seconds_d(60);
  uint32_t down_after = 3;             ///< failed attempts in a row that mark the sink down
};

struct delivery {
  std::string to;           ///< where it goes: the sink's URL, or an MQTT topic
  std::string body;
  std::string what;         ///< for the log: "firing alert <id> (incident <id>)"
  uint32_t attempts = 0;    ///< made so far
  timestamp queued_at;
  timestamp due;            ///< not tried before this
  std::string last_error;
};

class outbox {
public:
  outbox(outbox_params params, recovery::random_source random);

  /// Queues a delivery. Returns the one it pushed out (the oldest waiting)
  /// when the queue was full.
  std::optional<delivery> push(std::string to, std::string body, std::string what,
                               timestamp now);

  /// The delivery to attempt now, marked in flight (nullptr when one is in
  /// flight already, or none is due).
  const delivery* take(timestamp now);

  /// What the outcome of the delivery in flight changed.
  struct outcome {
    bool went_down = false;            ///< this failure marked the sink down
    bool came_up = false;              ///< this success ended a down spell
    std::optional<delivery> given_up;  ///< it used its retries: dropped
  };
  outcome succeeded();
  outcome failed(timestamp now, const std::string& error);

  /// When take() may return something next (nullopt: nothing queued, or a
  /// delivery is in flight).
  std::optional<timestamp> next_due() const;

  bool down() const { return down_; }
  bool in_flight() const { return in_flight_; }
  size_t size() const { return queue_.size(); }
  uint64_t sent() const { return sent_; }
  uint64_t dropped() const { return dropped_; }
  uint64_t failures() const { return failures_; }
  const std::string& last_error() const { return last_error_; }

private:
  outbox_params params_;
  recovery::random_source random_;
  std::deque<delivery> queue_;  ///< front: in flight when in_flight_
  bool in_flight_ = false;
  bool down_ = false;
  uint32_t failed_in_a_row_ = 0;
  uint64_t sent_ = 0;
  uint64_t dropped_ = 0;
  uint64_t failures_ = 0;
  std::string last_error_;
};

} // namespace faultd::alerting
