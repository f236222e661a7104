#pragma once

// The node's circuit breakers, one per target, created on demand. Check
// results feed them (record), the circuit_breaker action opens them, and
// every state change is mirrored into registry key "circuit/<target>"
// ("closed" | "open" | "half_open") so applications can read it, with
// "circuit-hold/<target>" = "true" while a breaker is held open.
//
// One source of truth: the board. The registry is what it persists: a new
// board (faultd restarted) reads it back, so a breaker that was open (or
// half_open) is open again as of the start, a hold stays a hold, and the
// file never says something faultctl does not. The mirror is written by a
// thread of its own (state::registry_writer): record() and state() are
// called from CAF scheduler threads and never wait for a file or an fsync.
//
// An open breaker turns half_open on the next success reported for it
// (half_open_on_success, the default: a passing check), or lazily once
// open_wait passed, when someone looks at it (state(), states(), allow(),
// record()); the registry mirror follows at that moment.

#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>

#include "faultd/domain.hpp"
#include "faultd/error.hpp"
#include "faultd/time.hpp"
#include "recovery/circuit_breaker.hpp"
#include "state/registry.hpp"
#include "state/registry_writer.hpp"

namespace faultd::actions {

/// The registry key mirroring a target's circuit state.
std::string circuit_key(const std::string& target);

/// Reads breaker limits from action parameters, starting from `base`:
/// failure_rate_threshold (alias failure_rate; a fraction in (0, 1]),
/// minimum_calls, window_size, open_wait (alias open_for; "30s", "500ms" or
/// seconds), half_open_probes and probes_to_close (integers >= 1) and
/// half_open_on_success ("true" or "false"). Other
/// parameters are ignored. errc::bad_request naming the parameter if a
/// value does not parse. `found` (if given) tells whether any was present.
std::optional<recovery::circuit_breaker_config>
parse_circuit_parameters(const std::map<std::string, std::string>& params,
                         const recovery::circuit_breaker_config& base, status& error,
                         bool* found = nullptr);

/// The registry key that says a target's breaker is held open.
std::string circuit_hold_key(const std::string& target);

/// Thread-safe set of circuit breakers by target name.
class circuit_board {
public:
  /// `reg` (may be null: no mirror, nothing restored) and `clock` must
  /// outlive the board. Breakers the registry says were open are restored
  /// open (with their hold). New breakers get `defaults` unless configure()
  /// says otherwise.
  explicit circuit_board(state::registry* reg, const clock_source& clock = system_clock_source(),
                         recovery::circuit_breaker_config defaults = {});
  ~circuit_board();
  circuit_board(const circuit_board&) = delete;
  circuit_board& operator=(const circuit_board&) = delete;

  /// Sets the limits of `target`'s breaker (creating it). If it exists with
  /// different limits it is replaced by a new breaker that keeps being open
  /// (open or half_open become open as of now, a hold stays) or closed.
  void configure(const std::string& target, const recovery::circuit_breaker_config& cfg);

  /// Opens `target`'s breaker now. `hold` false: it half-opens after
  /// open_wait and closes once probes pass; `hold` true: it stays open
  /// until force_close().
  void force_open(const std::string& target, bool hold = false);

  /// Closes `target`'s breaker with an empty window.
  void force_close(const std::string& target);

  /// Takes in a breaker state another node decided (the replicated
  /// registry): opened (held or not) or closed like force_open and
  /// force_close, but not written back to the registry, which holds it
  /// already. Writing it back would give the value a newer version than a
  /// hold still on its way, and overwrite the hold on every node.
  void follow(const std::string& target, bool open, bool hold);

  /// Back to the start: a closed breaker with an empty window and the
  /// board's default limits (forgetting limits an action configured).
  void reset(const std::string& target);

  /// "closed", "open" or "half_open" ("closed" for a target never seen).
  std::string state(const std::string& target);

  /// Records one outcome for `target` (a check result or a call through
  /// it): feeds the failure rate when closed, counts as a probe when
  /// half_open, ignored while open.
  void record(const std::string& target, bool ok);

  /// May a call to `target` go through now? (breaker's try_acquire; a
  /// granted call must be reported with record()).
  bool allow(const std::string& target);

  /// Every known target's state.
  std::map<std::string, std::string> states();

  /// Waits until the registry mirror shows every change made so far.
  void flush();

private:
  struct entry {
    recovery::circuit_breaker_config cfg;
    std::shared_ptr<recovery::circuit_breaker> breaker;
  };
  std::shared_ptr<recovery::circuit_breaker> get(const std::string& target);
  std::shared_ptr<recovery::circuit_breaker> make(const std::string& target,
                                                  const recovery::circuit_breaker_config& cfg);
  void mirror(const std::string& target, recovery::circuit_state to, bool held);

  state::registry* reg_;
  const clock_source& clock_;
  recovery::circuit_breaker_config defaults_;
  std::mutex mtx_;         ///< guards breakers_
  std::mutex mirror_mtx_;  ///< orders registry writes
  std::map<std::string, entry> breakers_;
  std::unique_ptr<state::registry_writer> writer_; ///< null without a registry
};

} // namespace faultd::actions
