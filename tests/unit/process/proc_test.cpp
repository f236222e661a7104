#include <doctest/doctest.h>

#include <csignal>
#include <fcntl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <string>

#include "process/proc.hpp"
#include "process/run_state.hpp"
#include "process/usage.hpp"
#include "support/support.hpp"

using namespace faultd;
using namespace faultd::process;
using faultd::test::read_file;
using faultd::test::temp_dir;
using faultd::test::wait_until;
using faultd::test::write_file;

namespace {

/// Starts `sh -c script` in its own group with FAULTD_INSTANCE=token, its
/// output to /dev/null (a leftover must not hold the test runner's pipe).
pid_t start_shell(const std::string& script, const std::string& token) {
  pid_t pid = ::fork();
  REQUIRE(pid >= 0);
  if (pid == 0) {
    ::setpgid(0, 0);
    ::setenv(instance_env, token.c_str(), 1);
    int null = ::open("/dev/null", O_RDWR);
    ::dup2(null, 0);
    ::dup2(null, 1);
    ::dup2(null, 2);
    ::execl("/bin/sh", "sh", "-c", script.c_str(), static_cast<char*>(nullptr));
    ::_exit(127);
  }
  return pid;
}

bool alive(int pid) {
  auto st = read_proc_stat(pid);
  return st && st->state != 'Z';
}

/// Ends every process of a token's tree when the test ends, also when an
/// assertion ended it early.
struct tree_guard {
  pid_t root;
  std::string token;
  ~tree_guard() {
    ::kill(-root, SIGKILL);
    for (auto& st : process_tree(0, token))
      ::kill(st.pid, SIGKILL);
    ::waitpid(root, nullptr, 0);
  }
};

} // namespace

TEST_CASE("a stat line is parsed even when the command name holds spaces and parentheses") {
  std::string line = "4242 (my (odd) name) S 1 4242 4242 0 -1 4194560 1 0 0 0 17 4 0 0 20 0 1 0 "
                     "123456 1000000 250 18446744073709551615 0 0 0 0 0 0 0 0 0 0 0 0 17 1 0 0 "
                     "0 0 0 0 0 0 0 0 0 0 256";
  auto st = parse_proc_stat(line);
  REQUIRE(st);
  CHECK(st->pid == 4242);
  CHECK(st->state == 'S');
  CHECK(st->ppid == 1);
  CHECK(st->pgid == 4242);
  CHECK(st->utime_ticks == 17);
  CHECK(st->stime_ticks == 4);
  CHECK(st->start_ticks == 123456);
  CHECK(st->rss_pages == 250);
  CHECK(st->exit_code == 256);
  CHECK_FALSE(parse_proc_stat("garbage"));
  CHECK_FALSE(parse_proc_stat("12 (x) S 1 2"));
}

TEST_CASE("our own process has a stat with a start time, and the boot id is known") {
  auto st = read_proc_stat(static_cast<int>(::getpid()));
  REQUIRE(st);
  CHECK(st->start_ticks > 0);
  CHECK(boot_id().size() == 36);
  CHECK_FALSE(read_proc_stat(0x3fffffff));
}

TEST_CASE("the process tree holds descendants that called setsid, by their instance token") {
  temp_dir dir;
  auto script = "setsid sleep 300 & echo $! > " + dir.file("escapee") + "; sleep 300";
  pid_t root = start_shell(script, "tree-token-1");
  tree_guard guard{root, "tree-token-1"};
  REQUIRE(wait_until([&] { return !read_file(dir.file("escapee")).empty(); }));
  int escapee = std::stoi(read_file(dir.file("escapee")));
  REQUIRE(wait_until([&] {
    auto st = read_proc_stat(escapee);
    return st && st->sid == escapee;  // setsid done, exec'd sleep
  }));
  std::vector<int> tree;
  for (auto& st : process_tree(root, "tree-token-1"))
    tree.push_back(st.pid);
  CHECK(std::count(tree.begin(), tree.end(), root) == 1);
  CHECK(std::count(tree.begin(), tree.end(), escapee) == 1);
  CHECK(std::count(tree.begin(), tree.end(), static_cast<int>(::getpid())) == 0);
  // Another token finds nothing of it.
  std::vector<int> other;
  for (auto& st : process_tree(0, "some-other-token"))
    other.push_back(st.pid);
  CHECK(std::count(other.begin(), other.end(), escapee) == 0);

  for (int p : tree)
    ::kill(p, SIGKILL);
  CHECK(wait_until([&] { return !alive(escapee); }));
}

