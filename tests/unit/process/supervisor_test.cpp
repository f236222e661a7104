#include <doctest/doctest.h>

#include <algorithm>
#include <cerrno>
#include <csignal>
#include <cstdlib>
#include <mutex>
#include <string>
#include <vector>

#include <fcntl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "process/proc.hpp"
#include "process/run_state.hpp"
#include "process/spawn.hpp"
#include "process/supervisor.hpp"
#include "support/support.hpp"

using namespace faultd;
using namespace faultd::process;
using faultd::test::read_file;
using faultd::test::temp_dir;
using faultd::test::wait_until;
using std::chrono::milliseconds;
using std::chrono::seconds;

namespace {

/// Collects the supervisor's events (it must outlive the supervisor).
class recorder {
public:
  event_listener listener() {
    return [this](const event& e) {
      std::lock_guard<std::mutex> guard{mtx_};
      events_.push_back(e);
    };
  }
  std::vector<event> of(event_kind k) {
    std::lock_guard<std::mutex> guard{mtx_};
    std::vector<event> out;
    for (const auto& e : events_)
      if (e.kind == k)
        out.push_back(e);
    return out;
  }
  size_t count(event_kind k) { return of(k).size(); }
  bool wait_for(event_kind k, size_t n) {
    return wait_until([&] { return count(k) >= n; });
  }

private:
  std::mutex mtx_;
  std::vector<event> events_;
};

service_config make_service(const std::string& name, std::vector<std::string> cmd,
                            restart_policy policy = restart_policy::always) {
  service_config c;
  c.name = name;
  c.command = std::move(cmd);
  c.restart.policy = policy;
  return c;
}

supervisor_options options(recorder& rec, const std::string& log_dir = "") {
  supervisor_options o;
  o.listener = rec.listener();
  o.log_dir = log_dir;
  o.random = [] { return 0.5; };
  return o;
}

bool process_exists(int pid) {
  return ::kill(pid, 0) == 0 || errno == EPERM;
}

bool group_exists(int pgid) {
  return ::kill(-pgid, 0) == 0 || errno == EPERM;
}

int pid_of(supervisor& sup, const std::string& name) {
  auto s = sup.snapshot(name);
  return s ? s->pid : 0;
}

} // namespace

TEST_CASE("an added service runs and reports its live pid") {
  recorder rec;
  supervisor sup{options(rec)};
  REQUIRE(sup.init_status().ok());
  auto st = sup.add(make_service("sleeper", {"/bin/sleep", "100"})).get();
  REQUIRE(st.ok());
  auto snap = sup.snapshot("sleeper");
  REQUIRE(snap);
  CHECK(snap->state == service_state::running);
  CHECK(snap->pid > 0);
  CHECK(snap->started_at.has_value());
  CHECK(snap->restarts == 0);
  CHECK(process_exists(snap->pid));
  // Its own process group.
  CHECK(::getpgid(snap->pid) == snap->pid);
  auto started = rec.of(event_kind::started);
  REQUIRE(started.size() == 1);
  CHECK(started[0].pid == snap->pid);
  CHECK(started[0].service == "sleeper");
}

TEST_CASE("a SIGKILLed service is running again under a new pid") {
  recorder rec;
  supervisor sup{options(rec)};
  REQUIRE(sup.add(make_service("victim", {"/bin/sleep", "100"})).get().ok());
  int first = pid_of(sup, "victim");
  REQUIRE(first > 0);
  REQUIRE(::kill(first, SIGKILL) == 0);
  REQUIRE(wait_until([&] {
    int p = pid_of(sup, "victim");
    return p > 0 && p != first;
  }));
  auto snap = sup.snapshot("victim");
  CHECK(snap->state == service_state::running);
  CHECK(snap->restarts == 1);
  CHECK(snap->last_exit == "signal 9");
  CHECK(process_exists(snap->pid));
  REQUIRE(rec.wait_for(event_kind::started, 2));
  auto exited = rec.of(event_kind::exited);
  REQUIRE(exited.size() == 1);
  CHECK(exited[0].pid == first);
  CHECK(exited[0].signal == SIGKILL);
  CHECK_FALSE(exited[0].exit_code.has_value());
  CHECK_FALSE(exited[0].was_expected);
  auto scheduled = rec.of(event_kind::restart_scheduled);
  REQUIRE(scheduled.size() == 1);
  CHECK(scheduled[0].delay == duration::zero());
  CHECK(scheduled[0].restarts == 1);
}

