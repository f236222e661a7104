#include "actors/node/node.hpp"

#include <condition_variable>
#include <functional>
#include <grp.h>
#include <thread>
#include <mutex>
#include <optional>
#include <set>

#include <random>

#include <caf/all.hpp>
#include <caf/io/all.hpp>
#include <caf/openssl/all.hpp>

#include "actions/circuit_board.hpp"
#include "actions/executor.hpp"
#include "actions/workers.hpp"
#include "actions/builtin.hpp"
#include "actors/alerting/alert_actor.hpp"
#include "actors/analyzer/analyzer_actor.hpp"
#include "actors/control/control_actor.hpp"
#include "actors/devices/devices_actor.hpp"
#include "actors/detectors/check_actor.hpp"
#include "actors/detectors/resource_actor.hpp"
#include "actors/detectors/security_actor.hpp"
#include "actors/detectors/service_actor.hpp"
#include "actors/membership/membership_actor.hpp"
#include "actors/membership/tls_gate.hpp"
#include "actors/recovery/recovery_actor.hpp"
#include "actors/state_sync/state_sync_actor.hpp"
#include "actors/storage/storage_actor.hpp"
#include "actors/supervision/supervisor_actor.hpp"
#include "actors/type_ids.hpp"
#include "checks/health_check.hpp"
#include "control/codec.hpp"
#include "control/server.hpp"
#include "faultd/log.hpp"
#include "faultd/util.hpp"
#include "membership/board.hpp"
#include "membership/incarnation.hpp"
#include "membership/members.hpp"
#include "membership/swim.hpp"
#include "process/start_order.hpp"
#include "process/supervisor.hpp"
#include "state/health.hpp"
#include "state/maintenance.hpp"
#include "state/placement.hpp"
#include "state/registry.hpp"
#include "storage/store.hpp"
#include "systemd/notify.hpp"

