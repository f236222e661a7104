#include "control/codec.hpp"

#include <algorithm>
#include <cstdio>
#include <set>
#include <sstream>

#include <google/protobuf/io/coded_stream.h>
#include <google/protobuf/util/json_util.h>
#include <google/protobuf/wire_format_lite.h>

#include "faultd/v1/control.pb.h"
#include "storage/proto_convert.hpp"

namespace faultd::control {

namespace {

std::string str(std::string_view s) { return std::string{s}; }

std::string time_or_empty(const std::optional<timestamp>& t) {
  return t ? format_timestamp(*t) : std::string{};
}

std::string finish(v1::ControlResponse& resp) {
  resp.set_ok(true);
  return resp.SerializeAsString();
}

void fill(v1::ActionSpec& ai, const recovery_action& a) {
  ai.set_type(str(action_name(a)));
  ai.set_target(a.target);
  for (auto& [k, v] : a.parameters)
    (*ai.mutable_parameters())[k] = v;
  ai.set_timeout(human_duration(a.timeout));
  ai.set_retry_count(a.retry_count);
  ai.set_retry_delay(human_duration(a.retry_delay));
}

void fill(v1::ServiceInfo& out, const service_status& s) {
  out.set_name(s.name);
  out.set_state(s.state);
  out.set_pid(s.pid);
  out.set_restarts(s.restarts);
  out.set_health(s.health);
  out.set_degradation(s.degradation);
  out.set_circuit(s.circuit);
  for (auto& c : s.command)
    out.add_command(c);
  for (auto& d : s.depends_on)
    out.add_depends_on(d);
  for (auto& c : s.checks) {
    auto* ci = out.add_checks();
    ci->set_name(c.name);
    ci->set_kind(c.kind);
    ci->set_health(c.health);
    ci->set_consecutive_failures(c.consecutive_failures);
    ci->set_last_error(storage::valid_utf8(c.last_error));
  }
  out.set_last_exit(s.last_exit);
  out.set_adopted(s.adopted);
  out.set_maintenance(s.maintenance);
  out.set_runs_on(s.runs_on);
  out.set_epoch(s.epoch);
}

void fill(v1::MemberInfo& out, const member_status& m) {
  out.set_id(m.id);
  out.set_address(m.address);
  out.set_state(m.state);
  out.set_phi(m.phi);
  out.set_last_heard_ms(m.last_heard_ms);
  out.set_incarnation(m.incarnation);
  out.set_self(m.self);
  out.set_connected(m.connected);
}

void fill(v1::IncidentInfo& out, const incident& x) {
  out.set_id(x.id);
  out.set_component(x.component);
  out.set_fault_type(str(to_string(x.type)));
  out.set_severity(str(to_string(x.severity)));
  out.set_status(str(to_string(x.status)));
  out.set_strategy(x.strategy);
  out.set_opened_at(format_timestamp(x.opened_at));
  out.set_closed_at(time_or_empty(x.closed_at));
  for (auto& a : x.actions) {
    auto* ai = out.add_actions();
    ai->set_type(str(action_name(a.action)));
    ai->set_target(a.action.target);
    ai->set_status(str(to_string(a.status)));
    ai->set_attempts(a.attempts);
    ai->set_error(a.error);
    ai->set_started_at(time_or_empty(a.started_at));
    ai->set_ended_at(time_or_empty(a.ended_at));
  }
  out.set_count(static_cast<uint32_t>(std::min<uint64_t>(x.event_count, UINT32_MAX)));
  out.set_node(x.node);
  out.set_root_cause(x.root_cause);
  for (auto& i : x.impacted)
    out.add_impacted(i);
  out.set_flapping(x.flapping);
  out.set_close_reason(x.close_reason);
  out.set_last_seen_at(format_timestamp(x.last_seen_at));
  out.set_recovery(x.recovery_status ? str(to_string(*x.recovery_status)) : std::string{});
  out.set_recovery_error(x.recovery_error);
  for (const auto& rung : x.ladder)
    out.add_ladder(rung);
  out.set_acknowledged(x.acknowledged);
  out.set_budget_wait(x.budget_wait);
}

// -- rendering ---------------------------------------------------------------

/// A text table with left-aligned columns.
class table {
public:
  explicit table(std::vector<std::string> header) { rows_.push_back(std::move(header)); }
  void add(std::vector<std::string> row) { rows_.push_back(std::move(row)); }
  std::string render() const {
    std::vector<size_t> width;
    for (auto& r : rows_)
      for (size_t i = 0; i < r.size(); ++i) {
        if (width.size() <= i)
          width.push_back(0);
        width[i] = std::max(width[i], r[i].size());
      }
    std::ostringstream out;
    for (auto& r : rows_) {
      for (size_t i = 0; i < r.size(); ++i) {
        out << r[i];
        if (i + 1 < r.size())
          out << std::string(width[i] - r[i].size() + 2, ' ');
      }
      out << '\n';
    }
    return out.str();
  }

private:
  std::vector<std::vector<std::string>> rows_;
};

std::string or_dash(const std::string& s) { return s.empty() ? "-" : s; }

std::string join(const google::protobuf::RepeatedPtrField<std::string>& xs, const char* sep) {
  std::string out;
  for (auto& x : xs) {
    if (!out.empty())
      out += sep;
    out += x;
  }
  return out;
}

std::string render_services(const google::protobuf::RepeatedPtrField<v1::ServiceInfo>& xs) {
  table t{{"SERVICE", "STATE", "PID", "RESTARTS", "HEALTH", "DEGRADATION", "CIRCUIT", "LAST EXIT"}};
  for (auto& s : xs)
    t.add({s.name(),
           s.state() + (s.state() == "standby" ? " (on " + s.runs_on() + ")" : "")
             + (s.maintenance() ? " (maintenance)" : ""),
           s.pid() > 0 ? std::to_string(s.pid()) : "-",
           std::to_string(s.restarts()), s.health(), s.degradation(), s.circuit(),
           or_dash(s.last_exit())});
  return t.render();
}

std::string render_members(const google::protobuf::RepeatedPtrField<v1::MemberInfo>& xs) {
  table t{{"MEMBER", "ADDRESS", "STATE", "PHI", "LAST HEARD", "INCARNATION"}};
  for (auto& m : xs) {
    char phi[32];
    std::snprintf(phi, sizeof(phi), "%.1f", m.phi());
    t.add({m.id() + (m.self() ? " (this node)" : ""), or_dash(m.address()), m.state(), phi,
           m.last_heard_ms() < 0 ? "-" : human_duration(millis_d(m.last_heard_ms())),
           std::to_string(m.incarnation())});
  }
  return t.render();
}

std::string render_incidents(const google::protobuf::RepeatedPtrField<v1::IncidentInfo>& xs) {
  table t{{"ID", "COMPONENT", "TYPE", "SEVERITY", "STATUS", "COUNT", "OPENED", "CLOSED",
           "STRATEGY", "ROOT CAUSE"}};
  for (auto& x : xs)
    t.add({x.id(), x.component(), x.fault_type(), x.severity(),
           x.status() + (x.flapping() ? " (flapping)" : ""), std::to_string(x.count()),
           x.opened_at(), or_dash(x.closed_at()), or_dash(x.strategy()), or_dash(x.root_cause())});
  return t.render();
}

std::string render_incident(const v1::IncidentInfo& x) {
  std::ostringstream out;
  out << "incident   " << x.id() << '\n'
      << "component  " << x.component() << " (node " << or_dash(x.node()) << ")\n"
      << "fault      " << x.fault_type() << ", " << x.severity() << '\n'
      << "status     " << x.status() << (x.flapping() ? " (flapping)" : "")
      << (x.acknowledged() ? " (acknowledged)" : "") << '\n'
      << "events     " << x.count() << '\n'
      << "opened     " << x.opened_at() << '\n'
      << "last seen  " << x.last_seen_at() << '\n'
      << "closed     " << or_dash(x.closed_at())
      << (x.close_reason().empty() ? "" : " (" + x.close_reason() + ")") << '\n'
      << "root cause " << or_dash(x.root_cause()) << '\n'
      << "impacted   " << or_dash(join(x.impacted(), ", ")) << '\n'
      << "strategy   " << or_dash(x.strategy()) << '\n'
      << "recovery   " << or_dash(x.recovery())
      << (x.recovery_error().empty() ? "" : " (" + x.recovery_error() + ")") << '\n';
  if (!x.budget_wait().empty())
    out << "waited     " << x.budget_wait() << '\n';
  if (x.actions_size() > 0) {
    table t{{"ACTION", "TARGET", "STATUS", "ATTEMPTS", "STARTED", "ENDED", "ERROR"}};
    for (auto& a : x.actions())
      t.add({a.type(), a.target(), a.status(), std::to_string(a.attempts()),
             or_dash(a.started_at()), or_dash(a.ended_at()), or_dash(a.error())});
    out << '\n' << t.render();
  }
  return out.str();
}

std::string render(const v1::ControlResponse& r) {
  switch (r.body_case()) {
    case v1::ControlResponse::kStatus: {
      auto& s = r.status();
      std::ostringstream out;
      out << "node " << s.node().id() << " at " << s.node().address() << ", up "
          << s.node().uptime_s() << "s\n\n";
      out << render_members(s.members()) << '\n' << render_services(s.services());
      if (s.has_control()) {
        auto& c = s.control();
        out << "\ncontrol " << c.address() << ": " << c.open() << " open, " << c.accepted()
            << " accepted, " << c.requests() << " requests; closed: " << c.closed_malformed()
            << " malformed, " << c.closed_oversized() << " oversized, " << c.closed_slow()
            << " slow, " << c.closed_idle() << " idle, " << c.closed_capacity()
            << " over capacity; " << c.unauthorized() << " unauthorized\n";
      }
      return out.str();
    }
    case v1::ControlResponse::kFaults: {
      table t{{"TIME", "TYPE", "SEVERITY", "COMPONENT", "NODE", "SOURCE", "DETAILS"}};
      for (auto& f : r.faults().faults()) {
        std::string details;
        std::vector<std::pair<std::string, std::string>> kv(f.details().begin(),
                                                             f.details().end());
        std::sort(kv.begin(), kv.end());
        for (auto& [k, v] : kv)
          details += (details.empty() ? "" : " ") + k + "=" + v;
        t.add({f.time(), f.type() + (f.clears() ? " (cleared)" : ""), f.severity(),
               f.component(), f.node(), f.source(), or_dash(details)});
      }
      return t.render();
    }
    case v1::ControlResponse::kIncidents:
      return render_incidents(r.incidents().incidents());
    case v1::ControlResponse::kIncident:
      return render_incident(r.incident());
    case v1::ControlResponse::kInject:
      return "injected event " + r.inject().event_id() + " -> incident "
             + or_dash(r.inject().incident_id()) + "\n";
    case v1::ControlResponse::kStrategies: {
      table t{{"ID", "PRIORITY", "FAULT TYPES", "SEVERITIES", "TIMEOUT", "ROLLBACK", "ACTIONS"}};
      for (auto& s : r.strategies().strategies()) {
        std::string actions;
        for (auto& a : s.actions())
          actions += (actions.empty() ? "" : " -> ") + a.type() + "(" + a.target() + ")";
        t.add({s.id(), std::to_string(s.priority()), join(s.fault_types(), ","),
               join(s.severity_levels(), ","), s.timeout(), s.rollback_enabled() ? "yes" : "no",
               actions});
      }
      return t.render();
    }
    case v1::ControlResponse::kServices:
      return render_services(r.services().services());
    case v1::ControlResponse::kActors: {
      table t{{"ACTOR", "SUPERVISOR", "RESTARTS"}};
      for (auto& a : r.actors().actors())
        t.add({a.name(), or_dash(a.supervisor()), std::to_string(a.restarts())});
      return t.render();
    }
    case v1::ControlResponse::kCrash:
      return "crashed actor " + r.crash().name() + "; supervisor " + or_dash(r.crash().supervisor())
             + " restarts it\n";
    case v1::ControlResponse::kChecks: {
      table t{{"SERVICE", "CHECK", "KIND", "HEALTH", "FAILURES", "LAST ERROR"}};
      for (auto& c : r.checks().checks())
        t.add({c.service(), c.name(), c.kind(), c.health(),
               std::to_string(c.consecutive_failures()), or_dash(c.last_error())});
      return t.render();
    }
    case v1::ControlResponse::kDevices: {
      table t{{"DEVICE", "GATEWAY", "STATE", "LAST SEEN", "INTERVAL", "PHI"}};
      for (auto& d : r.devices().devices()) {
        char phi[32];
        std::snprintf(phi, sizeof phi, "%.1f", d.phi());
        t.add({d.id(), or_dash(d.gateway()), d.state(), d.last_seen(),
               d.interval_ms() == 0
                 ? std::string{"-"}
                 : human_duration(std::chrono::milliseconds(d.interval_ms())),
               phi});
      }
      return t.render() + std::to_string(r.devices().devices_size()) + " devices\n";
    }
    case v1::ControlResponse::kCommand: {
      auto& c = r.command();
      return c.command() + " " + c.target() + ": " + c.outcome()
             + (c.detail().empty() ? "" : " (" + c.detail() + ")") + "\n";
    }
    case v1::ControlResponse::kLogs:
      return r.logs().text();
    case v1::ControlResponse::kAlerts: {
      table t{{"TIME", "SEVERITY", "COMPONENT", "INCIDENT", "SUMMARY"}};
      for (auto& a : r.alerts().alerts())
        t.add({a.time(), a.severity(), a.component(), or_dash(a.incident_id()), a.summary()});
      return t.render();
    }
    case v1::ControlResponse::kMembers: {
      auto& m = r.members();
      auto out = render_members(m.members());
      // Lifeguard stretches this node's probe and suspicion windows by
      // (1 + health) while its own ticks run late: say so, it explains
      // slow verdicts.
      if (m.local_health() > 0)
        out += "\nlocal health " + std::to_string(m.local_health())
               + ": this node runs late; probe and suspicion windows x"
               + std::to_string(m.local_health() + 1) + "\n";
      return out;
    }
    case v1::ControlResponse::kStateEntry: {
      auto& e = r.state_entry();
      std::ostringstream out;
      out << e.key() << " = " << e.value() << '\n'
          << "version     " << e.version() << '\n'
          << "updated by  " << e.updated_by() << " (stored here " << e.updated_at() << ")\n"
          << "sha256      " << e.checksum() << '\n';
      return out.str();
    }
    case v1::ControlResponse::kStateList: {
      table t{{"KEY", "VALUE", "UPDATED_BY", "UPDATED_AT"}};
      for (auto& e : r.state_list().entries())
        t.add({e.key(), e.value().size() > 60 ? e.value().substr(0, 57) + "..." : e.value(),
               e.updated_by(), e.updated_at()});
      return t.render();
    }
    case v1::ControlResponse::kStateReport: {
      auto& x = r.state_report();
      char pct[32];
      std::snprintf(pct, sizeof pct, "%.1f%%", x.consistency_percentage());
      std::string out = std::string{"consistency "} + pct + "\n\n";
      table t{{"NODE", "KEYS", "AGREE", "DIFFER", "MISSING"}};
      for (auto& n : x.nodes())
        t.add({n.id(), std::to_string(n.keys()), std::to_string(n.agree()),
               std::to_string(n.differ()), std::to_string(n.missing())});
      out += t.render();
      if (x.unanswered_size() > 0)
        out += "\nno answer in time from " + join(x.unanswered(), ", ") + "\n";
      return out;
    }
    case v1::ControlResponse::kSnapshots: {
      table t{{"SNAPSHOT", "CREATED_AT", "KEYS"}};
      for (auto& x : r.snapshots().snapshots())
        t.add({x.id(), x.created_at(), std::to_string(x.keys())});
      return t.render();
    }
    case v1::ControlResponse::kDryRun: {
      auto& d = r.dry_run();
      std::ostringstream out;
      out << "dry run: nothing was stored, nothing runs\n"
          << "fault      " << d.fault_type() << ", " << d.severity() << " on " << d.component()
          << '\n'
          << "incident   " << d.incident() << '\n'
          << "alert      " << (d.alert() ? "yes" : "no") << '\n'
          << "strategy   " << (d.strategy().empty() ? "none matches" : d.strategy()) << '\n';
      if (!d.note().empty())
        out << "note       " << d.note() << '\n';
      if (d.actions_size() > 0) {
        table t{{"ACTION", "TARGET", "TIMEOUT", "RETRIES", "PARAMETERS"}};
        for (auto& a : d.actions()) {
          std::string params;
          for (auto& [k, v] : a.parameters())
            params += (params.empty() ? "" : " ") + k + "=" + v;
          t.add({a.type(), or_dash(a.target()), a.timeout(), std::to_string(a.retry_count()),
                 or_dash(params)});
        }
        out << '\n' << t.render();
      }
      return out.str();
    }
    case v1::ControlResponse::kReload: {
      auto& x = r.reload();
      std::ostringstream out;
      out << "reloaded " << x.source() << '\n'
          << "added      " << or_dash(join(x.added(), ", ")) << '\n'
          << "removed    " << or_dash(join(x.removed(), ", ")) << '\n'
          << "restarted  " << or_dash(join(x.changed(), ", ")) << '\n'
          << "unchanged  " << or_dash(join(x.unchanged(), ", ")) << '\n';
      return out.str();
    }
    case v1::ControlResponse::BODY_NOT_SET:
      break;
  }
  return {};
}

std::string to_json(const google::protobuf::Message& m) {
  google::protobuf::util::JsonPrintOptions opts;
  opts.preserve_proto_field_names = true;
  opts.always_print_primitive_fields = true;
  std::string out;
  auto st = google::protobuf::util::MessageToJsonString(m, &out, opts);
  if (!st.ok())
    return "{\"error\":\"cannot render reply as JSON\"}";
  return out;
}

const google::protobuf::Message* body_of(const v1::ControlResponse& r) {
  switch (r.body_case()) {
    case v1::ControlResponse::kStatus: return &r.status();
    case v1::ControlResponse::kFaults: return &r.faults();
    case v1::ControlResponse::kIncidents: return &r.incidents();
    case v1::ControlResponse::kIncident: return &r.incident();
    case v1::ControlResponse::kInject: return &r.inject();
    case v1::ControlResponse::kStrategies: return &r.strategies();
    case v1::ControlResponse::kServices: return &r.services();
    case v1::ControlResponse::kActors: return &r.actors();
    case v1::ControlResponse::kCrash: return &r.crash();
    case v1::ControlResponse::kChecks: return &r.checks();
    case v1::ControlResponse::kDevices: return &r.devices();
    case v1::ControlResponse::kCommand: return &r.command();
    case v1::ControlResponse::kLogs: return &r.logs();
    case v1::ControlResponse::kAlerts: return &r.alerts();
    case v1::ControlResponse::kDryRun: return &r.dry_run();
    case v1::ControlResponse::kReload: return &r.reload();
    case v1::ControlResponse::kMembers: return &r.members();
    case v1::ControlResponse::kStateEntry: return &r.state_entry();
    case v1::ControlResponse::kStateList: return &r.state_list();
    case v1::ControlResponse::kStateReport: return &r.state_report();
    case v1::ControlResponse::kSnapshots: return &r.snapshots();
    case v1::ControlResponse::BODY_NOT_SET: break;
  }
  return nullptr;
}

} // namespace

std::string encode_request(const request& r) {
  v1::ControlRequest req;
  req.set_request_id(r.request_id);
  if (!r.token.empty())
    req.set_token(r.token);
  switch (r.cmd) {
    case command::status: req.mutable_status(); break;
    case command::faults:
      req.mutable_faults()->set_since_ns(r.since_ns);
      req.mutable_faults()->set_limit(r.limit);
      break;
    case command::incidents:
      req.mutable_incidents()->set_limit(r.limit);
      req.mutable_incidents()->set_open_only(r.open_only);
      break;
    case command::incident: req.mutable_incident()->set_id(r.id); break;
    case command::inject: *req.mutable_inject()->mutable_event() = storage::to_proto(r.event); break;
    case command::strategies: req.mutable_strategies(); break;
    case command::services: req.mutable_services(); break;
    case command::chaos_list_actors: req.mutable_chaos_list_actors(); break;
    case command::chaos_crash_actor: req.mutable_chaos_crash_actor()->set_name(r.id); break;
    case command::checks: req.mutable_checks()->set_service(r.service); break;
    case command::incident_ack: req.mutable_incident_ack()->set_id(r.id); break;
    case command::incident_close:
      req.mutable_incident_close()->set_id(r.id);
      req.mutable_incident_close()->set_reason(r.reason);
      break;
    case command::circuit:
      req.mutable_circuit()->set_service(r.service);
      req.mutable_circuit()->set_op(r.op);
      break;
    case command::failback:
      req.mutable_failback()->set_service(r.service);
      break;
    case command::devices:
      req.mutable_devices()->set_silent_only(r.on);
      req.mutable_devices()->set_gateway(r.service);
      break;
    case command::degradation:
      req.mutable_degradation()->set_service(r.service);
      req.mutable_degradation()->set_level(r.level);
      break;
    case command::logs:
      req.mutable_logs()->set_service(r.service);
      req.mutable_logs()->set_lines(r.lines);
      req.mutable_logs()->set_offset(r.offset);
      break;
    case command::alerts: req.mutable_alerts()->set_limit(r.limit); break;
    case command::service_command:
      req.mutable_service_command()->set_service(r.service);
      req.mutable_service_command()->set_op(r.op);
      break;
    case command::maintenance:
      req.mutable_maintenance()->set_service(r.service);
      req.mutable_maintenance()->set_on(r.on);
      break;
    case command::reload: req.mutable_reload(); break;
    case command::members: req.mutable_members(); break;
    case command::state: {
      auto* x = req.mutable_state();
      x->set_op(r.op);
      x->set_key(r.key);
      x->set_value(r.value);
      x->set_prefix(r.prefix);
      x->set_id(r.id);
      break;
    }
  }
  if (r.cmd == command::inject)
    req.mutable_inject()->set_dry_run(r.dry_run);
  return req.SerializeAsString();
}

status decode_request(std::string_view bytes, request& out) {
  v1::ControlRequest req;
  if (!req.ParseFromArray(bytes.data(), static_cast<int>(bytes.size())))
    return {errc::malformed_payload, "control request does not decode"};
  out = request{};
  switch (req.body_case()) {
    case v1::ControlRequest::kStatus: out.cmd = command::status; break;
    case v1::ControlRequest::kFaults:
      out.cmd = command::faults;
      out.since_ns = req.faults().since_ns();
      out.limit = req.faults().limit();
      break;
    case v1::ControlRequest::kIncidents:
      out.cmd = command::incidents;
      out.limit = req.incidents().limit();
      out.open_only = req.incidents().open_only();
      break;
    case v1::ControlRequest::kIncident:
      out.cmd = command::incident;
      out.id = req.incident().id();
      if (out.id.empty())
        return {errc::bad_request, "incident id is empty"};
      break;
    case v1::ControlRequest::kInject: {
      out.cmd = command::inject;
      if (!req.inject().has_event())
        return {errc::bad_request, "inject request carries no event"};
      if (auto st = storage::from_proto(req.inject().event(), out.event); !st.ok())
        return {errc::bad_request, "inject: " + st.message()};
      if (out.event.component.empty())
        return {errc::bad_request, "inject: component is empty"};
      out.dry_run = req.inject().dry_run();
      break;
    }
    case v1::ControlRequest::kChecks:
      out.cmd = command::checks;
      out.service = req.checks().service();
      break;
    case v1::ControlRequest::kIncidentAck:
      out.cmd = command::incident_ack;
      out.id = req.incident_ack().id();
      if (out.id.empty())
        return {errc::bad_request, "incident ack: id is empty"};
      break;
    case v1::ControlRequest::kIncidentClose:
      out.cmd = command::incident_close;
      out.id = req.incident_close().id();
      out.reason = req.incident_close().reason();
      if (out.id.empty())
        return {errc::bad_request, "incident close: id is empty"};
      break;
    case v1::ControlRequest::kCircuit:
      out.cmd = command::circuit;
      out.service = req.circuit().service();
      out.op = req.circuit().op();
      if (out.service.empty())
        return {errc::bad_request, "circuit: service is empty"};
      if (out.op != "open" && out.op != "close" && out.op != "reset")
        return {errc::bad_request, "circuit: expected open, close or reset, got \"" + out.op + "\""};
      break;
    case v1::ControlRequest::kDevices:
      out.cmd = command::devices;
      out.on = req.devices().silent_only();
      out.service = req.devices().gateway();
      break;
    case v1::ControlRequest::kFailback:
      out.cmd = command::failback;
      out.service = req.failback().service();
      if (out.service.empty())
        return {errc::bad_request, "failback: service is empty"};
      break;
    case v1::ControlRequest::kDegradation:
      out.cmd = command::degradation;
      out.service = req.degradation().service();
      out.level = req.degradation().level();
      if (out.service.empty() || out.level.empty())
        return {errc::bad_request, "degradation: service and level are required"};
      break;
    case v1::ControlRequest::kLogs:
      out.cmd = command::logs;
      out.service = req.logs().service();
      out.lines = req.logs().lines();
      out.offset = req.logs().offset();
      if (out.service.empty())
        return {errc::bad_request, "logs: service is empty"};
      if (out.lines > 100000)
        return {errc::bad_request, "logs: at most 100000 lines"};
      break;
    case v1::ControlRequest::kAlerts:
      out.cmd = command::alerts;
      out.limit = req.alerts().limit();
      break;
    case v1::ControlRequest::kServiceCommand:
      out.cmd = command::service_command;
      out.service = req.service_command().service();
      out.op = req.service_command().op();
      if (out.service.empty())
        return {errc::bad_request, "service is empty"};
      if (out.op != "start" && out.op != "stop" && out.op != "restart")
        return {errc::bad_request, "expected start, stop or restart, got \"" + out.op + "\""};
      break;
    case v1::ControlRequest::kReload: out.cmd = command::reload; break;
    case v1::ControlRequest::kMembers: out.cmd = command::members; break;
    case v1::ControlRequest::kState: {
      auto& x = req.state();
      out.cmd = command::state;
      out.op = x.op();
      out.key = x.key();
      out.value = x.value();
      out.prefix = x.prefix();
      out.id = x.id();
      static const std::set<std::string> ops{"get",       "put",     "del",  "list", "report",
                                             "snapshot", "snapshots", "restore", "sync"};
      if (ops.count(out.op) == 0)
        return {errc::bad_request, "state: unknown operation \"" + out.op + "\""};
      if ((out.op == "get" || out.op == "put" || out.op == "del") && out.key.empty())
        return {errc::bad_request, "state " + out.op + ": key is empty"};
      if (out.op == "restore" && out.id.empty())
        return {errc::bad_request, "state restore: snapshot id is empty"};
      break;
    }
    case v1::ControlRequest::kMaintenance:
      out.cmd = command::maintenance;
      out.service = req.maintenance().service();
      out.on = req.maintenance().on();
      if (out.service.empty())
        return {errc::bad_request, "maintenance: service is empty"};
      break;
    case v1::ControlRequest::kStrategies: out.cmd = command::strategies; break;
    case v1::ControlRequest::kServices: out.cmd = command::services; break;
    case v1::ControlRequest::kChaosListActors: out.cmd = command::chaos_list_actors; break;
    case v1::ControlRequest::kChaosCrashActor:
      out.cmd = command::chaos_crash_actor;
      out.id = req.chaos_crash_actor().name();
      if (out.id.empty())
        return {errc::bad_request, "chaos crash-actor: actor name is empty"};
      break;
    case v1::ControlRequest::BODY_NOT_SET:
      return {errc::malformed_payload, "control request names no command"};
  }
  return {};
}

std::string encode_error(errc code, const std::string& message) {
  v1::ControlResponse resp;
  resp.set_ok(false);
  resp.set_error(message);
  resp.set_error_code(static_cast<uint32_t>(code));
  return resp.SerializeAsString();
}

std::string encode_status(const node_info& node, const std::vector<member_status>& members,
                          const std::vector<service_status>& services) {
  v1::ControlResponse resp;
  auto* s = resp.mutable_status();
  s->mutable_node()->set_id(node.id);
  s->mutable_node()->set_address(node.address);
  s->mutable_node()->set_uptime_s(node.uptime_s);
  for (auto& m : members)
    fill(*s->add_members(), m);
  for (auto& x : services)
    fill(*s->add_services(), x);
  if (node.control) {
    auto* c = s->mutable_control();
    auto& k = *node.control;
    c->set_address(node.control_address);
    c->set_accepted(k.accepted);
    c->set_open(k.open);
    c->set_requests(k.requests);
    c->set_closed_malformed(k.closed_malformed);
    c->set_closed_oversized(k.closed_oversized);
    c->set_closed_slow(k.closed_slow);
    c->set_closed_idle(k.closed_idle);
    c->set_closed_capacity(k.closed_capacity);
    c->set_unauthorized(k.unauthorized);
  }
  return finish(resp);
}

std::string encode_faults(const std::vector<fault_event>& events) {
  v1::ControlResponse resp;
  auto* fr = resp.mutable_faults();
  for (auto& e : events) {
    auto* f = fr->add_faults();
    f->set_id(e.id);
    f->set_time(format_timestamp(e.time));
    f->set_type(str(to_string(e.type)));
    f->set_severity(str(to_string(e.severity)));
    f->set_component(e.component);
    f->set_node(e.node);
    f->set_source(e.source);
    for (auto& [k, v] : e.details)
      (*f->mutable_details())[k] = v;
    for (auto& [k, v] : e.metrics)
      (*f->mutable_metrics())[k] = v;
    f->set_clears(e.clears);
  }
  return finish(resp);
}

std::string encode_incidents(const std::vector<incident>& incidents) {
  v1::ControlResponse resp;
  auto* body = resp.mutable_incidents(); // set even when empty
  for (auto& x : incidents)
    fill(*body->add_incidents(), x);
  return finish(resp);
}

std::string encode_incident(const incident& x) {
  v1::ControlResponse resp;
  fill(*resp.mutable_incident(), x);
  return finish(resp);
}

std::string encode_inject(const std::string& event_id, const std::string& incident_id) {
  v1::ControlResponse resp;
  resp.mutable_inject()->set_event_id(event_id);
  resp.mutable_inject()->set_incident_id(incident_id);
  return finish(resp);
}

std::string encode_strategies(const std::map<std::string, recovery_strategy>& strategies) {
  v1::ControlResponse resp;
  auto* body = resp.mutable_strategies(); // set even when empty
  for (auto& [id, s] : strategies) {
    auto* si = body->add_strategies();
    si->set_id(id);
    si->set_name(s.name);
    for (auto t : s.fault_types)
      si->add_fault_types(str(to_string(t)));
    for (auto v : s.severity_levels)
      si->add_severity_levels(str(to_string(v)));
    si->set_priority(s.priority);
    si->set_timeout(human_duration(s.timeout));
    si->set_rollback_enabled(s.rollback_enabled);
    si->set_component_pattern(s.component_pattern);
    for (auto& a : s.actions)
      fill(*si->add_actions(), a);
  }
  return finish(resp);
}

std::string encode_checks(const std::vector<service_status>& services) {
  v1::ControlResponse resp;
  auto* body = resp.mutable_checks(); // set even when empty
  for (auto& s : services)
    for (auto& c : s.checks) {
      auto* row = body->add_checks();
      row->set_service(s.name);
      row->set_name(c.name);
      row->set_kind(c.kind);
      row->set_health(c.health);
      row->set_consecutive_failures(c.consecutive_failures);
      row->set_last_error(storage::valid_utf8(c.last_error));
    }
  return finish(resp);
}

std::string encode_devices(const std::vector<device_row>& devices) {
  v1::ControlResponse resp;
  auto* body = resp.mutable_devices();  // set even when empty
  for (auto& d : devices) {
    auto* row = body->add_devices();
    row->set_id(d.id);
    row->set_gateway(d.gateway);
    row->set_state(d.state);
    row->set_last_seen(format_timestamp(d.last_seen));
    row->set_interval_ms(d.interval_ms);
    row->set_phi(d.phi);
  }
  return finish(resp);
}

std::string encode_command(const std::string& command, const std::string& target,
                           const std::string& outcome, const std::string& detail) {
  v1::ControlResponse resp;
  auto* c = resp.mutable_command();
  c->set_command(command);
  c->set_target(target);
  c->set_outcome(outcome);
  c->set_detail(detail);
  return finish(resp);
}

std::string encode_logs(const std::string& service, const std::string& path,
                        const std::string& text, int64_t next_offset) {
  v1::ControlResponse resp;
  auto* l = resp.mutable_logs();
  l->set_service(service);
  l->set_path(path);
  l->set_text(text);
  l->set_next_offset(next_offset);
  return finish(resp);
}

std::string encode_alerts(const std::vector<alert>& alerts) {
  v1::ControlResponse resp;
  auto* body = resp.mutable_alerts(); // set even when empty
  for (auto& a : alerts) {
    auto* ai = body->add_alerts();
    ai->set_id(a.id);
    ai->set_incident_id(a.incident_id);
    ai->set_time(format_timestamp(a.time));
    ai->set_severity(str(to_string(a.severity)));
    ai->set_component(a.component);
    ai->set_summary(a.summary);
  }
  return finish(resp);
}

std::string encode_members(const std::vector<member_status>& members, uint32_t local_health) {
  v1::ControlResponse resp;
  auto* body = resp.mutable_members(); // set even when empty
  for (auto& m : members)
    fill(*body->add_members(), m);
  body->set_local_health(local_health);
  return finish(resp);
}

std::string encode_dry_run(const dry_run& d) {
  v1::ControlResponse resp;
  auto* body = resp.mutable_dry_run();
  body->set_component(d.event.component);
  body->set_fault_type(str(to_string(d.event.type)));
  body->set_severity(str(to_string(d.event.severity)));
  body->set_incident(d.incident);
  body->set_incident_id(d.incident_id);
  body->set_alert(d.alert);
  body->set_note(d.note);
  if (d.strategy != nullptr) {
    body->set_strategy(d.strategy->id);
    for (auto& a : d.strategy->actions)
      fill(*body->add_actions(), a);
  }
  return finish(resp);
}

std::string encode_services(const std::vector<service_status>& services) {
  v1::ControlResponse resp;
  auto* body = resp.mutable_services(); // set even when empty
  for (auto& x : services)
    fill(*body->add_services(), x);
  return finish(resp);
}

std::string encode_actors(const std::vector<actor_info>& actors) {
  v1::ControlResponse resp;
  auto* body = resp.mutable_actors(); // set even when empty
  for (auto& a : actors) {
    auto* ai = body->add_actors();
    ai->set_name(a.name);
    ai->set_supervisor(a.supervisor);
    ai->set_restarts(a.restarts);
  }
  return finish(resp);
}

std::string encode_crash(const std::string& name, const std::string& supervisor) {
  v1::ControlResponse resp;
  resp.mutable_crash()->set_name(name);
  resp.mutable_crash()->set_supervisor(supervisor);
  return finish(resp);
}

status decode_reply(std::string_view bytes, reply& out) {
  v1::ControlResponse resp;
  if (!resp.ParseFromArray(bytes.data(), static_cast<int>(bytes.size())))
    return {errc::malformed_payload, "control reply does not decode"};
  out = reply{};
  out.request_id = resp.request_id();
  out.ok = resp.ok();
  if (!out.ok) {
    out.code = static_cast<errc>(resp.error_code());
    out.error = resp.error();
    return {};
  }
  if (auto* body = body_of(resp))
    out.json = to_json(*body);
  else
    return {errc::malformed_payload, "control reply carries no body"};
  out.text = render(resp);
  if (resp.body_case() == v1::ControlResponse::kLogs)
    out.next_offset = resp.logs().next_offset();
  return {};
}

std::string encode_reload(const reload_summary& r) {
  v1::ControlResponse resp;
  auto* body = resp.mutable_reload();
  body->set_source(r.source);
  for (auto& x : r.added)
    body->add_added(x);
  for (auto& x : r.removed)
    body->add_removed(x);
  for (auto& x : r.changed)
    body->add_changed(x);
  for (auto& x : r.unchanged)
    body->add_unchanged(x);
  return finish(resp);
}

bool is_reload_request(std::string_view bytes) {
  v1::ControlRequest req;
  return req.ParseFromArray(bytes.data(), static_cast<int>(bytes.size()))
         && req.body_case() == v1::ControlRequest::kReload;
}

status peek_request(std::string_view bytes, uint64_t& request_id, std::string& token) {
  // Only the envelope is read (the body is skipped, not parsed): whoever
  // has no token costs a scan, not a parse of up to a whole frame.
  namespace io = google::protobuf::io;
  using wire = google::protobuf::internal::WireFormatLite;
  io::CodedInputStream in{reinterpret_cast<const uint8_t*>(bytes.data()),
                          static_cast<int>(bytes.size())};
  bool body = false;
  for (;;) {
    auto tag = in.ReadTag();
    if (tag == 0)
      break;
    auto field = wire::GetTagFieldNumber(tag);
    auto type = wire::GetTagWireType(tag);
    if (field == 100 && type == wire::WIRETYPE_VARINT) {
      if (!in.ReadVarint64(&request_id))
        return {errc::malformed_payload, "not a ControlRequest"};
    } else if (field == 101 && type == wire::WIRETYPE_LENGTH_DELIMITED) {
      uint32_t n = 0;
      if (!in.ReadVarint32(&n) || n > 4096 || !in.ReadString(&token, static_cast<int>(n)))
        return {errc::malformed_payload, "not a ControlRequest (bad token field)"};
    } else {
      if (field >= 1 && field < 100)
        body = true;
      if (!wire::SkipField(&in, tag))
        return {errc::malformed_payload, "not a ControlRequest"};
    }
  }
  if (!in.ConsumedEntireMessage() || in.CurrentPosition() != static_cast<int>(bytes.size()))
    return {errc::malformed_payload, "not a ControlRequest"};
  if (!body)
    return {errc::malformed_payload, "the request names no command"};
  return {};
}

std::string tag_response(std::string_view response, uint64_t request_id) {
  v1::ControlResponse resp;
  if (!resp.ParseFromArray(response.data(), static_cast<int>(response.size()))) {
    v1::ControlResponse err;
    err.set_ok(false);
    err.set_error("the node produced a reply that does not decode");
    err.set_error_code(static_cast<uint32_t>(errc::internal));
    err.set_request_id(request_id);
    return err.SerializeAsString();
  }
  resp.set_request_id(request_id);
  return resp.SerializeAsString();
}

} // namespace faultd::control
