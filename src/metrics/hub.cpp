#include "metrics/hub.hpp"

#include <mutex>
#include <set>

#include <prometheus/collectable.h>
#include <prometheus/counter.h>
#include <prometheus/family.h>
#include <prometheus/gauge.h>
#include <prometheus/histogram.h>
#include <prometheus/metric_family.h>
#include <prometheus/registry.h>

namespace faultd::metrics {

namespace {

double seconds(duration d) {
  return std::chrono::duration<double>(d).count();
}

/// Durations of checks and storage commits: 1ms .. 10s.
prometheus::Histogram::BucketBoundaries short_buckets() {
  return {0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10};
}

/// Durations of recoveries and actions: 5ms .. 10m.
prometheus::Histogram::BucketBoundaries long_buckets() {
  return {0.005, 0.01, 0.05, 0.1, 0.5, 1, 5, 10, 30, 60, 120, 300, 600};
}

prometheus::MetricFamily family(std::string name, std::string help,
                                prometheus::MetricType type = prometheus::MetricType::Gauge) {
  prometheus::MetricFamily f;
  f.name = std::move(name);
  f.help = std::move(help);
  f.type = type;
  return f;
}

void add_sample(prometheus::MetricFamily& f, std::vector<prometheus::ClientMetric::Label> labels,
                double v) {
  prometheus::ClientMetric m;
  m.label = std::move(labels);
  if (f.type == prometheus::MetricType::Counter)
    m.counter.value = v;
  else
    m.gauge.value = v;
  f.metric.push_back(std::move(m));
}

} // namespace

/// Reads the services, the members and the heartbeat at scrape time.
class scrape_collector final : public prometheus::Collectable {
public:
  explicit scrape_collector(const hub& h) : hub_(h) {}

  void set(sources s) {
    std::lock_guard<std::mutex> guard{mtx_};
    src_ = std::move(s);
  }

  std::vector<prometheus::MetricFamily> Collect() const override {
    sources s;
    {
      std::lock_guard<std::mutex> guard{mtx_};
      s = src_;
    }
    std::vector<prometheus::MetricFamily> out;
    auto healthy = family("faultd_healthy",
                                "1 while the node's actors answer (a recent heartbeat)");
    add_sample(healthy, {}, hub_.healthy() ? 1 : 0);
    out.push_back(std::move(healthy));
    auto age = family("faultd_heartbeat_age_seconds",
                            "Time since the node's last heartbeat (one a second)");
    add_sample(age, {}, seconds(hub_.since_beat()));
    out.push_back(std::move(age));
    if (s.services) {
      auto up = family("faultd_service_up", "1 while the managed service runs");
      auto state = family("faultd_service_state",
                                "The managed service's state (1 for the current one)");
      auto restarts =
        family("faultd_service_restarts_total",
               "Restarts of the managed service by this faultd (its policy and recovery)",
               prometheus::MetricType::Counter);
      for (const auto& x : s.services()) {
        add_sample(up, {{"service", x.name}}, x.state == "running" ? 1 : 0);
        add_sample(state, {{"service", x.name}, {"state", x.state}}, 1);
        add_sample(restarts, {{"service", x.name}}, static_cast<double>(x.restarts));
      }
      out.push_back(std::move(up));
      out.push_back(std::move(state));
      out.push_back(std::move(restarts));
    }
    if (s.members) {
      auto members = family("faultd_cluster_members", "Cluster members by state");
      auto counts = s.members();
      for (const char* st : {"alive", "suspect", "dead", "left"})
        add_sample(members, {{"state", st}}, static_cast<double>(counts[st]));
      out.push_back(std::move(members));
    }
    return out;
  }

private:
  const hub& hub_;
  mutable std::mutex mtx_;
  sources src_;
};

struct hub::impl {
  std::shared_ptr<prometheus::Registry> registry = std::make_shared<prometheus::Registry>();
  std::shared_ptr<scrape_collector> scrape;
  std::atomic<int64_t> last_beat_ns{0};
  std::chrono::steady_clock::time_point born = std::chrono::steady_clock::now();

