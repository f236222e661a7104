#pragma once

#include <functional>

// The storage actor: the only owner of the node's sqlite database
// (src/storage/store.hpp). It runs detached (its own thread), so sqlite's
// blocking I/O never stalls CAF's scheduler threads.
//
// Writes are batched: every persist message is buffered and a flush message
// to itself is queued behind them, so all writes that arrived together are
// committed by one flush; replies to persist requests are sent only after
// the commit ("acknowledged" means "on disk, survives kill -9").
//
// Interface:
//   (persist_atom, std::vector<fault_event>, std::vector<incident>) -> bool
//   (persist_atom, alert) -> bool
//   (faults_atom, int64_t since_ns, uint32_t limit) -> std::vector<fault_event>
//   (incidents_atom, uint32_t limit, bool open_only) -> std::vector<incident>
//   (incident_atom, std::string id) -> std::vector<incident>   (empty: unknown id)
//   (execution_atom, recovery_execution) -> bool   journal one step (committed at once)
//   (unfinished_atom) -> std::vector<recovery_execution>
// Incidents read back carry the actions of their latest recovery execution.
//   (tick_atom) -> void   internal: retention purge, hourly

#include <memory>
#include <string>

#include <caf/fwd.hpp>

#include "faultd/config.hpp"
#include "faultd/error.hpp"

namespace faultd {

namespace storage {
class store;
}

/// Opens the database (creating or migrating it) and checks it (PRAGMA
/// quick_check). A damaged one is moved aside to faultd.db.corrupt-<time>
/// (with its -wal and -shm) and a fresh one is started; `moved_aside` then
/// says where it went and why. Fails with the store's status if no database
/// can be opened.
status open_store(const config& cfg, std::shared_ptr<storage::store>& out,
                  std::string* moved_aside = nullptr);

/// Receives the storage actor's own faults (a full disk, no fds left): the
/// node's exhaustion is an incident, not only a log line.
using storage_reporter = std::function<void(fault_event)>;
/// Told how long each successful commit took (metrics).
using commit_observer = std::function<void(duration)>;

/// Spawns the actor that owns `db` (an opened store). A failed write is
/// reported through `report` once per streak of failures and, when it may
/// pass (disk full, fds, busy, I/O), kept and retried with growing delays.
caf::actor spawn_storage_actor(caf::actor_system& sys, std::shared_ptr<storage::store> db,
                               uint32_t retention_hours, storage_reporter report = {},
                               std::string db_dir = {}, commit_observer on_commit = {});

} // namespace faultd
