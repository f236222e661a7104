#include <doctest/doctest.h>

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <string>

#include "process/log_rotation.hpp"
#include "support/support.hpp"

using namespace faultd;
using namespace faultd::process;
using faultd::test::read_file;
using faultd::test::temp_dir;
using faultd::test::write_file;

namespace {

off_t size_of(const std::string& path) {
  struct stat st;
  return ::stat(path.c_str(), &st) == 0 ? st.st_size : -1;
}

} // namespace

TEST_CASE("a log past its limit is copied to .1 and truncated, older files shift up to keep") {
  temp_dir dir;
  auto log = dir.file("svc.log");
  bool rotated = false;
  write_file(log, "small\n");
  REQUIRE(rotate_if_larger(log, 100, 2, &rotated).ok());
  CHECK_FALSE(rotated);
  for (int round = 1; round <= 3; ++round) {
    write_file(log, std::string(150, static_cast<char>('a' + round)));
    REQUIRE(rotate_if_larger(log, 100, 2, &rotated).ok());
    CHECK(rotated);
    CHECK(size_of(log) == 0);
  }
  // The last 100 bytes of each rotated file are kept; round 1 fell off.
  CHECK(read_file(log + ".1") == std::string(100, 'd'));
  CHECK(read_file(log + ".2") == std::string(100, 'c'));
  CHECK(size_of(log + ".3") == -1);
}

TEST_CASE("a writer with O_APPEND keeps writing at the start of the truncated file") {
  temp_dir dir;
  auto log = dir.file("svc.log");
  int fd = ::open(log.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
  REQUIRE(fd >= 0);
  std::string big(5000, 'x');
  REQUIRE(::write(fd, big.data(), big.size()) == 5000);
  REQUIRE(rotate_if_larger(log, 4096, 1).ok());
  REQUIRE(::write(fd, "after\n", 6) == 6);
  ::close(fd);
  CHECK(read_file(log) == "after\n");
  CHECK(size_of(log + ".1") == 4096);
}

TEST_CASE("keep 0 only truncates, and a missing file is no error") {
  temp_dir dir;
  auto log = dir.file("svc.log");
  CHECK(rotate_if_larger(log, 10, 0).ok());
  write_file(log, std::string(20, 'z'));
  bool rotated = false;
  REQUIRE(rotate_if_larger(log, 10, 0, &rotated).ok());
  CHECK(rotated);
  CHECK(size_of(log) == 0);
  CHECK(size_of(log + ".1") == -1);
}
