// faultd never orphans, duplicates or overrides the services it supervises:
// real faultd processes, real services, real signals.

#include <doctest/doctest.h>

#include <arpa/inet.h>
#include <csignal>
#include <netinet/in.h>
#include <fcntl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <string>

#include "faultd/domain.hpp"
#include "process/proc.hpp"
#include "storage/store.hpp"
#include "support/node_process.hpp"
#include "support/support.hpp"

using namespace faultd::test;

namespace {

bool alive(int pid) {
  auto st = faultd::process::read_proc_stat(pid);
  return st && st->state != 'Z';
}

size_t lines_of(const std::string& path) {
  auto text = read_file(path);
  return static_cast<size_t>(std::count(text.begin(), text.end(), '\n'));
}

/// A service that appends a line to `starts` each time it starts, then sleeps.
std::string counted_service(const std::string& name, const std::string& starts,
                            const std::string& extra = "") {
  return "  - name: " + name + "\n    command: [\"/bin/sh\", \"-c\", \"echo $$ >> " + starts
         + "; exec sleep 1000\"]\n" + extra;
}

/// Injects a fault on a marker component and waits for its incident: every
/// event the node received before it has been analyzed by then.
void drain(node_process& n) {
  auto r = n.ctl({"--json", "inject", "--type", "software_error", "--component", "marker",
                  "--severity", "low"});
  REQUIRE(r.status == 0);
  auto id = json_value(r.out, "incident_id");
  REQUIRE(wait_until([&] { return json_value(n.incident_json(id), "component") == "marker"; }));
}

std::vector<faultd::alert> stored_alerts(node_process& n) {
  faultd::storage::store db;
  std::vector<faultd::alert> alerts;
  REQUIRE(db.open(n.dir.file("data") + "/faultd.db").ok());
  REQUIRE(db.alerts(100, alerts).ok());
  return alerts;
}

} // namespace

TEST_CASE("one-shot jobs run once: no restart, no recovery, no high incident, no alert") {
  temp_dir files;
  auto yaml = "services:\n"
              "  - name: done-never\n    command: [\"/bin/sh\", \"-c\", \"echo run >> "
              + files.file("a") + "\"]\n    restart: never\n"
              "  - name: done-on-failure\n    command: [\"/bin/sh\", \"-c\", \"echo run >> "
              + files.file("b") + "\"]\n    restart: on-failure\n"
              "  - name: crash-never\n    command: [\"/bin/sh\", \"-c\", \"echo run >> "
              + files.file("c") + "; exit 3\"]\n    restart: never\n";
  node_process n{yaml};
  for (auto name : {"done-never", "done-on-failure", "crash-never"})
    REQUIRE(wait_until([&] { return json_value(n.service_json(name), "state") == "exited"; }));
  drain(n);
  for (auto f : {"a", "b", "c"})
    CHECK(lines_of(files.file(f)) == 1);
  for (auto name : {"done-never", "done-on-failure", "crash-never"}) {
    auto s = n.service_json(name);
    CHECK(json_value(s, "restarts") == "0");
    CHECK(json_value(s, "state") == "exited");
  }
  CHECK(json_value(n.service_json("done-never"), "health") == "completed");
  auto incidents = n.ctl({"--json", "incidents"}).out;
  CHECK(incidents.find("\"component\":\"done-never\"") == std::string::npos);
  CHECK(incidents.find("\"component\":\"done-on-failure\"") == std::string::npos);
  // The crash is recorded, below alerting, with no strategy run.
  auto pos = incidents.find("\"component\":\"crash-never\"");
  REQUIRE(pos != std::string::npos);
  auto start = incidents.rfind("{\"id\"", pos);
  CHECK(json_value(incidents, "severity", start) == "medium");
  CHECK(json_value(incidents, "strategy", start) == "none");
  for (auto& a : stored_alerts(n))
    CHECK(a.component.find("-never") == std::string::npos);
}

TEST_CASE("after kill -9 of faultd every service runs exactly once and is supervised again") {
  temp_dir files;
  node_process n{"services:\n" + counted_service("web", files.file("starts"))};
  auto pid = std::stoi(n.service_pid("web"));
  REQUIRE(wait_until([&] { return lines_of(files.file("starts")) == 1; }));  // it has run
  n.proc->signal(SIGKILL);
  CHECK(n.proc->wait() == 128 + SIGKILL);
  CHECK(alive(pid));  // a crash of faultd takes no service down
  n.start();
  REQUIRE(wait_until([&] { return n.service_pid("web") == std::to_string(pid); }));
  CHECK(json_value(n.service_json("web"), "adopted") == "true");
  CHECK(lines_of(files.file("starts")) == 1);
  // Supervised again: its death is seen at once and it restarts.
  REQUIRE(::kill(pid, SIGKILL) == 0);
  std::string fresh;
  REQUIRE(wait_until([&] {
    fresh = n.service_pid("web");
    return !fresh.empty() && fresh != "0" && fresh != std::to_string(pid);
  }));
  CHECK(wait_until([&] { return lines_of(files.file("starts")) == 2; }));
  CHECK(json_value(n.service_json("web"), "adopted") == "false");
  // And a clean stop of faultd stops it.
  n.proc->signal(SIGTERM);
  CHECK(n.proc->wait(std::chrono::seconds(20)) == 0);
  CHECK(wait_until([&] { return !alive(std::stoi(fresh)); }));
}