TEST_CASE("policy never leaves an exited service down") {
  recorder rec;
  supervisor sup{options(rec)};
  REQUIRE(sup.add(make_service("once", {"/bin/sh", "-c", "exit 3"}, restart_policy::never)).get().ok());
  REQUIRE(rec.wait_for(event_kind::exited, 1));
  // The restart decision is made before the exited event is delivered.
  auto snap = sup.snapshot("once");
  CHECK(snap->state == service_state::exited);
  CHECK(snap->pid == 0);
  CHECK(snap->restarts == 0);
  CHECK(snap->last_exit == "exit 3");
  CHECK(rec.count(event_kind::started) == 1);
  CHECK(rec.count(event_kind::restart_scheduled) == 0);
  CHECK(rec.of(event_kind::exited)[0].exit_code == 3);
}

TEST_CASE("policy on_failure restarts after exit 3 but not after exit 0") {
  temp_dir dir;
  recorder rec;
  supervisor sup{options(rec)};
  // Fails the first time, succeeds the second.
  std::string script = "if [ -e " + dir.file("seen") + " ]; then exit 0; fi; touch " +
                       dir.file("seen") + "; exit 3";
  REQUIRE(sup.add(make_service("flaky", {"/bin/sh", "-c", script}, restart_policy::on_failure)).get().ok());
  REQUIRE(rec.wait_for(event_kind::exited, 2));
  auto exited = rec.of(event_kind::exited);
  CHECK(exited[0].exit_code == 3);
  CHECK(exited[1].exit_code == 0);
  auto snap = sup.snapshot("flaky");
  CHECK(snap->state == service_state::exited);
  CHECK(snap->restarts == 1);
  CHECK(snap->last_exit == "exit 0");
  CHECK(rec.count(event_kind::started) == 2);
}

TEST_CASE("policy always restarts even after a clean exit") {
  temp_dir dir;
  recorder rec;
  supervisor sup{options(rec)};
  std::string script = "if [ -e " + dir.file("seen") + " ]; then exec sleep 100; fi; touch " +
                       dir.file("seen") + "; exit 0";
  REQUIRE(sup.add(make_service("clean", {"/bin/sh", "-c", script})).get().ok());
  REQUIRE(rec.wait_for(event_kind::started, 2));
  CHECK(rec.of(event_kind::exited)[0].exit_code == 0);
  CHECK(sup.snapshot("clean")->restarts == 1);
}

TEST_CASE("an explicit stop does not restart and leaves no process group behind") {
  recorder rec;
  supervisor sup{options(rec)};
  REQUIRE(sup.add(make_service("group", {"/bin/sh", "-c", "sleep 100 & sleep 100"})).get().ok());
  int pid = pid_of(sup, "group");
  REQUIRE(pid > 0);
  REQUIRE(group_exists(pid));
  REQUIRE(sup.stop("group").get().ok());
  auto snap = sup.snapshot("group");
  CHECK(snap->state == service_state::stopped);
  CHECK(snap->pid == 0);
  CHECK(snap->restarts == 0);
  CHECK_FALSE(process_exists(pid));
  // The rest of the group was SIGKILLed when the leader was reaped; the
  // orphans vanish once init has reaped them.
  CHECK(wait_until([&] { return !group_exists(pid); }));
  auto exited = rec.of(event_kind::exited);
  REQUIRE(exited.size() == 1);
  CHECK(exited[0].was_expected);
  CHECK(exited[0].signal == SIGTERM);
  CHECK(rec.count(event_kind::stopped) == 1);
  CHECK(rec.count(event_kind::started) == 1);
  CHECK(rec.count(event_kind::restart_scheduled) == 0);
}

