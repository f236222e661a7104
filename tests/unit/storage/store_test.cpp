#include <doctest/doctest.h>

#include <cerrno>
#include <csignal>
#include <set>

#include <sqlite3.h>
#include <sys/wait.h>
#include <unistd.h>

#include "storage/store.hpp"
#include "support/support.hpp"

using namespace faultd;
using faultd::storage::store;
using faultd::test::temp_dir;

namespace {

timestamp at_s(int64_t s) { return from_unix_nanos((1'700'000'000 + s) * 1'000'000'000LL); }

fault_event make_event(const std::string& id, int64_t s) {
  fault_event e;
  e.id = id;
  e.time = at_s(s);
  e.type = fault_type::service_unavailable;
  e.severity = fault_severity::high;
  e.component = "mqtt-gateway";
  e.node = "edge-1";
  e.details = {{"reason", "connection refused"}};
  e.metrics = {{"latency_ms", 3.5}};
  e.request_id = "req-" + id;
  e.source = "check:tcp";
  return e;
}

incident make_incident(const std::string& id, int64_t opened_s, incident_status st) {
  incident x;
  x.id = id;
  x.component = "broker-" + id;
  x.type = fault_type::network_timeout;
  x.severity = fault_severity::critical;
  x.status = st;
  x.node = "edge-1";
  x.opened_at = at_s(opened_s);
  x.last_seen_at = at_s(opened_s + 5);
  if (st == incident_status::closed)
    x.closed_at = at_s(opened_s + 10);
  x.event_count = 3;
  x.first_event_id = "ev-" + id;
  x.impacted = {"mapper"};
  x.strategy = "restart";
  return x;
}

action_execution make_action(action_status st, const std::string& target) {
  action_execution a;
  a.action.type = action_type::restart_service;
  a.action.target = target;
  a.action.parameters = {{"signal", "TERM"}};
  a.status = st;
  a.attempts = 1;
  if (st != action_status::pending)
    a.started_at = at_s(1);
  if (st == action_status::completed || st == action_status::failed)
    a.ended_at = at_s(2);
  return a;
}

recovery_execution make_execution(const std::string& id, const std::string& incident_id,
                                  execution_status st, int64_t started_s) {
  recovery_execution x;
  x.id = id;
  x.incident_id = incident_id;
  x.strategy_id = "restart-then-failover";
  x.status = st;
  x.started_at = at_s(started_s);
  if (st != execution_status::pending && st != execution_status::running)
    x.ended_at = at_s(started_s + 3);
  x.actions = {make_action(action_status::completed, "a"), make_action(action_status::running, "b")};
  return x;
}

alert make_alert(const std::string& id, int64_t s) {
  alert a;
  a.id = id;
  a.incident_id = "inc-1";
  a.time = at_s(s);
  a.severity = fault_severity::critical;
  a.component = "broker";
  a.summary = "broker down";
  return a;
}

// Direct access to the file, bypassing the store, to check and tamper.
void raw_exec(const std::string& path, const std::string& sql) {
  sqlite3* db = nullptr;
  REQUIRE(sqlite3_open(path.c_str(), &db) == SQLITE_OK);
  char* err = nullptr;
  int rc = sqlite3_exec(db, sql.c_str(), nullptr, nullptr, &err);
  INFO(sql, " -> ", (err ? err : "ok"));
  sqlite3_free(err);
  CHECK(rc == SQLITE_OK);
  REQUIRE(sqlite3_close(db) == SQLITE_OK);
}

int64_t raw_int(const std::string& path, const std::string& sql) {
  sqlite3* db = nullptr;
  REQUIRE(sqlite3_open(path.c_str(), &db) == SQLITE_OK);
  sqlite3_stmt* s = nullptr;
  REQUIRE(sqlite3_prepare_v2(db, sql.c_str(), -1, &s, nullptr) == SQLITE_OK);
  REQUIRE(sqlite3_step(s) == SQLITE_ROW);
  int64_t v = sqlite3_column_int64(s, 0);
  sqlite3_finalize(s);
  REQUIRE(sqlite3_close(db) == SQLITE_OK);
  return v;
}

std::string raw_text(const std::string& path, const std::string& sql) {
  sqlite3* db = nullptr;
  REQUIRE(sqlite3_open(path.c_str(), &db) == SQLITE_OK);
  sqlite3_stmt* s = nullptr;
  REQUIRE(sqlite3_prepare_v2(db, sql.c_str(), -1, &s, nullptr) == SQLITE_OK);
  REQUIRE(sqlite3_step(s) == SQLITE_ROW);
  std::string v = reinterpret_cast<const char*>(sqlite3_column_text(s, 0));
  sqlite3_finalize(s);
  REQUIRE(sqlite3_close(db) == SQLITE_OK);
  return v;
}

std::vector<std::string> ids(const std::vector<fault_event>& xs) {
  std::vector<std::string> out;
  for (auto& x : xs)
    out.push_back(x.id);
  return out;
}

template <class T>
std::vector<std::string> ids_of(const std::vector<T>& xs) {
  std::vector<std::string> out;
  for (auto& x : xs)
    out.push_back(x.id);
  return out;
}

using strings = std::vector<std::string>;

} // namespace

TEST_CASE("a new database file is created in WAL mode with the current schema") {
  temp_dir dir;
  auto path = dir.file("faultd.db");
  store db;
  auto st = db.open(path);
  REQUIRE_MESSAGE(st.ok(), st.to_string());
  CHECK(db.is_open());
  CHECK(raw_int(path, "PRAGMA user_version") == store::supported_schema_version());
  CHECK(raw_text(path, "PRAGMA journal_mode") == "wal");
  for (auto table : {"meta", "fault_events", "incidents", "executions", "action_executions",
                     "alerts"})
    CHECK_MESSAGE(raw_int(path, std::string{"SELECT count(*) FROM sqlite_schema WHERE "
                                            "type = 'table' AND name = '"} +
                                  table + "'") == 1,
                  table);
}

TEST_CASE("an empty existing file is migrated to the current schema version") {
  temp_dir dir;
  auto path = dir.file("faultd.db");
  test::write_file(path, "");
  store db;
  auto st = db.open(path);
  REQUIRE_MESSAGE(st.ok(), st.to_string());
  db.close();
  CHECK(raw_int(path, "PRAGMA user_version") == store::supported_schema_version());
  // Opening again finds nothing to migrate and keeps the version.
  REQUIRE(db.open(path).ok());
  db.close();
  CHECK(raw_int(path, "PRAGMA user_version") == store::supported_schema_version());
}

TEST_CASE("events come back newest first, limited and filtered by time") {
  temp_dir dir;
  store db;
  REQUIRE(db.open(dir.file("faultd.db")).ok());
  REQUIRE(db.append_event(make_event("e1", 10)).ok());
  REQUIRE(db.append_event(make_event("e3", 30)).ok());
  REQUIRE(db.append_event(make_event("e2", 20)).ok());
  std::vector<fault_event> out;
  REQUIRE(db.events_since(at_s(0), 0, out).ok());
  CHECK(ids(out) == strings{"e3", "e2", "e1"});
  CHECK(out[0] == make_event("e3", 30));
  REQUIRE(db.events_since(at_s(0), 2, out).ok());
  CHECK(ids(out) == strings{"e3", "e2"});
  REQUIRE(db.events_since(at_s(20), 0, out).ok());
  CHECK(ids(out) == strings{"e3", "e2"});
  uint64_t n = 0;
  REQUIRE(db.count_events(n).ok());
  CHECK(n == 3);
}

TEST_CASE("appending an event id twice keeps the first one") {
  temp_dir dir;
  store db;
  REQUIRE(db.open(dir.file("faultd.db")).ok());
  REQUIRE(db.append_event(make_event("e1", 10)).ok());
  auto again = make_event("e1", 99);
  again.component = "other";
  REQUIRE(db.append_event(again).ok());
  std::vector<fault_event> out;
  REQUIRE(db.events_since(at_s(0), 0, out).ok());
  REQUIRE(out.size() == 1);
  CHECK(out[0] == make_event("e1", 10));
}

TEST_CASE("a burst of events is stored in one transaction: all or nothing") {
  temp_dir dir;
  auto path = dir.file("faultd.db");
  store db;
  REQUIRE(db.open(path).ok());
  std::vector<fault_event> burst;
  for (int i = 0; i < 500; ++i)
    burst.push_back(make_event("b" + std::to_string(i), i));
  REQUIRE(db.append_events(burst).ok());
  uint64_t n = 0;
  REQUIRE(db.count_events(n).ok());
  CHECK(n == 500);

  // A trigger makes the third event of the next burst fail: the two before
  // it must be rolled back with it.
  raw_exec(path, "CREATE TRIGGER poison BEFORE INSERT ON fault_events WHEN NEW.id = 'poison' "
                 "BEGIN SELECT RAISE(ABORT, 'poisoned event'); END");
  std::vector<fault_event> bad{make_event("ok1", 1000), make_event("ok2", 1001),
                               make_event("poison", 1002), make_event("ok3", 1003)};
  auto st = db.append_events(bad);
  CHECK(st.code() == errc::storage_io);
  CHECK(st.message().find("poisoned event") != std::string::npos);
  CHECK(st.message().find("poison") != std::string::npos);
  REQUIRE(db.count_events(n).ok());
  CHECK(n == 500);
  // And the store is usable afterwards (no transaction left open).
  REQUIRE(db.append_event(make_event("ok4", 1004)).ok());
  REQUIRE(db.count_events(n).ok());
  CHECK(n == 501);
}

TEST_CASE("incidents are upserted, listed newest first and found by id") {
  temp_dir dir;
  store db;
  REQUIRE(db.open(dir.file("faultd.db")).ok());
  REQUIRE(db.upsert_incident(make_incident("i1", 10, incident_status::open)).ok());
  REQUIRE(db.upsert_incident(make_incident("i2", 20, incident_status::closed)).ok());
  REQUIRE(db.upsert_incident(make_incident("i3", 30, incident_status::open)).ok());

  std::vector<incident> out;
  REQUIRE(db.incidents(0, false, out).ok());
  CHECK(ids_of(out) == strings{"i3", "i2", "i1"});
  REQUIRE(db.incidents(0, true, out).ok());
  CHECK(ids_of(out) == strings{"i3", "i1"});
  REQUIRE(db.incidents(1, false, out).ok());
  CHECK(ids_of(out) == strings{"i3"});

  // Closing i1 replaces the stored incident, every field of it.
  auto closed = make_incident("i1", 10, incident_status::closed);
  closed.event_count = 42;
  closed.close_reason = "fault cleared";
  closed.actions = {make_action(action_status::completed, "svc")};
  REQUIRE(db.upsert_incident(closed).ok());
  incident found;
  REQUIRE(db.find_incident("i1", found).ok());
  CHECK(found == closed);
  REQUIRE(db.incidents(0, true, out).ok());
  CHECK(ids_of(out) == strings{"i3"});
  REQUIRE(db.incidents(0, false, out).ok());
  CHECK(out.size() == 3);

  auto st = db.find_incident("nope", found);
  CHECK(st.code() == errc::not_found);
  CHECK(st.message().find("nope") != std::string::npos);
}

TEST_CASE("executions are stored with their actions and unfinished ones are found") {
  temp_dir dir;
  store db;
  REQUIRE(db.open(dir.file("faultd.db")).ok());
  auto x1 = make_execution("x1", "i1", execution_status::running, 10);
  auto x2 = make_execution("x2", "i1", execution_status::failed, 5);
  auto x3 = make_execution("x3", "i2", execution_status::pending, 20);
  x3.actions.clear();
  REQUIRE(db.put_execution(x1).ok());
  REQUIRE(db.put_execution(x2).ok());
  REQUIRE(db.put_execution(x3).ok());

  std::vector<recovery_execution> out;
  REQUIRE(db.executions_for_incident("i1", out).ok());
  REQUIRE(out.size() == 2);
  CHECK(out[0] == x2); // oldest started first
  CHECK(out[1] == x1);
  REQUIRE(db.unfinished_executions(out).ok());
  CHECK(ids_of(out) == strings{"x1", "x3"});
  CHECK(out[1] == x3);

  // Finishing x1 with a different set of actions replaces the old ones.
  x1.status = execution_status::rolled_back;
  x1.ended_at = at_s(15);
  x1.actions = {make_action(action_status::failed, "only")};
  x1.actions[0].error = "exit status 1";
  REQUIRE(db.put_execution(x1).ok());
  REQUIRE(db.executions_for_incident("i1", out).ok());
  REQUIRE(out.size() == 2);
  CHECK(out[1] == x1);
  REQUIRE(db.unfinished_executions(out).ok());
  CHECK(ids_of(out) == strings{"x3"});
  REQUIRE(db.executions_for_incident("unknown", out).ok());
  CHECK(out.empty());
}

TEST_CASE("alerts come back newest first and duplicates are ignored") {
  temp_dir dir;
  store db;
  REQUIRE(db.open(dir.file("faultd.db")).ok());
  REQUIRE(db.add_alert(make_alert("a1", 10)).ok());
  REQUIRE(db.add_alert(make_alert("a2", 30)).ok());
  REQUIRE(db.add_alert(make_alert("a3", 20)).ok());
  REQUIRE(db.add_alert(make_alert("a1", 99)).ok());
  std::vector<alert> out;
  REQUIRE(db.alerts(0, out).ok());
  CHECK(ids_of(out) == strings{"a2", "a3", "a1"});
  CHECK(out[2] == make_alert("a1", 10));
  REQUIRE(db.alerts(1, out).ok());
  CHECK(ids_of(out) == strings{"a2"});
}

TEST_CASE("a batch writes events, incidents and alerts together") {
  temp_dir dir;
  store db;
  REQUIRE(db.open(dir.file("faultd.db")).ok());
  REQUIRE(db.write_batch({make_event("e1", 1), make_event("e2", 2)},
                         {make_incident("i1", 1, incident_status::open)},
                         {make_alert("a1", 1)})
            .ok());
  uint64_t n = 0;
  REQUIRE(db.count_events(n).ok());
  CHECK(n == 2);
  incident i;
  CHECK(db.find_incident("i1", i).ok());
  std::vector<alert> as;
  REQUIRE(db.alerts(0, as).ok());
  CHECK(as.size() == 1);
}

TEST_CASE("everything written is still there after closing and reopening") {
  temp_dir dir;
  auto path = dir.file("faultd.db");
  auto ev = make_event("e1", 1);
  auto inc = make_incident("i1", 1, incident_status::open);
  auto ex = make_execution("x1", "i1", execution_status::running, 1);
  auto al = make_alert("a1", 1);
  {
    store db;
    REQUIRE(db.open(path).ok());
    REQUIRE(db.append_event(ev).ok());
    REQUIRE(db.upsert_incident(inc).ok());
    REQUIRE(db.put_execution(ex).ok());
    REQUIRE(db.add_alert(al).ok());
  } // destructor closes
  store db;
  REQUIRE(db.open(path).ok());
  std::vector<fault_event> evs;
  REQUIRE(db.events_since(at_s(-1000), 0, evs).ok());
  REQUIRE(evs.size() == 1);
  CHECK(evs[0] == ev);
  incident i;
  REQUIRE(db.find_incident("i1", i).ok());
  CHECK(i == inc);
  std::vector<recovery_execution> xs;
  REQUIRE(db.unfinished_executions(xs).ok());
  REQUIRE(xs.size() == 1);
  CHECK(xs[0] == ex);
  std::vector<alert> as;
  REQUIRE(db.alerts(0, as).ok());
  REQUIRE(as.size() == 1);
  CHECK(as[0] == al);
  CHECK(db.check_integrity().ok());
}

TEST_CASE("every acknowledged event survives kill -9 of the writer") {
  temp_dir dir;
  auto path = dir.file("faultd.db");
  constexpr uint32_t n = 200;
  constexpr uint32_t kill_after = 100;
  int fds[2];
  REQUIRE(pipe(fds) == 0);
  pid_t pid = fork();
  REQUIRE(pid >= 0);
  if (pid == 0) {
    // Child: append one by one, report each acknowledged append. _exit only:
    // nothing of the parent's test runner may run here.
    ::close(fds[0]);
    store db;
    if (!db.open(path).ok())
      _exit(2);
    for (uint32_t i = 0; i < n; ++i) {
      if (!db.append_event(make_event("ev-" + std::to_string(i), i)).ok())
        _exit(3);
      uint32_t acked = i + 1;
      if (write(fds[1], &acked, sizeof acked) != static_cast<ssize_t>(sizeof acked))
        _exit(4);
    }
    // Done before the parent's kill arrived: wait for it all the same.
    for (;;)
      pause();
  }
  ::close(fds[1]);
  uint32_t acked = 0;
  uint32_t acked_at_kill = 0;
  bool killed = false;
  for (;;) {
    uint32_t v = 0;
    ssize_t got = read(fds[0], &v, sizeof v);
    if (got < 0 && errno == EINTR)
      continue;
    if (got != static_cast<ssize_t>(sizeof v))
      break; // EOF: the child is gone
    acked = v;
    if (!killed && acked >= kill_after) {
      REQUIRE(kill(pid, SIGKILL) == 0);
      killed = true;
      acked_at_kill = acked;
    }
  }
  ::close(fds[0]);
  int wstatus = 0;
  REQUIRE(waitpid(pid, &wstatus, 0) == pid);
  INFO("acked at kill: ", acked_at_kill, ", acked in total: ", acked);
  REQUIRE(killed);
  CHECK(WIFSIGNALED(wstatus));
  CHECK(WTERMSIG(wstatus) == SIGKILL);
  REQUIRE(acked >= kill_after);

  store db;
  auto st = db.open(path);
  REQUIRE_MESSAGE(st.ok(), st.to_string());
  CHECK(db.check_integrity().ok());
  std::vector<fault_event> out;
  REQUIRE(db.events_since(at_s(-1), 0, out).ok());
  std::set<std::string> stored;
  for (auto& e : out)
    stored.insert(e.id);
  CHECK(stored.size() >= acked);
  CHECK(stored.size() <= n);
  for (uint32_t i = 0; i < acked; ++i)
    CHECK_MESSAGE(stored.count("ev-" + std::to_string(i)) == 1, "lost acknowledged event ", i);
}

TEST_CASE("a file that is not a database is reported as corrupt with its path") {
  temp_dir dir;
  auto path = dir.file("faultd.db");
  std::string garbage;
  for (int i = 0; i < 512; ++i)
    garbage += "this is not an sqlite database ";
  test::write_file(path, garbage);
  store db;
  auto st = db.open(path);
  CHECK(st.code() == errc::storage_corrupt);
  CHECK(st.message().find(path) != std::string::npos);
  CHECK(st.message().find("not a database") != std::string::npos);
  CHECK_FALSE(db.is_open());
  // The file is left alone for the operator to look at.
  CHECK(test::read_file(path) == garbage);
}

TEST_CASE("another application's sqlite database is not taken over") {
  temp_dir dir;
  auto path = dir.file("other.db");
  raw_exec(path, "CREATE TABLE customers (id INTEGER PRIMARY KEY, name TEXT)");
  store db;
  auto st = db.open(path);
  CHECK(st.code() == errc::storage_corrupt);
  CHECK(st.message().find("not a faultd database") != std::string::npos);
  CHECK(raw_int(path, "PRAGMA user_version") == 0);

  auto path2 = dir.file("other2.db");
  raw_exec(path2, "PRAGMA application_id = 42");
  st = db.open(path2);
  CHECK(st.code() == errc::storage_corrupt);
  CHECK(st.message().find("application_id 42") != std::string::npos);
}

TEST_CASE("a database from a newer faultd is refused") {
  temp_dir dir;
  auto path = dir.file("faultd.db");
  {
    store db;
    REQUIRE(db.open(path).ok());
  }
  auto newer = store::supported_schema_version() + 1;
  raw_exec(path, "PRAGMA user_version = " + std::to_string(newer));
  store db;
  auto st = db.open(path);
  CHECK(st.code() == errc::storage_schema_too_new);
  CHECK(st.message().find(std::to_string(newer)) != std::string::npos);
  CHECK(st.message().find(path) != std::string::npos);
  CHECK_FALSE(db.is_open());
  CHECK(raw_int(path, "PRAGMA user_version") == newer);
}

TEST_CASE("opening in a directory that does not exist fails naming the path") {
  temp_dir dir;
  auto path = dir.file("missing/sub/faultd.db");
  store db;
  auto st = db.open(path);
  CHECK(st.code() == errc::storage_open_failed);
  CHECK(st.message().find(path) != std::string::npos);
  CHECK_FALSE(db.is_open());
  // Using a store that failed to open is an error, not a crash.
  CHECK(db.append_event(make_event("e", 1)).code() == errc::storage_io);
}

TEST_CASE("purge deletes only rows older than the cutoff and keeps open incidents") {
  temp_dir dir;
  store db;
  REQUIRE(db.open(dir.file("faultd.db")).ok());
  REQUIRE(db.append_events({make_event("old1", 10), make_event("old2", 20),
                            make_event("new1", 100), make_event("new2", 200)})
            .ok());
  REQUIRE(db.add_alert(make_alert("a-old", 10)).ok());
  REQUIRE(db.add_alert(make_alert("a-new", 150)).ok());
  // Closed at 20: purged with its finished execution. Closed at 20 but with a
  // running execution: kept. Closed at 110: kept. Open since 0: kept.
  REQUIRE(db.upsert_incident(make_incident("i-old-closed", 10, incident_status::closed)).ok());
  REQUIRE(db.upsert_incident(make_incident("i-old-busy", 10, incident_status::closed)).ok());
  REQUIRE(db.upsert_incident(make_incident("i-new-closed", 100, incident_status::closed)).ok());
  REQUIRE(db.upsert_incident(make_incident("i-old-open", 0, incident_status::open)).ok());
  REQUIRE(db.put_execution(make_execution("x-done", "i-old-closed", execution_status::completed,
                                          10))
            .ok());
  REQUIRE(db.put_execution(make_execution("x-busy-done", "i-old-busy", execution_status::failed,
                                          10))
            .ok());
  REQUIRE(db.put_execution(make_execution("x-busy-running", "i-old-busy",
                                          execution_status::running, 11))
            .ok());
  REQUIRE(db.put_execution(make_execution("x-open", "i-old-open", execution_status::failed, 1))
            .ok());

  uint64_t deleted = 0;
  REQUIRE(db.purge_before(at_s(50), deleted).ok());
  CHECK(deleted == 2 /*events*/ + 1 /*alert*/ + 1 /*incident*/ + 1 /*execution*/);

  std::vector<fault_event> evs;
  REQUIRE(db.events_since(at_s(-1000), 0, evs).ok());
  CHECK(ids(evs) == strings{"new2", "new1"});
  std::vector<alert> as;
  REQUIRE(db.alerts(0, as).ok());
  CHECK(ids_of(as) == strings{"a-new"});
  std::vector<incident> is;
  REQUIRE(db.incidents(0, false, is).ok());
  CHECK(ids_of(is) == strings{"i-new-closed", "i-old-busy", "i-old-open"});
  std::vector<recovery_execution> xs;
  REQUIRE(db.executions_for_incident("i-old-closed", xs).ok());
  CHECK(xs.empty());
  REQUIRE(db.executions_for_incident("i-old-busy", xs).ok());
  CHECK(ids_of(xs) == strings{"x-busy-done", "x-busy-running"});
  REQUIRE(db.executions_for_incident("i-old-open", xs).ok());
  CHECK(ids_of(xs) == strings{"x-open"});
  // The purged execution's actions went with it.
  CHECK(raw_int(dir.file("faultd.db"),
                "SELECT count(*) FROM action_executions WHERE execution_id = 'x-done'") == 0);
  CHECK(raw_int(dir.file("faultd.db"), "SELECT count(*) FROM action_executions") == 6);

  REQUIRE(db.purge_before(at_s(50), deleted).ok());
  CHECK(deleted == 0);
}

TEST_CASE("a stored record that no longer decodes is reported as corrupt") {
  temp_dir dir;
  auto path = dir.file("faultd.db");
  store db;
  REQUIRE(db.open(path).ok());
  REQUIRE(db.append_event(make_event("e1", 1)).ok());
  raw_exec(path, "UPDATE fault_events SET proto = x'ffffffffff' WHERE id = 'e1'");
  std::vector<fault_event> out;
  auto st = db.events_since(at_s(0), 0, out);
  CHECK(st.code() == errc::storage_corrupt);
  CHECK(st.message().find("fault_events") != std::string::npos);
}

TEST_CASE("a write blocked by another connection's lock fails after the busy timeout") {
  temp_dir dir;
  auto path = dir.file("faultd.db");
  store db{duration{0}};
  REQUIRE(db.open(path).ok());
  sqlite3* other = nullptr;
  REQUIRE(sqlite3_open(path.c_str(), &other) == SQLITE_OK);
  REQUIRE(sqlite3_exec(other, "BEGIN IMMEDIATE", nullptr, nullptr, nullptr) == SQLITE_OK);
  auto st = db.append_events({make_event("e1", 1)});
  CHECK(st.code() == errc::storage_io);
  CHECK(st.message().find("locked") != std::string::npos);
  REQUIRE(sqlite3_exec(other, "ROLLBACK", nullptr, nullptr, nullptr) == SQLITE_OK);
  REQUIRE(sqlite3_close(other) == SQLITE_OK);
  CHECK(db.append_events({make_event("e1", 1)}).ok());
}
