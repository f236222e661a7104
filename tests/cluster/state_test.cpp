// The replicated map with real faultd nodes on loopback: a write on one node
// reaches every node, a frozen node catches up after it thaws, a killed one
// after its restart from its data dir, two nodes that wrote apart converge
// to the later write, a damaged row is refused and repaired from a peer,
// `faultctl state report` compares for real, and a node whose state.db
// cannot be opened runs on and joins in once it can. How fast is measured in
// bench/ (bench_state), not asserted here.

#include <doctest/doctest.h>

#include <algorithm>
#include <csignal>
#include <sqlite3.h>
#include <string>
#include <sys/stat.h>
#include <thread>
#include <unistd.h>

#include "support/node_process.hpp"
#include "support/support.hpp"

using namespace faultd::test;

namespace {

bool contains(const std::string& s, const std::string& part) {
  return s.find(part) != std::string::npos;
}

/// `faultctl --json state get KEY`'s value on a node ("" if absent).
std::string value_on(cluster_member& m, const std::string& key) {
  auto r = m.proc->ctl({"--json", "state", "get", key});
  return r.status == 0 ? json_value(r.out, "value") : "";
}

size_t keys_on(cluster_member& m, const std::string& prefix) {
  std::vector<std::string> args{"--json", "state", "list"};
  if (!prefix.empty())
    args.push_back(prefix);
  auto r = m.proc->ctl(args);
  size_t n = 0;
  for (size_t at = r.out.find("\"key\":"); at != std::string::npos;
       at = r.out.find("\"key\":", at + 1))
    ++n;
  return n;
}

void wait_for_mesh(cluster_member& a, cluster_member& b, cluster_member& c) {
  REQUIRE(wait_until([&] {
    return a.sees("n2", "alive") && a.sees("n3", "alive") && b.sees("n1", "alive")
           && b.sees("n3", "alive") && c.sees("n1", "alive") && c.sees("n2", "alive");
  }));
}

} // namespace

TEST_CASE("a write on one node is visible on every node, a delete too, and the report agrees") {
  cluster_member n1{"n1", {}, true};
  cluster_member n2{"n2", {n1.port}};
  cluster_member n3{"n3", {n1.port}};
  wait_for_mesh(n1, n2, n3);

  auto put = n1.proc->ctl({"--json", "state", "put", "svc/web/active", "n2"});
  REQUIRE_MESSAGE(put.status == 0, put.err);
  CHECK(json_value(put.out, "updated_by") == "n1");
  REQUIRE(wait_until([&] { return value_on(n2, "svc/web/active") == "n2"; }));
  REQUIRE(wait_until([&] { return value_on(n3, "svc/web/active") == "n2"; }));
  auto got = n3.proc->ctl({"--json", "state", "get", "svc/web/active"});
  for (auto field : {"key", "value", "version", "checksum", "updated_by"})
    CHECK_MESSAGE(contains(got.out, std::string{"\""} + field + "\":"), got.out);
  // One version and one checksum everywhere.
  CHECK(json_value(got.out, "version") == json_value(put.out, "version"));
  CHECK(json_value(got.out, "checksum")
        == "0480a93d2e9b094b89e08e01976089ac18193af802c66b631cc8d2dc1bae8c88");
  CHECK(json_value(got.out, "updated_by") == "n1");

  for (int i = 0; i < 10; ++i)
    REQUIRE(n2.proc->ctl({"state", "put", "dev/" + std::to_string(i), "on"}).status == 0);
  REQUIRE(wait_until([&] { return keys_on(n1, "dev/") == 10 && keys_on(n3, "dev/") == 10; }));

  auto del = n3.proc->ctl({"state", "del", "svc/web/active"});
  CHECK(del.status == 0);
  CHECK(contains(del.out, "deleted"));
  REQUIRE(wait_until([&] { return value_on(n1, "svc/web/active").empty(); }));
  auto gone = n1.proc->ctl({"state", "get", "svc/web/active"});
  CHECK(gone.status == 1);
  CHECK(contains(gone.err, "no key svc/web/active"));

  // 11 entries (10 keys and the tombstone) agree with both peers.
  REQUIRE(wait_until([&] { return keys_on(n2, "") == 10 && value_on(n2, "svc/web/active").empty(); }));
  auto report = n2.proc->ctl({"--json", "state", "report"});
  REQUIRE(report.status == 0);
  CHECK_MESSAGE(json_value(report.out, "consistency_percentage") == "100", report.out);
  for (auto id : {"n1", "n3"}) {
    auto at = report.out.find(std::string{"\"id\":\""} + id + "\"");
    REQUIRE_MESSAGE(at != std::string::npos, report.out);
    CHECK(json_value(report.out, "keys", at) == "11");
    CHECK(json_value(report.out, "agree", at) == "11");
    CHECK(json_value(report.out, "differ", at) == "0");
    CHECK(json_value(report.out, "missing", at) == "0");
  }

  // Bad usage is exit 2; a bad key is refused by the node.
  CHECK(n1.proc->ctl({"state", "put", "k"}).status == 2);
  CHECK(n1.proc->ctl({"state", "frob"}).status == 2);
  auto bad = n1.proc->ctl({"state", "put", "no spaces", "x"});
  CHECK(bad.status == 1);
  CHECK(contains(bad.err, "invalid key"));
}

