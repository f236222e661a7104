#include "actors/storage/storage_actor.hpp"

#include <cerrno>
#include <cstdio>
#include <unordered_map>

#include <caf/all.hpp>

#include "actors/type_ids.hpp"
#include "faultd/log.hpp"
#include "faultd/util.hpp"
#include "storage/failure.hpp"
#include "storage/store.hpp"

namespace faultd {

namespace {

/// "20261130T225501Z" for file names.
std::string compact_time(timestamp t) {
  auto text = format_timestamp(t);  // 2026-11-30T22:55:01.123Z
  std::string out;
  for (char c : text.substr(0, 19))
    if (c != '-' && c != ':')
      out += c;
  return out + "Z";
}

using flush_atom = caf::atom_constant<caf::atom("flush")>;
using retry_atom = caf::atom_constant<caf::atom("stretry")>;

constexpr auto purge_interval = std::chrono::minutes(10);

/// What is written in the next commit.
struct pending_batch {
  std::vector<fault_event> events;
  std::vector<incident> incidents;
  std::vector<alert> alerts;
  bool empty() const { return events.empty() && incidents.empty() && alerts.empty(); }
};

struct storage_state {
  std::shared_ptr<storage::store> db; ///< opened before spawn; only this actor uses it
  uint32_t retention_hours = 24;
  // The pending batch (shared with the exit handler, which runs after CAF
  // destroyed this state) and the requests waiting for its commit.
  std::shared_ptr<pending_batch> batch = std::make_shared<pending_batch>();
  std::vector<caf::response_promise> waiting;
  bool flush_queued = false;
  uint64_t write_failures = 0;
  // A failed batch is kept and retried (a full disk, no fds) with growing
  // delays; its fault is raised once per streak of failures.
  storage_reporter report;
  commit_observer on_commit;
  std::string db_dir;
  duration retry_delay{0};
  bool retry_queued = false;
  std::chrono::steady_clock::time_point last_read_retry{};
  bool fault_raised = false;
  uint64_t dropped = 0;
  status last_failure;
  std::shared_ptr<spdlog::logger> log = log::get("storage");
  static inline const char* name = "storage";
};

using self_ptr = caf::stateful_actor<storage_state>*;

void queue_flush(self_ptr self) {
  if (!self->state.flush_queued) {
    self->state.flush_queued = true;
    self->send(self, flush_atom::value); // lands behind everything already queued
  }
}

/// A storm folds thousands of events into one incident: only the latest
/// version of each incident in a batch is stored.
void keep_latest_incidents(std::vector<incident>& xs) {
  if (xs.size() < 2)
    return;
  std::unordered_map<std::string, size_t> last;
  for (size_t i = 0; i < xs.size(); ++i)
    last[xs[i].id] = i;
  if (last.size() == xs.size())
    return;
  std::vector<incident> latest;
  latest.reserve(last.size());
  for (size_t i = 0; i < xs.size(); ++i)
    if (last[xs[i].id] == i)
      latest.push_back(std::move(xs[i]));
  xs = std::move(latest);
}

/// Most events kept for a retry; past it the oldest are dropped (counted):
/// a disk that stays full must not exhaust memory too.
constexpr size_t max_retained_events = 200000;
constexpr size_t max_retained_alerts = 10000;

void keep_for_retry(self_ptr self) {
  auto& st = self->state;
  if (st.batch->events.size() > max_retained_events) {
    auto excess = st.batch->events.size() - max_retained_events;
    auto& ev = st.batch->events;
    ev.erase(ev.begin(), ev.begin() + static_cast<std::ptrdiff_t>(excess));
    st.dropped += excess;
    st.log->error("storage-retry-buffer-full dropped_events={} dropped_total={}", excess, st.dropped);
  }
  if (st.batch->alerts.size() > max_retained_alerts) {
    auto excess = st.batch->alerts.size() - max_retained_alerts;
    auto& al = st.batch->alerts;
    al.erase(al.begin(), al.begin() + static_cast<std::ptrdiff_t>(excess));
    st.dropped += excess;
    st.log->error("storage-retry-buffer-full dropped_alerts={} dropped_total={}", excess, st.dropped);
  }
  st.retry_delay = st.retry_delay == duration{0}
                     ? duration{std::chrono::milliseconds(250)}
                     : std::min<duration>(st.retry_delay * 2, std::chrono::seconds(5));
  if (!st.retry_queued) {
    st.retry_queued = true;
    self->delayed_send(self, st.retry_delay, retry_atom::value);
  }
}

/// A batch failed: the node's own exhaustion (disk, fds) is raised as a
/// fault once per streak, and the batch is kept for a retry when the
/// failure may pass; otherwise it is dropped, counted and logged.
void failed(self_ptr self, const status& res) {
  auto& st = self->state;
  ++st.write_failures;
  st.log->error("storage-batch-failed events={} incidents={} alerts={} failures={} error={}",
                st.batch->events.size(), st.batch->incidents.size(), st.batch->alerts.size(),
                st.write_failures, res.to_string());
  auto kind = storage::classify_failure(res, st.db_dir);
  if (!st.fault_raised && st.report) {
    st.fault_raised = true;
    st.last_failure = res;
    st.report(storage::failure_fault(kind, res, system_clock_source().now()));
  }
  if (kind.transient) {
    keep_for_retry(self);
    return;
  }
  st.dropped += st.batch->events.size() + st.batch->incidents.size() + st.batch->alerts.size();
  st.log->error("storage-batch-dropped dropped_total={} error={}", st.dropped, res.to_string());
  *st.batch = pending_batch{};
}

/// Writes work again: the retried data is stored, the fault clears.
void recovered(self_ptr self) {
  auto& st = self->state;
  st.fault_raised = false;
  st.retry_delay = duration{0};
  st.log->info("storage-writes-recovered failures={}", st.write_failures);
  if (!st.report)
    return;
  auto clear = storage::failure_fault(storage::classify_failure(st.last_failure, st.db_dir),
                                      st.last_failure, system_clock_source().now());
  clear.clears = true;
  clear.severity = fault_severity::low;
  st.report(std::move(clear));
}

void flush(self_ptr self, bool for_read = false) {
  auto& st = self->state;
  st.flush_queued = false;
  // While a failed batch waits for its retry, new data joins it: writing
  // now would only fail again at the rate data arrives. A reader may try
  // early (at most every 250 ms), so that what it asks for is there as soon
  // as the disk has room again.
  if (st.retry_queued) {
    auto now = std::chrono::steady_clock::now();
    if (!for_read || now - st.last_read_retry < std::chrono::milliseconds(250))
      return;
    st.last_read_retry = now;
  }
  if (st.batch->empty() && st.waiting.empty())
    return;
  keep_latest_incidents(st.batch->incidents);
  auto began = std::chrono::steady_clock::now();
  auto res = st.db->write_batch(st.batch->events, st.batch->incidents, st.batch->alerts);
  if (res.ok() && st.on_commit)
    st.on_commit(std::chrono::steady_clock::now() - began);
  if (res.ok()) {
    *st.batch = pending_batch{};
    if (st.fault_raised)
      recovered(self);
  } else {
    failed(self, res);
  }
  auto waiting = std::move(st.waiting);
  st.waiting.clear();
  for (auto& rp : waiting) {
    if (res.ok())
      rp.deliver(true);
    else
      rp.deliver(caf::make_error(caf::sec::runtime_error, res.to_string()));
  }
}

/// Fills an incident's actions from its latest recovery execution.
void attach_actions(self_ptr self, incident& x) {
  std::vector<recovery_execution> execs;
  if (self->state.db->executions_for_incident(x.id, execs).ok() && !execs.empty()) {
    x.actions = execs.back().actions;
    x.recovery_status = execs.back().status;
    x.recovery_error = execs.back().error;
  }
}

/// Queues a flush; a request gets its answer after the commit, a plain send
/// (fire and forget) gets none.
caf::result<bool> enqueue(self_ptr self) {
  queue_flush(self);
  if (!self->current_message_id().is_request())
    return caf::delegated<bool>{};
  self->state.waiting.push_back(self->make_response_promise());
  return self->state.waiting.back();
}

caf::behavior storage_actor(self_ptr self, std::shared_ptr<storage::store> db, uint32_t retention,
                            storage_reporter report, std::string db_dir,
                            commit_observer on_commit) {
  auto& st = self->state;
  st.db = std::move(db);
  st.retention_hours = retention;
  st.report = std::move(report);
  st.on_commit = std::move(on_commit);
  st.db_dir = std::move(db_dir);
  self->send(self, tick_atom::value);
  // The last batch is written when the actor ends. CAF 0.17 destroys the
  // state (on_exit) before attached functors run, so this one holds its own
  // references to the store and the batch and never touches self->state.
  self->attach_functor([db = st.db, batch = st.batch](const caf::error&) {
    if (batch->empty())
      return;
    keep_latest_incidents(batch->incidents);
    if (auto res = db->write_batch(batch->events, batch->incidents, batch->alerts); !res.ok())
      log::get("storage")->error("storage-exit-flush-failed events={} error={}",
                                 batch->events.size(), res.to_string());
  });
  self->set_error_handler([self](caf::error& err) {
    self->state.log->warn("storage-unexpected-error error={}", self->system().render(err));
  });
  return {
    [=](persist_atom, std::vector<fault_event>& events, std::vector<incident>& incidents)
      -> caf::result<bool> {
      auto& s = self->state;
      s.batch->events.insert(s.batch->events.end(), std::make_move_iterator(events.begin()),
                      std::make_move_iterator(events.end()));
      s.batch->incidents.insert(s.batch->incidents.end(),
                                std::make_move_iterator(incidents.begin()),
                                std::make_move_iterator(incidents.end()));
      if (s.retry_queued && s.batch->incidents.size() > 1000)
        keep_latest_incidents(s.batch->incidents);  // bounded while the disk is full
      return enqueue(self);
    },
    [=](persist_atom, const alert& a) -> caf::result<bool> {
      self->state.batch->alerts.push_back(a);
      return enqueue(self);
    },
    [=](flush_atom) { flush(self); },
    [=](retry_atom) {
      self->state.retry_queued = false;
      flush(self);
    },
    [=](faults_atom, int64_t since_ns, uint32_t limit) -> caf::result<std::vector<fault_event>> {
      flush(self, true); // read your own writes
      std::vector<fault_event> out;
      if (auto res = self->state.db->events_since(from_unix_nanos(since_ns), limit, out); !res.ok())
        return caf::make_error(caf::sec::runtime_error, res.to_string());
      return out;
    },
    [=](incidents_atom, uint32_t limit, bool open_only) -> caf::result<std::vector<incident>> {
      flush(self, true);
      std::vector<incident> out;
      if (auto res = self->state.db->incidents(limit, open_only, out); !res.ok())
        return caf::make_error(caf::sec::runtime_error, res.to_string());
      for (auto& x : out)
        attach_actions(self, x);
      return out;
    },
    [=](alerts_atom, uint32_t limit) -> caf::result<std::vector<alert>> {
      flush(self, true);
      std::vector<alert> out;
      if (auto res = self->state.db->alerts(limit, out); !res.ok())
        return caf::make_error(caf::sec::runtime_error, res.to_string());
      return out;
    },
    [=](incident_atom, const std::string& id) -> caf::result<std::vector<incident>> {
      flush(self, true);
      incident x;
      auto res = self->state.db->find_incident(id, x);
      if (res.code() == errc::not_found)
        return std::vector<incident>{};
      if (!res.ok())
        return caf::make_error(caf::sec::runtime_error, res.to_string());
      attach_actions(self, x);
      return std::vector<incident>{std::move(x)};
    },
    [=](execution_atom, const recovery_execution& x) -> caf::result<bool> {
      flush(self); // keep the journal in order with everything before it
      if (auto res = self->state.db->put_execution(x); !res.ok()) {
        self->state.log->error("journal-write-failed execution={} error={}", x.id,
                               res.to_string());
        return caf::make_error(caf::sec::runtime_error, res.to_string());
      }
      return true;
    },
    [=](unfinished_atom) -> caf::result<std::vector<recovery_execution>> {
      std::vector<recovery_execution> out;
      if (auto res = self->state.db->unfinished_executions(out); !res.ok())
        return caf::make_error(caf::sec::runtime_error, res.to_string());
      return out;
    },
    [=](tick_atom) {
      auto& s = self->state;
      flush(self);
      auto cutoff = system_clock_source().now() - std::chrono::hours(s.retention_hours);
      uint64_t deleted = 0;
      if (auto res = s.db->purge_before(cutoff, deleted); !res.ok())
        s.log->error("retention-purge-failed error={}", res.to_string());
      else if (deleted > 0)
        s.log->info("retention-purged rows={} older_than_hours={}", deleted, s.retention_hours);
      self->delayed_send(self, purge_interval, tick_atom::value);
    },
  };
}

} // namespace

status open_store(const config& cfg, std::shared_ptr<storage::store>& out,
                  std::string* moved_aside) {
  auto path = cfg.db_path();
  auto slash = path.rfind('/');
  if (slash != std::string::npos && slash > 0)
    if (auto err = make_dirs(path.substr(0, slash)); !err.empty())
      return {errc::storage_open_failed, err};
  auto db = std::make_shared<storage::store>(cfg.storage.busy_timeout);
  auto st = db->open(path);
  if (st.ok())
    st = db->check_integrity();  // PRAGMA quick_check: damage is found now, not mid-write
  if (st.code() == errc::storage_corrupt) {
    // Keep the damaged file for a person to look at, and start on a fresh
    // one: the managed services matter more than the history.
    db->close();
    auto aside = path + ".corrupt-" + compact_time(system_clock_source().now());
    for (const char* suffix : {"", "-wal", "-shm"})
      if (::rename((path + suffix).c_str(), (aside + suffix).c_str()) != 0 && errno != ENOENT)
        return {errc::storage_corrupt, st.message() + "; cannot move it aside: " + errno_text(errno)};
    log::get("storage")->error("storage-corrupt-moved-aside path={} aside={} error=\"{}\"", path,
                               aside, st.message());
    if (moved_aside != nullptr)
      *moved_aside = aside + " (" + st.message() + ")";
    st = db->open(path);
  }
  if (!st.ok())
    return st;
  out = std::move(db);
  return {};
}

caf::actor spawn_storage_actor(caf::actor_system& sys, std::shared_ptr<storage::store> db,
                               uint32_t retention_hours, storage_reporter report,
                               std::string db_dir, commit_observer on_commit) {
  return sys.spawn<caf::detached>(storage_actor, std::move(db), retention_hours, std::move(report),
                                  std::move(db_dir), std::move(on_commit));
}

} // namespace faultd