  prometheus::Family<prometheus::Counter>* check_runs;
  prometheus::Family<prometheus::Gauge>* check_ok;
  prometheus::Family<prometheus::Histogram>* check_seconds;
  prometheus::Family<prometheus::Gauge>* incidents;
  prometheus::Family<prometheus::Counter>* recoveries;
  prometheus::Family<prometheus::Histogram>* recovery_seconds;
  prometheus::Family<prometheus::Counter>* actions;
  prometheus::Family<prometheus::Histogram>* action_seconds;
  prometheus::Family<prometheus::Counter>* alerts;
  prometheus::Family<prometheus::Counter>* alerts_sent;
  prometheus::Family<prometheus::Counter>* alerts_dropped;
  prometheus::Histogram* commit_seconds;
  prometheus::Counter* device_messages;
  prometheus::Counter* device_dropped;
  prometheus::Counter* device_malformed;
  prometheus::Gauge* devices_known;
  prometheus::Gauge* devices_silent;
  std::mutex incidents_mtx;
  std::set<std::pair<std::string, std::string>> incident_keys;  // GUARDED_BY(incidents_mtx)
};

hub::hub(duration stale_after) : p_(std::make_unique<impl>()), stale_after_(stale_after) {
  auto& r = *p_->registry;
  p_->check_runs = &prometheus::BuildCounter()
                      .Name("faultd_check_runs_total")
                      .Help("Health check runs by result (ok, failed)")
                      .Register(r);
  p_->check_ok = &prometheus::BuildGauge()
                    .Name("faultd_check_success")
                    .Help("1 if the check's last run passed")
                    .Register(r);
  p_->check_seconds = &prometheus::BuildHistogram()
                         .Name("faultd_check_duration_seconds")
                         .Help("How long a health check run took")
                         .Register(r);
  p_->incidents = &prometheus::BuildGauge()
                     .Name("faultd_incidents_open")
                     .Help("Open incidents by fault type and severity")
                     .Register(r);
  p_->recoveries = &prometheus::BuildCounter()
                      .Name("faultd_recovery_executions_total")
                      .Help("Recovery executions that ended, by strategy and outcome")
                      .Register(r);
  p_->recovery_seconds = &prometheus::BuildHistogram()
                            .Name("faultd_recovery_duration_seconds")
                            .Help("How long a recovery execution took, by strategy")
                            .Register(r);
  p_->actions = &prometheus::BuildCounter()
                   .Name("faultd_recovery_actions_total")
                   .Help("Recovery actions that ended, by type and outcome")
                   .Register(r);
  p_->action_seconds = &prometheus::BuildHistogram()
                          .Name("faultd_recovery_action_duration_seconds")
                          .Help("How long a recovery action took, by type")
                          .Register(r);
  p_->alerts = &prometheus::BuildCounter()
                  .Name("faultd_alerts_total")
                  .Help("Alerts raised, by severity")
                  .Register(r);
  p_->alerts_sent = &prometheus::BuildCounter()
                       .Name("faultd_alerts_sent_total")
                       .Help("Alert deliveries a sink took, by sink")
                       .Register(r);
  p_->alerts_dropped = &prometheus::BuildCounter()
                          .Name("faultd_alerts_dropped_total")
                          .Help("Alert deliveries dropped (retries used, or the queue full)")
                          .Register(r);
  p_->commit_seconds = &prometheus::BuildHistogram()
                          .Name("faultd_storage_commit_duration_seconds")
                          .Help("How long a storage transaction took to commit")
                          .Register(r)
                          .Add({}, short_buckets());
  p_->device_messages = &prometheus::BuildCounter()
                           .Name("faultd_device_messages_total")
                           .Help("Messages the devices detector took in")
                           .Register(r)
                           .Add({});
  auto& dropped = prometheus::BuildCounter()
                    .Name("faultd_device_messages_dropped_total")
                    .Help("Device messages dropped: the detector's buffer was full, or the "
                          "message was malformed")
                    .Register(r);
  p_->device_dropped = &dropped.Add({{"reason", "buffer_full"}});
  p_->device_malformed = &dropped.Add({{"reason", "malformed"}});
  p_->devices_known = &prometheus::BuildGauge()
                         .Name("faultd_devices")
                         .Help("Devices the devices detector knows")
                         .Register(r)
                         .Add({});
  p_->devices_silent = &prometheus::BuildGauge()
                          .Name("faultd_devices_silent")
                          .Help("Devices silent now")
                          .Register(r)
                          .Add({});
  p_->scrape = std::make_shared<scrape_collector>(*this);
}

hub::~hub() = default;

std::vector<std::weak_ptr<prometheus::Collectable>> hub::collectables() const {
  return {p_->registry, p_->scrape};
}

void hub::set_sources(sources s) {
  p_->scrape->set(std::move(s));
}

void hub::check_result(const std::string& service, const std::string& check, bool ok,
                       duration latency) {
  p_->check_runs->Add({{"service", service}, {"check", check}, {"result", ok ? "ok" : "failed"}})
    .Increment();
  p_->check_ok->Add({{"service", service}, {"check", check}}).Set(ok ? 1 : 0);
  p_->check_seconds->Add({{"service", service}, {"check", check}}, short_buckets())
    .Observe(seconds(latency));
}

void hub::incidents_open(const std::map<std::pair<std::string, std::string>, uint64_t>& counts) {
  std::lock_guard<std::mutex> guard{p_->incidents_mtx};
  for (const auto& [key, n] : counts)
    p_->incident_keys.insert(key);
  for (const auto& key : p_->incident_keys) {
    auto i = counts.find(key);
    p_->incidents->Add({{"fault_type", key.first}, {"severity", key.second}})
      .Set(i == counts.end() ? 0 : static_cast<double>(i->second));
  }
}

void hub::recovery_done(const std::string& strategy, const std::string& status, duration took) {
  p_->recoveries->Add({{"strategy", strategy}, {"status", status}}).Increment();
  p_->recovery_seconds->Add({{"strategy", strategy}}, long_buckets()).Observe(seconds(took));
}

void hub::action_done(const std::string& type, const std::string& status, duration took) {
  p_->actions->Add({{"type", type}, {"status", status}}).Increment();
  p_->action_seconds->Add({{"type", type}}, long_buckets()).Observe(seconds(took));
}

void hub::alert_raised(const std::string& severity) {
  p_->alerts->Add({{"severity", severity}}).Increment();
}

void hub::alert_sent(const std::string& sink) {
  p_->alerts_sent->Add({{"sink", sink}}).Increment();
}

void hub::alert_dropped(const std::string& sink) {
  p_->alerts_dropped->Add({{"sink", sink}}).Increment();
}

void hub::storage_commit(duration took) {
  p_->commit_seconds->Observe(seconds(took));
}

void hub::device_messages(uint64_t taken, uint64_t dropped, uint64_t malformed) {
  p_->device_messages->Increment(static_cast<double>(taken));
  p_->device_dropped->Increment(static_cast<double>(dropped));
  p_->device_malformed->Increment(static_cast<double>(malformed));
}

void hub::devices(uint64_t known, uint64_t silent) {
  p_->devices_known->Set(static_cast<double>(known));
  p_->devices_silent->Set(static_cast<double>(silent));
}

void hub::beat() {
  p_->last_beat_ns = std::chrono::duration_cast<std::chrono::nanoseconds>(
                       std::chrono::steady_clock::now().time_since_epoch())
                       .count();
}

duration hub::since_beat() const {
  auto last = p_->last_beat_ns.load();
  auto now = std::chrono::steady_clock::now();
  if (last == 0)
    return now - p_->born;
  return now.time_since_epoch() - std::chrono::nanoseconds(last);
}

} // namespace faultd::metrics
