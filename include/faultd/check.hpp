#pragma once

// What one run of a health check found: faultd's own checks (tcp, http,
// exec, mqtt) and an embedding application's check types (faultd/embed.hpp,
// node_extensions::checks) answer the same way, and the same thresholds turn
// their results into fault events.

#include <cstdint>
#include <functional>
#include <string>
#include <string_view>

#include "faultd/config.hpp"

namespace faultd::checks {

/// How a check went. Ordered: `a < b` means `b` is worse.
enum class check_outcome : uint8_t { ok, warning, critical };

/// "ok", "warning", "critical".
std::string_view to_string(check_outcome o);

/// The result of one run of a check.
struct check_result {
  check_outcome outcome = check_outcome::critical;
  /// One line for humans: "connected", "HTTP 503, expected 200",
  /// "connection refused", "timed out after 2s", the plugin's first line.
  std::string message;
  /// Wall time the check took, measured on the steady clock.
  double latency_ms = 0;
  /// tcp: the errno of a failed connect (0 when connected); http: the
  /// response status (0 when no response came); exec: the exit code (-1 when
  /// killed by a signal or on timeout, 127 when the command cannot run).
  int code = 0;
  /// exec: the first exec_output_cap bytes of stdout+stderr; http: the first
  /// http_body_cap bytes of the response body; tcp: empty.
  std::string output;

  bool ok() const { return outcome == check_outcome::ok; }
};

/// An application's own check type (a detector by name): called on the
/// check's own thread every `interval`, with the check's config (its
/// `parameters:` hold what the YAML gave the type). It must return within
/// the check's `timeout`: a run that takes longer counts as critical. An
/// exception it throws is a critical result too.
using check_function = std::function<check_result(const check_config&)>;

} // namespace faultd::checks
