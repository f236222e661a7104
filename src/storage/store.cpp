#include "storage/store.hpp"

#include <algorithm>
#include <climits>
#include <cstdio>

#include <sqlite3.h>

#include "faultd/log.hpp"
#include "faultd/util.hpp"
#include "faultd/v1/domain.pb.h"
#include "storage/proto_convert.hpp"
#include "storage/wire.hpp"

namespace faultd::storage {

// -- schema ------------------------------------------------------------------
//
// Version 1 (PRAGMA user_version = 1, PRAGMA application_id = 0x66746c64 "ftld").
// Each table keeps the fields worth querying as columns and the whole value
// as its protobuf encoding in `proto` (proto/faultd/v1/domain.proto), which is
// what is read back, so no field is ever lost to the column layout. Enum
// columns hold the domain's spelling ("critical", "running"); times are
// nanoseconds since the Unix epoch.
//
//   meta(key TEXT PK, value TEXT)              who created the file, and when
//   fault_events(seq INTEGER PK, id TEXT UNIQUE, time_ns, type, severity,
//                component, node, source, clears, proto BLOB FaultEvent)
//       indexes: (time_ns), (component, type, time_ns)
//   incidents(id TEXT PK, component, type, severity, status, node,
//             opened_at_ns, last_seen_at_ns, closed_at_ns NULL, event_count,
//             strategy, proto BLOB Incident)
//       indexes: (opened_at_ns), (status, opened_at_ns)
//   executions(id TEXT PK, incident_id, strategy_id, status, started_at_ns,
//              ended_at_ns NULL, error, proto BLOB RecoveryExecution WITHOUT
//              its actions)
//       indexes: (incident_id, started_at_ns), (status)
//       No foreign key to incidents: the journal must accept an execution
//       even when its incident's row is written later by another writer.
//   action_executions(execution_id -> executions(id) ON DELETE CASCADE,
//                     idx, type, target, status, attempts, error,
//                     started_at_ns NULL, ended_at_ns NULL,
//                     proto BLOB ActionExecution; PK (execution_id, idx))
//       An execution's actions are its rows ordered by idx.
//   alerts(id TEXT PK, incident_id, time_ns, severity, component, summary,
//          proto BLOB Alert)
//       indexes: (time_ns)
//
// Migrations are an ordered list; each runs in its own transaction together
// with the user_version bump, so a crash leaves the file at a known version.
// Append new steps at the end; never edit a released step.

namespace {

constexpr int app_id = 0x66746c64; // "ftld"

struct migration {
  int version;
  const char* description;
  const char* sql;
};

const std::vector<migration>& migrations() {
  static const std::vector<migration> steps{
    {1, "initial schema", R"sql(
CREATE TABLE meta (
  key TEXT PRIMARY KEY,
  value TEXT NOT NULL
) WITHOUT ROWID;
CREATE TABLE fault_events (
  seq INTEGER PRIMARY KEY,
  id TEXT NOT NULL UNIQUE,
  time_ns INTEGER NOT NULL,
  type TEXT NOT NULL,
  severity TEXT NOT NULL,
  component TEXT NOT NULL,
  node TEXT NOT NULL,
  source TEXT NOT NULL,
  clears INTEGER NOT NULL,
  proto BLOB NOT NULL
);
CREATE INDEX fault_events_time ON fault_events(time_ns);
CREATE INDEX fault_events_component ON fault_events(component, type, time_ns);
CREATE TABLE incidents (
  id TEXT PRIMARY KEY,
  component TEXT NOT NULL,
  type TEXT NOT NULL,
  severity TEXT NOT NULL,
  status TEXT NOT NULL,
  node TEXT NOT NULL,
  opened_at_ns INTEGER NOT NULL,
  last_seen_at_ns INTEGER NOT NULL,
  closed_at_ns INTEGER,
  event_count INTEGER NOT NULL,
  strategy TEXT NOT NULL,
  proto BLOB NOT NULL
);
CREATE INDEX incidents_opened ON incidents(opened_at_ns);
CREATE INDEX incidents_status ON incidents(status, opened_at_ns);
CREATE TABLE executions (
  id TEXT PRIMARY KEY,
  incident_id TEXT NOT NULL,
  strategy_id TEXT NOT NULL,
  status TEXT NOT NULL,
  started_at_ns INTEGER NOT NULL,
  ended_at_ns INTEGER,
  error TEXT NOT NULL,
  proto BLOB NOT NULL
);
CREATE INDEX executions_incident ON executions(incident_id, started_at_ns);
CREATE INDEX executions_status ON executions(status);
CREATE TABLE action_executions (
  execution_id TEXT NOT NULL REFERENCES executions(id) ON DELETE CASCADE,
  idx INTEGER NOT NULL,
  type TEXT NOT NULL,
  target TEXT NOT NULL,
  status TEXT NOT NULL,
  attempts INTEGER NOT NULL,
  error TEXT NOT NULL,
  started_at_ns INTEGER,
  ended_at_ns INTEGER,
  proto BLOB NOT NULL,
  PRIMARY KEY (execution_id, idx)
) WITHOUT ROWID;
CREATE TABLE alerts (
  id TEXT PRIMARY KEY,
  incident_id TEXT NOT NULL,
  time_ns INTEGER NOT NULL,
  severity TEXT NOT NULL,
  component TEXT NOT NULL,
  summary TEXT NOT NULL,
  proto BLOB NOT NULL
);
CREATE INDEX alerts_time ON alerts(time_ns);
INSERT INTO meta(key, value) VALUES ('created_by', 'faultd'),
                                    ('created_at', strftime('%Y-%m-%dT%H:%M:%SZ', 'now'));
PRAGMA application_id = 1718905956;
)sql"},
  };
  return steps;
}

std::shared_ptr<spdlog::logger> logger() { return log::get("storage"); }

bool is_corruption(int rc) {
  int primary = rc & 0xff;
  return primary == SQLITE_CORRUPT || primary == SQLITE_NOTADB;
}

// Binds values to consecutive parameters, remembering the first failure.
struct binder {
  sqlite3_stmt* s;
  int rc = SQLITE_OK;
  int i = 0;

