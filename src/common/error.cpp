#include "faultd/error.hpp"

namespace faultd {

std::string_view to_string(errc e) {
  switch (e) {
    case errc::ok: return "ok";
    case errc::config_invalid: return "config_invalid";
    case errc::storage_open_failed: return "storage_open_failed";
    case errc::storage_io: return "storage_io";
    case errc::storage_corrupt: return "storage_corrupt";
    case errc::storage_schema_too_new: return "storage_schema_too_new";
    case errc::not_found: return "not_found";
    case errc::bad_request: return "bad_request";
    case errc::unavailable: return "unavailable";
    case errc::spawn_failed: return "spawn_failed";
    case errc::timeout: return "timeout";
    case errc::malformed_payload: return "malformed_payload";
    case errc::internal: return "internal";
    case errc::io: return "io";
    case errc::unauthorized: return "unauthorized";
  }
  return "unknown";
}

std::string status::to_string() const {
  if (ok())
    return "ok";
  std::string out{faultd::to_string(code_)};
  out += ": ";
  out += message_;
  return out;
}

} // namespace faultd