namespace {

void frozen_and_killed(const std::string& keys) {
  cluster_member n1{"n1", {}, true, "", keys};
  cluster_member n2{"n2", {n1.port}, false, "", keys};
  cluster_member n3{"n3", {n1.port}, false, "", keys};
  wait_for_mesh(n1, n2, n3);
  REQUIRE(n1.proc->ctl({"state", "put", "before", "1"}).status == 0);
  REQUIRE(wait_until([&] { return value_on(n3, "before") == "1"; }));

  n3.proc->proc->signal(SIGSTOP);
  REQUIRE(wait_until([&] { return n1.sees("n3", "dead"); }));
  for (int i = 0; i < 20; ++i)
    REQUIRE(n1.proc->ctl({"state", "put", "frozen/" + std::to_string(i), "x"}).status == 0);
  REQUIRE(n2.proc->ctl({"state", "del", "before"}).status == 0);
  n3.proc->proc->signal(SIGCONT);
  REQUIRE(wait_until([&] {
    return keys_on(n3, "frozen/") == 20 && value_on(n3, "before").empty();
  }));

  n3.proc->proc->signal(SIGKILL);
  n3.proc->proc->wait();
  REQUIRE(wait_until([&] { return n1.sees("n3", "dead"); }));
  for (int i = 0; i < 20; ++i)
    REQUIRE(n2.proc->ctl({"state", "put", "killed/" + std::to_string(i), "y"}).status == 0);
  REQUIRE(n1.proc->ctl({"state", "put", "frozen/0", "changed"}).status == 0);
  n3.proc->start();
  // It kept what it had (its state.db), and catches up on what it missed.
  // Its second start's line (the log is flushed every second).
  REQUIRE(wait_until(
    [&] {
      auto log = n3.log();
      return log.find("state-loaded") != log.rfind("state-loaded");
    },
    std::chrono::seconds(30)));
  // At least the 20 frozen/ keys (recovery on n1 may have replicated
  // registry facts about n3's death too).
  auto log = n3.log();
  auto line = log.substr(log.rfind("state-loaded"));
  auto live = line.find(" live=");
  REQUIRE(live != std::string::npos);
  CHECK_MESSAGE(std::stoul(line.substr(live + 6)) >= 20, line);
  REQUIRE(wait_until([&] {
    return keys_on(n3, "killed/") == 20 && value_on(n3, "frozen/0") == "changed";
  }));
  auto report = n1.proc->ctl({"--json", "state", "report"});
  CHECK_MESSAGE(json_value(report.out, "consistency_percentage") == "100", report.out);
}

} // namespace

TEST_CASE("a frozen node catches up after it thaws, and a killed node after its restart") {
  frozen_and_killed(fast_mesh);
}

TEST_CASE("swim: a frozen node catches up after it thaws, and a killed node after its restart") {
  frozen_and_killed(fast_swim);
}

TEST_CASE("two nodes that wrote one key apart converge to the later write when they meet") {
  cluster_member n1{"n1", {}, true};
  cluster_member n2{"n2", {}, true}; // a cluster of its own: the partition
  REQUIRE(n1.proc->ctl({"state", "put", "svc/db/primary", "n1"}).status == 0);
  REQUIRE(n1.proc->ctl({"state", "put", "only/n1", "a"}).status == 0);
  std::this_thread::sleep_for(std::chrono::milliseconds(20));
  REQUIRE(n2.proc->ctl({"state", "put", "svc/db/primary", "n2"}).status == 0); // later
  REQUIRE(n2.proc->ctl({"state", "put", "only/n2", "b"}).status == 0);
  CHECK(value_on(n1, "svc/db/primary") == "n1");
  // The partition heals: n2 restarts from its data dir with n1 as its seed.
  n2.proc->proc->signal(SIGTERM);
  REQUIRE(n2.proc->proc->wait(std::chrono::seconds(20)) == 0);
  write_file(n2.proc->dir.file("faultd.yaml"),
             "node:\n  id: n2\n  data_dir: " + n2.proc->dir.file("data") + "\n"
               + member_yaml(n2.port, {n1.port}));
  n2.proc->start();
  REQUIRE(wait_until([&] {
    return value_on(n1, "svc/db/primary") == "n2" && value_on(n2, "svc/db/primary") == "n2"
           && value_on(n1, "only/n2") == "b" && value_on(n2, "only/n1") == "a";
  }));
  auto report = n2.proc->ctl({"--json", "state", "report"});
  CHECK_MESSAGE(json_value(report.out, "consistency_percentage") == "100", report.out);
}