TEST_CASE("stop escalates to SIGKILL when the service ignores SIGTERM") {
  temp_dir dir;
  recorder rec;
  supervisor sup{options(rec)};
  auto cfg = make_service("stubborn", {"/bin/sh", "-c", "trap '' TERM; echo ready > " + dir.file("ready") +
                                                           "; sleep 100"});
  cfg.restart.stop_grace = milliseconds(200);
  REQUIRE(sup.add(cfg).get().ok());
  int pid = pid_of(sup, "stubborn");
  // Only once the trap is set does SIGTERM get ignored.
  REQUIRE(wait_until([&] { return read_file(dir.file("ready")) == "ready\n"; }));
  REQUIRE(sup.stop("stubborn").get().ok());
  auto exited = rec.of(event_kind::exited);
  REQUIRE(exited.size() == 1);
  CHECK(exited[0].signal == SIGKILL);
  CHECK(exited[0].was_expected);
  CHECK(wait_until([&] { return !group_exists(pid); }));
  CHECK(sup.snapshot("stubborn")->state == service_state::stopped);
  CHECK(rec.count(event_kind::started) == 1);
}

TEST_CASE("a nonexistent command gives one spawn_failed event with the errno text and no retries") {
  recorder rec;
  supervisor sup{options(rec)};
  SUBCASE("absolute path") {
    auto st = sup.add(make_service("ghost", {"/nonexistent/faultd-ghost"})).get();
    CHECK(st.code() == errc::spawn_failed);
    CHECK(st.message().find("No such file or directory") != std::string::npos);
    CHECK(st.message().find("/nonexistent/faultd-ghost") != std::string::npos);
  }
  SUBCASE("looked up in PATH") {
    auto st = sup.add(make_service("ghost", {"faultd-no-such-command-xyz"})).get();
    CHECK(st.code() == errc::spawn_failed);
    CHECK(st.message().find("No such file or directory") != std::string::npos);
  }
  auto failed = rec.of(event_kind::spawn_failed);
  REQUIRE(failed.size() == 1);
  CHECK(failed[0].error.find("No such file or directory") != std::string::npos);
  auto snap = sup.snapshot("ghost");
  CHECK(snap->state == service_state::failed);
  CHECK(snap->pid == 0);
  // A round trip through the loop: had a retry been queued, it would have run.
  CHECK(sup.stop("ghost").get().ok());
  CHECK(rec.count(event_kind::spawn_failed) == 1);
  CHECK(rec.count(event_kind::started) == 0);
  CHECK(rec.count(event_kind::exited) == 0);
}

TEST_CASE("a missing working_dir is a spawn failure naming chdir") {
  recorder rec;
  supervisor sup{options(rec)};
  auto cfg = make_service("lost", {"/bin/true"});
  cfg.working_dir = "/nonexistent/faultd-dir";
  auto st = sup.add(cfg).get();
  CHECK(st.code() == errc::spawn_failed);
  CHECK(st.message().find("chdir /nonexistent/faultd-dir") != std::string::npos);
  CHECK(rec.count(event_kind::spawn_failed) == 1);
}

TEST_CASE("stdout and stderr of a service are appended to its log file") {
  temp_dir dir;
  recorder rec;
  supervisor sup{options(rec, dir.file("logs"))};
  auto cfg = make_service("talker", {"/bin/sh", "-c", "echo to-stdout; echo to-stderr >&2"},
                          restart_policy::never);
  REQUIRE(sup.add(cfg).get().ok());
  REQUIRE(rec.wait_for(event_kind::exited, 1));
  REQUIRE(sup.start("talker").get().ok());
  REQUIRE(rec.wait_for(event_kind::exited, 2));
  auto log = read_file(dir.file("logs/talker.log"));
  CHECK(log == "to-stdout\nto-stderr\nto-stdout\nto-stderr\n");
}