TEST_CASE("a service removed from the config while faultd was down is ended at the next start") {
  temp_dir files;
  node_process n{"services:\n" + counted_service("keep", files.file("k"))
                 + counted_service("drop", files.file("d"))};
  auto keep = std::stoi(n.service_pid("keep"));
  auto drop = std::stoi(n.service_pid("drop"));
  n.proc->signal(SIGKILL);
  n.proc->wait();
  auto cfg = read_file(n.dir.file("faultd.yaml"));
  auto cut = cfg.find("  - name: drop");
  REQUIRE(cut != std::string::npos);
  write_file(n.dir.file("faultd.yaml"), cfg.substr(0, cut));
  n.start();
  CHECK(wait_until([&] { return !alive(drop); }));
  CHECK(n.service_pid("keep") == std::to_string(keep));
  CHECK(alive(keep));
}

TEST_CASE("a second faultd on the same data dir exits 1 at once and starts nothing") {
  temp_dir files;
  node_process n{"services:\n" + counted_service("once", files.file("starts"))};
  REQUIRE(wait_until([&] { return lines_of(files.file("starts")) == 1; }));
  auto second = run({faultd_bin(), "--config", n.dir.file("faultd.yaml")}, std::chrono::seconds(20));
  CHECK(second.status == 1);
  CHECK(second.err.find("is in use by another faultd (pid " + std::to_string(n.proc->pid()) + ")")
        != std::string::npos);
  CHECK(lines_of(files.file("starts")) == 1);
  CHECK(n.ctl({"status"}).status == 0);
}

TEST_CASE("a taken port is found before any service starts") {
  temp_dir dir;
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  REQUIRE(fd >= 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  REQUIRE(::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) == 0);
  REQUIRE(::listen(fd, 4) == 0);
  socklen_t len = sizeof(addr);
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len);
  auto port = std::to_string(ntohs(addr.sin_port));
  write_file(dir.file("f.yaml"), "node:\n  listen: 127.0.0.1:" + port + "\n  data_dir: "
                                   + dir.file("data") + "\nservices:\n"
                                   + counted_service("early", dir.file("starts")));
  auto r = run({faultd_bin(), "--config", dir.file("f.yaml")}, std::chrono::seconds(20));
  ::close(fd);
  CHECK(r.status == 1);
  CHECK(r.err.find("cannot listen on 127.0.0.1:" + port) != std::string::npos);
  CHECK(read_file(dir.file("starts")).empty());
}

TEST_CASE("SIGTERM to faultd ends a SIGSTOPped service with its stop signal, not after the grace") {
  temp_dir files;
  node_process n{"services:\n" + counted_service("frozen", files.file("s"),
                                                 "    stop_signal: SIGQUIT\n"
                                                 "    restart: {policy: always, stop_grace: 60s}\n")};
  auto pid = std::stoi(n.service_pid("frozen"));
  REQUIRE(::kill(pid, SIGSTOP) == 0);
  n.proc->signal(SIGTERM);
  CHECK(n.proc->wait(std::chrono::seconds(30)) == 0);
  CHECK_FALSE(alive(pid));
  auto out = read_file(n.dir.file("faultd.out"));
  CHECK(out.find("service-exited service=frozen pid=" + std::to_string(pid) + " signal="
                 + std::to_string(SIGQUIT))
        != std::string::npos);
}

TEST_CASE("a service over its memory limit is a resource_exhaustion incident naming the service") {
  node_process n{"fault_detection:\n  resources:\n    interval: 100ms\n"
                 "services:\n"
                 "  - name: hog\n"
                 "    command: [\"/bin/sh\", \"-c\", \"dd if=/dev/zero bs=48M count=1 2>/dev/null | "
                 "sleep 1000\"]\n"
                 "    limits: {memory: 16MiB, failure_threshold: 2}\n"
                 "  - name: slim\n"
                 "    command: [\"/bin/sleep\", \"1000\"]\n"
                 "    limits: {memory: 512MiB}\n"};
  std::string incidents;
  REQUIRE(wait_until(
    [&] {
      incidents = n.ctl({"--json", "incidents"}).out;
      return incidents.find("\"component\":\"hog\"") != std::string::npos;
    },
    std::chrono::seconds(20)));
  auto start = incidents.rfind("{\"id\"", incidents.find("\"component\":\"hog\""));
  CHECK(json_value(incidents, "fault_type", start) == "resource_exhaustion");
  CHECK(json_value(incidents, "severity", start) == "high");
  CHECK(incidents.find("\"component\":\"slim\"") == std::string::npos);
  auto faults = n.ctl({"--json", "faults"}).out;
  CHECK(faults.find("hog over its limits: memory") != std::string::npos);
}