TEST_CASE("a row of state.db that fails its checksum is refused at start, raised, and repaired from a peer") {
  cluster_member n1{"n1", {}, true};
  cluster_member n2{"n2", {n1.port}};
  REQUIRE(wait_until([&] { return n1.sees("n2", "alive") && n2.sees("n1", "alive"); }));
  REQUIRE(n1.proc->ctl({"state", "put", "cfg/limit", "100"}).status == 0);
  REQUIRE(wait_until([&] { return value_on(n2, "cfg/limit") == "100"; }));
  n2.proc->proc->signal(SIGKILL);
  n2.proc->proc->wait();
  {
    sqlite3* db = nullptr;
    REQUIRE(sqlite3_open((n2.proc->dir.file("data") + "/state.db").c_str(), &db) == SQLITE_OK);
    REQUIRE(sqlite3_exec(db, "UPDATE entries SET value = CAST('999' AS BLOB) WHERE key = 'cfg/limit'",
                         nullptr, nullptr, nullptr)
            == SQLITE_OK);
    CHECK(sqlite3_changes(db) == 1);
    sqlite3_close(db);
  }
  n2.proc->start();
  REQUIRE(wait_until([&] {
    auto f = n2.proc->ctl({"--json", "faults"});
    return contains(f.out, "data_inconsistency") && contains(f.out, "fail their checksum");
  }));
  REQUIRE(wait_until([&] { return value_on(n2, "cfg/limit") == "100"; }));
  // The value itself (the text output's version or checksum may hold "999").
  CHECK(json_value(n2.proc->ctl({"--json", "state", "get", "cfg/limit"}).out, "value") == "100");
}

TEST_CASE("a data_restore strategy brings keys back from the newest snapshot on every node") {
  const std::string strategy = R"(strategies:
  restore_cfg:
    name: Restore the config keys
    fault_types: [data_inconsistency]
    component: cfg-store
    priority: 500
    actions:
      - type: data_restore
        parameters:
          prefix: cfg/
      - type: state_sync
)";
  cluster_member n1{"n1", {}, true, strategy};
  cluster_member n2{"n2", {n1.port}, false, strategy};
  REQUIRE(wait_until([&] { return n1.sees("n2", "alive") && n2.sees("n1", "alive"); }));
  REQUIRE(n1.proc->ctl({"state", "put", "cfg/a", "1"}).status == 0);
  REQUIRE(n1.proc->ctl({"state", "put", "cfg/b", "2"}).status == 0);
  REQUIRE(n1.proc->ctl({"state", "put", "other", "kept"}).status == 0);
  auto snap = n1.proc->ctl({"--json", "state", "snapshot"});
  REQUIRE(snap.status == 0);
  auto snap_id = json_value(snap.out, "id");
  CHECK(json_value(snap.out, "keys") == "3");
  REQUIRE(n2.proc->ctl({"state", "put", "cfg/a", "broken"}).status == 0);
  REQUIRE(n2.proc->ctl({"state", "put", "cfg/c", "stray"}).status == 0);
  REQUIRE(n2.proc->ctl({"state", "put", "other", "changed"}).status == 0);
  REQUIRE(wait_until([&] { return value_on(n1, "cfg/c") == "stray"; }));

  auto inj = n1.proc->ctl({"--json", "inject", "--type", "data_inconsistency", "--component",
                           "cfg-store", "--severity", "high"});
  REQUIRE_MESSAGE(inj.status == 0, inj.err);
  auto incident = json_value(inj.out, "incident_id");
  REQUIRE(wait_until([&] {
    return json_value(n1.proc->incident_json(incident), "recovery") == "completed";
  }));
  auto inc = n1.proc->incident_json(incident);
  CHECK_MESSAGE(contains(inc, "data_restore"), inc);
  REQUIRE(wait_until([&] {
    return value_on(n2, "cfg/a") == "1" && value_on(n2, "cfg/c").empty()
           && value_on(n2, "cfg/b") == "2";
  }));
  CHECK(value_on(n2, "other") == "changed"); // outside the prefix
  // The state before the restore was kept as a snapshot of its own.
  auto snaps = n1.proc->ctl({"--json", "state", "snapshots"});
  CHECK(contains(snaps.out, snap_id));
  CHECK(std::count(snaps.out.begin(), snaps.out.end(), '{') >= 3); // the reply and 2 snapshots
}