TEST_CASE("env additions and working_dir reach the service") {
  temp_dir dir;
  recorder rec;
  supervisor sup{options(rec)};
  auto cfg = make_service("envy", {"/bin/sh", "-c", "echo \"$FAULTD_TEST_VAR\" > out; pwd >> out"},
                          restart_policy::never);
  cfg.env["FAULTD_TEST_VAR"] = "hello world";
  cfg.working_dir = dir.path();
  REQUIRE(sup.add(cfg).get().ok());
  REQUIRE(rec.wait_for(event_kind::exited, 1));
  char* real = ::realpath(dir.path().c_str(), nullptr);
  REQUIRE(real != nullptr);
  std::string expected = "hello world\n" + std::string{real} + "\n";
  std::free(real);
  CHECK(read_file(dir.file("out")) == expected);
  CHECK(rec.of(event_kind::exited)[0].exit_code == 0);
}

TEST_CASE("a service starts with an empty signal mask, default dispositions and only stdio open") {
  temp_dir dir;
  recorder rec;
  // The supervisor thread inherits this mask and disposition; the child must not.
  sigset_t block, old;
  sigemptyset(&block);
  sigaddset(&block, SIGUSR1);
  REQUIRE(::pthread_sigmask(SIG_BLOCK, &block, &old) == 0);
  auto old_handler = ::signal(SIGUSR2, SIG_IGN);
  {
    supervisor sup{options(rec, dir.path())};
    REQUIRE(::pthread_sigmask(SIG_SETMASK, &old, nullptr) == 0);
    REQUIRE(sup.add(make_service("sigs", {"/bin/grep", "-E", "^Sig(Blk|Ign)", "/proc/self/status"},
                                 restart_policy::never)).get().ok());
    REQUIRE(sup.add(make_service("fds", {"/bin/ls", "/proc/self/fd"}, restart_policy::never)).get().ok());
    REQUIRE(rec.wait_for(event_kind::exited, 2));
  }
  ::signal(SIGUSR2, old_handler);
  CHECK(read_file(dir.file("sigs.log")) == "SigBlk:\t0000000000000000\nSigIgn:\t0000000000000000\n");
  // stdin, stdout, stderr, and the directory ls itself opened.
  CHECK(read_file(dir.file("fds.log")) == "0\n1\n2\n3\n");
}

TEST_CASE("restart replaces the process and counts as a restart") {
  recorder rec;
  supervisor sup{options(rec)};
  REQUIRE(sup.add(make_service("bounce", {"/bin/sleep", "100"})).get().ok());
  int first = pid_of(sup, "bounce");
  REQUIRE(sup.restart("bounce").get().ok());
  auto snap = sup.snapshot("bounce");
  CHECK(snap->state == service_state::running);
  CHECK(snap->pid != first);
  CHECK(snap->pid > 0);
  CHECK(snap->restarts == 1);
  CHECK_FALSE(process_exists(first));
  auto exited = rec.of(event_kind::exited);
  REQUIRE(exited.size() == 1);
  CHECK(exited[0].was_expected);
  CHECK(rec.count(event_kind::started) == 2);
}

TEST_CASE("remove stops the service and forgets it") {
  recorder rec;
  supervisor sup{options(rec)};
  REQUIRE(sup.add(make_service("doomed", {"/bin/sleep", "100"})).get().ok());
  int pid = pid_of(sup, "doomed");
  REQUIRE(sup.remove("doomed").get().ok());
  CHECK_FALSE(sup.snapshot("doomed"));
  CHECK_FALSE(process_exists(pid));
  CHECK(sup.start("doomed").get().code() == errc::not_found);
  CHECK(rec.count(event_kind::started) == 1);
}

