#include <doctest/doctest.h>

#include "storage/failure.hpp"

using namespace faultd;
using namespace faultd::storage;

TEST_CASE("a full disk is the node's resource exhaustion and is retried") {
  status st{errc::storage_io, "write batch /d/faultd.db: database or disk is full (sqlite rc 13)"};
  auto k = classify_failure(st, "/d");
  CHECK(k.transient);
  CHECK(k.type == fault_type::resource_exhaustion);
  CHECK(k.severity == fault_severity::critical);
  CHECK(k.component == "resource:disk:/d");
  auto f = failure_fault(k, st, from_unix_nanos(5));
  CHECK(f.component == "resource:disk:/d");
  CHECK(f.details["resource"] == "disk");
  CHECK(f.details["retrying"] == "true");
  CHECK(f.details["message"].find("disk is full") != std::string::npos);
  CHECK_FALSE(f.id.empty());
  status io{errc::storage_io,
            "write batch /d/faultd.db: disk I/O error (No space left on device (28)) (sqlite rc 4874)"};
  CHECK(classify_failure(io, "/d").resource == "disk");
}

TEST_CASE("running out of fds is exhaustion of faultd's fds, retried") {
  status st{errc::storage_io,
            "open /d/faultd.db: unable to open database file (Too many open files (24)) (sqlite rc 14)"};
  auto k = classify_failure(st, "/d");
  CHECK(k.transient);
  CHECK(k.component == "resource:fds");
}

TEST_CASE("a refused write is a storage fault and is not retried forever") {
  status st{errc::storage_io, "write batch /d/faultd.db: UNIQUE constraint failed (sqlite rc 19)"};
  auto k = classify_failure(st, "/d");
  CHECK_FALSE(k.transient);
  CHECK(k.component == "storage");
  CHECK(k.type == fault_type::software_error);
  status busy{errc::storage_io, "write batch: database is locked (sqlite rc 5)"};
  CHECK(classify_failure(busy, "/d").transient);
}
