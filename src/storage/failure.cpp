#include "storage/failure.hpp"

#include <cstdlib>

#include "faultd/util.hpp"

namespace faultd::storage {

namespace {

int sqlite_primary(const std::string& msg) {
  auto pos = msg.rfind("(sqlite rc ");
  if (pos == std::string::npos)
    return -1;
  return std::atoi(msg.c_str() + pos + 11) & 0xff;
}

bool mentions(const std::string& msg, const char* what) {
  return msg.find(what) != std::string::npos;
}

} // namespace

failure_kind classify_failure(const status& st, const std::string& db_dir) {
  failure_kind k;
  const auto& msg = st.message();
  int rc = sqlite_primary(msg);
  bool no_space = rc == 13 /* SQLITE_FULL */ || mentions(msg, "No space left on device")
                  || mentions(msg, "disk is full") || mentions(msg, "Disk quota exceeded");
  bool no_fds = mentions(msg, "Too many open files")
                || (rc == 14 /* SQLITE_CANTOPEN */ && !mentions(msg, "No such file"));
  if (no_space) {
    k.transient = true;
    k.type = fault_type::resource_exhaustion;
    k.severity = fault_severity::critical;
    k.resource = "disk";
    k.component = "resource:disk:" + db_dir;
  } else if (no_fds) {
    k.transient = true;
    k.type = fault_type::resource_exhaustion;
    k.severity = fault_severity::critical;
    k.resource = "fds";
    k.component = "resource:fds";
  } else {
    // Busy, locked and I/O errors may pass; anything else will not.
    k.transient = rc == 5 || rc == 6 || rc == 10;
    k.component = "storage";
  }
  return k;
}

fault_event failure_fault(const failure_kind& k, const status& st, timestamp at) {
  fault_event f;
  f.id = make_uuid();
  f.time = at;
  f.type = k.type;
  f.severity = k.severity;
  f.component = k.component;
  f.source = "storage";
  if (!k.resource.empty())
    f.details["resource"] = k.resource;
  f.details["message"] = "storage write failed: " + st.message();
  f.details["retrying"] = k.transient ? "true" : "false";
  return f;
}

} // namespace faultd::storage
