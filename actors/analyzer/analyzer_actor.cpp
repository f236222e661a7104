#include "actors/analyzer/analyzer_actor.hpp"

#include <memory>
#include <unordered_map>

#include <caf/all.hpp>

#include "actors/type_ids.hpp"
#include "analyzer/analyzer.hpp"
#include "faultd/log.hpp"
#include "metrics/hub.hpp"

namespace faultd {

namespace {

constexpr auto tick_interval = std::chrono::seconds(1);

using flush_atom = caf::atom_constant<caf::atom("flush")>;

struct analyzer_state {
  std::shared_ptr<node_context> ctx;
  // Writes for storage, batched: a storm of duplicates becomes one message
  // with many events and the latest copy of its one incident.
  std::vector<fault_event> pending_events;
  std::vector<incident> pending_incidents;
  std::unordered_map<std::string, size_t> pending_index; ///< incident id -> position
  bool flush_queued = false;
  /// Incidents changed since faultd_incidents_open was last counted (it is
  /// counted at most once a tick, not once per event of a storm).
  bool counts_stale = true;
  std::unique_ptr<analysis::analyzer> an;
  uint64_t events = 0;
  std::shared_ptr<spdlog::logger> log = log::get("analyzer");
  static inline const char* name = "analyzer";
};

using self_ptr = caf::stateful_actor<analyzer_state>*;

/// Logs what changed and tells alerting and recovery about it. `fault_time`
/// is when the event that (re)opened an incident was observed.
void announce(self_ptr self, const analysis::result& r, timestamp fault_time = {}) {
  auto& st = self->state;
  for (auto& x : r.changed) {
    if (x.status == incident_status::closed) {
      st.log->info("incident-closed id={} component={} type={} reason=\"{}\"", x.id, x.component,
                   to_string(x.type), x.close_reason);
      st.ctx->send_to("recovery", closed_atom::value, x);
      st.ctx->send_to("alerting", closed_atom::value, x);
    } else if ((r.opened || r.reopened) && x.id == r.incident_id) {
      st.log->info("incident-{} id={} component={} type={} severity={} root_cause={}",
                   r.opened ? "opened" : "reopened", x.id, x.component, to_string(x.type),
                   to_string(x.severity), x.root_cause.empty() ? "-" : x.root_cause);
      st.ctx->send_to("alerting", opened_atom::value, x, x.last_seen_at);
      if (x.root_cause.empty()) // symptoms recover with their root
        st.ctx->send_to("recovery", opened_atom::value, x,
                        fault_time.time_since_epoch().count() > 0 ? fault_time : x.last_seen_at);
    }
  }
  for (auto& a : r.alerts)
    st.ctx->send_to("alerting", alert_atom::value, a);
  if (!r.changed.empty())
    st.counts_stale = true;
}

caf::behavior running(self_ptr self);

/// Tells the application's incident listeners (embedded_node::subscribe).
void tell_listeners(self_ptr self, const std::vector<incident>& changed) {
  for (const auto& x : changed)
    self->state.ctx->listeners->notify(x);
}

/// Sends the pending batch to storage.
void flush(self_ptr self) {
  auto& st = self->state;
  st.flush_queued = false;
  if (st.pending_events.empty() && st.pending_incidents.empty())
    return;
  tell_listeners(self, st.pending_incidents);
  if (!st.ctx->send_to("storage", persist_atom::value, std::move(st.pending_events),
                       std::move(st.pending_incidents)))
    st.log->error("storage-unavailable dropped_events={} dropped_incidents={}",
                  st.pending_events.size(), st.pending_incidents.size());
  st.pending_events.clear();
  st.pending_incidents.clear();
  st.pending_index.clear();
}

/// Adds to the pending batch; the flush message queued behind whatever is
/// already in the mailbox sends it.
void persist(self_ptr self, const fault_event* e, const analysis::result& r) {
  auto& st = self->state;
  if (e != nullptr)
    st.pending_events.push_back(*e);
  for (auto& x : r.changed) {
    auto [it, added] = st.pending_index.emplace(x.id, st.pending_incidents.size());
    if (added)
      st.pending_incidents.push_back(x);
    else
      st.pending_incidents[it->second] = x;
  }
  if (!st.flush_queued && (!st.pending_events.empty() || !st.pending_incidents.empty())) {
    st.flush_queued = true;
    self->send(self, flush_atom::value);
  }
}

caf::behavior analyzer_actor(self_ptr self, std::shared_ptr<node_context> ctx) {
  auto& st = self->state;
  st.ctx = std::move(ctx);
  st.an = std::make_unique<analysis::analyzer>(analysis::make_settings(st.ctx->cfg),
                                               analysis::make_dependency_graph(st.ctx->cfg.services),
                                               system_clock_source());
  self->set_error_handler([self](caf::error& err) {
    self->state.log->warn("analyzer-unexpected-error error={}", self->system().render(err));
  });
  self->delayed_send(self, tick_interval, tick_atom::value);
  // Until the open incidents are restored from storage, every other message
  // waits in the mailbox (skip), so nothing is folded into a fresh incident
  // that should have gone to a restored one.
  self->set_default_handler(caf::skip);
  self->send(self, restore_atom::value);
  return {
    [=](restore_atom) {
      auto storage = self->state.ctx->storage_or_retry(self, restore_atom::value);
      if (!storage)
        return;
      self->request(storage, std::chrono::seconds(30), incidents_atom::value, uint32_t{100000},
                    true)
        .then(
          [=](const std::vector<incident>& open) {
            self->state.an->restore(open);
            if (!open.empty())
              self->state.log->info("incidents-restored open={}", open.size());
            self->become(running(self));
          },
          [=](const caf::error& err) {
            self->state.log->error("incidents-restore-failed error={}",
                                   self->system().render(err));
            self->become(running(self));
          });
    },
  };
}

caf::behavior running(self_ptr self) {
  self->set_default_handler(caf::print_and_drop);
  return {
    [=](caf::get_atom) { return self->state.events; },
    [=](flush_atom) { flush(self); },
    [=](event_atom, const fault_event& e) {
      ++self->state.events;
      auto r = self->state.an->on_event(e);
      persist(self, &e, r);
      if (r.opened || r.reopened)
        flush(self); // the incident row goes out before recovery journals for it
      announce(self, r, e.time);
    },
    [=](inject_atom, const fault_event& e) -> caf::result<std::string, std::string> {
      ++self->state.events;
      auto r = self->state.an->on_event(e);
      auto rp = self->make_response_promise<std::string, std::string>();
      auto storage = self->state.ctx->lookup("storage");
      if (!storage) {
        rp.deliver(caf::make_error(caf::sec::runtime_error, "storage is not running"));
        return rp;
      }
      auto event_id = e.id;
      auto incident_id = r.incident_id;
      // Reply once stored (acknowledged = survives kill -9), then let
      // recovery start: its journal entry must come after the incident row.
      flush(self); // keep the order of earlier writes
      self->request(storage, caf::infinite, persist_atom::value, std::vector<fault_event>{e},
                    r.changed)
        .then(
          [=](bool) mutable {
            rp.deliver(event_id, incident_id);
            tell_listeners(self, r.changed);
            announce(self, r, e.time);
          },
          [=](const caf::error& err) mutable {
            rp.deliver(err);
            tell_listeners(self, r.changed);
            announce(self, r, e.time);
          });
      return rp;
    },
    [=](ack_atom, const std::string& id) -> caf::result<incident> {
      analysis::result r;
      if (!self->state.an->acknowledge(id, r))
        return caf::make_error(caf::sec::runtime_error, "no open incident with id " + id);
      persist(self, nullptr, r);
      announce(self, r);
      return r.changed.front();
    },
    [=](close_atom, const std::string& id, const std::string& reason) -> caf::result<incident> {
      analysis::result r;
      if (!self->state.an->close_by_operator(id, reason, r))
        return caf::make_error(caf::sec::runtime_error, "no open incident with id " + id);
      persist(self, nullptr, r);
      announce(self, r);
      for (auto& x : r.changed)
        if (x.id == id)
          return x;
      return r.changed.front();
    },
    [=](preview_atom, const fault_event& e)
      -> caf::result<std::string, std::string, bool, bool> {
      auto p = self->state.an->preview(e);
      return caf::result<std::string, std::string, bool, bool>(p.what, p.incident_id, p.recovers,
                                                               p.alert);
    },
    [=](recovery_atom, const std::string& id, const std::string& strategy,
        const std::vector<action_execution>& actions) {
      persist(self, nullptr, self->state.an->set_recovery(id, strategy, actions));
    },
    [=](recovery_atom, const recovery_execution& x) {
      persist(self, nullptr, self->state.an->set_recovery(x));
    },
    [=](waited_atom, const std::string& id, const std::string& why) {
      persist(self, nullptr, self->state.an->set_budget_wait(id, why));
    },
    [=](ladder_atom, const std::string& id, const std::vector<std::string>& ladder) {
      persist(self, nullptr, self->state.an->set_ladder(id, ladder));
    },
    [=](tick_atom) {
      auto& st = self->state;
      auto r = st.an->tick();
      persist(self, nullptr, r);
      announce(self, r);
      if (st.counts_stale) {
        st.counts_stale = false;
        st.ctx->metrics->incidents_open(st.an->open_counts());
      }
      self->delayed_send(self, tick_interval, tick_atom::value);
    },
  };
}

} // namespace

caf::actor spawn_analyzer_actor(caf::actor_system& sys, std::shared_ptr<node_context> ctx) {
  return sys.spawn(analyzer_actor, std::move(ctx));
}

} // namespace faultd
