#include "actors/state_sync/state_sync_actor.hpp"

#include <algorithm>
#include <map>
#include <optional>
#include <random>
#include <set>

#include <caf/all.hpp>

#include "actors/type_ids.hpp"
#include "faultd/log.hpp"
#include "faultd/util.hpp"
#include "membership/board.hpp"
#include "replica/engine.hpp"
#include "replica/report.hpp"
#include "replica/store.hpp"
#include "replica/wire.hpp"
#include "state/registry.hpp"

namespace faultd {

namespace {

using replica::state_result;
using std::chrono::steady_clock;

constexpr auto tick_every = std::chrono::milliseconds(100);
constexpr auto fault_every = std::chrono::seconds(10);

/// A `faultctl state report` being answered: one report exchange per peer.
struct pending_report {
  caf::typed_response_promise<state_result> rp;
  std::map<uint64_t, std::string> exchanges; ///< exchange id -> peer
  std::vector<replica::peer_comparison> answered;
  steady_clock::time_point deadline;
};

struct state_sync_state {
  std::shared_ptr<node_context> ctx;
  std::shared_ptr<spdlog::logger> log = log::get("state_sync");
  std::unique_ptr<replica::engine> engine;
  replica::store db;
  std::mt19937_64 rng{std::random_device{}()};
  std::set<std::string> alive;  ///< peers alive at the last tick
  steady_clock::time_point next_sync;
  steady_clock::time_point next_collect;
  std::vector<pending_report> reports;
  /// state.db is open and loaded; until then the node takes no part in
  /// replication and requests fail `unavailable` (tick retries the open).
  bool ready = false;
  std::string db_error;
  steady_clock::time_point next_open;
  steady_clock::duration open_backoff = std::chrono::seconds(1);
  std::optional<steady_clock::time_point> db_fault_at;
  uint64_t unready = 0;         ///< peers' messages dropped while not ready
  /// The registry key being written from the registry itself (not mirrored
  /// back to it: it holds that value already, maybe a newer one).
  std::optional<std::string> from_registry;
  uint64_t malformed = 0;
  uint64_t strangers = 0;
  uint64_t rejected = 0;        ///< entries refused (checksum, key, clock)
  uint64_t rejected_unraised = 0;
  std::optional<replica::rejection> first_unraised;
  std::optional<steady_clock::time_point> raised_at;
  std::optional<steady_clock::time_point> drop_logged_at;
  static inline const char* name = "state_sync";
};

using self_ptr = caf::stateful_actor<state_sync_state>*;

fault_event state_fault(self_ptr self, std::string message) {
  fault_event f;
  f.id = make_uuid();
  f.time = system_clock_source().now();
  f.type = fault_type::data_inconsistency;
  f.severity = fault_severity::high;
  f.component = "state_sync";
  f.node = self->state.ctx->cfg.node.id;
  f.source = "state_sync";
  f.details["message"] = std::move(message);
  return f;
}

std::vector<std::string> alive_peers(self_ptr self) {
  std::vector<std::string> out;
  for (auto& m : self->state.ctx->members->snapshot())
    if (!m.self && m.state == membership::member_state::alive)
      out.push_back(m.id);
  return out;
}

bool is_member(self_ptr self, const std::string& id) {
  for (auto& m : self->state.ctx->members->snapshot())
    if (!m.self && m.id == id)
      return m.state == membership::member_state::alive
             || m.state == membership::member_state::suspect;
  return false;
}

/// Raises what was refused since the last fault (at most one per 10 s).
void raise_rejections(self_ptr self) {
  auto& s = self->state;
  auto now = steady_clock::now();
  if (s.rejected_unraised == 0 || (s.raised_at && now - *s.raised_at < fault_every))
    return;
  s.raised_at = now;
  auto& r = *s.first_unraised;
  auto f = state_fault(self, std::to_string(s.rejected_unraised)
                               + " replicated entries refused (first: key " + r.key + " from "
                               + r.from + ", " + std::string{replica::to_string(r.why)} + ")");
  f.details["peer"] = r.from;
  f.details["key"] = r.key;
  f.details["reason"] = std::string{replica::to_string(r.why)};
  f.details["refused"] = std::to_string(s.rejected_unraised);
  f.details["refused_total"] = std::to_string(s.rejected);
  s.ctx->send_to("analyzer", event_atom::value, std::move(f));
  s.rejected_unraised = 0;
  s.first_unraised.reset();
}

constexpr std::string_view registry_prefix = "registry/";

/// Writes replicated registry keys that changed in the map to the node's
/// registry files (its read-only mirror).
void mirror(self_ptr self, const std::vector<state_entry>& changed) {
  auto& s = self->state;
  if (!s.ctx->registry)
    return;
  for (const auto& e : changed) {
    if (e.key.compare(0, registry_prefix.size(), registry_prefix) != 0)
      continue;
    auto key = e.key.substr(registry_prefix.size());
    if (!state::registry::replicated(key) || (s.from_registry && *s.from_registry == e.key))
      continue;
    auto st = s.ctx->registry->apply_replicated(
      key, e.tombstone ? std::nullopt : std::optional<std::string>{e.value});
    if (!st.ok())
      s.log->error("registry-mirror-failed key={} error=\"{}\"", key, st.message());
  }
}

/// Sends what the engine queued, stores what changed, notes what it refused.
status after(self_ptr self) {
  auto& s = self->state;
  // Sent as this actor: membership relays only for local senders.
  auto membership = s.ctx->lookup("membership");
  for (auto& env : s.engine->take_outbox())
    if (membership)
      self->send(membership, state_atom::value, env.to, replica::encode(env.msg));
  status st;
  auto changed = s.engine->take_changed();
  if (!changed.empty()) {
    st = s.db.save(changed);
    if (!st.ok())
      s.log->error("state-save-failed keys={} error=\"{}\"", changed.size(), st.message());
    mirror(self, changed);
  }
  for (auto& r : s.engine->take_rejections()) {
    ++s.rejected;
    ++s.rejected_unraised;
    s.log->warn("state-entry-refused key={} from={} reason={} refused_total={}", r.key, r.from,
                replica::to_string(r.why), s.rejected);
    if (!s.first_unraised)
      s.first_unraised = r;
  }
  raise_rejections(self);
  return st;
}

void dropped(self_ptr self, uint64_t& counter, const char* what, const std::string& detail) {
  auto& s = self->state;
  ++counter;
  auto now = steady_clock::now();
  if (s.drop_logged_at && now - *s.drop_logged_at < std::chrono::seconds(1))
    return;
  s.drop_logged_at = now;
  s.log->warn("state-message-dropped reason=\"{}\" detail=\"{}\" malformed_total={} "
              "strangers_total={}",
              what, detail, s.malformed, s.strangers);
}

void finish_reports(self_ptr self, bool force_all = false) {
  auto& s = self->state;
  auto now = steady_clock::now();
  for (auto it = s.reports.begin(); it != s.reports.end();) {
    auto& p = *it;
    for (auto e = p.exchanges.begin(); e != p.exchanges.end();) {
      if (auto r = s.engine->report_of(e->first)) {
        p.answered.push_back(*r);
        s.engine->forget_report(e->first);
        e = p.exchanges.erase(e);
      } else {
        ++e;
      }
    }
    if (!p.exchanges.empty() && now < p.deadline && !force_all) {
      ++it;
      continue;
    }
    std::vector<std::string> silent;
    for (auto& [id, peer] : p.exchanges) {
      s.engine->forget_report(id);
      silent.push_back(peer);
    }
    state_result r;
    r.report = replica::make_report(std::move(p.answered), std::move(silent));
    p.rp.deliver(std::move(r));
    it = s.reports.erase(it);
  }
}

/// Brings the registry files and the map together once the map is loaded:
/// the map's entry wins where it has one (a tombstone erases the file); a
/// replicated key only the files know (written before replication, or
/// while state.db could not be opened) is written to the map.
void reconcile_registry(self_ptr self) {
  auto& s = self->state;
  if (!s.ctx->registry)
    return;
  std::vector<state_entry> known;
  for (const auto& [key, e] : s.engine->map().entries())
    if (key.compare(0, registry_prefix.size(), registry_prefix) == 0)
      known.push_back(e);
  mirror(self, known);
  size_t adopted = 0;
  for (const auto& [key, value] : s.ctx->registry->list()) {
    if (!state::registry::replicated(key)
        || s.engine->map().find(std::string{registry_prefix} + key) != nullptr)
      continue;
    state_entry written;
    if (s.engine->put(std::string{registry_prefix} + key, value, written).ok())
      ++adopted;
  }
  if (adopted > 0)
    s.log->info("registry-adopted keys={}", adopted);
  after(self);
}

/// Opens and loads state.db. A node whose state.db cannot be opened (a full
/// disk, a read-only mount, a damaged file sqlite refuses) keeps running
/// without replicated state rather than failing its supervisor over and
/// over: it logs and raises the reason, answers requests `unavailable`,
/// drops peers' messages (anti-entropy brings what it missed once it is
/// back) and tries again, 1s after the first failure, up to every 30s.
bool open_db(self_ptr self) {
  auto& s = self->state;
  auto path = s.ctx->cfg.node.data_dir + "/state.db";
  auto st = s.db.open(path);
  std::vector<state_entry> loaded;
  std::vector<std::string> corrupt;
  if (st.ok())
    st = s.db.load(loaded, corrupt);
  auto now = steady_clock::now();
  if (!st.ok()) {
    bool changed = st.message() != s.db_error;
    s.db_error = st.message();
    s.next_open = now + s.open_backoff;
    s.log->log(changed ? spdlog::level::err : spdlog::level::debug,
               "state-db-unavailable path={} error=\"{}\" retry_in={}", path, st.message(),
               format_duration(s.open_backoff));
    s.open_backoff = std::min<steady_clock::duration>(s.open_backoff * 2, std::chrono::seconds(30));
    if (changed || !s.db_fault_at || now - *s.db_fault_at >= std::chrono::minutes(1)) {
      s.db_fault_at = now;
      auto f = state_fault(self, "state.db cannot be opened: " + st.message()
                                   + "; replicated state is unavailable on this node");
      f.details["path"] = path;
      s.ctx->send_to("analyzer", event_atom::value, std::move(f));
    }
    return false;
  }
  size_t refused = 0;
  for (auto& e : loaded)
    if (s.engine->load(e) != replica::apply_result::applied)
      ++refused;
  s.engine->take_changed();
  s.log->info("state-loaded path={} keys={} live={} refused={} corrupt={}", path, loaded.size(),
              s.engine->map().live_count(), refused, corrupt.size());
  if (!s.db_error.empty())
    s.log->info("state-db-available path={} dropped_while_unavailable={}", path, s.unready);
  if (!corrupt.empty()) {
    auto f = state_fault(self, std::to_string(corrupt.size())
                                 + " entries in state.db fail their checksum (first: "
                                 + corrupt.front()
                                 + "); they are left out and repaired from peers");
    f.details["keys"] = std::to_string(corrupt.size());
    f.details["first_key"] = corrupt.front();
    s.ctx->send_to("analyzer", event_atom::value, std::move(f));
  }
  s.ready = true;
  s.db_error.clear();
  s.next_sync = now + s.ctx->cfg.state_sync.sync_interval;
  s.next_collect = now;
  reconcile_registry(self);
  // Whoever is alive now gets an exchange at the next tick (they may hold
  // what this node missed).
  s.alive.clear();
  return true;
}

void tick(self_ptr self) {
  auto& s = self->state;
  auto now = steady_clock::now();
  if (!s.ready && (now < s.next_open || !open_db(self))) {
    self->delayed_send(self, tick_every, tick_atom::value);
    return;
  }
  auto peers = alive_peers(self);
  s.engine->set_peers(peers);
  // A peer seen alive for the first time (joined, thawed, restarted):
  // exchange with it now rather than at the next interval.
  std::set<std::string> now_alive(peers.begin(), peers.end());
  for (auto& p : peers)
    if (s.alive.count(p) == 0)
      s.engine->start_exchange(p);
  s.alive = std::move(now_alive);
  s.engine->tick();
  if (now >= s.next_sync) {
    s.next_sync = now + s.ctx->cfg.state_sync.sync_interval;
    if (!peers.empty())
      s.engine->start_exchange(peers[s.rng() % peers.size()]);
  }
  if (now >= s.next_collect) {
    s.next_collect = now + std::chrono::minutes(1);
    auto gone = s.engine->map().collect_tombstones();
    if (!gone.empty()) {
      if (auto st = s.db.remove(gone); !st.ok())
        s.log->error("state-collect-failed keys={} error=\"{}\"", gone.size(), st.message());
      else
        s.log->info("state-tombstones-collected keys={}", gone.size());
    }
  }
  finish_reports(self);
  after(self);
  self->delayed_send(self, tick_every, tick_atom::value);
}

state_result failed(status st) {
  state_result r;
  r.st = std::move(st);
  return r;
}

/// The answer to a request while state.db is not open (nullopt once it is).
std::optional<state_result> unavailable(self_ptr self) {
  auto& s = self->state;
  if (s.ready)
    return std::nullopt;
  return failed({errc::unavailable,
                 "replicated state is unavailable on this node: state.db cannot be opened ("
                   + s.db_error + ")"});
}

state_result put(self_ptr self, const std::string& key, std::string value) {
  auto& s = self->state;
  state_entry written;
  if (auto st = s.engine->put(key, std::move(value), written); !st.ok())
    return failed(st);
  if (auto st = after(self); !st.ok())
    return failed(st);
  state_result r;
  r.entries.push_back(std::move(written));
  return r;
}

state_result restore(self_ptr self, const std::string& id, const std::string& prefix) {
  auto& s = self->state;
  state_result r;
  auto which = id;
  if (which == "latest") {
    std::vector<replica::snapshot_info> all;
    if (auto st = s.db.snapshots(all); !st.ok())
      return failed(st);
    if (all.empty())
      return failed({errc::not_found, "no snapshot on this node (faultctl state snapshot)"});
    which = all.front().id;
    r.snapshots.push_back(all.front());
  }
  std::vector<state_entry> snap;
  if (auto st = s.db.snapshot_entries(which, snap); !st.ok())
    return failed(st);
  std::set<std::string> in_snapshot;
  for (auto& e : snap) {
    if (e.key.compare(0, prefix.size(), prefix) != 0)
      continue;
    in_snapshot.insert(e.key);
    auto* now = s.engine->map().get(e.key);
    if (now != nullptr && now->checksum == e.checksum && now->value == e.value)
      continue; // already what the snapshot holds
    state_entry written;
    if (auto st = s.engine->put(e.key, e.value, written); !st.ok())
      return failed(st);
    ++r.count;
  }
  for (auto& e : s.engine->map().list(prefix))
    if (in_snapshot.count(e.key) == 0 && s.engine->erase(e.key))
      ++r.deleted;
  if (auto st = after(self); !st.ok())
    return failed(st);
  s.log->info("state-restored snapshot={} prefix=\"{}\" written={} deleted={}", which, prefix,
              r.count, r.deleted);
  return r;
}

std::string snapshot_id() {
  auto now = std::chrono::system_clock::now();
  auto t = std::chrono::system_clock::to_time_t(now);
  std::tm tm{};
  gmtime_r(&t, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y%m%dT%H%M%SZ", &tm);
  return std::string{"snap-"} + buf + "-" + make_uuid().substr(0, 4);
}

} // namespace

caf::actor spawn_state_sync_actor(caf::actor_system& sys, std::shared_ptr<node_context> ctx) {
  return sys.spawn<caf::detached>([ctx](caf::stateful_actor<state_sync_state>* self)
                                    -> caf::behavior {
    auto& s = self->state;
    s.ctx = ctx;
    const auto& cfg = ctx->cfg.state_sync;
    replica::engine_params p;
    p.map.self = ctx->cfg.node.id;
    p.map.tombstone_grace = cfg.tombstone_grace;
    // Every value fits one message with its key and envelope.
    p.map.max_value_size = std::min<size_t>(size_t{1} << 20,
                                            cfg.max_message_size - replica::message_overhead
                                              - 512);
    p.fanout = cfg.fanout;
    p.max_message_size = cfg.max_message_size;
    p.window.timeout = std::chrono::duration_cast<steady_clock::duration>(cfg.timeout);
    p.window.retries = cfg.retry_count;
    s.engine = std::make_unique<replica::engine>(p, system_clock_source(), s.rng());
    open_db(self);
    self->send(self, tick_atom::value);
    return {
      [self](state_atom, const std::string& bytes) {
        auto& s = self->state;
        if (!s.ready) {
          dropped(self, s.unready, "state.db not open", s.db_error);
          return;
        }
        replica::state_message m;
        if (auto st = replica::decode(bytes, m); !st.ok()) {
          dropped(self, s.malformed, "malformed", st.message());
          return;
        }
        if (m.from == s.ctx->cfg.node.id || !is_member(self, m.from)) {
          dropped(self, s.strangers, "not from a member", m.from);
          return;
        }
        s.engine->receive(m);
        if (m.kind == replica::msg_kind::versions && m.report)
          finish_reports(self);
        after(self);
      },
      [self](tick_atom) { tick(self); },
      [self](sreg_atom, const std::string& key, std::string& value, bool erased) {
        auto& s = self->state;
        auto full = std::string{registry_prefix} + key;
        if (!s.ready) {
          // The files hold it; reconcile_registry writes it to the map once
          // state.db opens.
          s.log->warn("registry-change-not-replicated key={} reason=\"state.db is not open\"",
                      key);
          return;
        }
        s.from_registry = full;
        state_entry written;
        status st;
        if (erased)
          s.engine->erase(full);
        else
          st = s.engine->put(full, std::move(value), written);
        if (!st.ok())
          s.log->error("registry-change-not-replicated key={} error=\"{}\"", key, st.message());
        after(self);
        s.from_registry.reset();
      },
      [self](sget_atom, const std::string& key) -> state_result {
        if (auto r = unavailable(self))
          return *r;
        auto* e = self->state.engine->map().get(key);
        if (e == nullptr)
          return failed({errc::not_found, "no key " + key});
        state_result r;
        r.entries.push_back(*e);
        return r;
      },
      [self](sput_atom, const std::string& key, std::string& value) -> state_result {
        if (auto r = unavailable(self))
          return *r;
        return put(self, key, std::move(value));
      },
      [self](sdel_atom, const std::string& key) -> state_result {
        if (auto r = unavailable(self))
          return *r;
        auto& s = self->state;
        state_result r;
        r.count = s.engine->erase(key) ? 1 : 0;
        if (auto st = after(self); !st.ok())
          return failed(st);
        return r;
      },
      [self](slist_atom, const std::string& prefix) -> state_result {
        if (auto r = unavailable(self))
          return *r;
        state_result r;
        r.entries = self->state.engine->map().list(prefix);
        return r;
      },
      [self](sreport_atom) -> caf::result<state_result> {
        if (auto r = unavailable(self))
          return *r;
        auto& s = self->state;
        pending_report p;
        p.rp = self->make_response_promise<state_result>();
        p.deadline = steady_clock::now()
                     + std::min<steady_clock::duration>(
                       std::chrono::seconds(2),
                       std::chrono::duration_cast<steady_clock::duration>(
                         s.ctx->cfg.state_sync.timeout));
        for (auto& peer : alive_peers(self))
          p.exchanges[s.engine->start_exchange(peer, true)] = peer;
        auto rp = p.rp;
        s.reports.push_back(std::move(p));
        finish_reports(self);
        after(self);
        return rp;
      },
      [self](ssnap_atom) -> state_result {
        if (auto r = unavailable(self))
          return *r;
        auto& s = self->state;
        replica::snapshot_info info;
        info.id = snapshot_id();
        info.created_at = system_clock_source().now();
        auto live = s.engine->map().list();
        info.keys = live.size();
        if (auto st = s.db.snapshot(info.id, info.created_at, live); !st.ok())
          return failed(st);
        s.log->info("state-snapshot id={} keys={}", info.id, info.keys);
        state_result r;
        r.snapshots.push_back(info);
        return r;
      },
      [self](ssnaps_atom) -> state_result {
        if (auto r = unavailable(self))
          return *r;
        state_result r;
        if (auto st = self->state.db.snapshots(r.snapshots); !st.ok())
          return failed(st);
        return r;
      },
      [self](srestore_atom, const std::string& id, const std::string& prefix) -> state_result {
        if (auto r = unavailable(self))
          return *r;
        return restore(self, id, prefix);
      },
      [self](ssync_atom) -> state_result {
        if (auto r = unavailable(self))
          return *r;
        auto& s = self->state;
        state_result r;
        for (auto& peer : alive_peers(self)) {
          s.engine->start_exchange(peer);
          ++r.count;
        }
        after(self);
        return r;
      },
    };
  });
}

} // namespace faultd