TEST_CASE("commands on unknown or duplicate services are refused") {
  recorder rec;
  supervisor sup{options(rec)};
  CHECK(sup.stop("nobody").get().code() == errc::not_found);
  CHECK(sup.restart("nobody").get().code() == errc::not_found);
  REQUIRE(sup.add(make_service("one", {"/bin/sleep", "100"})).get().ok());
  CHECK(sup.add(make_service("one", {"/bin/sleep", "100"})).get().code() == errc::bad_request);
  CHECK(sup.add(make_service("", {"/bin/sleep", "100"})).get().code() == errc::bad_request);
}

TEST_CASE("a service without a command is tracked as unmanaged and cannot be started") {
  recorder rec;
  supervisor sup{options(rec)};
  REQUIRE(sup.add(make_service("external", {})).get().ok());
  CHECK(sup.snapshot("external")->state == service_state::unmanaged);
  CHECK(sup.start("external").get().code() == errc::bad_request);
  CHECK(rec.count(event_kind::started) == 0);
}

TEST_CASE("shutdown stops every service and refuses later commands") {
  recorder rec;
  supervisor sup{options(rec)};
  REQUIRE(sup.add(make_service("a", {"/bin/sleep", "100"})).get().ok());
  REQUIRE(sup.add(make_service("b", {"/bin/sleep", "100"})).get().ok());
  int a = pid_of(sup, "a");
  int b = pid_of(sup, "b");
  sup.shutdown();
  CHECK_FALSE(process_exists(a));
  CHECK_FALSE(process_exists(b));
  auto exited = rec.of(event_kind::exited);
  REQUIRE(exited.size() == 2);
  CHECK(exited[0].was_expected);
  CHECK(exited[1].was_expected);
  CHECK(rec.count(event_kind::started) == 2);
  CHECK(sup.start("a").get().code() == errc::unavailable);
  sup.shutdown();  // idempotent
}

TEST_CASE("a crash loop engages the storm guard with growing delays until stopped") {
  recorder rec;
  supervisor sup{options(rec)};
  auto cfg = make_service("looper", {"/bin/sh", "-c", "exit 1"});
  cfg.restart.burst = 2;
  cfg.restart.period = seconds(60);
  cfg.restart.backoff_initial = milliseconds(20);
  cfg.restart.backoff_max = milliseconds(40);
  cfg.restart.backoff_jitter = 0.0;
  REQUIRE(sup.add(cfg).get().ok());
  REQUIRE(rec.wait_for(event_kind::storm, 3));
  auto storms = rec.of(event_kind::storm);
  CHECK(storms[0].restarts_in_period == 3);
  CHECK(storms[0].delay == milliseconds(20));
  CHECK(storms[1].delay == milliseconds(40));
  CHECK(storms[2].delay == milliseconds(40));
  // Two immediate restarts came before the first storm.
  auto scheduled = rec.of(event_kind::restart_scheduled);
  REQUIRE(scheduled.size() >= 3);
  CHECK(scheduled[0].delay == duration::zero());
  CHECK(scheduled[1].delay == duration::zero());
  CHECK(scheduled[2].delay == milliseconds(20));
  REQUIRE(sup.stop("looper").get().ok());
  CHECK(sup.snapshot("looper")->state == service_state::stopped);
  // The stop is final: a round trip through the loop starts nothing.
  auto started = rec.count(event_kind::started);
  CHECK(sup.stop("looper").get().ok());
  CHECK(rec.count(event_kind::started) == started);
}

TEST_CASE("start ends a backoff wait at once") {
  recorder rec;
  supervisor sup{options(rec)};
  auto cfg = make_service("slowpoke", {"/bin/sh", "-c", "exit 1"});
  cfg.restart.burst = 0;
  cfg.restart.backoff_initial = seconds(3600);
  cfg.restart.backoff_max = seconds(3600);
  REQUIRE(sup.add(cfg).get().ok());
  REQUIRE(rec.wait_for(event_kind::storm, 1));
  CHECK(sup.snapshot("slowpoke")->state == service_state::backoff);
  REQUIRE(sup.start("slowpoke").get().ok());
  CHECK(rec.count(event_kind::started) == 2);
}