TEST_CASE("a run record round-trips and only matches the very process it names") {
  run_record r;
  r.service = "a/b";
  r.pid = static_cast<int>(::getpid());
  r.start_ticks = read_proc_stat(r.pid)->start_ticks;
  r.boot_id = boot_id();
  r.token = "abc";
  r.command_hash = command_hash({"/bin/sleep", "1"});
  r.stop_signal = SIGQUIT;
  auto back = parse_run_record(format_run_record(r));
  REQUIRE(back);
  CHECK(back->service == "a/b");
  CHECK(back->pid == r.pid);
  CHECK(back->start_ticks == r.start_ticks);
  CHECK(back->token == "abc");
  CHECK(back->stop_signal == SIGQUIT);
  CHECK(still_running(r));
  auto recycled = r;
  recycled.start_ticks += 1;  // same pid, another process
  CHECK_FALSE(still_running(recycled));
  auto rebooted = r;
  rebooted.boot_id = "00000000-0000-0000-0000-000000000000";
  CHECK_FALSE(still_running(rebooted));
  CHECK(command_hash({"a", "bc"}) != command_hash({"ab", "c"}));
  CHECK_FALSE(parse_run_record("pid=12\n"));
  CHECK_FALSE(parse_run_record("service=x\npid=abc\nstart_ticks=1\ntoken=t\n"));
}

TEST_CASE("the run dir writes, lists and removes records, skipping damaged ones") {
  temp_dir dir;
  run_dir rd{dir.file("run")};
  run_record r;
  r.service = "web/api";
  r.pid = 1234;
  r.start_ticks = 99;
  r.token = "t";
  REQUIRE(rd.write(r).ok());
  write_file(dir.file("run") + "/junk", "not a record");
  std::vector<std::string> bad;
  auto all = rd.read_all(&bad);
  REQUIRE(all.size() == 1);
  CHECK(all[0].service == "web/api");
  CHECK(bad == std::vector<std::string>{"junk"});
  rd.remove("web/api");
  CHECK(rd.read_all().empty());
}

TEST_CASE("a tree's usage sums its members' memory, CPU time and open fds") {
  temp_dir dir;
  // dd holds a 32 MiB buffer it filled while its reader never reads.
  pid_t root = start_shell("dd if=/dev/zero bs=32M count=1 2>/dev/null | sleep 300", "usage-tok");
  tree_guard guard{root, "usage-tok"};
  tree_usage u;
  REQUIRE(wait_until([&] {
    u = measure_tree(root, "usage-tok");
    return u.rss_bytes >= (32u << 20);
  }));
  CHECK(u.processes >= 3);
  CHECK(u.fds >= 6);  // at least stdio of each
  CHECK(u.cpu_ticks < 1000000);
  consumer_tracker ct;
  ct.scan();
  auto top = ct.top_memory(50);
  bool found = false;
  for (auto& c : top)
    found = found || c.name == "dd";
  CHECK(found);
}

TEST_CASE("the top CPU consumers name a busy process and its service") {
  pid_t busy = ::fork();
  REQUIRE(busy >= 0);
  if (busy == 0) {
    ::setenv("FAULTD_SERVICE", "spinner", 1);
    ::execl("/bin/sh", "sh", "-c", "while :; do :; done", static_cast<char*>(nullptr));
    ::_exit(127);
  }
  consumer_tracker ct;
  ct.scan();
  bool found = false;
  // CPU is measured between two scans at least 200 ms apart.
  auto last = std::chrono::steady_clock::now();
  wait_until([&] {
    if (std::chrono::steady_clock::now() - last < std::chrono::milliseconds(200))
      return false;
    last = std::chrono::steady_clock::now();
    ct.scan();
    for (auto& c : ct.top_cpu(5))
      if (c.pid == busy && c.cpu_percent > 20 && c.service == "spinner")
        found = true;
    return found;
  });
  CHECK(found);
  CHECK(ct.top_cpu(1).size() == 1);
  ::kill(busy, SIGKILL);
  ::waitpid(busy, nullptr, 0);
}

TEST_CASE("the run dir reads one service's record by name") {
  temp_dir dir;
  run_dir rd{dir.file("run")};
  run_record r;
  r.service = "web/api";
  r.pid = 4321;
  r.start_ticks = 7;
  r.token = "t";
  REQUIRE(rd.write(r).ok());
  auto back = rd.read("web/api");
  REQUIRE(back);
  CHECK(back->pid == 4321);
  CHECK_FALSE(rd.read("other"));
}
