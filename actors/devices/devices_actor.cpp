#include "actors/devices/devices_actor.hpp"

#include <mosquitto.h>

#include <mutex>
#include <set>

#include <caf/all.hpp>

#include "actors/type_ids.hpp"
#include "devices/learned_file.hpp"
#include "devices/silence_detector.hpp"
#include "faultd/log.hpp"
#include "faultd/util.hpp"
#include "metrics/hub.hpp"
#include "mqtt/client.hpp"

namespace faultd {

namespace {

constexpr auto drain_every = std::chrono::milliseconds(250);
constexpr auto save_every = std::chrono::seconds(60);
constexpr size_t max_buffered = 200000;

/// What libmosquitto's thread hands to the actor.
struct inbox {
  std::mutex mtx;
  std::vector<std::pair<std::string, timestamp>> messages;  // GUARDED_BY(mtx)
  uint64_t dropped = 0;                                      // GUARDED_BY(mtx)
  bool connected = false;                                    // GUARDED_BY(mtx)
  std::string last_error;                                    // GUARDED_BY(mtx)
  std::vector<std::string> subscriptions;
};

struct devices_state {
  std::shared_ptr<node_context> ctx;
  std::shared_ptr<devices::silence_detector> detector;
  std::vector<devices::topic_pattern> patterns;
  std::shared_ptr<inbox> in = std::make_shared<inbox>();
  mosquitto* mq = nullptr;
  uint64_t reported_drops = 0;
  bool broker_fault = false;
  std::set<std::string> gateways_down;  ///< gateway:<id> faults raised
  std::chrono::steady_clock::time_point disconnected_since = std::chrono::steady_clock::now();
  std::chrono::steady_clock::time_point last_save = std::chrono::steady_clock::now();
  std::shared_ptr<spdlog::logger> log = log::get("devices");
  static inline const char* name = "devices";
};

using self_ptr = caf::stateful_actor<devices_state>*;

std::string learned_path(const node_context& ctx) {
  return ctx.cfg.node.data_dir + "/devices.tsv";
}

fault_event device_fault(self_ptr self, const devices::silence_event& e) {
  auto& st = self->state;
  auto usual = human_duration(std::chrono::milliseconds(static_cast<int64_t>(e.interval_ms)));
  auto f = st.ctx->make_fault(
    fault_type::network_timeout, st.ctx->cfg.devices.severity, "device:" + e.device, "devices",
    e.silent ? "device " + e.device + " silent for " + human_duration(e.silence)
                 + " (usually every " + usual + ")"
             : "device " + e.device + " is heard again after " + human_duration(e.silence),
    !e.silent);
  f.details["gateway"] = e.gateway;
  f.details["last_seen"] = format_timestamp(e.last_seen);
  f.details["usual_interval"] = usual;
  f.details["phi"] = std::to_string(e.phi);
  f.metrics["phi"] = e.phi;
  f.metrics["interval_ms"] = e.interval_ms;
  return f;
}

/// The broker itself: not reachable for 10 s is one fault, cleared once
/// connected again.
void watch_broker(self_ptr self, bool connected, const std::string& error) {
  auto& st = self->state;
  auto now = std::chrono::steady_clock::now();
  if (connected)
    st.disconnected_since = now;
  const bool down = !connected && now - st.disconnected_since >= std::chrono::seconds(10);
  if (down == st.broker_fault)
    return;
  st.broker_fault = down;
  auto broker = st.ctx->cfg.devices.broker->to_string();
  if (down)
    st.log->error("devices-broker-unreachable broker={} error=\"{}\"", broker, error);
  st.ctx->send_to("analyzer", event_atom::value,
                  st.ctx->make_fault(fault_type::network_timeout, fault_severity::high,
                                     "devices:" + broker, "devices",
                                     down ? "cannot reach the device broker: "
                                              + (error.empty() ? std::string{"not connected"}
                                                               : error)
                                              + " (device silence is not judged meanwhile)"
                                          : "device broker reachable again",
                                     !down));
}

/// A gateway most of whose devices are silent is one fault on
/// gateway:<id> (high), which explains their device faults in the analyzer;
/// it clears once fewer than that share are silent.
void judge_gateways(self_ptr self) {
  auto& st = self->state;
  auto& cfg = st.ctx->cfg.devices;
  for (auto& g : st.detector->gateways()) {
    if (g.gateway.empty())
      continue;
    const bool down = g.known >= cfg.gateway_min_devices
                      && static_cast<double>(g.silent) >= cfg.gateway_silence_ratio * g.known;
    const bool raised = st.gateways_down.count(g.gateway) > 0;
    if (down == raised)
      continue;
    auto f = st.ctx->make_fault(
      fault_type::network_timeout, fault_severity::high, "gateway:" + g.gateway, "devices",
      std::to_string(g.silent) + " of " + std::to_string(g.known) + " devices of gateway "
        + g.gateway + (down ? " are silent (the gateway, not each device)" : " are silent now"),
      !down);
    f.details["silent"] = std::to_string(g.silent);
    f.details["devices"] = std::to_string(g.known);
    f.metrics["silent_ratio"] = static_cast<double>(g.silent) / g.known;
    if (down)
      st.gateways_down.insert(g.gateway);
    else
      st.gateways_down.erase(g.gateway);
    st.log->info("gateway-{} gateway={} silent={} devices={}", down ? "silent" : "back", g.gateway,
                 g.silent, g.known);
    st.ctx->send_to("analyzer", event_atom::value, std::move(f));
  }
}

void drain(self_ptr self) {
  auto& st = self->state;
  std::vector<std::pair<std::string, timestamp>> batch;
  bool connected = false;
  std::string error;
  uint64_t dropped = 0;
  {
    std::lock_guard<std::mutex> guard{st.in->mtx};
    batch.swap(st.in->messages);
    connected = st.in->connected;
    error = st.in->last_error;
    dropped = st.in->dropped;
  }
  watch_broker(self, connected, error);
  st.ctx->metrics->device_messages(batch.size(), dropped - st.reported_drops);
  if (dropped > st.reported_drops) {
    st.log->warn("devices-messages-dropped count={} total={} reason=\"buffer full\"",
                 dropped - st.reported_drops, dropped);
    st.reported_drops = dropped;
  }
  std::string device, gateway;
  for (auto& [topic, at] : batch)
    for (auto& p : st.patterns)
      if (p.match(topic, device, gateway)) {
        if (auto back = st.detector->heard(device, gateway, at))
          st.ctx->send_to("analyzer", event_atom::value, device_fault(self, *back));
        break;
      }
  // Silence is judged only while the stream is there: a broker outage is
  // the broker's fault, not every device's. The gateway goes first, so
  // that its devices' faults arrive explained.
  std::vector<devices::silence_event> fell_silent;
  if (connected)
    fell_silent = st.detector->scan(system_clock_source().now());
  judge_gateways(self);
  for (auto& e : fell_silent) {
    auto f = device_fault(self, e);
    st.log->info("device-silent device={} gateway={} silent_for={} interval={} phi={:.1f}",
                 e.device, e.gateway, human_duration(e.silence), f.details["usual_interval"],
                 e.phi);
    st.ctx->send_to("analyzer", event_atom::value, std::move(f));
  }
  uint64_t known = 0, silent = 0;
  for (auto& g : st.detector->gateways()) {
    known += g.known;
    silent += g.silent;
  }
  st.ctx->metrics->devices(known, silent);
  if (std::chrono::steady_clock::now() - st.last_save >= save_every) {
    st.last_save = std::chrono::steady_clock::now();
    if (auto s = devices::save_learned(learned_path(*st.ctx), st.detector->export_learned());
        !s.ok())
      st.log->warn("devices-save-failed error=\"{}\"", s.message());
  }
}

void connect_broker(self_ptr self) {
  auto& st = self->state;
  auto& cfg = st.ctx->cfg.devices;
  mqtt::init_library();
  auto id = "faultd-" + st.ctx->cfg.node.id + "-devices";
  st.mq = mosquitto_new(id.c_str(), true, st.in.get());
  if (st.mq == nullptr) {
    st.log->error("devices-client-failed reason=\"mosquitto_new\"");
    return;
  }
  if (!cfg.username.empty())
    mosquitto_username_pw_set(st.mq, cfg.username.c_str(),
                              cfg.password.empty() ? nullptr : cfg.password.c_str());
  mosquitto_reconnect_delay_set(st.mq, 1, 30, true);
  mosquitto_connect_callback_set(st.mq, [](mosquitto* m, void* obj, int rc) {
    auto* in = static_cast<inbox*>(obj);
    {
      std::lock_guard<std::mutex> guard{in->mtx};
      in->connected = rc == 0;
      if (rc != 0)
        in->last_error = mosquitto_connack_string(rc);
    }
    if (rc == 0)
      for (auto& s : in->subscriptions)
        mosquitto_subscribe(m, nullptr, s.c_str(), 0);
  });
  mosquitto_disconnect_callback_set(st.mq, [](mosquitto*, void* obj, int rc) {
    auto* in = static_cast<inbox*>(obj);
    std::lock_guard<std::mutex> guard{in->mtx};
    in->connected = false;
    in->last_error = rc == 0 ? "disconnected" : mosquitto_strerror(rc);
  });
  mosquitto_message_callback_set(st.mq, [](mosquitto*, void* obj, const mosquitto_message* msg) {
    auto* in = static_cast<inbox*>(obj);
    auto now = system_clock_source().now();
    std::lock_guard<std::mutex> guard{in->mtx};
    if (in->messages.size() >= max_buffered) {
      ++in->dropped;
      return;
    }
    in->messages.emplace_back(msg->topic, now);
  });
  for (auto& p : st.patterns)
    st.in->subscriptions.push_back(p.subscription());
  int rc = mosquitto_connect_async(st.mq, cfg.broker->host.c_str(), cfg.broker->port, 30);
  if (rc != MOSQ_ERR_SUCCESS) {
    std::lock_guard<std::mutex> guard{st.in->mtx};
    st.in->last_error = rc == MOSQ_ERR_ERRNO ? errno_text(errno) : mosquitto_strerror(rc);
  }
  // Its own thread: connects, reconnects (1 s .. 30 s) and receives.
  mosquitto_loop_start(st.mq);
  st.log->info("devices-subscribing broker={} topics={}", cfg.broker->to_string(),
               st.in->subscriptions.size());
}

caf::behavior devices_actor(self_ptr self, std::shared_ptr<node_context> ctx) {
  auto& st = self->state;
  st.ctx = std::move(ctx);
  auto& cfg = st.ctx->cfg.devices;
  devices::detector_params p;
  p.phi_threshold = cfg.phi_threshold;
  p.min_interval = cfg.min_interval;
  p.max_silence = cfg.max_silence;
  p.min_samples = cfg.min_samples;
  st.detector = std::make_shared<devices::silence_detector>(p);
  for (auto& t : cfg.topics) {
    std::string err;
    if (auto pat = devices::topic_pattern::parse(t, err))  // checked at load
      st.patterns.push_back(*pat);
  }
  std::vector<devices::silence_detector::learned> learned;
  size_t bad = 0;
  if (auto s = devices::load_learned(learned_path(*st.ctx), learned, bad); !s.ok())
    st.log->warn("devices-load-failed error=\"{}\"", s.message());
  if (bad > 0)
    st.log->warn("devices-load-skipped lines={}", bad);
  st.detector->import_learned(learned);
  st.log->info("devices-restored devices={}", learned.size());
  connect_broker(self);
  // At stop (or a crash): the connection goes, the rhythms are saved. CAF
  // 0.17 destroys the state before attached functors run: they hold their
  // own references.
  // `in` stays alive until libmosquitto's thread, which writes to it, ends.
  self->attach_functor([mq = st.mq, in = st.in, detector = st.detector,
                        path = learned_path(*st.ctx)](const caf::error&) {
    (void) in;
    if (mq != nullptr) {
      mosquitto_disconnect(mq);
      mosquitto_loop_stop(mq, true);
      mosquitto_destroy(mq);
    }
    devices::save_learned(path, detector->export_learned());
  });
  self->delayed_send(self, drain_every, tick_atom::value);
  return {
    [=](tick_atom) {
      drain(self);
      self->delayed_send(self, drain_every, tick_atom::value);
    },
    [=](devices_atom, bool silent_only,
        const std::string& gateway) -> std::vector<devices::device_view> {
      auto& s = self->state;
      drain(self);  // what arrived up to now counts
      return s.detector->list(system_clock_source().now(), silent_only, gateway);
    },
  };
}

} // namespace

caf::actor spawn_devices_actor(caf::actor_system& sys, std::shared_ptr<node_context> ctx) {
  return sys.spawn(devices_actor, std::move(ctx));
}

} // namespace faultd
