#pragma once

// Where the replicated map lives on disk: <data_dir>/state.db (sqlite, WAL),
// one row per key (tombstones too), and named snapshots of the live keys.
// A restarted node loads it and catches up by anti-entropy from there.
// Rows whose value no longer matches its SHA-256 are not loaded: load()
// names them so the caller raises a data_inconsistency fault; anti-entropy
// then brings the key back from a peer. Not thread-safe (the state-sync
// actor owns it).

#include <cstdint>
#include <string>
#include <vector>

#include "faultd/domain.hpp"
#include "faultd/error.hpp"
#include "faultd/time.hpp"

struct sqlite3;

namespace faultd::replica {

struct snapshot_info {
  std::string id;
  timestamp created_at;
  uint64_t keys = 0;
};

class store {
public:
  store() = default;
  ~store();
  store(const store&) = delete;
  store& operator=(const store&) = delete;

  /// Opens (creating) the database at `path`.
  status open(const std::string& path);

  /// Every stored entry; the keys of rows that fail their checksum go to
  /// `corrupt` (and are not returned).
  status load(std::vector<state_entry>& out, std::vector<std::string>& corrupt);

  /// Stores (replaces) entries in one transaction.
  status save(const std::vector<state_entry>& entries);

  /// Forgets keys (collected tombstones) in one transaction.
  status remove(const std::vector<std::string>& keys);

  /// Records the live entries as snapshot `id`.
  status snapshot(const std::string& id, timestamp at, const std::vector<state_entry>& live);

  /// Snapshots, newest first.
  status snapshots(std::vector<snapshot_info>& out);

  /// A snapshot's entries (key, value, checksum); not_found if unknown.
  status snapshot_entries(const std::string& id, std::vector<state_entry>& out);

  const std::string& path() const { return path_; }

private:
  status exec(const char* sql, const char* op);
  status fail(int rc, const char* op);
  template <class Body>
  status transaction(const char* op, Body&& body);

  sqlite3* db_ = nullptr;
  std::string path_;
};

} // namespace faultd::replica
