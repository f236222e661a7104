#include "actors/control/control_actor.hpp"

#include <functional>
#include <map>

#include <caf/all.hpp>

#include "actors/detectors/service_actor.hpp"
#include "actors/supervision/supervisor_actor.hpp"
#include "actors/type_ids.hpp"
#include "control/server.hpp"
#include "control/codec.hpp"
#include "faultd/log.hpp"
#include "faultd/util.hpp"

namespace faultd {

namespace {

constexpr auto request_timeout = std::chrono::seconds(10);

struct control_state {
  std::shared_ptr<node_context> ctx;
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

/// Sends a request to the current incarnation of `name`; a missing actor
/// answers `rp` with an error at once.
template <class RP, class OnOk, class... Ts>
void ask(self_ptr self, const std::string& name, RP rp, OnOk on_ok, Ts&&... xs) {
  auto who = self->state.ctx->lookup(name);
  if (!who) {
    rp.deliver(control::encode_error(errc::unavailable, name + " is not running"));
    return;
  }
  self->request(who, request_timeout, std::forward<Ts>(xs)...)
    .then(on_ok, [=](const caf::error& err) mutable { rp.deliver(unavailable(name, err, self)); });
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
      node.address = cfg.node.listen ? cfg.node.listen->to_string()
                                     : cfg.node.control_endpoint().to_string();
      node.uptime_s = static_cast<uint32_t>(
        std::chrono::duration_cast<std::chrono::seconds>(std::chrono::steady_clock::now()
                                                         - st.started)
          .count());
      node.control_address = cfg.node.control_endpoint().to_string();
      if (auto e = st.ctx->endpoint.lock()) {
        node.control = e->stats();
        node.control_address = e->bound_address();
      }
      std::vector<member_status> members{{cfg.node.id, node.address, "alive"}};
      return control::encode_status(node, members, collect_service_status(*st.ctx));
    }
    case control::command::services:
      return control::encode_services(collect_service_status(*st.ctx));
    case control::command::strategies:
      return control::encode_strategies(st.ctx->cfg.strategies);
    case control::command::chaos_list_actors:
      return chaos_list(self);
    case control::command::chaos_crash_actor:
      return chaos_crash(self, req.id);
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
    case control::command::inject: {
      auto ev = req.event;
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
  uint64_t dropped = 0;
  uint64_t next_parked = 0;
  std::map<uint64_t, parked_request> parked;
  std::shared_ptr<spdlog::logger> log = log::get("control");
  static inline const char* name = "control-front";
};

caf::behavior control_front(caf::stateful_actor<front_state>* self,
                            std::shared_ptr<node_context> ctx,
                            std::weak_ptr<control::server> endpoint) {
  self->state.ctx = std::move(ctx);
  self->state.endpoint = std::move(endpoint);
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
                               std::weak_ptr<control::server> endpoint) {
  return sys.spawn(control_front, std::move(ctx), std::move(endpoint));
}

} // namespace faultd