TEST_CASE("a full disk under the data dir becomes an incident once space allows, losing no event") {
  if (::getuid() != 0)
    return;  // mounting a small tmpfs needs root; CI runs as root
  std::string mounted;
  struct unmount {
    std::string* path;
    ~unmount() {
      if (!path->empty())
        run({"umount", "-l", *path});
    }
  } guard{&mounted};
  node_process n{"", "test-node", [&](const std::string& data) {
                   ::mkdir(data.c_str(), 0755);
                   if (run({"mount", "-t", "tmpfs", "-o", "size=8m", "tmpfs", data}).status == 0)
                     mounted = data;
                 }};
  if (mounted.empty())
    return;  // no mount here: nothing to test
  // Fill the disk.
  auto filler = mounted + "/filler";
  {
    int fd = ::open(filler.c_str(), O_WRONLY | O_CREAT, 0644);
    REQUIRE(fd >= 0);
    std::string block(1 << 16, 'f');
    while (::write(fd, block.data(), block.size()) > 0) {
    }
    ::close(fd);
  }
  for (int i = 0; i < 5; ++i)
    n.ctl({"inject", "--type", "software_error", "--component", "while-full-" + std::to_string(i),
           "--severity", "low"});
  CHECK(wait_until([&] {
    return read_file(n.dir.file("faultd.out")).find("storage-batch-failed") != std::string::npos;
  }));
  ::unlink(filler.c_str());
  std::string faults;
  CHECK(wait_until(
    [&] {
      faults = n.ctl({"--json", "faults", "--limit", "200"}).out;
      return faults.find("while-full-4") != std::string::npos;
    },
    std::chrono::seconds(30)));
  if (faults.find("while-full-4") == std::string::npos) {
    // What the node said, to tell a lost batch from a slow retry or a crash.
    MESSAGE(read_file(n.dir.file("faultd.out")));
  }
  for (int i = 0; i < 5; ++i)
    CHECK(faults.find("\"component\":\"while-full-" + std::to_string(i) + "\"") != std::string::npos);
  auto incidents = n.ctl({"--json", "incidents"}).out;
  auto pos = incidents.find("\"component\":\"resource:disk:" + mounted + "\"");
  REQUIRE(pos != std::string::npos);
  CHECK(json_value(incidents, "fault_type", incidents.rfind("{\"id\"", pos)) == "resource_exhaustion");
}

TEST_CASE("a damaged database is moved aside at start, a critical incident raised, services run") {
  temp_dir files;
  node_process n{"services:\n" + counted_service("keeps-running", files.file("s")), "test-node",
                 [](const std::string& data) {
                   ::mkdir(data.c_str(), 0755);
                   write_file(data + "/faultd.db", std::string(8192, 'X'));  // not a database
                 }};
  REQUIRE(!n.service_pid("keeps-running").empty());
  CHECK(n.service_pid("keeps-running") != "0");
  CHECK(run({"/bin/sh", "-c", "ls " + n.dir.file("data") + " | grep -q '^faultd.db.corrupt-'"})
          .status
        == 0);
  std::string incidents;
  CHECK(wait_until([&] {
    incidents = n.ctl({"--json", "incidents"}).out;
    return incidents.find("\"fault_type\":\"data_inconsistency\"") != std::string::npos;
  }));
  auto pos = incidents.find("\"fault_type\":\"data_inconsistency\"");
  auto start = incidents.rfind("{\"id\"", pos);
  CHECK(json_value(incidents, "component", start) == "storage");
  CHECK(json_value(incidents, "severity", start) == "critical");
}

TEST_CASE("an incident a check raised closes when the check passes after a restart of the service") {
  temp_dir files;
  auto flag = files.file("healthy");
  node_process n{"services:\n"
                 "  - name: web\n"
                 "    command: [\"/bin/sleep\", \"1000\"]\n"
                 "    checks:\n"
                 "      - type: exec\n"
                 "        name: flag\n"
                 "        command: [\"/usr/bin/test\", \"-f\", \"" + flag + "\"]\n"
                 "        interval: 100ms\n"
                 "        failure_threshold: 1\n"
                 "        success_threshold: 1\n"
                 "strategies:\n"
                 "  service_unavailable:\n"
                 "    severity_levels: [low]\n"  // keep recovery out of this test
                 "    actions:\n"
                 "      - type: restart_service\n"};
  std::string id;
  REQUIRE(wait_until([&] {
    auto out = n.ctl({"--json", "incidents", "--open"}).out;
    auto pos = out.find("\"component\":\"web\"");
    if (pos == std::string::npos)
      return false;
    id = json_value(out, "id", out.rfind("{\"id\"", pos));
    return true;
  }));
  // The check passes from now on, and the service restarts: the new
  // process's check starts from scratch and passes at once.
  write_file(flag, "");
  REQUIRE(::kill(std::stoi(n.service_pid("web")), SIGKILL) == 0);
  CHECK(wait_until([&] { return json_value(n.incident_json(id), "status") == "closed"; }));
}
