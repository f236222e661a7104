#include <doctest/doctest.h>

#include <sys/wait.h>
#include <unistd.h>

#include "process/data_dir_lock.hpp"
#include "support/support.hpp"

using namespace faultd;
using faultd::process::data_dir_lock;

TEST_CASE("a second lock on the same data dir is refused and names the holder's pid") {
  test::temp_dir dir;
  data_dir_lock first;
  REQUIRE(first.acquire(dir.path()).ok());
  CHECK(first.held());
  CHECK(test::read_file(data_dir_lock::path_of(dir.path())) == std::to_string(::getpid()) + "\n");

  data_dir_lock second;
  auto st = second.acquire(dir.path());
  CHECK(st.code() == errc::unavailable);
  CHECK(st.message().find("in use by another faultd (pid " + std::to_string(::getpid()) + ")")
        != std::string::npos);
  CHECK_FALSE(second.held());
}

TEST_CASE("the lock is free again once its holder is gone, also after SIGKILL") {
  test::temp_dir dir;
  {
    data_dir_lock l;
    REQUIRE(l.acquire(dir.path()).ok());
  }
  data_dir_lock again;
  CHECK(again.acquire(dir.path()).ok());
  again = data_dir_lock{};

  int ready[2];
  REQUIRE(::pipe(ready) == 0);
  pid_t pid = ::fork();
  REQUIRE(pid >= 0);
  if (pid == 0) {
    data_dir_lock child;
    char c = child.acquire(dir.path()).ok() ? '1' : '0';
    (void)!::write(ready[1], &c, 1);
    ::pause();
    ::_exit(0);
  }
  char c = 0;
  REQUIRE(::read(ready[0], &c, 1) == 1);
  CHECK(c == '1');
  data_dir_lock while_held;
  CHECK(while_held.acquire(dir.path()).code() == errc::unavailable);
  ::kill(pid, SIGKILL);
  ::waitpid(pid, nullptr, 0);
  CHECK(while_held.acquire(dir.path()).ok());
  ::close(ready[0]);
  ::close(ready[1]);
}

TEST_CASE("a data dir that does not exist is an io error, not a crash") {
  data_dir_lock l;
  auto st = l.acquire("/nonexistent/faultd-data");
  CHECK(st.code() == errc::io);
  CHECK(st.message().find("/nonexistent/faultd-data/faultd.lock") != std::string::npos);
}