namespace faultd {

fault_event node_context::make_fault(fault_type type, fault_severity severity,
                                     std::string component, std::string source,
                                     std::string message, bool clears) const {
  fault_event f;
  f.id = make_uuid();
  f.time = system_clock_source().now();
  f.type = type;
  f.severity = severity;
  f.component = std::move(component);
  f.node = cfg.node.id;
  f.source = std::move(source);
  f.clears = clears;
  f.details["message"] = std::move(message);
  return f;
}

void node_context::check_result(const std::string& service, bool ok) const {
  if (circuits)
    circuits->record(service, ok);
}

namespace {

using factory = std::function<caf::actor(caf::actor_system&)>;

std::string parent_dir(const std::string& path) {
  auto slash = path.rfind('/');
  return slash == std::string::npos ? std::string{"."} : path.substr(0, slash);
}

child_spec worker(std::string name, factory f) {
  child_spec c;
  c.name = std::move(name);
  c.start = std::move(f);
  return c;
}

supervisor_spec subtree(const std::shared_ptr<node_context>& ctx, std::string name,
                        std::vector<child_spec> children) {
  supervisor_spec s;
  s.name = std::move(name);
  s.strategy = supervision::strategy::one_for_one;
  s.max_restarts = 10;
  s.period = seconds_d(60);
  s.children = std::move(children);
  s.directory = ctx->dir;
  return s;
}

supervisor_spec node_tree(const std::shared_ptr<node_context>& ctx,
                          const std::shared_ptr<storage::store>& db,
                          const std::shared_ptr<membership_runtime>& cluster) {
  auto retention = ctx->cfg.fault_detection.event_retention_hours;
  std::vector<child_spec> detectors{
    worker("services", [ctx](caf::actor_system& sys) { return spawn_service_actor(sys, ctx); }),
    worker("resources", [ctx](caf::actor_system& sys) { return spawn_resource_actor(sys, ctx); }),
    worker("security", [ctx](caf::actor_system& sys) { return spawn_security_actor(sys, ctx); }),
  };
  if (ctx->cfg.devices.broker)
    detectors.push_back(
      worker("devices", [ctx](caf::actor_system& sys) { return spawn_devices_actor(sys, ctx); }));
  for (auto& svc : ctx->cfg.services)
    for (auto& chk : svc.checks)
      detectors.push_back(
        worker("check:" + svc.name + ":" + chk.name,
               [ctx, name = svc.name, chk](caf::actor_system& sys) {
                 return spawn_check_actor(sys, ctx, name, chk);
               }));
  auto root = subtree(
    ctx, "sup:node",
    {
      supervisor_child(subtree(ctx, "sup:storage",
                               {worker("storage",
                                       [ctx, db, retention](caf::actor_system& sys) {
                                         return spawn_storage_actor(
                                           sys, db, retention,
                                           [ctx](fault_event f) {
                                             f.node = ctx->cfg.node.id;
                                             ctx->send_to("analyzer", event_atom::value,
                                                          std::move(f));
                                           },
                                           parent_dir(ctx->cfg.db_path()),
                                           [hub = ctx->metrics](duration took) {
                                             hub->storage_commit(took);
                                           });
                                       })})),
      supervisor_child(subtree(ctx, "sup:state",
                               {worker("state_sync", [ctx](caf::actor_system& sys) {
                                 return spawn_state_sync_actor(sys, ctx);
                               })})),
      supervisor_child(subtree(ctx, "sup:alerting",
                               {worker("alerting", [ctx](caf::actor_system& sys) {
                                 return spawn_alert_actor(sys, ctx);
                               })})),
      supervisor_child(subtree(ctx, "sup:analysis",
                               {worker("analyzer", [ctx](caf::actor_system& sys) {
                                 return spawn_analyzer_actor(sys, ctx);
                               })})),
      supervisor_child(subtree(ctx, "sup:recovery",
                               {worker("recovery", [ctx](caf::actor_system& sys) {
                                 return spawn_recovery_actor(sys, ctx);
                               })})),
      supervisor_child(subtree(ctx, "sup:detectors", std::move(detectors))),
      supervisor_child(subtree(ctx, "sup:control",
                               {worker("control", [ctx](caf::actor_system& sys) {
                                 return spawn_control_actor(sys, ctx);
                               })})),
    });
  if (cluster) // before control, after what its faults go to
    root.children.insert(root.children.end() - 1,
                         supervisor_child(subtree(
                           ctx, "sup:membership",
                           {worker("membership", [ctx, cluster](caf::actor_system& sys) {
                             return spawn_membership_actor(sys, ctx, cluster);
                           })})));
  // More than 10 subtree restarts a minute: something is wrong with the
  // node itself; the root gives up and faultd exits (see faultd's main).
  root.max_restarts = 10;
  root.period = seconds_d(60);
  return root;
}

/// A damaged database found at start: critical, until a person looks.
fault_event corrupt_database_fault(const config& cfg, const std::string& what) {
  fault_event f;
  f.id = make_uuid();
  f.time = system_clock_source().now();
  f.type = fault_type::data_inconsistency;
  f.severity = fault_severity::critical;
  f.component = "storage";
  f.node = cfg.node.id;
  f.source = "startup";  // no clearing signal: it closes after a quiet period
  f.details["message"] = "damaged database moved aside to " + what
                         + "; started on a fresh one (incidents and journal before it are "
                           "in the old file)";
  return f;
}

} // namespace

/// The services of `all` this node runs now: those without a home node,
/// and those whose placement (or home) is this node.
std::vector<service_config> placed_here(const node_context& ctx, std::vector<service_config> all) {
  std::vector<service_config> out;
  for (auto& svc : all) {
    if (state::runs_here(svc, ctx.cfg.node.id, *ctx.registry))
      out.push_back(std::move(svc));
    else
      log::get("node")->info("service-standby name={} runs_on={} home={}", svc.name,
                             state::owner_of(svc, *ctx.registry), svc.node);
  }
  return out;
}

/// Starts or stops a service with a home node after its placement changed
/// (here, or on another node and replicated): the node it names starts it,
/// any other stops its copy (fencing).
void follow_placement(const std::shared_ptr<node_context>& ctx, const std::string& name) {
  const auto* svc = ctx->cfg.find_service(name);
  if (svc == nullptr || svc->command.empty() || svc->node.empty() || !ctx->processes)
    return;
  bool here = state::runs_here(*svc, ctx->cfg.node.id, *ctx->registry);
  bool known = ctx->processes->snapshot(name).has_value();
  auto p = state::placement_of(*ctx->registry, name);
  auto epoch = p ? p->epoch : 0;
  if (here && !known) {
    log::get("node")->info("service-promoted name={} epoch={} home={}", name, epoch, svc->node);
    ctx->processes->add(*svc);
  } else if (!here && known) {
    log::get("node")->warn("service-fenced name={} epoch={} runs_on={} reason=\"a placement "
                           "names another node: this copy stops\"",
                           name, epoch, state::owner_of(*svc, *ctx->registry));
    ctx->processes->remove(name);
  }
}

actions::cluster_view cluster_view_of(const node_context& ctx) {
  actions::cluster_view v;
  v.self = ctx.cfg.node.id;
  v.quorum = ctx.cfg.cluster.quorum;
  for (const auto& m : ctx.members ? ctx.members->snapshot()
                                   : std::vector<membership::member_view>{}) {
    if (m.state == membership::member_state::left)
      continue;
    ++v.known;
    if (m.state == membership::member_state::alive)
      ++v.alive;
  }
  if (v.known == 0) // before the first publish: this node alone
    v.known = v.alive = 1;
  return v;
}

namespace {

/// Failover's and failback's view of the membership, for as long as the
/// node lives.
actions::node_reachable_fn reachable_fn(std::weak_ptr<node_context> weak) {
  return [weak](const std::string& node) {
    auto c = weak.lock();
    return c && c->members && c->members->alive(node);
  };
}

actions::cluster_view_fn cluster_fn(std::weak_ptr<node_context> weak) {
  return [weak] {
    auto c = weak.lock();
    return c ? cluster_view_of(*c) : actions::cluster_view{};
  };
}

} // namespace

status failback_service(const std::shared_ptr<node_context>& ctx, const std::string& service,
                        std::string& detail) {
  return actions::failback(ctx->cfg, *ctx->registry, reachable_fn(ctx), cluster_fn(ctx), service,
                           detail);
}

/// Adds the services to the process supervisor in depends_on order
/// (src/process/start_order.hpp): those without dependencies at once, the
/// others from a thread that looks every 20 ms until all have started.
class service_starter {
public:
  /// Starts `services` (by default every configured one).
  explicit service_starter(std::shared_ptr<node_context> ctx)
    : service_starter(ctx, ctx->cfg.services) {}

