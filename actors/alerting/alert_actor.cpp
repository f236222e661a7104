#include "actors/alerting/alert_actor.hpp"

#include <caf/all.hpp>

#include "actors/type_ids.hpp"
#include "alerting/outbox.hpp"
#include "alerting/payload.hpp"
#include "checks/health_check.hpp"
#include "mqtt/client.hpp"
#include "faultd/log.hpp"
#include "faultd/util.hpp"
#include "metrics/hub.hpp"
#include "state/maintenance.hpp"

namespace faultd {

namespace {

/// Alertmanager resolves an alert it has not heard of for its
/// resolve_timeout (5m by default): firing ones are sent again this often.
constexpr auto alertmanager_resend = std::chrono::seconds(60);
/// How often queues are looked at for retries that are due.
constexpr auto pump_every = std::chrono::milliseconds(200);

enum class sink_kind { alertmanager, webhook, mqtt };

struct sink {
  std::string name;  ///< "alertmanager", "webhook-1", "mqtt"
  std::string url;   ///< where it POSTs (mqtt: mqtt://host:port)
  sink_kind kind = sink_kind::webhook;
  std::unique_ptr<alerting::outbox> box;
  caf::actor poster;  ///< a detached actor that blocks in curl or libmosquitto, one per sink
};

struct alert_state {
  std::shared_ptr<node_context> ctx;
  uint64_t raised = 0;
  uint64_t suppressed = 0;
  std::vector<sink> sinks;
  /// Alerts sent for each incident not closed yet: what a close resolves.
  std::map<std::string, std::vector<alert>> firing;
  /// When each group (component + fault type) last fired.
  std::map<std::string, timestamp> group_fired;
  timestamp last_resend;
  bool pump_armed = false;
  std::shared_ptr<spdlog::logger> log = log::get("alerting");
  static inline const char* name = "alerting";
};

using self_ptr = caf::stateful_actor<alert_state>*;

/// Blocks in one POST at a time (its own thread: caf::detached).
caf::behavior http_poster(caf::event_based_actor*) {
  return {
    [](post_atom, const std::string& url, const std::string& body,
       int64_t timeout_ns) -> std::string {
      auto r = checks::http_post(url, body, "application/json", duration{timeout_ns});
      return r.error;
    },
  };
}

/// Publishes one message at a time with QoS 1 (its own thread), over one
/// connection it keeps and renews.
caf::behavior mqtt_poster(caf::event_based_actor*, std::shared_ptr<mqtt::client> c) {
  return {
    [c](post_atom, const std::string& topic, const std::string& body,
        int64_t timeout_ns) -> std::string {
      auto st = c->publish(topic, body, 1, duration{timeout_ns});
      return st.ok() ? std::string{} : st.message();
    },
  };
}

/// The fault a sink that is down raises (and clears when it is back).
void sink_fault(self_ptr self, const sink& s, bool clears) {
  auto& st = self->state;
  auto f = st.ctx->make_fault(fault_type::network_timeout, fault_severity::high,
                              "alerting:" + s.name, "alerting",
                              clears ? "alert sink " + s.name + " delivers again"
                                     : "alert sink " + s.name + " at " + s.url
                                         + " does not take alerts: " + s.box->last_error()
                                         + " (alerts queue, up to alerting.queue_size)",
                              clears);
  f.details["url"] = s.url;
  f.details["queued"] = std::to_string(s.box->size());
  f.details["dropped_total"] = std::to_string(s.box->dropped());
  st.ctx->send_to("analyzer", event_atom::value, std::move(f));
}

void pump(self_ptr self);

void arm(self_ptr self) {
  auto& st = self->state;
  if (st.pump_armed)
    return;
  st.pump_armed = true;
  self->delayed_send(self, pump_every, tick_atom::value);
}

/// The outcome of sink `i`'s delivery in flight ("" = delivered).
void settle(self_ptr self, size_t i, const std::string& error) {
  auto& st = self->state;
  auto& s = st.sinks[i];
  auto o = error.empty() ? s.box->succeeded() : s.box->failed(system_clock_source().now(), error);
  if (error.empty())
    st.ctx->metrics->alert_sent(s.name);
  else
    st.log->warn("alert-delivery-failed sink={} error=\"{}\" queued={}", s.name, error,
                 s.box->size());
  if (o.went_down) {
    st.log->error("alert-sink-down sink={} url={} error=\"{}\"", s.name, s.url, error);
    sink_fault(self, s, false);
  }
  if (o.came_up) {
    st.log->info("alert-sink-up sink={} url={}", s.name, s.url);
    sink_fault(self, s, true);
  }
  if (o.given_up) {
    st.ctx->metrics->alert_dropped(s.name);
    st.log->error("alert-dropped sink={} what=\"{}\" attempts={} error=\"{}\" dropped_total={}",
                  s.name, o.given_up->what, o.given_up->attempts, o.given_up->last_error,
                  s.box->dropped());
  }
  pump(self);
}

/// Starts the next due delivery of every sink with none in flight.
void pump(self_ptr self) {
  auto& st = self->state;
  auto now = system_clock_source().now();
  for (size_t i = 0; i < st.sinks.size(); ++i) {
    auto& s = st.sinks[i];
    const auto* d = s.box->take(now);
    if (d == nullptr)
      continue;
    auto timeout = st.ctx->cfg.alerting.timeout;
    self
      ->request(s.poster, timeout + std::chrono::seconds(5), post_atom::value, d->to, d->body,
                static_cast<int64_t>(timeout.count()))
      .then([self, i](const std::string& error) { settle(self, i, error); },
            [self, i](const caf::error& err) { settle(self, i, self->system().render(err)); });
  }
  for (auto& s : st.sinks)
    if (s.box->next_due())
      arm(self);
}

/// Queues `body` on sink `s` (the oldest waiting one goes when it is full);
/// `to`: an MQTT topic ("" = the sink's URL).
void enqueue(self_ptr self, sink& s, std::string body, std::string what, std::string to = "") {
  auto pushed_out = s.box->push(to.empty() ? s.url : std::move(to), std::move(body),
                                std::move(what), system_clock_source().now());
  if (!pushed_out)
    return;
  self->state.ctx->metrics->alert_dropped(s.name);
  self->state.log->error("alert-dropped sink={} what=\"{}\" reason=\"queue full ({})\" "
                         "dropped_total={}",
                         s.name, pushed_out->what, self->state.ctx->cfg.alerting.queue_size,
                         s.box->dropped());
}

/// The alerts sent for one incident, one per Alertmanager identity (the
/// latest of each label set).
std::vector<alert> latest_alerts(const std::vector<alert>& sent) {
  std::map<std::string, alert> latest;
  for (const auto& a : sent)
    latest[alerting::alertmanager_key(a)] = a;
  std::vector<alert> out;
  for (auto& [key, a] : latest)
    out.push_back(std::move(a));
  return out;
}

/// Sends to every sink: Alertmanager gets `for_alertmanager` (one
/// notice per label set), webhooks and MQTT the one notice `n`.
void deliver(self_ptr self, const std::vector<alerting::notice>& for_alertmanager,
             const alerting::notice& n, const std::string& what) {
  for (auto& s : self->state.sinks) {
    if (s.kind == sink_kind::alertmanager)
      enqueue(self, s, alerting::alertmanager_body(for_alertmanager), what);
    else
      enqueue(self, s, alerting::webhook_body(n), what,
              s.kind == sink_kind::mqtt ? self->state.ctx->cfg.alerting.mqtt_topic : "");
  }
  pump(self);
}

/// Incident events go to the MQTT sink (every incident, whatever its
/// severity: a stream for dashboards, not a page).
void publish_incident(self_ptr self, const std::string& event, const incident& x) {
  for (auto& s : self->state.sinks)
    if (s.kind == sink_kind::mqtt)
      enqueue(self, s, alerting::incident_body(event, x), event + " incident " + x.id,
              self->state.ctx->cfg.alerting.mqtt_incident_topic);
  pump(self);
}

void on_alert(self_ptr self, const alert& a) {
  auto& st = self->state;
  if (st.ctx->maintenance && st.ctx->maintenance->contains(a.component)) {
    st.log->info("alert-suppressed id={} incident={} component={} reason=maintenance", a.id,
                 a.incident_id, a.component);
    return;
  }
  ++st.raised;
  st.ctx->metrics->alert_raised(std::string{to_string(a.severity)});
  if (st.ctx->cfg.alerting.log) {
    auto level = a.severity == fault_severity::critical ? spdlog::level::err : spdlog::level::warn;
    st.log->log(level, "alert-raised id={} incident={} severity={} component={} summary=\"{}\"",
                a.id, a.incident_id, to_string(a.severity), a.component, a.summary);
  }
  if (!st.ctx->send_to("storage", persist_atom::value, a))
    st.log->error("alert-not-stored id={} reason=\"storage is not running\"", a.id);
  if (st.sinks.empty())
    return;
  // An incident that is firing gets every alert (an escalation, a failed
  // recovery). A new or reopened one of a group that fired within
  // repeat_interval is kept to the log and faultctl: a flapping service
  // pages once.
  auto now = system_clock_source().now();
  auto group = alerting::group_of(a);
  if (st.firing.count(a.incident_id) == 0) {
    auto last = st.group_fired.find(group);
    if (last != st.group_fired.end()
        && now - last->second < st.ctx->cfg.alerting.repeat_interval) {
      ++st.suppressed;
      st.log->info("alert-repeat-suppressed id={} incident={} group={} fired={} ago "
                   "repeat_interval={} suppressed_total={}",
                   a.id, a.incident_id, group, human_duration(now - last->second),
                   human_duration(st.ctx->cfg.alerting.repeat_interval), st.suppressed);
      return;
    }
    st.group_fired[group] = now;
  }
  st.firing[a.incident_id].push_back(a);
  alerting::notice n{a, std::nullopt};
  deliver(self, {n}, n,
          "firing alert " + a.id + " (incident " + a.incident_id + ")");
}

/// An incident closed: what was sent for it is resolved (Alertmanager
/// alerts get their endsAt; webhooks one "resolved" notice).
void on_closed(self_ptr self, const incident& inc) {
  auto& st = self->state;
  publish_incident(self, "closed", inc);
  auto f = st.firing.find(inc.id);
  if (f == st.firing.end())
    return;
  auto sent = std::move(f->second);
  st.firing.erase(f);
  auto ends = inc.closed_at.value_or(system_clock_source().now());
  std::vector<alerting::notice> resolved;
  for (auto& a : latest_alerts(sent))
    resolved.push_back({a, ends});
  st.log->info("alert-resolved incident={} alerts={}", inc.id, sent.size());
  deliver(self, resolved, {sent.back(), ends}, "resolved incident " + inc.id);
}

/// Alertmanager forgets firing alerts it is not told of again.
void resend_firing(self_ptr self) {
  auto& st = self->state;
  auto now = system_clock_source().now();
  if (now - st.last_resend < alertmanager_resend)
    return;
  st.last_resend = now;
  std::vector<alerting::notice> ns;
  for (auto& [id, sent] : st.firing)
    for (auto& a : latest_alerts(sent))
      ns.push_back({a, std::nullopt});
  if (ns.empty())
    return;
  for (auto& s : st.sinks)
    if (s.kind == sink_kind::alertmanager)
      enqueue(self, s, alerting::alertmanager_body(ns),
              "resend of " + std::to_string(ns.size()) + " firing alerts");
}

caf::behavior alert_actor(self_ptr self, std::shared_ptr<node_context> ctx) {
  auto& st = self->state;
  st.ctx = std::move(ctx);
  st.last_resend = system_clock_source().now();
  const auto& cfg = st.ctx->cfg.alerting;
  alerting::outbox_params p;
  p.capacity = cfg.queue_size;
  p.retries = cfg.retries;
  p.backoff_initial = cfg.retry_delay;
  p.backoff_max = std::max<duration>(cfg.retry_delay, seconds_d(60));
  auto add = [&](std::string name, std::string url, sink_kind kind, caf::actor poster) {
    sink s;
    s.name = std::move(name);
    s.url = std::move(url);
    s.kind = kind;
    s.box = std::make_unique<alerting::outbox>(p, recovery::default_random_source());
    s.poster = std::move(poster);
    st.log->info("alert-sink sink={} url={}", s.name, s.url);
    st.sinks.push_back(std::move(s));
  };
  auto http = [&] { return self->spawn<caf::detached + caf::linked>(http_poster); };
  if (!cfg.alertmanager_url.empty())
    add("alertmanager", cfg.alertmanager_url + "/api/v2/alerts", sink_kind::alertmanager, http());
  for (size_t i = 0; i < cfg.webhooks.size(); ++i)
    add("webhook-" + std::to_string(i + 1), cfg.webhooks[i], sink_kind::webhook, http());
  if (cfg.mqtt_broker) {
    mqtt::client_options o;
    o.host = cfg.mqtt_broker->host;
    o.port = cfg.mqtt_broker->port;
    o.client_id = "faultd-" + st.ctx->cfg.node.id + "-alerts";
    o.username = cfg.mqtt_username;
    o.password = cfg.mqtt_password;
    auto c = std::make_shared<mqtt::client>(o);
    add("mqtt", "mqtt://" + cfg.mqtt_broker->to_string(), sink_kind::mqtt,
        self->spawn<caf::detached + caf::linked>(mqtt_poster, std::move(c)));
  }
  if (!st.sinks.empty())
    self->delayed_send(self, std::chrono::seconds(1), resend_atom::value);
  return {
    [=](alert_atom, const alert& a) { on_alert(self, a); },
    [=](closed_atom, const incident& inc) { on_closed(self, inc); },
    [=](opened_atom, const incident& inc, timestamp) {
      publish_incident(self, inc.event_count > 1 ? "reopened" : "opened", inc);
    },
    [=](tick_atom) {
      self->state.pump_armed = false;
      pump(self);
    },
    [=](resend_atom) {
      resend_firing(self);
      pump(self);
      self->delayed_send(self, std::chrono::seconds(1), resend_atom::value);
    },
  };
}

} // namespace

caf::actor spawn_alert_actor(caf::actor_system& sys, std::shared_ptr<node_context> ctx) {
  return sys.spawn(alert_actor, std::move(ctx));
}

} // namespace faultd
