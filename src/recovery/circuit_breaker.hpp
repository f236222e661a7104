#pragma once

// A circuit breaker for one target (the circuit_breaker action "opens,
// half-opens and closes per target"): closed
// while calls mostly succeed, open (calls refused) once the failure rate is
// too high, half-open after a wait to let a few probe calls through, closed
// again when enough probes succeed. A plain, thread-safe state machine with
// an injected clock, like resilience4j's and Envoy's outlier ejection.

#include <cstdint>
#include <deque>
#include <functional>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

#include "faultd/time.hpp"

namespace faultd::recovery {

/// The states of a circuit breaker.
enum class circuit_state : uint8_t { closed, open, half_open };

/// "closed", "open", "half_open".
std::string_view to_string(circuit_state s);

/// How outcomes are windowed while the breaker is closed.
enum class circuit_window : uint8_t {
  count, ///< the last `window_size` calls
  time,  ///< the calls that ended within the last `window_duration`
};

/// The limits of a circuit breaker.
struct circuit_breaker_config {
  /// The breaker opens when failures / calls in the window reach this (0..1].
  double failure_rate_threshold = 0.5;
  /// ... but only once the window holds at least this many calls.
  uint32_t minimum_calls = 5;
  /// Which window applies.
  circuit_window window = circuit_window::count;
  /// circuit_window::count: how many of the latest calls are considered.
  uint32_t window_size = 10;
  /// circuit_window::time: how far back calls are considered.
  duration window_duration = seconds_d(60);
  /// How long the breaker stays open before letting probes through; also how
  /// long a half-open probe permit lives without a reported outcome.
  duration open_wait = seconds_d(30);
  /// At most this many probe calls in flight while half-open.
  uint32_t half_open_probes = 1;
  /// Successful probes that close the breaker again.
  uint32_t probes_to_close = 1;
  /// A success reported while open (not held) half-opens the breaker at
  /// once, without waiting for open_wait: for breakers fed by health
  /// checks, the next passing check lets probes through. false: only
  /// open_wait half-opens it (successes while open are ignored).
  bool half_open_on_success = true;
};

/// A snapshot of a breaker for status displays.
struct circuit_stats {
  circuit_state state = circuit_state::closed;
  uint32_t calls = 0;           ///< calls in the window (closed)
  uint32_t failures = 0;        ///< failures among them
  uint32_t probes_in_flight = 0; ///< granted, unexpired, unreported probes (half-open)
  uint32_t probe_successes = 0; ///< successful probes so far (half-open)
  bool held_open = false;       ///< forced open until force_close()
};

/// A circuit breaker: closed -> open -> half_open -> closed (or back to open).
///
/// - closed: try_acquire() always grants. Outcomes reported with on_success()
///   / on_failure() enter the window; after each one, if the window holds at
///   least `minimum_calls` calls and failures / calls >= failure_rate_threshold
///   the breaker opens.
/// - open: try_acquire() refuses until `open_wait` has passed since it
///   opened; then the breaker turns half_open (on that call or on state()).
///   With half_open_on_success a success reported while open half-opens it
///   at once (it is not counted as a probe); failures reported while open,
///   and successes without half_open_on_success, are ignored. A held breaker
///   ignores both.
/// - half_open: try_acquire() grants while fewer than `half_open_probes`
///   permits are in flight. Any on_success() counts as a successful probe
///   and frees the oldest permit; `probes_to_close` successes close the
///   breaker (with an empty window). Any on_failure() reopens it at once. A
///   permit whose outcome is not reported within `open_wait` of being
///   granted expires and frees its slot, so a lost probe cannot keep the
///   breaker half-open for ever.
///
/// Times are the injected clock's steady_now(). Every transition is logged
/// (logger "recovery": "circuit-opened", "circuit-half-opened",
/// "circuit-closed", each with name= and from=) and passed to the
/// listener, if any.
///
/// Thread-safe: every member may be called from any thread.
class circuit_breaker {
public:
  /// Called after a transition (outside the breaker's lock) with the old and
  /// new state.
  using listener = std::function<void(circuit_state from, circuit_state to)>;

  /// A closed breaker called `name` (for logs). Out-of-range limits are
  /// clamped: threshold to (0, 1], minimum_calls, window_size,
  /// half_open_probes and probes_to_close to at least 1.
  /// REQUIRES: `clock` outlives the breaker.
  circuit_breaker(std::string name, const circuit_breaker_config& cfg, const clock_source& clock);

  /// Sets the transition listener (replacing any previous one).
  void set_listener(listener l);

  /// May a call go through now? See the class comment.
  bool try_acquire();

  /// A call granted by try_acquire() succeeded.
  void on_success();

  /// A call granted by try_acquire() failed.
  void on_failure();

  /// Opens the breaker as of now. With `hold` false it half-opens after
  /// `open_wait` as usual; with `hold` true it stays open until
  /// force_close().
  void force_open(bool hold = false);

  /// Closes the breaker with an empty window (and ends a hold).
  void force_close();

  /// The current state (turns open into half_open once open_wait passed).
  circuit_state state();

  /// The current state and counts.
  circuit_stats stats();

  /// The name given at construction.
  const std::string& name() const { return name_; }

private:
  using steady_point = std::chrono::steady_clock::time_point;
  struct call {
    steady_point at;
    bool failed;
  };
  struct transition {
    circuit_state from;
    circuit_state to;
  };

  /// Runs `f` with mutex_ held, then reports the transitions it caused
  /// without it (so a listener may call back into the breaker).
  template <class F>
  auto locked(F f);
  /// Logs and passes on transitions. REQUIRES: mutex_ is NOT held.
  void report(const std::vector<transition>& ts, const listener& l);
  // The following REQUIRE: mutex_ is held.
  void advance(steady_point now);
  void prune(steady_point now);
  void expire_permits(steady_point now);
  void move_to(circuit_state to, steady_point now);

  const std::string name_;
  circuit_breaker_config cfg_;
  const clock_source* clock_;
  std::mutex mutex_;
  listener listener_;                 ///< guarded by mutex_ (copied out to call)
  circuit_state state_ = circuit_state::closed;
  std::deque<call> window_;           ///< closed: recent outcomes, oldest first
  steady_point opened_at_{};          ///< open: since when
  bool held_ = false;                 ///< open until force_close()
  std::deque<steady_point> permits_;  ///< half_open: grant times of outstanding probes
  uint32_t probe_successes_ = 0;      ///< half_open
  std::vector<transition> pending_;   ///< transitions to report after unlocking
};

} // namespace faultd::recovery
