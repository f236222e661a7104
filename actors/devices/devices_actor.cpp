#include "actors/devices/devices_actor.hpp"

#include <mosquitto.h>

#include <mutex>
#include <set>

#include <caf/all.hpp>

#include "actors/type_ids.hpp"
#include "devices/learned_file.hpp"
#include "devices/silence_detector.hpp"
#include "devices/sleep.hpp"
#include "faultd/log.hpp"
#include "faultd/util.hpp"
#include "metrics/hub.hpp"
#include "mqtt/client.hpp"

namespace faultd {

namespace {

constexpr auto drain_every = std::chrono::milliseconds(250);
constexpr auto save_every = std::chrono::seconds(60);
constexpr size_t max_buffered = 200000;
constexpr size_t max_buffered_announcements = 10000;

/// A message on a sleep topic.
struct announcement {
  std::string topic;
  std::string payload;  ///< at most max_sleep_payload + 1 bytes (more is malformed)
  timestamp at;
  bool retained = false;  ///< from the broker's store: said at some earlier time
};

/// What libmosquitto's thread hands to the actor.
struct inbox {
  std::mutex mtx;
  std::vector<std::pair<std::string, timestamp>> messages;  // GUARDED_BY(mtx)
  std::vector<announcement> announcements;                  // GUARDED_BY(mtx)
  uint64_t dropped = 0;                                      // GUARDED_BY(mtx)
  bool connected = false;                                    // GUARDED_BY(mtx)
  std::string last_error;                                    // GUARDED_BY(mtx)
  // Set before libmosquitto's thread starts, read-only after.
  std::vector<std::string> subscriptions;
  std::vector<devices::topic_pattern> sleep_patterns;
};

struct devices_state {
  std::shared_ptr<node_context> ctx;
  std::shared_ptr<devices::silence_detector> detector;
  std::vector<devices::topic_pattern> patterns;
  std::shared_ptr<inbox> in = std::make_shared<inbox>();
  mosquitto* mq = nullptr;
  uint64_t reported_drops = 0;
  uint64_t malformed = 0;  ///< in total
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
    e.silent        ? "device " + e.device + " silent for " + human_duration(e.silence)
                        + " (usually every " + usual + ")"
    : e.asleep_until ? "device " + e.device + " announced it sleeps until "
                         + format_timestamp(*e.asleep_until)
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

/// The first of `patterns` that takes `topic` (its index; -1: none) and
/// the device and gateway it names. A device or gateway id with a control
/// character would break the learned file's lines and the logs: -2, with
/// `why` set.
int match_device(const std::vector<devices::topic_pattern>& patterns, const std::string& topic,
                 std::string& device, std::string& gateway, std::string& why) {
  for (size_t i = 0; i < patterns.size(); ++i) {
    if (!patterns[i].match(topic, device, gateway))
      continue;
    if (has_control_chars(device) || has_control_chars(gateway)) {
      why = "a control character in the device or gateway id";
      return -2;
    }
    return static_cast<int>(i);
  }
  return -1;  // a subscription of ours delivered it, no pattern keeps it: not a device
}

/// Takes one telemetry message (true), or tells why it is malformed (false).
bool take_message(self_ptr self, const std::string& topic, timestamp at, std::string& why) {
  auto& st = self->state;
  std::string device, gateway;
  auto i = match_device(st.patterns, topic, device, gateway, why);
  if (i >= 0)
    if (auto back = st.detector->heard(device, gateway, at, static_cast<uint16_t>(i)))
      st.ctx->send_to("analyzer", event_atom::value, device_fault(self, *back));
  return i != -2;
}

/// Takes one sleep announcement (true), or tells why it is malformed.
bool take_announcement(self_ptr self, const announcement& a, std::string& why) {
  auto& st = self->state;
  std::string device, gateway;
  if (auto i = match_device(st.in->sleep_patterns, a.topic, device, gateway, why); i < 0)
    return i != -2;
  auto now_ms = to_unix_millis(a.at);
  std::string error;
  auto word = devices::parse_sleep_payload(a.payload, now_ms, error);
  if (!word) {
    why = "sleep announcement of " + device + ": " + error;
    return false;
  }
  if (word->relative && a.retained) {
    // Read from the broker's store: when it was said is not known, so
    // neither is when the device wakes.
    why = "retained sleep announcement of " + device
          + " says for how long, not until when (@<unix seconds> or an RFC 3339 time)";
    return false;
  }
  st.log->debug("device-sleep device={} until={} retained={}", device,
                word->until_ms > now_ms ? format_timestamp(from_unix_millis(word->until_ms))
                                        : "awake",
                a.retained);
  if (auto back = st.detector->announced_sleep(device, gateway, from_unix_millis(word->until_ms),
                                               a.at, !a.retained))
    st.ctx->send_to("analyzer", event_atom::value, device_fault(self, *back));
  return true;
}

void drain(self_ptr self) {
  auto& st = self->state;
  std::vector<std::pair<std::string, timestamp>> batch;
  std::vector<announcement> sleeps;
  bool connected = false;
  std::string error;
  uint64_t dropped = 0;
  {
    std::lock_guard<std::mutex> guard{st.in->mtx};
    batch.swap(st.in->messages);
    sleeps.swap(st.in->announcements);
    connected = st.in->connected;
    error = st.in->last_error;
    dropped = st.in->dropped;
  }
  watch_broker(self, connected, error);
  if (dropped > st.reported_drops)
    st.log->warn("devices-messages-dropped count={} total={} reason=\"buffer full\"",
                 dropped - st.reported_drops, dropped);
  // Messages and announcements in the order they arrived.
  uint64_t malformed = 0;
  std::string why, last_why;
  size_t m = 0, a = 0;
  while (m < batch.size() || a < sleeps.size()) {
    const bool message =
      a == sleeps.size() || (m < batch.size() && batch[m].second <= sleeps[a].at);
    const bool ok = message ? take_message(self, batch[m].first, batch[m].second, why)
                            : take_announcement(self, sleeps[a], why);
    ++(message ? m : a);
    if (!ok) {
      ++malformed;
      last_why = why;
    }
  }
  st.ctx->metrics->device_messages(batch.size() + sleeps.size() - malformed,
                                   dropped - st.reported_drops, malformed);
  st.reported_drops = dropped;
  if (malformed > 0) {
    st.malformed += malformed;
    st.log->warn("devices-messages-malformed count={} total={} last=\"{}\"", malformed,
                 st.malformed, last_why);
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
    std::string device, gateway;
    bool sleep = false;
    for (auto& p : in->sleep_patterns)
      sleep = sleep || p.match(msg->topic, device, gateway);
    if (!sleep && msg->retain)
      return;  // the broker's stored copy of an old message: no sign of life now
    std::lock_guard<std::mutex> guard{in->mtx};
    if (sleep) {
      if (in->announcements.size() >= max_buffered_announcements) {
        ++in->dropped;
        return;
      }
      auto len = msg->payload == nullptr || msg->payloadlen < 0
                   ? size_t{0}
                   : std::min(static_cast<size_t>(msg->payloadlen), devices::max_sleep_payload + 1);
      in->announcements.push_back(
        {msg->topic, std::string(static_cast<const char*>(msg->payload), len), now, msg->retain});
      return;
    }
    if (in->messages.size() >= max_buffered) {
      ++in->dropped;
      return;
    }
    in->messages.emplace_back(msg->topic, now);
  });
  for (auto& p : st.patterns)
    st.in->subscriptions.push_back(p.subscription());
  for (auto& p : st.in->sleep_patterns)
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
  for (auto& t : cfg.topics) {
    std::string err;
    if (auto pat = devices::topic_pattern::parse(t.pattern, err)) {  // checked at load
      st.patterns.push_back(*pat);
      p.patterns.push_back({t.pattern, t.min_interval.value_or(cfg.min_interval),
                            t.max_silence ? t.max_silence : cfg.max_silence});
    }
  }
  for (auto& t : cfg.sleep_topics) {
    std::string err;
    if (auto pat = devices::topic_pattern::parse(t, err))
      st.in->sleep_patterns.push_back(*pat);
  }
  if (!cfg.sleep_schedule.empty())
    p.scheduled_wake = [schedule = devices::sleep_schedule{cfg.sleep_schedule}](
                         const std::string& device, int64_t now_ms) {
      return schedule.wake(device, now_ms);
    };
  st.detector = std::make_shared<devices::silence_detector>(p);
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