TEST_CASE("a node whose state.db cannot be opened keeps running, says why, and syncs once it can") {
  std::string state_db;
  node_process n{"", "test-node", [&](const std::string& data) {
                   ::mkdir(data.c_str(), 0755);
                   state_db = data + "/state.db";
                   ::mkdir(state_db.c_str(), 0755);  // a directory: sqlite cannot open it
                 }};
  auto put = n.ctl({"state", "put", "app/k", "v1"});
  CHECK(put.status == 1);
  CHECK(contains(put.err, "state.db cannot be opened"));
  CHECK(n.ctl({"status"}).status == 0);
  CHECK(wait_until([&] {
    return contains(n.ctl({"--json", "faults"}).out, "state.db cannot be opened");
  }));
  ::rmdir(state_db.c_str());
  CHECK(wait_until([&] { return n.ctl({"state", "put", "app/k", "v1"}).status == 0; },
                   std::chrono::seconds(45)));
  auto got = n.ctl({"--json", "state", "get", "app/k"});
  CHECK(json_value(got.out, "value") == "v1");
  auto out = read_file(n.dir.file("faultd.out"));
  CHECK(contains(out, "state-db-available"));
  // The state actor waited; it did not fail its supervisors over and over.
  CHECK(!contains(out, "supervisor-escalated"));
}

TEST_CASE("registry facts set on one node reach every node's registry, across a restart too") {
  const std::string web =
    "services:\n  - name: web\n    command: [\"/bin/sleep\", \"1000\"]\n";
  cluster_member n1{"n1", {}, true, web};
  cluster_member n2{"n2", {n1.port}, false, web};
  cluster_member n3{"n3", {n1.port}, false, web};
  wait_for_mesh(n1, n2, n3);
  auto file_on = [](cluster_member& m, const std::string& key) {
    return read_file(m.proc->dir.file("data/registry/" + key));
  };
  auto circuit_on = [](cluster_member& m) {
    return json_value(m.proc->service_json("web"), "circuit");
  };

  // A degradation level set on n1 is in every node's files and in the map.
  REQUIRE(n1.proc->ctl({"degradation", "web", "reduced"}).status == 0);
  CHECK(wait_until([&] {
    return file_on(n2, "degradation/web") == "reduced" && file_on(n3, "degradation/web") == "reduced";
  }));
  CHECK(value_on(n3, "registry/degradation/web") == "reduced");

  // A circuit opened by hand on n2 is open (and held) on n1 and n3.
  REQUIRE(n2.proc->ctl({"circuit", "web", "open"}).status == 0);
  CHECK(wait_until([&] { return circuit_on(n1) == "open" && circuit_on(n3) == "open"; }));
  CHECK(wait_until([&] { return file_on(n3, "circuit-hold/web") == "true"; }));
  std::this_thread::sleep_for(std::chrono::milliseconds(300)); // held: passing checks keep it
  CHECK(circuit_on(n1) == "open");
  // Closed on n3: closed everywhere.
  REQUIRE(n3.proc->ctl({"circuit", "web", "reset"}).status == 0);
  CHECK(wait_until([&] { return circuit_on(n1) == "closed" && circuit_on(n2) == "closed"; }));

  // n3 is down while n1 changes the level: it has the new one after its restart.
  n3.proc->proc->signal(SIGKILL);
  n3.proc->proc->wait();
  n3.proc->kill_recorded_services();
  REQUIRE(wait_until([&] { return n1.sees("n3", "dead"); }));
  REQUIRE(n1.proc->ctl({"degradation", "web", "basic"}).status == 0);
  n3.proc->start();
  CHECK(wait_until([&] { return file_on(n3, "degradation/web") == "basic"; }));
  CHECK(json_value(n3.proc->service_json("web"), "degradation") == "basic");
  // Maintenance is the node's own: not replicated.
  REQUIRE(n1.proc->ctl({"maintenance", "web", "on"}).status == 0);
  std::this_thread::sleep_for(std::chrono::milliseconds(500));
  CHECK(n2.proc->ctl({"--json", "state", "list", "registry/maintenance"}).out.find("\"key\"")
        == std::string::npos);
}