TEST_CASE("command lookup follows PATH like execvp") {
  CHECK(resolve_command("/bin/sh", "/nowhere") == "/bin/sh");
  CHECK(resolve_command("sh", "/nonexistent:/bin") == "/bin/sh");
  CHECK(resolve_command("faultd-none", "/nonexistent:/bin") == "/nonexistent/faultd-none");
}

// -- trust: stop signals, trees, adoption, identity, log size -----------------

namespace {

bool alive(int pid) {
  auto st = read_proc_stat(pid);
  return st && st->state != 'Z';
}

/// In a forked test child: output to /dev/null, so that a child a failed
/// assertion leaves behind cannot hold the test runner's pipe open.
void quiet_stdio() {
  int null = ::open("/dev/null", O_RDWR);
  ::dup2(null, 0);
  ::dup2(null, 1);
  ::dup2(null, 2);
}

off_t file_size(const std::string& path) {
  struct stat st;
  return ::stat(path.c_str(), &st) == 0 ? st.st_size : 0;
}

} // namespace

TEST_CASE("stop uses the service's stop_signal") {
  recorder rec;
  supervisor sup{options(rec)};
  auto cfg = make_service("quitter", {"/bin/sleep", "100"});
  cfg.stop_signal = SIGQUIT;
  REQUIRE(sup.add(cfg).get().ok());
  REQUIRE(sup.stop("quitter").get().ok());
  auto exited = rec.of(event_kind::exited);
  REQUIRE(exited.size() == 1);
  CHECK(exited[0].signal == SIGQUIT);
}

TEST_CASE("a SIGSTOPped service is continued and ends on its stop signal, not on SIGKILL") {
  recorder rec;
  supervisor sup{options(rec)};
  auto cfg = make_service("frozen", {"/bin/sleep", "100"});
  cfg.restart.stop_grace = seconds(60);
  REQUIRE(sup.add(cfg).get().ok());
  int pid = pid_of(sup, "frozen");
  REQUIRE(::kill(pid, SIGSTOP) == 0);
  REQUIRE(wait_until([&] { return read_proc_stat(pid)->state == 'T'; }));
  auto stopped = sup.stop("frozen");
  // Without SIGCONT first this would take the whole 60 s grace.
  REQUIRE(stopped.wait_for(seconds(20)) == std::future_status::ready);
  auto exited = rec.of(event_kind::exited);
  REQUIRE(exited.size() == 1);
  CHECK(exited[0].signal == SIGTERM);
}

TEST_CASE("descendants that called setsid die when the service stops and when it restarts") {
  temp_dir dir;
  recorder rec;
  supervisor sup{options(rec)};
  auto script = "setsid sleep 300 & echo $! > " + dir.file("escapee") + "; exec sleep 300";
  REQUIRE(sup.add(make_service("daemonish", {"/bin/sh", "-c", script})).get().ok());
  REQUIRE(wait_until([&] { return !read_file(dir.file("escapee")).empty(); }));
  int first = std::stoi(read_file(dir.file("escapee")));
  REQUIRE(wait_until([&] { auto st = read_proc_stat(first); return st && st->sid == first; }));

  // A crash of the main process: restarted, and the old escapee is gone.
  ::unlink(dir.file("escapee").c_str());
  int main_pid = pid_of(sup, "daemonish");
  REQUIRE(::kill(main_pid, SIGKILL) == 0);
  REQUIRE(rec.wait_for(event_kind::started, 2));
  CHECK(wait_until([&] { return !alive(first); }));
  REQUIRE(wait_until([&] { return !read_file(dir.file("escapee")).empty(); }));
  int second = std::stoi(read_file(dir.file("escapee")));
  REQUIRE(wait_until([&] { auto st = read_proc_stat(second); return st && st->sid == second; }));
  CHECK(alive(second));

  // A stop: the escapee of the running instance goes with it.
  REQUIRE(sup.stop("daemonish").get().ok());
  CHECK(wait_until([&] { return !alive(second); }));
  // Reparented to us (the subreaper) and reaped: not even a zombie left.
  CHECK(wait_until([&] { return !read_proc_stat(second); }));
}

