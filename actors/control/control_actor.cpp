#include "actors/control/control_actor.hpp"

#include <algorithm>
#include <functional>
#include <future>
#include <map>

#include <caf/all.hpp>

#include "actors/detectors/service_actor.hpp"
#include "actors/supervision/supervisor_actor.hpp"
#include "actors/type_ids.hpp"
#include "control/server.hpp"
#include "control/codec.hpp"
#include "control/state_codec.hpp"
#include "membership/board.hpp"
#include "process/log_tail.hpp"
#include "process/supervisor.hpp"
#include "recovery/selector.hpp"
#include "state/maintenance.hpp"
#include "state/registry.hpp"
#include "actions/circuit_board.hpp"
#include "faultd/log.hpp"
#include "faultd/util.hpp"

namespace faultd {

namespace {

constexpr auto request_timeout = std::chrono::seconds(10);
constexpr size_t max_offloaded = 16;

using ctl_retry_atom = caf::atom_constant<caf::atom("ctlretry")>;

struct control_state {
  std::shared_ptr<node_context> ctx;
  /// Requests waiting for an actor that is starting or restarting.
  std::map<uint64_t, std::function<void()>> waiting;
  uint64_t next_waiting = 0;
  /// Operations running on threads of their own (offload).
  size_t offloaded = 0;
  std::chrono::steady_clock::time_point started = std::chrono::steady_clock::now();
  uint64_t malformed_dropped = 0;
  uint64_t requests = 0;
  std::shared_ptr<spdlog::logger> log = log::get("control");
  static inline const char* name = "control";
};

using self_ptr = caf::stateful_actor<control_state>*;

std::string unavailable(const std::string& what, const caf::error& err, self_ptr self) {
  return control::encode_error(errc::unavailable,
                               what + " did not answer: " + self->system().render(err));
}

/// Runs `fn` with the current incarnation of `name`; while there is none
/// (the node is starting, or the actor is being restarted) it waits up to
/// 2 s, then runs `fn` with an invalid handle.
void with_actor(self_ptr self, const std::string& name, std::function<void(caf::actor)> fn,
                std::chrono::steady_clock::time_point until = {}) {
  if (until == std::chrono::steady_clock::time_point{})
    until = std::chrono::steady_clock::now() + std::chrono::seconds(2);
  auto who = self->state.ctx->lookup(name);
  if (who || std::chrono::steady_clock::now() >= until) {
    fn(who);
    return;
  }
  auto id = self->state.next_waiting++;
  self->state.waiting.emplace(id, [self, name, fn, until] { with_actor(self, name, fn, until); });
  self->delayed_send(self, std::chrono::milliseconds(5), ctl_retry_atom::value, id);
}

/// Sends a request to the current incarnation of `name` (waiting for it
/// as with_actor does) and answers `rp` with on_ok's reply or an error. With
/// `refusal_is_not_found`, a refusal (sec::runtime_error with a text) means
/// the operand is unknown: answered not_found with that text.
template <class RP, class OnOk, class... Ts>
void ask_as(self_ptr self, bool refusal_is_not_found, const std::string& name, RP rp,
            OnOk on_ok, Ts... xs) {
  with_actor(self, name, [=](caf::actor who) mutable {
    if (!who) {
      rp.deliver(control::encode_error(errc::unavailable, name + " is not running"));
      return;
    }
    self->request(who, request_timeout, xs...)
      .then(on_ok, [=](const caf::error& err) mutable {
        if (refusal_is_not_found && err == caf::sec::runtime_error && !err.context().empty()) {
          std::string text;
          auto ctx = err.context();
          ctx.apply([&](const std::string& t) { text = t; });
          if (!text.empty()) {
            rp.deliver(control::encode_error(errc::not_found, text));
            return;
          }
        }
        rp.deliver(unavailable(name, err, self));
      });
  });
}

template <class RP, class OnOk, class... Ts>
void ask(self_ptr self, const std::string& name, RP rp, OnOk on_ok, Ts... xs) {
  ask_as(self, false, name, rp, on_ok, xs...);
}

template <class RP, class OnOk, class... Ts>
void ask_known(self_ptr self, const std::string& name, RP rp, OnOk on_ok, Ts... xs) {
  ask_as(self, true, name, rp, on_ok, xs...);
}

std::string chaos_list(self_ptr self) {
  std::vector<control::actor_info> out;
  for (auto& e : self->state.ctx->dir->list())
    out.push_back({e.name, e.supervisor, e.restarts});
  return control::encode_actors(out);
}

std::string chaos_crash(self_ptr self, const std::string& name) {
  auto& st = self->state;
  auto e = st.ctx->dir->find(name);
  if (!e)
    return control::encode_error(errc::not_found, "no supervised actor named " + name
                                                    + " (see faultctl chaos list-actors)");
  if (!e->actor)
    return control::encode_error(errc::unavailable, "actor " + name + " is restarting");
  st.log->warn("chaos-crash-actor name={} supervisor={}", name, e->supervisor);
  crash_actor(e->actor);
  return control::encode_crash(name, e->supervisor);
}

/// Runs `job` (blocking work: files, fsync, waiting for a process) on a
/// detached actor of its own, never on a scheduler thread, and delivers its
/// reply through `rp`.
template <class RP>
void offload(self_ptr self, RP rp, std::function<std::string()> job,
             std::chrono::seconds limit = std::chrono::seconds(60)) {
  // One thread per job: a client flooding slow commands gets "busy", not
  // thousands of threads.
  if (self->state.offloaded >= max_offloaded) {
    rp.deliver(control::encode_error(errc::unavailable,
                                     "busy: " + std::to_string(max_offloaded)
                                       + " operations already run; try again"));
    return;
  }
  ++self->state.offloaded;
  auto worker = self->spawn<caf::detached>([job](caf::event_based_actor* me) -> caf::behavior {
    return {[=](tick_atom) -> std::string {
      auto out = job();
      me->quit();
      return out;
    }};
  });
  self->request(worker, limit, tick_atom::value)
    .then(
      [rp, self](const std::string& reply) mutable {
        --self->state.offloaded;
        rp.deliver(reply);
      },
      [rp, self](const caf::error& err) mutable {
        --self->state.offloaded;
        rp.deliver(unavailable("the operation", err, self));
      });
}

/// A member as the control protocol carries it (last_heard_ms -1: never heard directly).
member_status to_member_status(const membership::member_view& v) {
  member_status m;
  m.id = v.id;
  m.address = v.address;
  m.state = std::string{membership::to_string(v.state)};
  m.phi = v.phi;
  m.last_heard_ms =
    v.last_heard ? std::chrono::duration_cast<std::chrono::milliseconds>(*v.last_heard).count() : -1;
  m.incarnation = v.incarnation;
  m.self = v.self;
  m.connected = v.connected;
  return m;
}

/// Where peers reach this node (its control endpoint without a peer port).
std::string node_address(const config& cfg) {
  return cfg.node.listen ? cfg.node.listen->to_string() : cfg.node.control_endpoint().to_string();
}

/// The members as the membership board shows them. The board is empty
/// until the membership actor first publishes, and stays so on a node
/// without a peer port (it runs no membership actor): then this node alone.
std::vector<member_status> members_of(self_ptr self) {
  std::vector<member_status> out;
  for (auto& v : self->state.ctx->members->snapshot())
    out.push_back(to_member_status(v));
  if (out.empty()) {
    auto& cfg = self->state.ctx->cfg;
    member_status me;
    me.id = cfg.node.id;
    me.address = node_address(cfg);
    me.self = true;
    out.push_back(std::move(me));
  }
  return out;
}

/// The configured service `name`, or nullptr.
const service_config* known_service(self_ptr self, const std::string& name) {
  return self->state.ctx->cfg.find_service(name);
}

std::string no_service(const std::string& name) {
  return control::encode_error(errc::not_found, "no service named " + name
                                                  + " (see faultctl services)");
}

std::string checks(self_ptr self, const std::string& service) {
  auto all = collect_service_status(*self->state.ctx);
  if (service.empty())
    return control::encode_checks(all);
  for (auto& s : all)
    if (s.name == service)
      return control::encode_checks({s});
  return no_service(service);
}

std::string circuit(self_ptr self, const std::string& service, const std::string& op) {
  auto& st = self->state;
  if (known_service(self, service) == nullptr)
    return no_service(service);
  auto before = st.ctx->circuits->state(service);
  if (op == "open")
    st.ctx->circuits->force_open(service, true);
  else if (op == "close")
    st.ctx->circuits->force_close(service);
  else
    st.ctx->circuits->reset(service);
  auto now = st.ctx->circuits->state(service);
  st.log->info("circuit-set-by-operator service={} op={} was={} now={}", service, op, before, now);
  return control::encode_command("circuit", service, now,
                                 "was " + before + (op == "open" ? "; held open until close" : ""));
}

std::string maintenance(self_ptr self, const std::string& service, bool on) {
  auto& st = self->state;
  if (known_service(self, service) == nullptr)
    return no_service(service);
  bool changed = st.ctx->maintenance->set(service, on);
  st.log->info("maintenance-{} service={}", on ? "on" : "off", service);
  return control::encode_command("maintenance", service, on ? "on" : "off",
                                 changed ? (on ? "detection goes on; recovery and alerts paused"
                                               : "recovery and alerts resume")
                                         : "unchanged");
}

void degradation(self_ptr self, caf::typed_response_promise<std::string> rp,
                 const std::string& service, const std::string& level) {
  auto* svc = known_service(self, service);
  if (svc == nullptr) {
    rp.deliver(no_service(service));
    return;
  }
  static const std::vector<std::string> defaults{"full", "reduced", "basic", "minimal"};
  const auto& levels = svc->degradation_levels.empty() ? defaults : svc->degradation_levels;
  if (std::find(levels.begin(), levels.end(), level) == levels.end()) {
    std::string list;
    for (auto& l : levels)
      list += (list.empty() ? "" : ", ") + l;
    rp.deliver(control::encode_error(errc::bad_request, "level \"" + level + "\" is not one of "
                                                          + service + "'s levels (" + list + ")"));
    return;
  }
  offload(self, rp, [registry = self->state.ctx->registry, service, level, log = self->state.log] {
    auto key = "degradation/" + service;
    auto before = registry->get(key).value_or("full");
    if (auto st = registry->put(key, level); !st.ok())
      return control::encode_error(st.code(), st.message());
    log->info("degradation-set-by-operator service={} level={} was={}", service, level, before);
    return control::encode_command("degradation", service, level, "was " + before);
  });
}

void failback(self_ptr self, caf::typed_response_promise<std::string> rp,
              const std::string& service) {
  if (known_service(self, service) == nullptr) {
    rp.deliver(no_service(service));
    return;
  }
  offload(self, rp, [ctx = self->state.ctx, service, log = self->state.log] {
    std::string detail;
    auto st = failback_service(ctx, service, detail);
    if (!st.ok())
      return control::encode_error(st.code(), st.message());
    const auto* svc = ctx->cfg.find_service(service);
    log->info("failback-by-operator service={} home={} {}", service, svc->node, detail);
    return control::encode_command("failback", service, svc->node, detail);
  });
}

void logs(self_ptr self, caf::typed_response_promise<std::string> rp, const control::request& req) {
  if (known_service(self, req.service) == nullptr) {
    rp.deliver(no_service(req.service));
    return;
  }
  auto path = self->state.ctx->cfg.node.data_dir + "/logs/" + req.service + ".log";
  offload(self, rp, [path, req] {
    process::log_chunk c;
    auto st = req.offset < 0 ? process::tail_lines(path, req.lines == 0 ? 20 : req.lines, c)
                             : process::read_from(path, req.offset, c);
    if (!st.ok())
      return control::encode_error(st.code(), st.message());
    return control::encode_logs(req.service, path, c.text, c.next_offset);
  });
}

void service_command(self_ptr self, caf::typed_response_promise<std::string> rp,
                     const std::string& service, const std::string& op) {
  auto* svc = known_service(self, service);
  if (svc == nullptr) {
    rp.deliver(no_service(service));
    return;
  }
  if (svc->command.empty()) {
    rp.deliver(control::encode_error(errc::bad_request, service + " is unmanaged (no command): "
                                                          "faultd does not run it"));
    return;
  }
  auto wait = op == "stop" ? std::chrono::duration_cast<std::chrono::seconds>(svc->restart.stop_grace)
                               + std::chrono::seconds(10)
                           : std::chrono::duration_cast<std::chrono::seconds>(svc->restart.stop_grace)
                               + std::chrono::seconds(30);
  self->state.log->info("service-{}-by-operator service={}", op, service);
  offload(
    self, rp,
    [processes = self->state.ctx->processes, service, op, wait] {
      auto fut = op == "start"  ? processes->start(service)
                 : op == "stop" ? processes->stop(service)
                                : processes->restart(service);
      if (fut.wait_for(wait) != std::future_status::ready)
        return control::encode_error(errc::timeout, op + " of " + service + " did not complete within "
                                                      + human_duration(wait));
      auto st = fut.get();
      if (!st.ok())
        return control::encode_error(st.code(), op + " of " + service + ": " + st.message());
      auto snap = processes->snapshot(service);
      std::string state = snap ? std::string{to_string(snap->state)} : "unknown";
      std::string detail;
      if (snap && snap->pid > 0)
        detail = "pid " + std::to_string(snap->pid);
      if (op == "stop")
        detail = "not a fault; stays down until faultctl start";
      return control::encode_command(op, service, state, detail);
    },
    wait + std::chrono::seconds(5));
}

/// `faultctl state ...`: asks the state-sync actor and encodes its answer.
void state_command(self_ptr self, caf::typed_response_promise<std::string> rp,
                   const control::request& req) {
  auto op = req.op;
  auto key = req.key;
  auto id = req.id;
  auto encode = [op, key, id](replica::state_result& r) -> std::string {
    if (!r.st.ok())
      return control::encode_error(r.st.code(), r.st.message());
    if (op == "get" || op == "put")
      return control::encode_state_entry(r.entries.front());
    if (op == "list")
      return control::encode_state_list(r.entries);
    if (op == "report")
      return control::encode_state_report(r.report);
    if (op == "snapshot" || op == "snapshots")
      return control::encode_snapshots(r.snapshots);
    if (op == "del")
      return control::encode_command("state del", key, r.count > 0 ? "deleted" : "absent",
                                     r.count > 0 ? "" : "no such key: nothing to delete");
    if (op == "restore")
      return control::encode_command("state restore", id, "restored",
                                     std::to_string(r.count) + " keys written, "
                                       + std::to_string(r.deleted) + " deleted");
    return control::encode_command("state sync", "", "started",
                                   "anti-entropy with " + std::to_string(r.count) + " peers");
  };
  auto on_ok = [=](replica::state_result& r) mutable { rp.deliver(encode(r)); };
  if (op == "get")
    ask(self, "state_sync", rp, on_ok, sget_atom::value, req.key);
  else if (op == "put")
    ask(self, "state_sync", rp, on_ok, sput_atom::value, req.key, req.value);
  else if (op == "del")
    ask(self, "state_sync", rp, on_ok, sdel_atom::value, req.key);
  else if (op == "list")
    ask(self, "state_sync", rp, on_ok, slist_atom::value, req.prefix);
  else if (op == "report")
    ask(self, "state_sync", rp, on_ok, sreport_atom::value);
  else if (op == "snapshot")
    ask(self, "state_sync", rp, on_ok, ssnap_atom::value);
  else if (op == "snapshots")
    ask(self, "state_sync", rp, on_ok, ssnaps_atom::value);
  else if (op == "restore")
    ask(self, "state_sync", rp, on_ok, srestore_atom::value, req.id, req.prefix);
  else
    ask(self, "state_sync", rp, on_ok, ssync_atom::value);
}

void dry_run(self_ptr self, caf::typed_response_promise<std::string> rp, fault_event ev) {
  auto& st = self->state;
  ask(
    self, "analyzer", rp,
    [=](const std::string& what, const std::string& incident_id, bool recovers,
        bool alert) mutable {
      auto& cfg = self->state.ctx->cfg;
      recovery::strategy_selector selector{cfg.strategies};
      incident inc;
      inc.component = ev.component;
      inc.type = ev.type;
      inc.severity = ev.severity;
      control::dry_run d;
      d.event = ev;
      d.incident = what;
      d.incident_id = incident_id;
      d.alert = alert;
      if (recovers && !incident_id.empty() && what.rfind("folds into", 0) == 0)
        recovers = false; // already being recovered
      if (recovers && st.ctx->maintenance->contains(ev.component)) {
        d.note = ev.component + " is in maintenance: no strategy would run, no alert";
        d.alert = false;
      } else if (recovers) {
        d.strategy = selector.select(inc);
      } else {
        d.note = "no new recovery would start for it";
      }
      rp.deliver(control::encode_dry_run(d));
    },
    preview_atom::value, ev);
}

caf::result<std::string> handle(self_ptr self, const std::string& bytes) {
  auto& st = self->state;
  ++st.requests;
  control::request req;
  if (auto s = control::decode_request(bytes, req); !s.ok()) {
    if (s.code() == errc::malformed_payload) {
      ++st.malformed_dropped;
      st.log->warn("control-malformed-request bytes={} dropped_total={} error={}", bytes.size(),
                   st.malformed_dropped, s.message());
    }
    return control::encode_error(s.code(), s.message());
  }
  switch (req.cmd) {
    case control::command::status: {
      auto& cfg = st.ctx->cfg;
      control::node_info node;
      node.id = cfg.node.id;
      node.address = node_address(cfg);
      node.uptime_s = static_cast<uint32_t>(
        std::chrono::duration_cast<std::chrono::seconds>(std::chrono::steady_clock::now()
                                                         - st.ctx->started)
          .count());
      node.control_address = cfg.node.control_endpoint().to_string();
      if (auto e = st.ctx->endpoint.lock()) {
        node.control = e->stats();
        node.control_address = e->bound_address();
      }
      return control::encode_status(node, members_of(self), collect_service_status(*st.ctx));
    }
    case control::command::members:
      return control::encode_members(members_of(self), st.ctx->members->local_health());
    case control::command::services:
      return control::encode_services(collect_service_status(*st.ctx));
    case control::command::strategies:
      return control::encode_strategies(st.ctx->cfg.strategies);
    case control::command::chaos_list_actors:
      return chaos_list(self);
    case control::command::chaos_crash_actor:
      return chaos_crash(self, req.id);
    case control::command::checks:
      return checks(self, req.service);
    case control::command::circuit:
      return circuit(self, req.service, req.op);
    case control::command::maintenance:
      return maintenance(self, req.service, req.on);
    case control::command::reload:
      return control::encode_error(errc::unavailable,
                                   "reload goes through the control endpoint's front");
    default:
      break;
  }
  auto rp = self->make_response_promise<std::string>();
  switch (req.cmd) {
    case control::command::faults:
      ask(self, "storage", rp,
          [=](const std::vector<fault_event>& xs) mutable { rp.deliver(control::encode_faults(xs)); },
          faults_atom::value, req.since_ns, req.limit == 0 ? uint32_t{100} : req.limit);
      break;
    case control::command::incidents:
      ask(self, "storage", rp,
          [=](const std::vector<incident>& xs) mutable { rp.deliver(control::encode_incidents(xs)); },
          incidents_atom::value, req.limit == 0 ? uint32_t{50} : req.limit, req.open_only);
      break;
    case control::command::incident: {
      auto id = req.id;
      ask(
        self, "storage", rp,
        [=](const std::vector<incident>& xs) mutable {
          if (xs.empty())
            rp.deliver(control::encode_error(errc::not_found, "no incident with id " + id));
          else
            rp.deliver(control::encode_incident(xs.front()));
        },
        incident_atom::value, id);
      break;
    }
    case control::command::devices: {
      if (!self->state.ctx->cfg.devices.broker) {
        rp.deliver(control::encode_error(
          errc::unavailable, "no devices detector runs here (the config has no devices: section)"));
        break;
      }
      ask(self, "devices", rp,
          [=](const std::vector<devices::device_view>& xs) mutable {
            std::vector<control::device_row> rows;
            rows.reserve(xs.size());
            for (auto& v : xs)
              rows.push_back({v.id, v.gateway, devices::to_string(v.state), v.last_seen,
                              static_cast<uint64_t>(v.interval_ms), v.phi});
            rp.deliver(control::encode_devices(rows));
          },
          devices_atom::value, req.on, req.service);
      break;
    }
    case control::command::failback:
      failback(self, rp, req.service);
      break;
    case control::command::degradation:
      degradation(self, rp, req.service, req.level);
      break;
    case control::command::state:
      state_command(self, rp, req);
      break;
    case control::command::logs:
      logs(self, rp, req);
      break;
    case control::command::service_command:
      service_command(self, rp, req.service, req.op);
      break;
    case control::command::alerts:
      ask(self, "storage", rp,
          [=](const std::vector<alert>& xs) mutable { rp.deliver(control::encode_alerts(xs)); },
          alerts_atom::value, req.limit == 0 ? uint32_t{50} : req.limit);
      break;
    case control::command::incident_ack: {
      auto id = req.id;
      ask_known(self, "analyzer", rp,
          [=](const incident& x) mutable {
            rp.deliver(control::encode_command("ack", id, "acknowledged",
                                               x.component + ": no further alerts while open"));
          },
          ack_atom::value, id);
      break;
    }
    case control::command::incident_close: {
      auto id = req.id;
      ask_known(self, "analyzer", rp,
          [=](const incident& x) mutable {
            rp.deliver(control::encode_command("close", id, "closed", x.close_reason));
          },
          close_atom::value, id, req.reason);
      break;
    }
    case control::command::inject: {
      auto ev = req.event;
      if (req.dry_run) {
        if (ev.node.empty())
          ev.node = st.ctx->cfg.node.id;
        ev.time = system_clock_source().now();
        dry_run(self, rp, ev);
        break;
      }
      ev.id = make_uuid();
      ev.time = system_clock_source().now();
      if (ev.node.empty())
        ev.node = st.ctx->cfg.node.id;
      if (ev.source.empty())
        ev.source = "inject";
      st.log->info("fault-injected id={} type={} component={} severity={}", ev.id,
                   to_string(ev.type), ev.component, to_string(ev.severity));
      ask(
        self, "analyzer", rp,
        [=](const std::string& event_id, const std::string& incident_id) mutable {
          rp.deliver(control::encode_inject(event_id, incident_id));
        },
        inject_atom::value, ev);
      break;
    }
    default:
      rp.deliver(control::encode_error(errc::internal, "unhandled command"));
      break;
  }
  return rp;
}

caf::behavior control_actor(self_ptr self, std::shared_ptr<node_context> ctx) {
  self->state.ctx = std::move(ctx);
  return {
    [=](ctl_atom, const std::string& bytes) -> caf::result<std::string> {
      return handle(self, bytes);
    },
    [=](ctl_retry_atom, uint64_t id) {
      if (self->current_sender() != self->ctrl())
        return; // only its own timer
      auto i = self->state.waiting.find(id);
      if (i == self->state.waiting.end())
        return;
      auto fn = std::move(i->second);
      self->state.waiting.erase(i);
      fn();
    },
  };
}

using front_retry_atom = caf::atom_constant<caf::atom("frretry")>;

/// Where a reply goes: a response promise, or the control endpoint.
using deliver_fn = std::function<void(std::string)>;

/// A request that waits for the control actor (starting, or restarting).
struct parked_request {
  deliver_fn deliver;
  std::string bytes;
  std::chrono::steady_clock::time_point until;
};

struct front_state {
  std::shared_ptr<node_context> ctx;
  std::weak_ptr<control::server> endpoint;
  caf::actor reloader;
  uint64_t dropped = 0;
  uint64_t next_parked = 0;
  std::map<uint64_t, parked_request> parked;
  std::shared_ptr<spdlog::logger> log = log::get("control");
  static inline const char* name = "control-front";
};

caf::behavior control_front(caf::stateful_actor<front_state>* self,
                            std::shared_ptr<node_context> ctx,
                            std::weak_ptr<control::server> endpoint, caf::actor reloader) {
  self->state.ctx = std::move(ctx);
  self->state.endpoint = std::move(endpoint);
  self->state.reloader = std::move(reloader);
  // Messages of any other shape: drop, count, log; never crash.
  self->set_default_handler(
    [](caf::scheduled_actor* ptr, caf::message_view& x) -> caf::result<caf::message> {
      auto* me = static_cast<caf::stateful_actor<front_state>*>(ptr);
      ++me->state.dropped;
      me->state.log->warn("control-unexpected-message dropped_total={} content={}",
                          me->state.dropped, to_string(x.copy_content_to_message()));
      return caf::sec::unexpected_message;
    });
  self->set_error_handler([self](caf::error& err) {
    self->state.log->warn("control-front-error error={}", self->system().render(err));
  });
  // Hands a request to the control actor; while there is none (the node is
  // starting, or it is being restarted) the request waits, up to 2 s.
  auto forward = [self](deliver_fn deliver, const std::string& bytes,
                        std::chrono::steady_clock::time_point until) {
    if (control::is_reload_request(bytes)) {
      // The reload restarts "control" itself: the front, which outlives
      // it, waits for the answer.
      if (!self->state.reloader) {
        deliver(control::encode_error(errc::unavailable,
                                      "reload is not available in this process"));
        return;
      }
      self->request(self->state.reloader, std::chrono::seconds(120), reload_atom::value)
        .then([=](const std::string& reply) { deliver(reply); },
              [=](const caf::error& err) {
                deliver(control::encode_error(errc::unavailable, "reload did not answer: "
                                                                   + self->system().render(err)));
              });
      return;
    }
    auto target = self->state.ctx->lookup("control");
    if (!target) {
      if (std::chrono::steady_clock::now() >= until) {
        deliver(control::encode_error(errc::unavailable,
                                      "the control actor is restarting; try again"));
        return;
      }
      auto id = self->state.next_parked++;
      self->state.parked.emplace(id, parked_request{std::move(deliver), bytes, until});
      self->delayed_send(self, std::chrono::milliseconds(5), front_retry_atom::value, id);
      return;
    }
    self->request(target, request_timeout, ctl_atom::value, bytes)
      .then([=](const std::string& reply) { deliver(reply); },
            [=](const caf::error& err) {
              deliver(control::encode_error(
                errc::unavailable, "control did not answer: " + self->system().render(err)));
            });
  };
  return {
    [=](ctl_atom, const std::string& bytes) -> caf::result<std::string> {
      auto rp = self->make_response_promise<std::string>();
      forward([rp](std::string reply) mutable { rp.deliver(std::move(reply)); }, bytes,
              std::chrono::steady_clock::now() + std::chrono::seconds(2));
      return rp;
    },
    [=](ctl_atom, uint64_t conn, uint64_t request_id, const std::string& bytes) {
      if (self->current_sender() != nullptr)
        return; // only the endpoint (anon_send) speaks this
      forward(
        [endpoint = self->state.endpoint, conn, request_id](std::string reply) {
          if (auto e = endpoint.lock())
            e->reply(conn, request_id, std::move(reply));
        },
        bytes, std::chrono::steady_clock::now() + std::chrono::seconds(2));
    },
    [=](front_retry_atom, uint64_t id) {
      if (self->current_sender() != self->ctrl())
        return;  // only its own timer: this port faces clients
      auto i = self->state.parked.find(id);
      if (i == self->state.parked.end())
        return;
      auto p = std::move(i->second);
      self->state.parked.erase(i);
      forward(std::move(p.deliver), p.bytes, p.until);
    },
  };
}

} // namespace

caf::actor spawn_control_actor(caf::actor_system& sys, std::shared_ptr<node_context> ctx) {
  return sys.spawn(control_actor, std::move(ctx));
}

caf::actor spawn_control_front(caf::actor_system& sys, std::shared_ptr<node_context> ctx,
                               std::weak_ptr<control::server> endpoint, caf::actor reloader) {
  return sys.spawn(control_front, std::move(ctx), std::move(endpoint), std::move(reloader));
}

} // namespace faultd