  service_starter(std::shared_ptr<node_context> ctx, std::vector<service_config> services)
    : ctx_(std::move(ctx)), order_(placed_here(*ctx_, std::move(services))),
      since_(std::chrono::steady_clock::now()) {
    if (!step())
      thread_ = std::thread{[this] { loop(); }};
  }

  ~service_starter() {
    {
      std::lock_guard<std::mutex> guard{mtx_};
      stop_ = true;
    }
    cv_.notify_all();
    if (thread_.joinable())
      thread_.join();
  }

private:
  bool ready(const service_config& dep) const {
    auto now = std::chrono::steady_clock::now();
    bool healthy = !dep.checks.empty() && ctx_->health->summary(dep.name) == "healthy";
    if (dep.command.empty()) // unmanaged: its checks, or ready_after since faultd started
      return dep.checks.empty() || healthy || now - since_ >= dep.ready_after;
    auto snap = ctx_->processes->snapshot(dep.name);
    if (!snap || snap->state != process::service_state::running)
      return false;
    if (healthy)
      return true;
    auto ran = snap->started_at ? system_clock_source().now() - *snap->started_at : duration{0};
    return ran >= dep.ready_after;
  }

  /// Starts what may start now; true when nothing waits any more.
  bool step() {
    for (auto& svc : order_.next([this](const service_config& d) { return ready(d); })) {
      if (!svc.depends_on.empty())
        log::get("node")->info("service-dependencies-ready name={}", svc.name);
      ctx_->processes->add(svc); // completion and failures arrive as events
    }
    return order_.done();
  }

  void loop() {
    for (auto& [name, deps] : order_.waiting()) {
      std::string list;
      for (auto& d : deps)
        list += (list.empty() ? "" : ",") + d;
      log::get("node")->info("service-waiting name={} depends_on={}", name, list);
    }
    std::unique_lock<std::mutex> guard{mtx_};
    while (!stop_) {
      cv_.wait_for(guard, std::chrono::milliseconds(20));
      if (stop_)
        return;
      guard.unlock();
      bool done = step();
      guard.lock();
      if (done)
        return;
    }
  }

  std::shared_ptr<node_context> ctx_;
  process::start_order order_;
  std::chrono::steady_clock::time_point since_;
  std::mutex mtx_;
  std::condition_variable cv_;
  bool stop_ = false;
  std::thread thread_;
};

namespace {

/// Failed control-plane authentication is a security fault
/// (docs/ARCHITECTURE.md, "Ports and trust"): at most one every 10 s,
/// counting the ones between.
class refusal_alarm {
public:
  explicit refusal_alarm(std::shared_ptr<node_context> ctx) : ctx_(std::move(ctx)) {}