TEST_CASE("a recorded live process of a previous incarnation is adopted, not started twice") {
  temp_dir dir;
  auto token = std::string{"adopt-test-token"};
  pid_t pid = ::fork();
  REQUIRE(pid >= 0);
  if (pid == 0) {
    ::setpgid(0, 0);
    quiet_stdio();
    ::setenv(instance_env, token.c_str(), 1);
    ::execl("/bin/sleep", "sleep", "300", static_cast<char*>(nullptr));
    ::_exit(127);
  }
  REQUIRE(wait_until([&] {
    auto st = read_proc_stat(pid);
    return st && read_file("/proc/" + std::to_string(pid) + "/cmdline").find("sleep") == 0;
  }));
  auto cfg = make_service("old", {"/bin/sleep", "300"});
  run_record r;
  r.service = "old";
  r.pid = pid;
  r.start_ticks = read_proc_stat(pid)->start_ticks;
  r.boot_id = boot_id();
  r.token = token;
  r.command_hash = command_hash(cfg.command);
  run_dir{dir.file("run")}.write(r);

  recorder rec;
  auto opts = options(rec);
  opts.run_dir = dir.file("run");
  supervisor sup{opts};
  REQUIRE(sup.add(cfg).get().ok());
  auto snap = sup.snapshot("old");
  CHECK(snap->pid == pid);
  CHECK(snap->adopted);
  CHECK(snap->state == service_state::running);
  CHECK(rec.count(event_kind::adopted) == 1);
  CHECK(rec.count(event_kind::started) == 0);

  // Supervised again: its death is seen through the pidfd and it restarts.
  ::kill(pid, SIGKILL);
  REQUIRE(rec.wait_for(event_kind::started, 1));
  int fresh = pid_of(sup, "old");
  CHECK(fresh != pid);
  CHECK_FALSE(sup.snapshot("old")->adopted);
  // The record now names the new process.
  auto records = run_dir{dir.file("run")}.read_all();
  REQUIRE(records.size() == 1);
  CHECK(records[0].pid == fresh);
  ::waitpid(pid, nullptr, 0);
  REQUIRE(sup.stop("old").get().ok());
  CHECK(run_dir{dir.file("run")}.read_all().empty());
}

TEST_CASE("a recorded process whose command changed is adopted and restarted with the new one") {
  temp_dir dir;
  recorder rec;
  auto opts = options(rec);
  opts.run_dir = dir.file("run");
  int old_pid = 0;
  {
    supervisor first{opts};
    REQUIRE(first.add(make_service("svc", {"/bin/sleep", "300"})).get().ok());
    old_pid = pid_of(first, "svc");
    // What a kill -9 of faultd leaves behind: the record and the process.
    auto saved = run_dir{dir.file("run")}.read_all();
    REQUIRE(saved.size() == 1);
    first.shutdown();
    REQUIRE(wait_until([&] { return !alive(old_pid); }));
    // Bring back an equivalent live process under the old record.
    pid_t pid = ::fork();
    if (pid == 0) {
      ::setpgid(0, 0);
      quiet_stdio();
      ::setenv(instance_env, saved[0].token.c_str(), 1);
      ::execl("/bin/sleep", "sleep", "300", static_cast<char*>(nullptr));
      ::_exit(127);
    }
    REQUIRE(wait_until([&] {
      return read_file("/proc/" + std::to_string(pid) + "/cmdline").find("sleep") == 0;
    }));
    saved[0].pid = pid;
    saved[0].start_ticks = read_proc_stat(pid)->start_ticks;
    REQUIRE(run_dir{dir.file("run")}.write(saved[0]).ok());
    old_pid = pid;
  }
  supervisor second{opts};
  REQUIRE(second.add(make_service("svc", {"/bin/sleep", "301"})).get().ok());
  REQUIRE(wait_until([&] {
    auto s = second.snapshot("svc");
    return s && s->pid != 0 && s->pid != old_pid && s->state == service_state::running;
  }));
  CHECK(wait_until([&] { return !alive(old_pid); }));
  ::waitpid(old_pid, nullptr, 0);
  CHECK(second.snapshot("svc")->command.back() == "301");
}

