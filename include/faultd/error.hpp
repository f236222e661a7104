#pragma once

// faultd's one error enum. The numbers are fixed: they travel in control
// replies (ControlResponse.error_code) and show in logs. Add, never renumber.

#include <cstdint>
#include <string>
#include <string_view>
#include <utility>

namespace faultd {

enum class errc : uint8_t {
  ok = 0,
  config_invalid = 1,      ///< a config file or override is wrong
  storage_open_failed = 2, ///< sqlite file cannot be opened/created
  storage_io = 3,          ///< a sqlite statement failed
  storage_corrupt = 4,     ///< the database is not a faultd database or is damaged
  storage_schema_too_new = 5, ///< written by a newer faultd
  not_found = 6,           ///< unknown incident, service, actor, key
  bad_request = 7,         ///< a request that makes no sense (bad field values)
  unavailable = 8,         ///< the feature or peer is not available (yet)
  spawn_failed = 9,        ///< fork/exec of a managed process failed
  timeout = 10,            ///< an operation ran out of time
  malformed_payload = 11,  ///< bytes from the network that do not decode
  internal = 12,           ///< a broken invariant (a bug)
  io = 13,                 ///< a system call failed
  unauthorized = 14,       ///< a request without the credentials it needs
};

std::string_view to_string(errc e);

/// The result of a fallible operation: ok, or a code and one line of text.
class status {
public:
  status() = default;
  status(errc code, std::string message) : code_(code), message_(std::move(message)) {}
  static status ok_status() { return {}; }
  bool ok() const { return code_ == errc::ok; }
  explicit operator bool() const { return ok(); }
  errc code() const { return code_; }
  const std::string& message() const { return message_; }
  /// "storage_io: disk I/O error while inserting event"
  std::string to_string() const;

private:
  errc code_ = errc::ok;
  std::string message_;
};

} // namespace faultd
