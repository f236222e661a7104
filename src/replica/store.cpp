#include "replica/store.hpp"

#include <sqlite3.h>

#include "faultd/util.hpp"

namespace faultd::replica {

namespace {

const char* schema = R"(
CREATE TABLE IF NOT EXISTS entries (
  key           TEXT PRIMARY KEY,
  value         BLOB NOT NULL,
  version       INTEGER NOT NULL,
  origin        TEXT NOT NULL,
  checksum      TEXT NOT NULL,
  tombstone     INTEGER NOT NULL,
  updated_at_ns INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS snapshots (
  id            TEXT PRIMARY KEY,
  created_at_ns INTEGER NOT NULL,
  keys          INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS snapshot_entries (
  snapshot      TEXT NOT NULL REFERENCES snapshots(id),
  key           TEXT NOT NULL,
  value         BLOB NOT NULL,
  checksum      TEXT NOT NULL,
  PRIMARY KEY (snapshot, key)
);
)";

/// A prepared statement, finalized on scope exit.
struct stmt {
  sqlite3_stmt* s = nullptr;
  stmt(sqlite3* db, const char* sql, int& rc) { rc = sqlite3_prepare_v2(db, sql, -1, &s, nullptr); }
  ~stmt() { sqlite3_finalize(s); }
  stmt(const stmt&) = delete;
  stmt& operator=(const stmt&) = delete;
  void text(int i, const std::string& v) {
    sqlite3_bind_text(s, i, v.data(), static_cast<int>(v.size()), SQLITE_TRANSIENT);
  }
  void blob(int i, const std::string& v) {
    sqlite3_bind_blob(s, i, v.data(), static_cast<int>(v.size()), SQLITE_TRANSIENT);
  }
  void integer(int i, int64_t v) { sqlite3_bind_int64(s, i, v); }
  std::string column_text(int i) {
    auto* p = sqlite3_column_text(s, i);
    return p == nullptr ? std::string{}
                        : std::string{reinterpret_cast<const char*>(p),
                                      static_cast<size_t>(sqlite3_column_bytes(s, i))};
  }
  std::string column_blob(int i) {
    auto* p = static_cast<const char*>(sqlite3_column_blob(s, i));
    return p == nullptr ? std::string{}
                        : std::string{p, static_cast<size_t>(sqlite3_column_bytes(s, i))};
  }
};

} // namespace

store::~store() {
  if (db_ != nullptr)
    sqlite3_close(db_);
}

status store::fail(int rc, const char* op) {
  return {rc == SQLITE_CORRUPT || rc == SQLITE_NOTADB ? errc::storage_corrupt : errc::storage_io,
          std::string{op} + " " + path_ + ": "
            + (db_ != nullptr ? sqlite3_errmsg(db_) : sqlite3_errstr(rc))};
}

status store::exec(const char* sql, const char* op) {
  char* err = nullptr;
  int rc = sqlite3_exec(db_, sql, nullptr, nullptr, &err);
  sqlite3_free(err);
  return rc == SQLITE_OK ? status{} : fail(rc, op);
}

template <class Body>
status store::transaction(const char* op, Body&& body) {
  if (auto st = exec("BEGIN IMMEDIATE", op); !st.ok())
    return st;
  auto st = body();
  if (st.ok())
    st = exec("COMMIT", op);
  if (!st.ok() && sqlite3_get_autocommit(db_) == 0)
    sqlite3_exec(db_, "ROLLBACK", nullptr, nullptr, nullptr);
  return st;
}

status store::open(const std::string& path) {
  if (db_ != nullptr) {
    sqlite3_close(db_);
    db_ = nullptr;
  }
  path_ = path;
  int rc = sqlite3_open_v2(path.c_str(), &db_,
                           SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX,
                           nullptr);
  auto st = rc != SQLITE_OK
              ? status{errc::storage_open_failed, "open " + path + ": " + sqlite3_errstr(rc)}
              : status{};
  if (st.ok()) {
    sqlite3_busy_timeout(db_, 5000);
    st = exec("PRAGMA journal_mode=WAL", "set journal_mode=WAL");
  }
  if (st.ok())
    st = exec("PRAGMA synchronous=NORMAL", "set synchronous");
  if (st.ok())
    st = exec(schema, "create the state tables");
  // A failed open leaves nothing half-open: the caller may try again.
  if (!st.ok() && db_ != nullptr) {
    sqlite3_close(db_);
    db_ = nullptr;
  }
  return st;
}

status store::load(std::vector<state_entry>& out, std::vector<std::string>& corrupt) {
  int rc = 0;
  stmt q{db_, "SELECT key, value, version, origin, checksum, tombstone, updated_at_ns "
              "FROM entries ORDER BY key", rc};
  if (rc != SQLITE_OK)
    return fail(rc, "read the state entries of");
  while ((rc = sqlite3_step(q.s)) == SQLITE_ROW) {
    state_entry e;
    e.key = q.column_text(0);
    e.value = q.column_blob(1);
    e.version = static_cast<uint64_t>(sqlite3_column_int64(q.s, 2));
    e.origin_node = q.column_text(3);
    e.checksum = q.column_text(4);
    e.tombstone = sqlite3_column_int(q.s, 5) != 0;
    e.updated_at = from_unix_nanos(sqlite3_column_int64(q.s, 6));
    if (sha256_hex(e.value) != e.checksum)
      corrupt.push_back(e.key);
    else
      out.push_back(std::move(e));
  }
  return rc == SQLITE_DONE ? status{} : fail(rc, "read the state entries of");
}

status store::save(const std::vector<state_entry>& entries) {
  if (entries.empty())
    return {};
  return transaction("save state entries in", [&]() -> status {
    int rc = 0;
    stmt q{db_, "INSERT OR REPLACE INTO entries (key, value, version, origin, checksum, "
                "tombstone, updated_at_ns) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)", rc};
    if (rc != SQLITE_OK)
      return fail(rc, "save state entries in");
    for (auto& e : entries) {
      sqlite3_reset(q.s);
      q.text(1, e.key);
      q.blob(2, e.value);
      q.integer(3, static_cast<int64_t>(e.version));
      q.text(4, e.origin_node);
      q.text(5, e.checksum);
      q.integer(6, e.tombstone ? 1 : 0);
      q.integer(7, to_unix_nanos(e.updated_at));
      if ((rc = sqlite3_step(q.s)) != SQLITE_DONE)
        return fail(rc, "save state entries in");
    }
    return {};
  });
}

status store::remove(const std::vector<std::string>& keys) {
  if (keys.empty())
    return {};
  return transaction("remove state entries from", [&]() -> status {
    int rc = 0;
    stmt q{db_, "DELETE FROM entries WHERE key = ?1", rc};
    if (rc != SQLITE_OK)
      return fail(rc, "remove state entries from");
    for (auto& k : keys) {
      sqlite3_reset(q.s);
      q.text(1, k);
      if ((rc = sqlite3_step(q.s)) != SQLITE_DONE)
        return fail(rc, "remove state entries from");
    }
    return {};
  });
}

status store::snapshot(const std::string& id, timestamp at, const std::vector<state_entry>& live) {
  return transaction("take a state snapshot in", [&]() -> status {
    int rc = 0;
    stmt head{db_, "INSERT INTO snapshots (id, created_at_ns, keys) VALUES (?1, ?2, ?3)", rc};
    if (rc != SQLITE_OK)
      return fail(rc, "take a state snapshot in");
    head.text(1, id);
    head.integer(2, to_unix_nanos(at));
    head.integer(3, static_cast<int64_t>(live.size()));
    if ((rc = sqlite3_step(head.s)) != SQLITE_DONE)
      return fail(rc, "take a state snapshot in");
    stmt q{db_, "INSERT INTO snapshot_entries (snapshot, key, value, checksum) "
                "VALUES (?1, ?2, ?3, ?4)", rc};
    if (rc != SQLITE_OK)
      return fail(rc, "take a state snapshot in");
    for (auto& e : live) {
      sqlite3_reset(q.s);
      q.text(1, id);
      q.text(2, e.key);
      q.blob(3, e.value);
      q.text(4, e.checksum);
      if ((rc = sqlite3_step(q.s)) != SQLITE_DONE)
        return fail(rc, "take a state snapshot in");
    }
    return {};
  });
}

status store::snapshots(std::vector<snapshot_info>& out) {
  int rc = 0;
  stmt q{db_, "SELECT id, created_at_ns, keys FROM snapshots ORDER BY created_at_ns DESC", rc};
  if (rc != SQLITE_OK)
    return fail(rc, "list the state snapshots of");
  while ((rc = sqlite3_step(q.s)) == SQLITE_ROW)
    out.push_back(snapshot_info{q.column_text(0), from_unix_nanos(sqlite3_column_int64(q.s, 1)),
                                static_cast<uint64_t>(sqlite3_column_int64(q.s, 2))});
  return rc == SQLITE_DONE ? status{} : fail(rc, "list the state snapshots of");
}

status store::snapshot_entries(const std::string& id, std::vector<state_entry>& out) {
  int rc = 0;
  {
    stmt known{db_, "SELECT 1 FROM snapshots WHERE id = ?1", rc};
    if (rc != SQLITE_OK)
      return fail(rc, "read a state snapshot of");
    known.text(1, id);
    rc = sqlite3_step(known.s);
    if (rc == SQLITE_DONE)
      return {errc::not_found, "no state snapshot " + id};
    if (rc != SQLITE_ROW)
      return fail(rc, "read a state snapshot of");
  }
  stmt q{db_, "SELECT key, value, checksum FROM snapshot_entries WHERE snapshot = ?1 ORDER BY key",
         rc};
  if (rc != SQLITE_OK)
    return fail(rc, "read a state snapshot of");
  q.text(1, id);
  while ((rc = sqlite3_step(q.s)) == SQLITE_ROW) {
    state_entry e;
    e.key = q.column_text(0);
    e.value = q.column_blob(1);
    e.checksum = q.column_text(2);
    out.push_back(std::move(e));
  }
  return rc == SQLITE_DONE ? status{} : fail(rc, "read a state snapshot of");
}

} // namespace faultd::replica