TEST_CASE("retire_others ends recorded processes of services no longer configured") {
  temp_dir dir;
  pid_t pid = ::fork();
  if (pid == 0) {
    ::setpgid(0, 0);
    quiet_stdio();
    ::setenv(instance_env, "retire-token", 1);
    ::execl("/bin/sleep", "sleep", "300", static_cast<char*>(nullptr));
    ::_exit(127);
  }
  REQUIRE(wait_until([&] {
    return read_file("/proc/" + std::to_string(pid) + "/cmdline").find("sleep") == 0;
  }));
  run_record r;
  r.service = "removed";
  r.pid = pid;
  r.start_ticks = read_proc_stat(pid)->start_ticks;
  r.boot_id = boot_id();
  r.token = "retire-token";
  REQUIRE(run_dir{dir.file("run")}.write(r).ok());
  recorder rec;
  auto opts = options(rec);
  opts.run_dir = dir.file("run");
  supervisor sup{opts};
  REQUIRE(sup.retire_others({"kept"}).wait_for(seconds(20)) == std::future_status::ready);
  CHECK(wait_until([&] { return !alive(pid); }));
  ::waitpid(pid, nullptr, 0);
  CHECK(run_dir{dir.file("run")}.read_all().empty());
  CHECK_FALSE(sup.snapshot("removed"));
}

TEST_CASE("user and group drop the service's privileges") {
  if (::getuid() != 0)
    return;  // only root can change users; CI runs as root
  temp_dir dir;
  recorder rec;
  supervisor sup{options(rec, dir.path())};
  auto cfg = make_service("nobody-svc", {"/bin/sh", "-c", "id -u; id -g; exec sleep 300"});
  cfg.user = "nobody";
  cfg.group = "nogroup";
  REQUIRE(sup.add(cfg).get().ok());
  int pid = pid_of(sup, "nobody-svc");
  REQUIRE(wait_until([&] { return read_file(dir.file("nobody-svc.log")).size() >= 10; }));
  CHECK(read_file(dir.file("nobody-svc.log")) == "65534\n65534\n");
  auto status = read_file("/proc/" + std::to_string(pid) + "/status");
  CHECK(status.find("Uid:\t65534\t65534\t65534\t65534") != std::string::npos);

  auto bad = make_service("bad-user", {"/bin/true"});
  bad.user = "no-such-user-here";
  auto st = sup.add(bad).get();
  CHECK(st.code() == errc::spawn_failed);
  CHECK(st.message().find("unknown user no-such-user-here") != std::string::npos);
}

TEST_CASE("a service printing 100 MB keeps its log files within log_max_size each") {
  temp_dir dir;
  recorder rec;
  supervisor sup{options(rec, dir.path())};
  auto cfg = make_service("chatty", {"/bin/sh", "-c", "head -c 100000000 /dev/zero | tr '\\0' x"},
                          restart_policy::never);
  cfg.log_max_size = 1 << 20;
  cfg.log_keep = 2;
  REQUIRE(sup.add(cfg).get().ok());
  REQUIRE(rec.wait_for(event_kind::exited, 1));
  auto log = dir.file("chatty.log");
  // The last write's notification is handled after the exit at the latest.
  CHECK(wait_until([&] { return file_size(log) <= (1 << 20); }));
  CHECK(file_size(log + ".1") <= (1 << 20));
  CHECK(file_size(log + ".1") > 0);
  CHECK(file_size(log + ".2") <= (1 << 20));
  CHECK(file_size(log + ".3") == 0);
}