  binder& text(std::string_view v) {
    if (rc == SQLITE_OK) {
      // A null pointer would bind SQL NULL; every text column is NOT NULL.
      const char* p = v.data() ? v.data() : "";
      rc = sqlite3_bind_text(s, ++i, p, static_cast<int>(v.size()), SQLITE_TRANSIENT);
    }
    return *this;
  }
  binder& blob(const std::string& v) {
    if (rc == SQLITE_OK)
      rc = v.empty() ? sqlite3_bind_zeroblob(s, ++i, 0)
                     : sqlite3_bind_blob(s, ++i, v.data(), static_cast<int>(v.size()),
                                         SQLITE_TRANSIENT);
    return *this;
  }
  binder& int64(int64_t v) {
    if (rc == SQLITE_OK)
      rc = sqlite3_bind_int64(s, ++i, v);
    return *this;
  }
  binder& time(timestamp t) { return int64(to_unix_nanos(t)); }
  binder& time(const std::optional<timestamp>& t) {
    if (t)
      return time(*t);
    if (rc == SQLITE_OK)
      rc = sqlite3_bind_null(s, ++i);
    return *this;
  }
  /// 0 = no limit (sqlite's LIMIT -1).
  binder& limit(uint32_t n) { return int64(n == 0 ? -1 : static_cast<int64_t>(n)); }
};

std::string_view column_bytes(sqlite3_stmt* s, int col) {
  auto p = static_cast<const char*>(sqlite3_column_blob(s, col));
  auto n = sqlite3_column_bytes(s, col);
  if (p == nullptr || n <= 0)
    return {};
  return {p, static_cast<size_t>(n)};
}

std::string column_text(sqlite3_stmt* s, int col) {
  auto p = reinterpret_cast<const char*>(sqlite3_column_text(s, col));
  auto n = sqlite3_column_bytes(s, col);
  if (p == nullptr || n <= 0)
    return {};
  return {p, static_cast<size_t>(n)};
}

} // namespace

// Resets a cached statement when it goes out of scope so the next user finds
// it fresh. sqlite3_reset returns the error of the last step, which was
// already checked where step was called, so its result carries nothing new.
struct store::stmt_ref {
  sqlite3_stmt* s;
  ~stmt_ref() {
    if (s != nullptr) {
      (void) sqlite3_reset(s);
      (void) sqlite3_clear_bindings(s);
    }
  }
};

int store::supported_schema_version() { return migrations().back().version; }

store::store(duration busy_timeout) : busy_timeout_(busy_timeout) {}

store::~store() { close(); }

// -- errors ------------------------------------------------------------------

status store::fail(int rc, errc code, const char* event_id, const std::string& op) {
  std::string what = db_ != nullptr ? sqlite3_errmsg(db_) : sqlite3_errstr(rc);
  if (db_ != nullptr) {
    if (int sys = sqlite3_system_errno(db_); sys != 0 && (rc & 0xff) != SQLITE_CONSTRAINT)
      what += " (" + errno_text(sys) + ")";
  }
  if (is_corruption(rc))
    code = errc::storage_corrupt;
  logger()->error("{} path={} op=\"{}\" rc={} error=\"{}\"", event_id, path_, op, rc, what);
  return {code, op + " " + path_ + ": " + what + " (sqlite rc " + std::to_string(rc) + ")"};
}

status store::fail_open(int rc, const std::string& op) {
  return fail(rc, errc::storage_open_failed, "sqlite-open-failed", op);
}

status store::exec(const char* sql, errc code, const char* event_id, const std::string& op) {
  int rc = sqlite3_exec(db_, sql, nullptr, nullptr, nullptr);
  if (rc != SQLITE_OK)
    return fail(rc, code, event_id, op);
  return {};
}

status store::prepare(const char* sql, sqlite3_stmt*& out, const char* event_id) {
  if (db_ == nullptr)
    return {errc::storage_io, "database is not open"};
  auto i = stmts_.find(sql);
  if (i != stmts_.end()) {
    out = i->second;
    return {};
  }
  sqlite3_stmt* s = nullptr;
  int rc = sqlite3_prepare_v3(db_, sql, -1, SQLITE_PREPARE_PERSISTENT, &s, nullptr);
  if (rc != SQLITE_OK) {
    (void) sqlite3_finalize(s); // s is null on failure; finalize(null) is a no-op
    return fail(rc, errc::storage_io, event_id, std::string{"prepare "} + sql);
  }
  stmts_.emplace(sql, s);
  out = s;
  return {};
}

status store::begin(const char* op) {
  return exec("BEGIN IMMEDIATE", errc::storage_io, "sqlite-write-failed",
              std::string{"begin transaction for "} + op);
}

status store::commit(const char* op) {
  return exec("COMMIT", errc::storage_io, "sqlite-write-failed",
              std::string{"commit transaction for "} + op);
}

void store::rollback(const char* op) {
  // Some errors (SQLITE_FULL, SQLITE_IOERR, ...) roll back by themselves.
  if (db_ == nullptr || sqlite3_get_autocommit(db_) != 0)
    return;
  int rc = sqlite3_exec(db_, "ROLLBACK", nullptr, nullptr, nullptr);
  if (rc != SQLITE_OK)
    logger()->error("sqlite-rollback-failed path={} op=\"{}\" rc={} error=\"{}\"", path_, op, rc,
                    sqlite3_errmsg(db_));
}

namespace {

// Runs `body` between begin() and commit(); rolls back if either fails.
template <class Begin, class Commit, class Rollback, class Body>
status transact(Begin&& b, Commit&& c, Rollback&& r, Body&& body) {
  if (auto st = b(); !st.ok())
    return st;
  auto st = body();
  if (st.ok())
    st = c();
  if (!st.ok())
    r();
  return st;
}

} // namespace

#define FAULTD_TRANSACT(op, body)                                                                  \
  transact([&] { return begin(op); }, [&] { return commit(op); },                          \
                  [&] { rollback(op); }, body)

#define FAULTD_TRY(expr)                                                                            \
  do {                                                                                             \
    if (auto st_ = (expr); !st_.ok())                                                              \
      return st_;                                                                                  \
  } while (false)

// -- open / close ------------------------------------------------------------

status store::open(const std::string& path) {
  close();
  path_ = path;
  int rc = sqlite3_open_v2(path.c_str(), &db_,
                           SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX,
                           nullptr);
  if (rc != SQLITE_OK) {
    auto st = fail_open(rc, "open database");
    close();
    return st;
  }
  auto st = setup();
  if (st.ok())
    st = migrate();
  if (!st.ok()) {
    close();
    return st;
  }
  logger()->info("storage-opened path={} schema={}", path_, supported_schema_version());
  return {};
}

status store::setup() {
  if (int rc = sqlite3_extended_result_codes(db_, 1); rc != SQLITE_OK)
    return fail_open(rc, "enable extended result codes");
  auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(busy_timeout_).count();
  ms = std::max<int64_t>(0, std::min<int64_t>(ms, INT_MAX));
  if (int rc = sqlite3_busy_timeout(db_, static_cast<int>(ms)); rc != SQLITE_OK)
    return fail_open(rc, "set busy timeout");
  // journal_mode answers with the mode in effect, which stays "delete" (or
  // "memory") where WAL is impossible; durability relies on WAL, so insist.
  {
    sqlite3_stmt* s = nullptr;
    FAULTD_TRY(prepare("PRAGMA journal_mode=WAL", s, "sqlite-open-failed"));
    stmt_ref ref{s};
    int rc = sqlite3_step(s);
    if (rc != SQLITE_ROW)
      return fail_open(rc, "set journal_mode=WAL");
    auto mode = column_text(s, 0);
    if (mode != "wal") {
      logger()->error("sqlite-open-failed path={} op=\"set journal_mode=WAL\" mode={}", path_,
                      mode);
      return {errc::storage_open_failed,
              "set journal_mode=WAL " + path_ + ": sqlite kept journal mode \"" + mode + "\""};
    }
  }
  FAULTD_TRY(exec("PRAGMA synchronous=NORMAL", errc::storage_open_failed, "sqlite-open-failed",
                  "set synchronous=NORMAL"));
  FAULTD_TRY(exec("PRAGMA foreign_keys=ON", errc::storage_open_failed, "sqlite-open-failed",
                  "set foreign_keys=ON"));
  return {};
}

namespace {

// Reads a one-integer answer (a PRAGMA or a count).
template <class Fail>
status query_int(sqlite3* db, const char* sql, int64_t& out, Fail&& fail) {
  sqlite3_stmt* s = nullptr;
  int rc = sqlite3_prepare_v2(db, sql, -1, &s, nullptr);
  if (rc != SQLITE_OK)
    return fail(rc, sql);
  rc = sqlite3_step(s);
  if (rc != SQLITE_ROW) {
    auto st = fail(rc, sql);
    (void) sqlite3_finalize(s);
    return st;
  }
  out = sqlite3_column_int64(s, 0);
  (void) sqlite3_finalize(s); // the step above succeeded: nothing to report
  return {};
}

} // namespace

status store::migrate() {
  auto on_fail = [this](int rc, const char* sql) { return fail_open(rc, sql); };
  int64_t version = 0;
  int64_t app = 0;
  FAULTD_TRY(query_int(db_, "PRAGMA application_id", app, on_fail));
  FAULTD_TRY(query_int(db_, "PRAGMA user_version", version, on_fail));
  if (app != 0 && app != app_id) {
    logger()->error("sqlite-open-failed path={} op=\"check application_id\" application_id={}",
                    path_, app);
    return {errc::storage_corrupt, "open " + path_ + ": not a faultd database (application_id " +
                                     std::to_string(app) + ")"};
  }
  if (version > supported_schema_version()) {
    logger()->error("sqlite-open-failed path={} op=\"check schema version\" version={} "
                    "supported={}",
                    path_, version, supported_schema_version());
    return {errc::storage_schema_too_new,
            "open " + path_ + ": schema version " + std::to_string(version) +
              " is newer than this faultd supports (" +
              std::to_string(supported_schema_version()) + "); was it written by a newer faultd?"};
  }
  if (version == 0 && app == 0) {
    int64_t objects = 0;
    FAULTD_TRY(query_int(db_, "SELECT count(*) FROM sqlite_schema", objects, on_fail));
    if (objects != 0) {
      logger()->error("sqlite-open-failed path={} op=\"check schema\" objects={}", path_,
                      objects);
      return {errc::storage_corrupt, "open " + path_ +
                                       ": not a faultd database (it holds " +
                                       std::to_string(objects) + " schema objects of another "
                                       "application)"};
    }
  }
  for (auto& m : migrations()) {
    if (m.version <= version)
      continue;
    auto op = "migrate to schema " + std::to_string(m.version) + " (" + m.description + ")";
    auto st = FAULTD_TRANSACT(op.c_str(), [&]() -> status {
      FAULTD_TRY(exec(m.sql, errc::storage_open_failed, "sqlite-migrate-failed", op));
      auto bump = "PRAGMA user_version = " + std::to_string(m.version);
      return exec(bump.c_str(), errc::storage_open_failed, "sqlite-migrate-failed", op);
    });
    if (!st.ok())
      return st;
    logger()->info("storage-migrated path={} from={} to={}", path_, version, m.version);
    version = m.version;
  }
  return {};
}

void store::close() {
  for (auto& [sql, s] : stmts_)
    (void) sqlite3_finalize(s); // returns the last step's error, already handled
  stmts_.clear();
  if (db_ == nullptr)
    return;
  int rc = sqlite3_close(db_);
  if (rc != SQLITE_OK) {
    // Only SQLITE_BUSY (an unfinalized statement: a bug here) is possible;
    // let sqlite close it once the last statement goes.
    logger()->error("sqlite-close-failed path={} rc={} error=\"{}\"", path_, rc,
                    sqlite3_errmsg(db_));
    (void) sqlite3_close_v2(db_);
  }
  db_ = nullptr;
}

// -- writes ------------------------------------------------------------------

namespace {

constexpr const char* insert_event_sql =
  "INSERT INTO fault_events(id, time_ns, type, severity, component, node, source, clears, "
  "proto) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT(id) DO NOTHING";

constexpr const char* upsert_incident_sql =
  "INSERT INTO incidents(id, component, type, severity, status, node, opened_at_ns, "
  "last_seen_at_ns, closed_at_ns, event_count, strategy, proto) "
  "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT(id) DO UPDATE SET "
  "component = excluded.component, type = excluded.type, severity = excluded.severity, "
  "status = excluded.status, node = excluded.node, opened_at_ns = excluded.opened_at_ns, "
  "last_seen_at_ns = excluded.last_seen_at_ns, closed_at_ns = excluded.closed_at_ns, "
  "event_count = excluded.event_count, strategy = excluded.strategy, proto = excluded.proto";

constexpr const char* insert_alert_sql =
  "INSERT INTO alerts(id, incident_id, time_ns, severity, component, summary, proto) "
  "VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT(id) DO NOTHING";

constexpr const char* upsert_execution_sql =
  "INSERT INTO executions(id, incident_id, strategy_id, status, started_at_ns, ended_at_ns, "
  "error, proto) VALUES (?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT(id) DO UPDATE SET "
  "incident_id = excluded.incident_id, strategy_id = excluded.strategy_id, "
  "status = excluded.status, started_at_ns = excluded.started_at_ns, "
  "ended_at_ns = excluded.ended_at_ns, error = excluded.error, proto = excluded.proto";

constexpr const char* delete_actions_sql = "DELETE FROM action_executions WHERE execution_id = ?";

constexpr const char* insert_action_sql =
  "INSERT INTO action_executions(execution_id, idx, type, target, status, attempts, error, "
  "started_at_ns, ended_at_ns, proto) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)";

} // namespace

status store::insert_event(const fault_event& e) {
  sqlite3_stmt* s = nullptr;
  FAULTD_TRY(prepare(insert_event_sql, s, "sqlite-write-failed"));
  stmt_ref ref{s};
  auto proto = serialize(e);
  binder b{s};
  b.text(e.id)
    .time(e.time)
    .text(to_string(e.type))
    .text(to_string(e.severity))
    .text(e.component)
    .text(e.node)
    .text(e.source)
    .int64(e.clears ? 1 : 0)
    .blob(proto);
  if (b.rc != SQLITE_OK)
    return fail(b.rc, errc::storage_io, "sqlite-write-failed", "bind event " + e.id);
  if (int rc = sqlite3_step(s); rc != SQLITE_DONE)
    return fail(rc, errc::storage_io, "sqlite-write-failed", "insert event " + e.id);
  return {};
}

status store::insert_incident(const incident& x) {
  sqlite3_stmt* s = nullptr;
  FAULTD_TRY(prepare(upsert_incident_sql, s, "sqlite-write-failed"));
  stmt_ref ref{s};
  auto proto = serialize(x);
  binder b{s};
  b.text(x.id)
    .text(x.component)
    .text(to_string(x.type))
    .text(to_string(x.severity))
    .text(to_string(x.status))
    .text(x.node)
    .time(x.opened_at)
    .time(x.last_seen_at)
    .time(x.closed_at)
    .int64(static_cast<int64_t>(x.event_count))
    .text(x.strategy)
    .blob(proto);
  if (b.rc != SQLITE_OK)
    return fail(b.rc, errc::storage_io, "sqlite-write-failed", "bind incident " + x.id);
  if (int rc = sqlite3_step(s); rc != SQLITE_DONE)
    return fail(rc, errc::storage_io, "sqlite-write-failed", "upsert incident " + x.id);
  return {};
}

status store::insert_alert(const alert& a) {
  sqlite3_stmt* s = nullptr;
  FAULTD_TRY(prepare(insert_alert_sql, s, "sqlite-write-failed"));
  stmt_ref ref{s};
  auto proto = serialize(a);
  binder b{s};
  b.text(a.id)
    .text(a.incident_id)
    .time(a.time)
    .text(to_string(a.severity))
    .text(a.component)
    .text(a.summary)
    .blob(proto);
  if (b.rc != SQLITE_OK)
    return fail(b.rc, errc::storage_io, "sqlite-write-failed", "bind alert " + a.id);
  if (int rc = sqlite3_step(s); rc != SQLITE_DONE)
    return fail(rc, errc::storage_io, "sqlite-write-failed", "insert alert " + a.id);
  return {};
}

status store::append_event(const fault_event& e) {
  // A single statement is its own transaction in autocommit mode.
  return insert_event(e);
}

status store::append_events(const std::vector<fault_event>& events) {
  return write_batch(events, {}, {});
}

status store::upsert_incident(const incident& x) { return insert_incident(x); }

status store::add_alert(const alert& a) { return insert_alert(a); }

status store::write_batch(const std::vector<fault_event>& events,
                          const std::vector<incident>& incidents,
                          const std::vector<alert>& alerts) {
  if (events.empty() && incidents.empty() && alerts.empty())
    return {};
  return FAULTD_TRANSACT("write batch", [&]() -> status {
    for (auto& e : events)
      FAULTD_TRY(insert_event(e));
    for (auto& x : incidents)
      FAULTD_TRY(insert_incident(x));
    for (auto& a : alerts)
      FAULTD_TRY(insert_alert(a));
    return {};
  });
}

status store::put_execution(const recovery_execution& x) {
  return FAULTD_TRANSACT("put execution", [&]() -> status {
    {
      sqlite3_stmt* s = nullptr;
      FAULTD_TRY(prepare(upsert_execution_sql, s, "sqlite-write-failed"));
      stmt_ref ref{s};
      auto msg = to_proto(x);
      msg.clear_actions(); // stored as rows of action_executions
      auto proto = msg.SerializeAsString();
      binder b{s};
      b.text(x.id)
        .text(x.incident_id)
        .text(x.strategy_id)
        .text(to_string(x.status))
        .time(x.started_at)
        .time(x.ended_at)
        .text(x.error)
        .blob(proto);
      if (b.rc != SQLITE_OK)
        return fail(b.rc, errc::storage_io, "sqlite-write-failed", "bind execution " + x.id);
      if (int rc = sqlite3_step(s); rc != SQLITE_DONE)
        return fail(rc, errc::storage_io, "sqlite-write-failed", "upsert execution " + x.id);
    }
    {
      sqlite3_stmt* s = nullptr;
      FAULTD_TRY(prepare(delete_actions_sql, s, "sqlite-write-failed"));
      stmt_ref ref{s};
      binder b{s};
      b.text(x.id);
      if (b.rc != SQLITE_OK)
        return fail(b.rc, errc::storage_io, "sqlite-write-failed", "bind execution " + x.id);
      if (int rc = sqlite3_step(s); rc != SQLITE_DONE)
        return fail(rc, errc::storage_io, "sqlite-write-failed",
                    "delete actions of execution " + x.id);
    }
    for (size_t i = 0; i < x.actions.size(); ++i) {
      auto& a = x.actions[i];
      sqlite3_stmt* s = nullptr;
      FAULTD_TRY(prepare(insert_action_sql, s, "sqlite-write-failed"));
      stmt_ref ref{s};
      auto proto = to_proto(a).SerializeAsString();
      binder b{s};
      b.text(x.id)
        .int64(static_cast<int64_t>(i))
        .text(action_name(a.action))
        .text(a.action.target)
        .text(to_string(a.status))
        .int64(a.attempts)
        .text(a.error)
        .time(a.started_at)
        .time(a.ended_at)
        .blob(proto);
      auto op = "insert action " + std::to_string(i) + " of execution " + x.id;
      if (b.rc != SQLITE_OK)
        return fail(b.rc, errc::storage_io, "sqlite-write-failed", op);
      if (int rc = sqlite3_step(s); rc != SQLITE_DONE)
        return fail(rc, errc::storage_io, "sqlite-write-failed", op);
    }
    return {};
  });
}

status store::purge_before(timestamp cutoff, uint64_t& deleted) {
  deleted = 0;
  // A closed incident stays while one of its executions is unfinished: the
  // journal must still be able to resume or close that execution.
#define FAULTD_PURGEABLE_INCIDENT                                                                  \
  "status = 'closed' AND coalesce(closed_at_ns, last_seen_at_ns) < ?1 AND NOT EXISTS "             \
  "(SELECT 1 FROM executions e WHERE e.incident_id = incidents.id AND "                            \
  "e.status IN ('pending', 'running'))"
  static constexpr const char* steps[][2] = {
    {"DELETE FROM fault_events WHERE time_ns < ?1", "purge events"},
    {"DELETE FROM alerts WHERE time_ns < ?1", "purge alerts"},
    // Before the incidents, which the condition reads.
    {"DELETE FROM executions WHERE incident_id IN "
     "(SELECT id FROM incidents WHERE " FAULTD_PURGEABLE_INCIDENT ")",
     "purge executions"},
    {"DELETE FROM incidents WHERE " FAULTD_PURGEABLE_INCIDENT, "purge incidents"},
  };
#undef FAULTD_PURGEABLE_INCIDENT
  uint64_t counts[4] = {0, 0, 0, 0};
  auto st = FAULTD_TRANSACT("purge", [&]() -> status {
    for (size_t i = 0; i < 4; ++i) {
      sqlite3_stmt* s = nullptr;
      FAULTD_TRY(prepare(steps[i][0], s, "sqlite-write-failed"));
      stmt_ref ref{s};
      binder b{s};
      b.time(cutoff);
      if (b.rc != SQLITE_OK)
        return fail(b.rc, errc::storage_io, "sqlite-write-failed", steps[i][1]);
      if (int rc = sqlite3_step(s); rc != SQLITE_DONE)
        return fail(rc, errc::storage_io, "sqlite-write-failed", steps[i][1]);
      counts[i] = static_cast<uint64_t>(sqlite3_changes64(db_));
    }
    return {};
  });
  if (!st.ok())
    return st;
  deleted = counts[0] + counts[1] + counts[2] + counts[3];
  if (deleted > 0)
    logger()->info("storage-purged path={} cutoff={} events={} alerts={} executions={} "
                   "incidents={}",
                   path_, format_timestamp(cutoff), counts[0], counts[1], counts[2], counts[3]);
  return {};
}

// -- reads -------------------------------------------------------------------

namespace {

template <class T>
status decode_row(std::string_view bytes, T& out, const char* table, const std::string& key) {
  if (auto st = parse(bytes, out); !st.ok())
    return {errc::storage_corrupt,
            std::string{"row "} + key + " of " + table + " does not decode: " + st.message()};
  return {};
}

} // namespace

status store::events_since(timestamp since, uint32_t limit, std::vector<fault_event>& out) {
  out.clear();
  sqlite3_stmt* s = nullptr;
  FAULTD_TRY(prepare("SELECT seq, proto FROM fault_events WHERE time_ns >= ? "
                     "ORDER BY time_ns DESC, seq DESC LIMIT ?",
                     s, "sqlite-read-failed"));
  stmt_ref ref{s};
  binder b{s};
  b.time(since).limit(limit);
  if (b.rc != SQLITE_OK)
    return fail(b.rc, errc::storage_io, "sqlite-read-failed", "bind events query");
  for (;;) {
    int rc = sqlite3_step(s);
    if (rc == SQLITE_DONE)
      return {};
    if (rc != SQLITE_ROW)
      return fail(rc, errc::storage_io, "sqlite-read-failed", "read events");
    out.emplace_back();
    if (auto st = decode_row(column_bytes(s, 1), out.back(), "fault_events",
                             "seq=" + std::to_string(sqlite3_column_int64(s, 0)));
        !st.ok()) {
      logger()->error("sqlite-read-failed path={} error=\"{}\"", path_, st.message());
      return st;
    }
  }
}

status store::count_events(uint64_t& out) {
  out = 0;
  sqlite3_stmt* s = nullptr;
  FAULTD_TRY(prepare("SELECT count(*) FROM fault_events", s, "sqlite-read-failed"));
  stmt_ref ref{s};
  if (int rc = sqlite3_step(s); rc != SQLITE_ROW)
    return fail(rc, errc::storage_io, "sqlite-read-failed", "count events");
  out = static_cast<uint64_t>(sqlite3_column_int64(s, 0));
  return {};
}

status store::incidents(uint32_t limit, bool open_only, std::vector<incident>& out) {
  out.clear();
  sqlite3_stmt* s = nullptr;
  FAULTD_TRY(prepare(open_only ? "SELECT id, proto FROM incidents WHERE status = 'open' "
                                 "ORDER BY opened_at_ns DESC, rowid DESC LIMIT ?"
                               : "SELECT id, proto FROM incidents "
                                 "ORDER BY opened_at_ns DESC, rowid DESC LIMIT ?",
                     s, "sqlite-read-failed"));
  stmt_ref ref{s};
  binder b{s};
  b.limit(limit);
  if (b.rc != SQLITE_OK)
    return fail(b.rc, errc::storage_io, "sqlite-read-failed", "bind incidents query");
  for (;;) {
    int rc = sqlite3_step(s);
    if (rc == SQLITE_DONE)
      return {};
    if (rc != SQLITE_ROW)
      return fail(rc, errc::storage_io, "sqlite-read-failed", "read incidents");
    out.emplace_back();
    if (auto st = decode_row(column_bytes(s, 1), out.back(), "incidents",
                             "id=" + column_text(s, 0));
        !st.ok()) {
      logger()->error("sqlite-read-failed path={} error=\"{}\"", path_, st.message());
      return st;
    }
  }
}

status store::find_incident(const std::string& id, incident& out) {
  sqlite3_stmt* s = nullptr;
  FAULTD_TRY(prepare("SELECT proto FROM incidents WHERE id = ?", s, "sqlite-read-failed"));
  stmt_ref ref{s};
  binder b{s};
  b.text(id);
  if (b.rc != SQLITE_OK)
    return fail(b.rc, errc::storage_io, "sqlite-read-failed", "bind incident id");
  int rc = sqlite3_step(s);
  if (rc == SQLITE_DONE)
    return {errc::not_found, "no incident with id " + id};
  if (rc != SQLITE_ROW)
    return fail(rc, errc::storage_io, "sqlite-read-failed", "read incident " + id);
  if (auto st = decode_row(column_bytes(s, 0), out, "incidents", "id=" + id); !st.ok()) {
    logger()->error("sqlite-read-failed path={} error=\"{}\"", path_, st.message());
    return st;
  }
  return {};
}

status store::read_executions(sqlite3_stmt* s, const char* op,
                              std::vector<recovery_execution>& out) {
  out.clear();
  for (;;) {
    int rc = sqlite3_step(s);
    if (rc == SQLITE_DONE)
      return {};
    if (rc != SQLITE_ROW)
      return fail(rc, errc::storage_io, "sqlite-read-failed", op);
    auto id = column_text(s, 0);
    auto bytes = column_bytes(s, 1);
    v1::RecoveryExecution msg;
    out.emplace_back();
    auto& x = out.back();
    status st;
    if (!msg.ParseFromArray(bytes.data(), static_cast<int>(bytes.size())))
      st = {errc::malformed_payload, "cannot decode RecoveryExecution"};
    else
      st = from_proto(msg, x);
    if (!st.ok()) {
      st = {errc::storage_corrupt,
            "row id=" + id + " of executions does not decode: " + st.message()};
      logger()->error("sqlite-read-failed path={} error=\"{}\"", path_, st.message());
      return st;
    }
    sqlite3_stmt* a = nullptr;
    FAULTD_TRY(prepare("SELECT idx, proto FROM action_executions WHERE execution_id = ? "
                       "ORDER BY idx",
                       a, "sqlite-read-failed"));
    stmt_ref aref{a};
    binder b{a};
    b.text(id);
    if (b.rc != SQLITE_OK)
      return fail(b.rc, errc::storage_io, "sqlite-read-failed", "bind execution id");
    for (;;) {
      rc = sqlite3_step(a);
      if (rc == SQLITE_DONE)
        break;
      if (rc != SQLITE_ROW)
        return fail(rc, errc::storage_io, "sqlite-read-failed", "read actions of " + id);
      auto idx = sqlite3_column_int64(a, 0);
      auto abytes = column_bytes(a, 1);
      v1::ActionExecution amsg;
      x.actions.emplace_back();
      status ast;
      if (!amsg.ParseFromArray(abytes.data(), static_cast<int>(abytes.size())))
        ast = {errc::malformed_payload, "cannot decode ActionExecution"};
      else
        ast = from_proto(amsg, x.actions.back());
      if (!ast.ok()) {
        ast = {errc::storage_corrupt, "row (" + id + ", " + std::to_string(idx) +
                                        ") of action_executions does not decode: " +
                                        ast.message()};
        logger()->error("sqlite-read-failed path={} error=\"{}\"", path_, ast.message());
        return ast;
      }
    }
  }
}

status store::executions_for_incident(const std::string& incident_id,
                                      std::vector<recovery_execution>& out) {
  out.clear();
  sqlite3_stmt* s = nullptr;
  FAULTD_TRY(prepare("SELECT id, proto FROM executions WHERE incident_id = ? "
                     "ORDER BY started_at_ns, rowid",
                     s, "sqlite-read-failed"));
  stmt_ref ref{s};
  binder b{s};
  b.text(incident_id);
  if (b.rc != SQLITE_OK)
    return fail(b.rc, errc::storage_io, "sqlite-read-failed", "bind incident id");
  return read_executions(s, "read executions", out);
}

status store::unfinished_executions(std::vector<recovery_execution>& out) {
  out.clear();
  sqlite3_stmt* s = nullptr;
  FAULTD_TRY(prepare("SELECT id, proto FROM executions WHERE status IN ('pending', 'running') "
                     "ORDER BY started_at_ns, rowid",
                     s, "sqlite-read-failed"));
  stmt_ref ref{s};
  return read_executions(s, "read unfinished executions", out);
}

status store::alerts(uint32_t limit, std::vector<alert>& out) {
  out.clear();
  sqlite3_stmt* s = nullptr;
  FAULTD_TRY(prepare("SELECT id, proto FROM alerts ORDER BY time_ns DESC, rowid DESC LIMIT ?", s,
                     "sqlite-read-failed"));
  stmt_ref ref{s};
  binder b{s};
  b.limit(limit);
  if (b.rc != SQLITE_OK)
    return fail(b.rc, errc::storage_io, "sqlite-read-failed", "bind alerts query");
  for (;;) {
    int rc = sqlite3_step(s);
    if (rc == SQLITE_DONE)
      return {};
    if (rc != SQLITE_ROW)
      return fail(rc, errc::storage_io, "sqlite-read-failed", "read alerts");
    out.emplace_back();
    if (auto st = decode_row(column_bytes(s, 1), out.back(), "alerts", "id=" + column_text(s, 0));
        !st.ok()) {
      logger()->error("sqlite-read-failed path={} error=\"{}\"", path_, st.message());
      return st;
    }
  }
}

status store::check_integrity() {
  sqlite3_stmt* s = nullptr;
  FAULTD_TRY(prepare("PRAGMA quick_check", s, "sqlite-read-failed"));
  stmt_ref ref{s};
  std::string findings;
  for (;;) {
    int rc = sqlite3_step(s);
    if (rc == SQLITE_DONE)
      break;
    if (rc != SQLITE_ROW)
      return fail(rc, errc::storage_io, "sqlite-read-failed", "quick_check");
    auto line = column_text(s, 0);
    if (line != "ok")
      findings += (findings.empty() ? "" : "; ") + line;
  }
  if (findings.empty())
    return {};
  logger()->error("sqlite-corrupt path={} findings=\"{}\"", path_, findings);
  return {errc::storage_corrupt, "quick_check " + path_ + ": " + findings};
}

} // namespace faultd::storage
