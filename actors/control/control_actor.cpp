#include "actors/control/control_actor.hpp"

#include <caf/all.hpp>

#include "actors/type_ids.hpp"
#include "control/codec.hpp"
#include "faultd/log.hpp"
#include "faultd/util.hpp"

namespace faultd {

namespace {

constexpr auto request_timeout = std::chrono::seconds(10);

struct control_state {
  config cfg;
  caf::actor services;
  caf::actor storage;
  caf::actor analyzer;
  std::chrono::steady_clock::time_point started = std::chrono::steady_clock::now();
  uint64_t malformed_dropped = 0;
  uint64_t requests = 0;
  std::shared_ptr<spdlog::logger> log = log::get("control");
  static inline const char* name = "control";
};

using self_ptr = caf::stateful_actor<control_state>*;

std::string unavailable(const char* what, const caf::error& err, self_ptr self) {
  return control::encode_error(errc::unavailable, std::string{what} + " did not answer: "
                                                    + self->system().render(err));
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
  auto rp = self->make_response_promise<std::string>();
  switch (req.cmd) {
    case control::command::status:
    case control::command::services: {
      bool full = req.cmd == control::command::status;
      self->request(st.services, request_timeout, services_atom::value)
        .then(
          [=](const std::vector<service_status>& svcs) mutable {
            auto& s = self->state;
            if (!full) {
              rp.deliver(control::encode_services(svcs));
              return;
            }
            control::node_info node{s.cfg.node.id, s.cfg.node.listen.to_string(),
                                    static_cast<uint32_t>(
                                      std::chrono::duration_cast<std::chrono::seconds>(
                                        std::chrono::steady_clock::now() - s.started)
                                        .count())};
            std::vector<member_status> members{{s.cfg.node.id, node.address, "alive"}};
            rp.deliver(control::encode_status(node, members, svcs));
          },
          [=](const caf::error& err) mutable { rp.deliver(unavailable("services", err, self)); });
      break;
    }
    case control::command::faults:
      self->request(st.storage, request_timeout, faults_atom::value, req.since_ns,
                    req.limit == 0 ? uint32_t{100} : req.limit)
        .then([=](const std::vector<fault_event>& xs) mutable { rp.deliver(control::encode_faults(xs)); },
              [=](const caf::error& err) mutable { rp.deliver(unavailable("storage", err, self)); });
      break;
    case control::command::incidents:
      self->request(st.storage, request_timeout, incidents_atom::value,
                    req.limit == 0 ? uint32_t{50} : req.limit, req.open_only)
        .then([=](const std::vector<incident>& xs) mutable { rp.deliver(control::encode_incidents(xs)); },
              [=](const caf::error& err) mutable { rp.deliver(unavailable("storage", err, self)); });
      break;
    case control::command::incident: {
      auto id = req.id;
      self->request(st.storage, request_timeout, incident_atom::value, id)
        .then(
          [=](const std::vector<incident>& xs) mutable {
            if (xs.empty())
              rp.deliver(control::encode_error(errc::not_found, "no incident with id " + id));
            else
              rp.deliver(control::encode_incident(xs.front()));
          },
          [=](const caf::error& err) mutable { rp.deliver(unavailable("storage", err, self)); });
      break;
    }
    case control::command::inject: {
      auto ev = req.event;
      ev.id = make_uuid();
      ev.time = system_clock_source().now();
      if (ev.node.empty())
        ev.node = st.cfg.node.id;
      if (ev.source.empty())
        ev.source = "inject";
      st.log->info("fault-injected id={} type={} component={} severity={}", ev.id,
                   to_string(ev.type), ev.component, to_string(ev.severity));
      self->request(st.analyzer, request_timeout, inject_atom::value, ev)
        .then(
          [=](const std::string& event_id, const std::string& incident_id) mutable {
            rp.deliver(control::encode_inject(event_id, incident_id));
          },
          [=](const caf::error& err) mutable { rp.deliver(unavailable("analyzer", err, self)); });
      break;
    }
    case control::command::strategies:
      rp.deliver(control::encode_strategies(st.cfg.strategies));
      break;
  }
  return rp;
}

caf::behavior control_actor(self_ptr self, config cfg, caf::actor services, caf::actor storage,
                            caf::actor analyzer) {
  auto& st = self->state;
  st.cfg = std::move(cfg);
  st.services = std::move(services);
  st.storage = std::move(storage);
  st.analyzer = std::move(analyzer);
  // Messages of any other shape: drop, count, log; never crash.
  self->set_default_handler([](caf::scheduled_actor* ptr, caf::message_view& x) -> caf::result<caf::message> {
    auto* me = static_cast<self_ptr>(ptr);
    ++me->state.malformed_dropped;
    me->state.log->warn("control-unexpected-message dropped_total={} content={}",
                        me->state.malformed_dropped, to_string(x.copy_content_to_message()));
    return caf::sec::unexpected_message;
  });
  return {
    [=](ctl_atom, const std::string& bytes) -> caf::result<std::string> { return handle(self, bytes); },
  };
}

} // namespace

caf::actor spawn_control_actor(caf::actor_system& sys, const config& cfg, caf::actor services,
                               caf::actor storage, caf::actor analyzer) {
  return sys.spawn(control_actor, cfg, std::move(services), std::move(storage),
                   std::move(analyzer));
}

} // namespace faultd