  void operator()(const std::string& peer, const std::string& why) {
    auto now = std::chrono::steady_clock::now();
    uint64_t count = 0;
    {
      std::lock_guard<std::mutex> guard{mtx_};
      ++pending_;
      if (last_ && now - *last_ < std::chrono::seconds(10))
        return;
      last_ = now;
      count = pending_;
      pending_ = 0;
    }
    fault_event f;
    f.id = make_uuid();
    f.time = system_clock_source().now();
    f.type = fault_type::security_violation;
    f.severity = fault_severity::high;
    f.component = "control";
    f.node = ctx_->cfg.node.id;
    f.source = "control";
    f.details["peer"] = peer;
    f.details["reason"] = why;
    f.details["refused"] = std::to_string(count);
    f.details["message"] = "failed control-plane authentication from " + peer;
    ctx_->send_to("analyzer", event_atom::value, std::move(f));
  }

private:
  std::shared_ptr<node_context> ctx_;
  std::mutex mtx_;
  std::optional<std::chrono::steady_clock::time_point> last_;
  uint64_t pending_ = 0;
};

status open_control(caf::actor_system& sys, const std::shared_ptr<node_context>& ctx,
                    node_runtime& n, caf::actor reloader) {
  const auto& node = ctx->cfg.node;
  control::server_options o;
  o.address = node.control_endpoint();
  o.limits.max_frame = node.control_max_frame;
  if (!node.control_token_file.empty())
    if (auto st = read_token_file(node.control_token_file, o.token); !st.ok())
      return st;
  if (!node.control_group.empty()) {
    auto* g = ::getgrnam(node.control_group.c_str());
    if (g == nullptr)
      return {errc::config_invalid, "unknown control_group " + node.control_group};
    o.group = static_cast<unsigned>(g->gr_gid);
  }
  auto alarm = std::make_shared<refusal_alarm>(ctx);
  // The front is set before the server's thread starts, and only read there.
  auto front = std::make_shared<caf::actor>();
  n.control = std::make_shared<control::server>(
    std::move(o),
    [front](uint64_t conn, uint64_t request_id, std::string payload) {
      caf::anon_send(*front, ctl_atom::value, conn, request_id, std::move(payload));
    },
    [alarm](const std::string& peer, const std::string& why) { (*alarm)(peer, why); });
  n.front = spawn_control_front(sys, ctx, n.control, std::move(reloader));
  *front = n.front;
  ctx->endpoint = n.control;
  if (auto st = n.control->start(); !st.ok())
    return {st.code(), "cannot open the control endpoint: " + st.message()};
  return {};
}

} // namespace

namespace {

/// Whether the running process of a service embodies `a` and `b` alike (a
/// change of any of these needs a restart of the service).
bool same_process(const service_config& a, const service_config& b) {
  auto& ra = a.restart;
  auto& rb = b.restart;
  return a.command == b.command && a.env == b.env && a.working_dir == b.working_dir
         && a.stop_signal == b.stop_signal && a.user == b.user && a.group == b.group
         && a.log_max_size == b.log_max_size && a.log_keep == b.log_keep
         && ra.policy == rb.policy && ra.burst == rb.burst && ra.period == rb.period
         && ra.backoff_initial == rb.backoff_initial && ra.backoff_max == rb.backoff_max
         && ra.backoff_jitter == rb.backoff_jitter && ra.stop_grace == rb.stop_grace;
}

/// The first part of the config a reload cannot change, or "".
std::string fixed_part_changed(const config& a, const config& b) {
  auto& na = a.node;
  auto& nb = b.node;
  auto ep = [](const std::optional<endpoint>& e) { return e ? e->to_string() : std::string{}; };
  if (na.id != nb.id)
    return "node.id";
  if (na.data_dir != nb.data_dir)
    return "node.data_dir";
  if (ep(na.listen) != ep(nb.listen))
    return "node.listen";
  if (na.control_endpoint().to_string() != nb.control_endpoint().to_string())
    return "node.control";
  if (na.control_token_file != nb.control_token_file)
    return "node.control_token_file";
  if (na.control_group != nb.control_group)
    return "node.control_group";
  if (na.control_max_frame != nb.control_max_frame)
    return "node.control_max_frame";
  if (ep(a.metrics.listen) != ep(b.metrics.listen))
    return "metrics.listen";
  auto& ca = a.cluster;
  auto& cb = b.cluster;
  std::vector<std::string> sa, sb;
  for (auto& e : ca.seeds)
    sa.push_back(e.to_string());
  for (auto& e : cb.seeds)
    sb.push_back(e.to_string());
  if (sa != sb)
    return "cluster.seeds";
  if (ca.membership != cb.membership || ca.heartbeat_interval != cb.heartbeat_interval
      || ca.phi_threshold != cb.phi_threshold || ca.suspect_timeout != cb.suspect_timeout
      || ca.min_std_deviation != cb.min_std_deviation
      || ca.acceptable_heartbeat_pause != cb.acceptable_heartbeat_pause
      || ca.probe_interval != cb.probe_interval || ca.probe_timeout != cb.probe_timeout
      || ca.gossip_interval != cb.gossip_interval
      || ca.push_pull_interval != cb.push_pull_interval)
    return "cluster (failure detection)";
  if (ca.insecure_plaintext != cb.insecure_plaintext || ca.tls.has_value() != cb.tls.has_value()
      || (ca.tls
          && (ca.tls->certificate != cb.tls->certificate || ca.tls->key != cb.tls->key
              || ca.tls->ca != cb.tls->ca)))
    return "cluster.tls";
  if (a.db_path() != b.db_path())
    return "storage.path";
  return "";
}

void declare_checks(node_context& ctx, const service_config& svc) {
  std::vector<check_status> checks;
  for (auto& chk : svc.checks) {
    check_status cs;
    cs.name = chk.name;
    cs.kind = check_type_name(chk);
    checks.push_back(cs);
  }
  ctx.health->declare(svc.name, checks);
}

/// The first custom type in `cfg` that the node cannot serve: an action
/// of a strategy whose executor `action_served` lacks, or a service's check
/// whose function `check_served` lacks, as "strategy ID action I: custom
/// action type X has no executor (node_extensions::actions)"; "" if none.
std::string unserved_extension(const config& cfg,
                               const std::function<bool(const recovery_action&)>& action_served,
                               const std::function<bool(const std::string&)>& check_served) {
  for (const auto& [id, s] : cfg.strategies)
    for (size_t i = 0; i < s.actions.size(); ++i)
      if (s.actions[i].type == action_type::custom && !action_served(s.actions[i]))
        return "strategy " + id + " action " + std::to_string(i) + ": custom action type "
               + s.actions[i].custom_type + " has no executor (node_extensions::actions)";
  for (const auto& svc : cfg.services)
    for (const auto& c : svc.checks)
      if (c.kind == check_kind::custom && !check_served(c.custom_type))
        return "service " + svc.name + " check " + c.name + ": custom check type "
               + c.custom_type + " has no function (node_extensions::checks)";
  return "";
}

} // namespace

status reload_node(caf::actor_system& sys, node_runtime& node, const config& next,
                   control::reload_summary& out) {
  auto log = log::get("node");
  if (!node.ctx || !node.root)
    return {errc::unavailable, "the node is not running"};
  auto& ctx = *node.ctx;
  if (auto what = fixed_part_changed(ctx.cfg, next); !what.empty())
    return {errc::bad_request, what + " changed: restart faultd to apply it (the running "
                                      "config stays)"};
  if (auto missing = unserved_extension(
        next, [&](const recovery_action& a) { return ctx.executors->get(a) != nullptr; },
        [&](const std::string& type) { return ctx.custom_checks.count(type) > 0; });
      !missing.empty())
    return {errc::bad_request, missing + " (the running config stays)"};
  out = control::reload_summary{};
  out.source = next.source;
  std::vector<service_config> start;   // added and changed, in config order
  std::vector<std::string> stop;       // removed and changed
  for (auto& svc : next.services) {
    auto* old = ctx.cfg.find_service(svc.name);
    if (old == nullptr) {
      out.added.push_back(svc.name);
      start.push_back(svc);
    } else if (!same_process(*old, svc)) {
      out.changed.push_back(svc.name);
      stop.push_back(svc.name);
      start.push_back(svc);
    } else {
      out.unchanged.push_back(svc.name);
    }
  }
  for (auto& svc : ctx.cfg.services)
    if (next.find_service(svc.name) == nullptr) {
      out.removed.push_back(svc.name);
      stop.push_back(svc.name);
    }
  // The actors read the config without a lock: they stop first. Recovery
  // actions on worker threads read it too: none may run while it changes
  // (a stopped incident supervisor's worker runs on; wait for it).
  node.starter = nullptr;
  {
    caf::scoped_actor self{sys};
    self->monitor(node.root);
    self->send_exit(node.root, caf::exit_reason::user_shutdown);
    self->receive([](const caf::down_msg&) {});
  }
  bool idle = ctx.workers->wait_idle(std::chrono::steady_clock::now() + std::chrono::seconds(10));
  if (idle) {
    for (auto& name : stop) {
      auto fut = node.ctx->processes->remove(name);
      fut.wait();
      log->info("service-removed-by-reload name={} status={}", name, fut.get().to_string());
    }
    for (auto& name : out.removed)
      ctx.health->forget(name);
    ctx.cfg.source = next.source;
    ctx.cfg.services = next.services;
    ctx.cfg.fault_detection = next.fault_detection;
    ctx.cfg.recovery = next.recovery;
    ctx.cfg.state_sync = next.state_sync;
    ctx.cfg.strategies = next.strategies;
    ctx.cfg.alerting = next.alerting;
    ctx.cfg.storage = next.storage;
    ctx.cfg.devices = next.devices;
    for (auto& svc : ctx.cfg.services)
      declare_checks(ctx, svc);
  }
  // The tree comes back in every case: on the new config, or (a recovery
  // action still runs) on the old one.
  node.root = spawn_supervisor(sys, node_tree(node.ctx, node.db, node.cluster));
  if (!idle)
    return {errc::unavailable, "a recovery action is still running; the running config stays, "
                               "try again when it ends"};
  node.starter = std::make_shared<service_starter>(node.ctx, std::move(start));
  log->info("config-reloaded source={} added={} removed={} restarted={} unchanged={}",
            next.source, out.added.size(), out.removed.size(), out.changed.size(),
            out.unchanged.size());
  return {};
}

void prepare_actor_system(caf::actor_system_config& caf_cfg, const config& cfg) {
  caf_cfg.load<caf::io::middleman>();
  if (cfg.cluster.tls) {
    caf_cfg.load<caf::openssl::manager>();
    caf_cfg.openssl_certificate = cfg.cluster.tls->certificate;
    caf_cfg.openssl_key = cfg.cluster.tls->key;
    caf_cfg.openssl_cafile = cfg.cluster.tls->ca;
  }
}

namespace {

/// The peer port: publishes the peer front on node.listen (TLS when
/// cluster.tls is set) and makes membership's table. Without a peer port
/// the node lists itself alone.
status open_peer_port(caf::actor_system& sys, node_runtime& n) {
  auto& ctx = *n.ctx;
  const auto& cfg = ctx.cfg;
  auto log = log::get("node");
  membership::member_view me;
  me.id = cfg.node.id;
  me.self = true;
  if (!cfg.node.listen) {
    me.address = cfg.node.control_endpoint().to_string(); // as `status` names the node
    ctx.members->publish({me}, 0);
    return {};
  }
  if (auto problem = peer_port_problem(cfg); !problem.empty())
    return {errc::config_invalid, problem};
  auto& listen = *cfg.node.listen;
  bool tls = cfg.cluster.tls.has_value();
  if (tls) {
    if (!sys.has_openssl_manager() || !sys.openssl_manager().authentication_enabled())
      return {errc::config_invalid, "cluster.tls is set but the actor system has no "
                                    "certificate loaded (see prepare_actor_system)"};
  }
  n.peer = spawn_peer_front(sys, n.ctx);
  auto port = tls ? caf::openssl::publish(n.peer, listen.port, listen.host.c_str(), true)
                  : sys.middleman().publish(n.peer, listen.port, listen.host.c_str(), true);
  if (!port)
    return {errc::io, "cannot listen on " + listen.to_string() + ": " + sys.render(port.error())};
  n.port = *port;
  if (tls) {
    tls_gate::arm(n.port, membership::gate_limits::of(cfg.cluster.tls->max_pending_handshakes,
                                                      cfg.cluster.tls->handshake_timeout));
  }
  endpoint self{listen.host, n.port};
  if (!tls && !is_loopback_host(listen.host))
    log->warn("peer-port-insecure address={} reason=\"cluster.insecure_plaintext: BASP in "
              "plaintext off loopback; anyone who reaches this port can crash this node\"",
              self.to_string());
  auto rt = std::make_shared<membership_runtime>();
  rt->incarnation_path = cfg.node.data_dir + "/incarnation";
  uint64_t incarnation = 0;
  if (auto st = membership::next_incarnation(rt->incarnation_path, incarnation); !st.ok())
    return st;
  std::random_device rd;
  rt->nonce = (static_cast<uint64_t>(rd()) << 32) ^ rd();
  rt->tls = tls;
  rt->connector = tls ? sys.openssl_manager().actor_handle() : sys.middleman().actor_handle();
  if (cfg.cluster.membership == membership_mode::swim) {
    membership::swim_params sp;
    sp.probe_interval = cfg.cluster.probe_interval;
    sp.probe_timeout = cfg.cluster.probe_timeout;
    sp.gossip_interval = cfg.cluster.gossip_interval;
    sp.push_pull_interval = cfg.cluster.push_pull_interval;
    rt->swim = std::make_shared<membership::swim_node>(cfg.node.id, self.to_string(), sp,
                                                       system_clock_source(), rt->nonce,
                                                       incarnation);
  } else {
    membership::table_params p;
    p.phi.heartbeat_interval = cfg.cluster.heartbeat_interval;
    p.phi.threshold = cfg.cluster.phi_threshold;
    p.phi.min_std_deviation = cfg.cluster.min_std_deviation;
    p.phi.acceptable_heartbeat_pause = cfg.cluster.acceptable_heartbeat_pause;
    p.probe_window = std::max(duration{millis_d(200)}, 3 * cfg.cluster.heartbeat_interval);
    p.suspect_timeout = cfg.cluster.suspect_timeout;
    rt->table = std::make_shared<membership::member_table>(cfg.node.id, self.to_string(),
                                                           incarnation, p, system_clock_source());
  }
  me.address = self.to_string();
  me.incarnation = incarnation;
  ctx.members->publish({me}, 0);
  n.cluster = rt;
  log->info("peer-port-published address={} tls={} incarnation={} membership={}",
            self.to_string(), tls, incarnation, to_string(cfg.cluster.membership));
  return {};
}

/// Waits (at most 3 s) for the first join through the seeds. Only a refusal
/// stops the node: unreachable seeds leave it running alone until one
/// answers.
status join_cluster(caf::actor_system& sys, node_runtime& n) {
  if (!n.cluster)
    return {};
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(3);
  caf::actor membership;
  while (!(membership = n.ctx->lookup("membership"))) {
    if (std::chrono::steady_clock::now() > deadline)
      return {errc::internal, "membership did not start"};
    std::this_thread::sleep_for(std::chrono::milliseconds(2));
  }
  caf::scoped_actor self{sys};
  std::string refused;
  bool timed_out = false;
  self->request(membership, std::chrono::seconds(3), join_atom::value)
    .receive([&](std::string& why) { refused = std::move(why); },
             [&](caf::error&) { timed_out = true; });
  if (!refused.empty())
    return {errc::unauthorized, refused};
  if (timed_out)
    log::get("node")->warn("cluster-join-pending reason=\"no seed answered within 3s; running "
                           "alone until one does\"");
  return {};
}

} // namespace

namespace {

/// The node's heartbeat: a beat a second from an actor, so that /healthz
/// (and faultd_healthy) go stale when the actor system is wedged.
caf::behavior heartbeat(caf::event_based_actor* self, std::shared_ptr<metrics::hub> hub) {
  // systemd's watchdog (WatchdogSec) gets a ping with every beat, at least
  // twice per its interval.
  auto watchdog = systemd::watchdog_interval();
  auto every = std::chrono::duration_cast<duration>(std::chrono::seconds(1));
  if (watchdog)
    every = std::min(every, *watchdog / 2);
  auto beat = [=] {
    hub->beat();
    if (watchdog)
      systemd::watchdog();
    self->delayed_send(self, every, tick_atom::value);
  };
  beat();
  return {
    [=](tick_atom) { beat(); },
  };
}

/// What the scrape reads, the heartbeat, and metrics.listen if set.
status open_metrics(caf::actor_system& sys, node_runtime& n) {
  auto& ctx = n.ctx;
  metrics::sources src;
  src.services = [processes = std::weak_ptr<process::supervisor>{ctx->processes}] {
    std::vector<metrics::service_sample> out;
    if (auto p = processes.lock())
      for (auto& s : p->snapshot())
        out.push_back({s.name, std::string{process::to_string(s.state)}, s.restarts});
    return out;
  };
  src.members = [board = std::weak_ptr<membership::member_board>{ctx->members}] {
    std::map<std::string, uint64_t> out;
    if (auto b = board.lock())
      for (auto& m : b->snapshot())
        ++out[std::string{membership::to_string(m.state)}];
    return out;
  };
  ctx->metrics->set_sources(std::move(src));
  n.heartbeat = sys.spawn(heartbeat, ctx->metrics);
  if (!ctx->cfg.metrics.listen)
    return {};
  auto listen = ctx->cfg.metrics.listen->to_string();
  if (auto st = metrics::endpoint::open(listen, ctx->metrics, n.metrics); !st.ok())
    return st;
  log::get("node")->info("metrics-listening address={} paths=/metrics,/healthz", listen);
  return {};
}

} // namespace

status start_node(caf::actor_system& sys, const config& cfg, node_runtime& out,
                  caf::actor reloader, const node_extensions& ext) {
  auto log = log::get("node");
  // Every custom action type a strategy names has its executor, and every
  // custom check type its function, before anything starts (the journal
  // resumes unfinished executions at start).
  for (const auto& [name, ex] : ext.actions) {
    if (auto st = actions::check_custom_action_name(name); !st.ok())
      return st;
    if (!ex)
      return {errc::bad_request, "custom action type \"" + name + "\": no executor"};
  }
  for (const auto& [name, fn] : ext.checks) {
    if (auto st = checks::check_custom_check_name(name); !st.ok())
      return st;
    if (!fn)
      return {errc::bad_request, "custom check type \"" + name + "\": no function"};
  }
  if (auto missing = unserved_extension(
        cfg, [&](const recovery_action& a) { return ext.actions.count(a.custom_type) > 0; },
        [&](const std::string& type) { return ext.checks.count(type) > 0; });
      !missing.empty())
    return {errc::config_invalid, missing};
  node_runtime n;
  std::string corrupt;
  if (auto st = open_store(cfg, n.db, &corrupt); !st.ok())
    return st;
  auto ctx = std::make_shared<node_context>();
  ctx->cfg = cfg;
  ctx->custom_checks = ext.checks;
  ctx->dir = std::make_shared<actor_directory>();
  ctx->metrics = std::make_shared<metrics::hub>();
  ctx->health = std::make_shared<state::health_board>();
  ctx->registry = std::make_shared<state::registry>(cfg.node.data_dir + "/registry");
  if (!ctx->registry->init_status().ok())
    return ctx->registry->init_status();
  ctx->circuits = std::make_shared<actions::circuit_board>(ctx->registry.get());
  ctx->maintenance = std::make_shared<state::maintenance_set>(ctx->registry.get());
  // The cluster-wide registry keys go to the replicated map (held for the
  // state-sync actor while it restarts) ...
  static const std::string placement_prefix = "placement/";
  ctx->registry->on_local_change(
    [dir = ctx->dir, weak = std::weak_ptr<node_context>{ctx}](
      const std::string& key, const std::optional<std::string>& value) {
      dir->send_or_hold("state_sync", caf::make_message(sreg_atom::value, key,
                                                         value.value_or(""), !value));
      if (key.rfind(placement_prefix, 0) == 0)
        if (auto c = weak.lock())
          follow_placement(c, key.substr(placement_prefix.size()));
    });
  // ... and a circuit another node opened or closed is opened or closed
  // here too (a half-open breaker probes on each node by itself).
  ctx->registry->on_replicated_change(
    [circuits = std::weak_ptr<actions::circuit_board>{ctx->circuits},
     reg = ctx->registry.get(), weak = std::weak_ptr<node_context>{ctx}](
      const std::string& key, const std::optional<std::string>& value) {
      if (key.rfind(placement_prefix, 0) == 0) {
        if (auto c = weak.lock())
          follow_placement(c, key.substr(placement_prefix.size()));
        return;
      }
      auto board = circuits.lock();
      if (!board)
        return;
      auto follow = [&](const std::string& target) {
        auto state = reg->get(actions::circuit_key(target)).value_or("");
        bool hold = reg->get(actions::circuit_hold_key(target)).value_or("") == "true";
        if (state == "open" || state == "closed")
          board->follow(target, state == "open", hold);
      };
      static const std::string circuit = "circuit/", hold = "circuit-hold/";
      if (key.rfind(circuit, 0) == 0)
        follow(key.substr(circuit.size()));
      else if (key.rfind(hold, 0) == 0 && value)
        follow(key.substr(hold.size()));
    });
  process::supervisor_options opts;
  opts.log_dir = cfg.node.data_dir + "/logs";
  opts.run_dir = cfg.node.data_dir + "/run";
  opts.held_dir = cfg.node.data_dir + "/held";
  // Runs on the supervisor thread: hand over to the current "services".
  opts.listener = [dir = ctx->dir](const process::event& e) {
    dir->send_or_hold("services", caf::make_message(proc_atom::value, e));
  };
  ctx->processes = std::make_shared<process::supervisor>(std::move(opts));
  if (!ctx->processes->init_status().ok())
    return ctx->processes->init_status();
  ctx->executors = std::make_shared<actions::executor_registry>();
  ctx->workers = std::make_shared<actions::action_workers>();
  actions::builtin_deps deps;
  deps.cfg = &ctx->cfg;
  deps.supervisor = ctx->processes.get();
  deps.registry = ctx->registry.get();
  deps.health = ctx->health.get();
  deps.circuits = ctx->circuits.get();
  deps.state = make_state_access(sys, ctx->dir);
  // The membership as it is when a failover runs (the board is set below,
  // before anything can fail over).
  deps.reachable = reachable_fn(ctx);
  deps.cluster = cluster_fn(ctx);
  actions::register_builtin_executors(*ctx->executors, deps);
  for (const auto& [name, ex] : ext.actions)
    (void) ctx->executors->add_custom(name, ex);  // names checked above
  for (auto& svc : cfg.services)
    declare_checks(*ctx, svc);
  n.ctx = ctx;
  // The endpoints first: one that cannot open must stop the node before any
  // service has started. (A request that arrives before "control" runs
  // waits for it in the front.)
  if (auto st = open_control(sys, ctx, n, std::move(reloader)); !st.ok()) {
    stop_node(sys, n);
    return st;
  }
  ctx->members = std::make_shared<membership::member_board>();
  if (auto st = open_metrics(sys, n); !st.ok()) {
    stop_node(sys, n);
    return st;
  }
  if (auto st = open_peer_port(sys, n); !st.ok()) {
    stop_node(sys, n);
    return st;
  }
  n.root = spawn_supervisor(sys, node_tree(ctx, n.db, n.cluster));
  if (!corrupt.empty())
    ctx->send_to("analyzer", event_atom::value,  // held until the analyzer runs
                 corrupt_database_fault(cfg, corrupt));
  if (auto st = join_cluster(sys, n); !st.ok()) {
    stop_node(sys, n);
    return st;
  }
  // Services start once "services" exists to hear about them, each after
  // what it depends on is ready; live ones of a previous faultd are
  // adopted, those no longer configured ended.
  std::set<std::string> names;
  for (auto& svc : cfg.services)
    // An unmanaged one's old process is ended too, and a copy of a service
    // that another node runs now.
    if (!svc.command.empty() && state::runs_here(svc, cfg.node.id, *ctx->registry))
      names.insert(svc.name);
  ctx->processes->retire_others(std::move(names));
  n.starter = std::make_shared<service_starter>(ctx);
  out = std::move(n);
  return {};
}

void stop_node(caf::actor_system& sys, node_runtime& node) {
  caf::scoped_actor self{sys};
  node.starter = nullptr; // nothing more is started
  node.metrics = nullptr;
  if (node.heartbeat) {
    self->send_exit(node.heartbeat, caf::exit_reason::user_shutdown);
    node.heartbeat = nullptr;
  }
  if (node.control) {
    node.control->stop();
    node.control = nullptr;
  }
  if (node.front) {
    self->send_exit(node.front, caf::exit_reason::user_shutdown);
    node.front = nullptr;
  }
  if (node.cluster && node.ctx) {
    // Goodbye first, so the others list this node as left, not dead.
    if (auto m = node.ctx->lookup("membership")) {
      self->request(m, std::chrono::milliseconds(500), leave_atom::value)
        .receive([](bool) {}, [](caf::error&) {});
      std::this_thread::sleep_for(std::chrono::milliseconds(50)); // let BASP write it
    }
  }
  if (node.peer) {
    if (node.port != 0)
      sys.middleman().unpublish(node.peer, node.port);
    tls_gate::disarm();
    self->send_exit(node.peer, caf::exit_reason::user_shutdown);
    node.peer = nullptr;
  }
  if (node.root) {
    self->monitor(node.root);
    self->send_exit(node.root, caf::exit_reason::user_shutdown);
    self->receive([](const caf::down_msg&) {});
    node.root = nullptr;
  }
  // Whatever is still listed outlived its supervisor (e.g. an incident
  // supervisor whose manager was killed): the actor system would wait for it.
  if (node.ctx)
    for (auto& e : node.ctx->dir->list())
      if (e.actor)
        self->send_exit(e.actor, caf::exit_reason::user_shutdown);
  if (node.ctx && node.ctx->processes)
    node.ctx->processes->shutdown();
  // Recovery commands still running die now, with their children (they
  // would outlive faultd), and their workers return.
  if (auto n = checks::kill_running_commands(); n > 0)
    log::get("node")->info("commands-killed count={} reason=shutdown", n);
  if (node.ctx && node.ctx->workers) {
    auto& w = *node.ctx->workers;
    if (!w.wait_idle(std::chrono::steady_clock::now() + std::chrono::seconds(1))) {
      node.workers_left = w.running();
      log::get("node")->warn("recovery-actions-abandoned count={} reason=\"still running at "
                             "shutdown\"",
                             node.workers_left);
    }
  }
  node.ctx = nullptr;
  node.db = nullptr;
}

} // namespace faultd
