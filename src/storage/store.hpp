#pragma once

// faultd's node-local database: fault events, incidents, the recovery
// journal (executions and their actions) and alerts, in one sqlite file.
//
// Durability: the file runs in WAL mode with synchronous=NORMAL. A write that
// returned ok has been handed to the kernel (the WAL frames are written at
// COMMIT), so it survives a crash of the process, including kill -9; it may
// be lost on power loss or a kernel crash, because the WAL is only fsynced
// at checkpoints. That is the trade-off faultd makes for write throughput.
//
// Every sqlite call is checked. Failures map to faultd::errc:
//   storage_open_failed     the file cannot be opened, created or set up
//                           (missing directory, no permission, no WAL)
//   storage_corrupt         SQLITE_CORRUPT / SQLITE_NOTADB, a foreign sqlite
//                           database, or a stored record that does not decode
//   storage_schema_too_new  the file was written by a newer faultd
//   storage_io              any other failure of a statement
// and the status text names the operation, the file and sqlite's message.
// Failures are also logged on the "storage" logger with event ids
// "sqlite-open-failed", "sqlite-migrate-failed", "sqlite-write-failed",
// "sqlite-read-failed", "sqlite-rollback-failed", "sqlite-close-failed",
// "sqlite-corrupt" (quick_check findings).

#include <cstdint>
#include <string>
#include <unordered_map>
#include <vector>

#include "faultd/domain.hpp"
#include "faultd/error.hpp"
#include "faultd/time.hpp"

struct sqlite3;
struct sqlite3_stmt;

namespace faultd::storage {

/// One sqlite database file with faultd's schema.
///
/// Queries that take a `limit` treat 0 as "no limit". Queries fill an output
/// vector (cleared first) and return the status; on failure the vector's
/// content is unspecified.
///
/// Not thread-safe: one owner (the storage actor's thread) calls it.
class store {
public:
  /// The schema version this build writes and understands (PRAGMA user_version).
  static int supported_schema_version();

  /// `busy_timeout`: how long a statement waits for a lock held by another
  /// connection to the same file before it fails with storage_io.
  explicit store(duration busy_timeout = seconds_d(5));
  ~store();
  store(const store&) = delete;
  store& operator=(const store&) = delete;

  /// Opens (creating if needed) the database at `path` and migrates its schema
  /// to the supported version. The parent directory must exist. Closes a
  /// database opened before.
  status open(const std::string& path);

  /// Closes the database (a no-op when none is open).
  void close();

  bool is_open() const { return db_ != nullptr; }
  const std::string& path() const { return path_; }

  // -- fault events ----------------------------------------------------------

  /// Stores one event. An event whose id is already stored is left as it was
  /// (appending is idempotent, so a retried write cannot duplicate).
  status append_event(const fault_event& e);

  /// Stores all events in one transaction: all or none.
  status append_events(const std::vector<fault_event>& events);

  /// Events with time >= `since`, newest first, at most `limit`.
  status events_since(timestamp since, uint32_t limit, std::vector<fault_event>& out);

  /// Number of stored events.
  status count_events(uint64_t& out);

  // -- incidents -------------------------------------------------------------

  /// Inserts or replaces the incident with `x.id`.
  status upsert_incident(const incident& x);

  /// Stores events, incidents (upserted) and alerts in one transaction: what
  /// the storage actor flushes at once.
  status write_batch(const std::vector<fault_event>& events,
                     const std::vector<incident>& incidents, const std::vector<alert>& alerts);

  /// Incidents, newest opened first, at most `limit`; only open ones if
  /// `open_only`.
  status incidents(uint32_t limit, bool open_only, std::vector<incident>& out);

  /// The incident with `id`, or errc::not_found.
  status find_incident(const std::string& id, incident& out);

  // -- recovery journal ------------------------------------------------------

  /// Inserts or replaces the execution with `x.id` together with its actions
  /// (the stored actions become exactly `x.actions`), in one transaction.
  status put_execution(const recovery_execution& x);

  /// Executions of an incident, oldest started first.
  status executions_for_incident(const std::string& incident_id,
                                 std::vector<recovery_execution>& out);

  /// Executions still pending or running (to resume or close after a
  /// restart), oldest started first.
  status unfinished_executions(std::vector<recovery_execution>& out);

  // -- alerts ----------------------------------------------------------------

  /// Stores an alert; an alert whose id is already stored is left as it was.
  status add_alert(const alert& a);

  /// Alerts, newest first, at most `limit`.
  status alerts(uint32_t limit, std::vector<alert>& out);

  // -- maintenance -----------------------------------------------------------

  /// Retention: deletes, in one transaction, the events and alerts older than
  /// `cutoff`, and the closed incidents closed before `cutoff` (their
  /// last_seen_at when closed_at is unset) together with their executions and
  /// those executions' actions. Open incidents are kept, and so is a closed
  /// incident with a pending or running execution (the journal still needs
  /// it). `deleted` receives the number of deleted events + alerts +
  /// incidents + executions.
  status purge_before(timestamp cutoff, uint64_t& deleted);

  /// PRAGMA quick_check: ok, or storage_corrupt with sqlite's findings.
  status check_integrity();

private:
  struct stmt_ref;

  status fail(int rc, errc code, const char* event_id, const std::string& op);
  status fail_open(int rc, const std::string& op);
  status setup();
  status migrate();
  status exec(const char* sql, errc code, const char* event_id, const std::string& op);
  status prepare(const char* sql, sqlite3_stmt*& out, const char* event_id);
  status begin(const char* op);
  status commit(const char* op);
  void rollback(const char* op);
  status insert_event(const fault_event& e);
  status insert_incident(const incident& x);
  status insert_alert(const alert& a);
  status read_executions(sqlite3_stmt* s, const char* op, std::vector<recovery_execution>& out);

  duration busy_timeout_;
  std::string path_;
  sqlite3* db_ = nullptr;
  std::unordered_map<std::string, sqlite3_stmt*> stmts_; ///< by SQL text
};

} // namespace faultd::storage
