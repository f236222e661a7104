#pragma once

// Security detectors: watched files whose SHA-256 changes, and TLS
// certificates that are about to expire. Both report security_violation
// events on changes of state only, and a clearing event when the state is
// back to normal.

#include <map>
#include <optional>
#include <string>
#include <vector>

#include "faultd/config.hpp"
#include "faultd/domain.hpp"
#include "faultd/error.hpp"
#include "faultd/time.hpp"

namespace faultd::checks {

/// What a watched file looked like at one scan.
struct watched_file_state {
  enum class presence : uint8_t { present, missing, unreadable };
  presence kind = presence::missing;
  std::string digest;  ///< hex SHA-256 when present
  std::string error;   ///< why it could not be read when unreadable

  /// The digest, or "(missing)" / "(unreadable)".
  std::string describe() const;
  bool same_as(const watched_file_state& o) const {
    return kind == o.kind && digest == o.digest;
  }
};

/// Reads the current state of one file.
watched_file_state read_watched_file(const std::string& path);

/// Watches security_config::watch_files for changes of their SHA-256.
///
/// The baseline is taken at construction. Each scan compares every file with
/// the previous scan and reports each change once:
/// - content different from the previous scan (or a missing file that
///   appears): severity critical, details old_digest / new_digest /
///   baseline_digest;
/// - a file that disappears: severity high; one that becomes unreadable:
///   severity high with the error;
/// - a file back to its baseline (restored content, recreated): clears = true.
/// Component "file:<path>", type security_violation, source "security:file".
class file_watcher {
public:
  /// REQUIRES: `clock` outlives the watcher.
  file_watcher(const security_config& cfg, std::string node, const clock_source& clock);

  /// Compares every watched file with the previous scan.
  std::vector<fault_event> scan();

  /// Takes the current content of `path` as its new baseline (an operator
  /// approved the change). False if `path` is not watched.
  bool accept(const std::string& path);

  /// The baseline state of a watched file (nullopt if not watched).
  std::optional<watched_file_state> baseline(const std::string& path) const;

private:
  struct entry {
    watched_file_state baseline;
    watched_file_state last;
  };
  std::string node_;
  const clock_source* clock_;
  std::map<std::string, entry> files_;  ///< by path
};

/// The expiry of one PEM certificate at a given time.
struct certificate_status {
  std::string path;
  /// Not ok when the file cannot be read or holds no PEM certificate; the
  /// other fields are then empty.
  status error;
  std::string subject;           ///< one-line subject name
  timestamp not_after{};
  duration remaining{0};         ///< until notAfter; negative once expired
  bool expired = false;
  /// nullopt: fine. critical: expired or less than cert_critical left;
  /// high: less than cert_warning left.
  std::optional<fault_severity> severity;
  std::string message;           ///< "expires in 1d 0h (notAfter ...)", "expired ..."
};

/// Reads the certificate at `path` (PEM_read_bio_X509) and rates the time
/// left until its notAfter (ASN1_TIME_diff against `now`) with the
/// thresholds of `cfg`. Never throws; an unreadable file is an error result.
certificate_status check_certificate(const std::string& path, const security_config& cfg,
                                     timestamp now);

/// Checks security_config::certificates on every scan and reports changes:
/// a certificate that enters the warning or critical window (or expires)
/// gives an event with that severity (again when the severity changes); an
/// unreadable certificate gives a high event with the error; one that is
/// fine again (renewed, readable) gives clears = true. Details: path,
/// subject, not_after, message; metrics: remaining_days.
/// Component "cert:<path>", type security_violation, source "security:cert".
/// The time comes from the injected clock's now().
class cert_monitor {
public:
  /// REQUIRES: `clock` outlives the monitor.
  cert_monitor(const security_config& cfg, std::string node, const clock_source& clock);

  /// Checks every certificate; returns the events of those that changed.
  std::vector<fault_event> scan();

  /// The last result per certificate path (empty before the first scan).
  const std::map<std::string, certificate_status>& last() const { return last_; }

private:
  security_config cfg_;
  std::string node_;
  const clock_source* clock_;
  std::map<std::string, certificate_status> last_;
  std::map<std::string, std::string> reported_;  ///< path -> "", "high", "critical", "error"
};

} // namespace faultd::checks
