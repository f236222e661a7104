// A storm of duplicate fault events: how many per second the analyzer and
// strategy selector take, and how many incidents and alerts come out of
// 100,000 copies of the same fault (the right answer: one and one).
//
// Two runs, one JSON line each:
//   "logic": analysis::analyzer + recovery::strategy_selector in one thread
//            (the pure cost of dedup and selection);
//   "node":  a real in-process node (actors, sqlite): the events are sent to
//            the analyzer actor as a detector would. analyzed_events_per_s
//            counts until the analyzer has taken all of them;
//            stored_events_per_s until every event is committed to sqlite.
//            Incidents and alerts are read back from sqlite; first_alert_ms
//            is the time from the first event to the first alert.
//
// usage: bench_storm [--events N]

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>

#include <caf/all.hpp>
#include <caf/io/all.hpp>

#include "actors/node/node.hpp"
#include "actors/type_ids.hpp"
#include "analyzer/analyzer.hpp"
#include "faultd/config.hpp"
#include "faultd/log.hpp"
#include "faultd/util.hpp"
#include "recovery/selector.hpp"
#include "storage/store.hpp"

using namespace faultd;
using clk = std::chrono::steady_clock;

namespace {

fault_event storm_event(uint64_t i) {
  fault_event e;
  e.id = "storm-" + std::to_string(i);
  e.time = system_clock_source().now();
  e.type = fault_type::network_timeout;
  e.severity = fault_severity::high;
  e.component = "gw-mqtt";
  e.node = "bench";
  e.source = "bench";
  e.details["endpoint"] = "tcp://127.0.0.1:1883";
  return e;
}

double seconds_since(clk::time_point t0) {
  return std::chrono::duration<double>(clk::now() - t0).count();
}

void run_logic(uint64_t n) {
  auto cfg = parse_config(default_config_yaml(), "<embedded default>");
  analysis::analyzer an{analysis::make_settings(*cfg.value),
                        analysis::make_dependency_graph(cfg.value->services),
                        system_clock_source()};
  recovery::strategy_selector sel{cfg.value->strategies};
  uint64_t opened = 0, alerts = 0, selected = 0;
  auto t0 = clk::now();
  for (uint64_t i = 0; i < n; ++i) {
    auto r = an.on_event(storm_event(i));
    alerts += r.alerts.size();
    if (r.opened) {
      ++opened;
      if (auto* x = an.find(r.incident_id); x && sel.select(*x))
        ++selected;
    }
  }
  auto secs = seconds_since(t0);
  std::printf("{\"bench\":\"storm\",\"path\":\"logic\",\"events\":%llu,\"seconds\":%.4f,"
              "\"events_per_s\":%.0f,\"incidents_opened\":%llu,\"strategies_selected\":%llu,"
              "\"alerts\":%llu}\n",
              static_cast<unsigned long long>(n), secs, static_cast<double>(n) / secs,
              static_cast<unsigned long long>(opened), static_cast<unsigned long long>(selected),
              static_cast<unsigned long long>(alerts));
}

int run_node(uint64_t n) {
  char tmpl[] = "/tmp/faultd-storm-XXXXXX";
  if (::mkdtemp(tmpl) == nullptr)
    return 1;
  std::string dir = tmpl;
  auto loaded = parse_config("node:\n  id: bench\n  data_dir: " + dir
                               + "\nfault_detection:\n  resources: {enabled: false}\n",
                             "bench");
  if (!loaded) {
    std::fprintf(stderr, "%s\n", loaded.error->to_string().c_str());
    return 1;
  }
  caf::actor_system_config cfg;
  cfg.load<caf::io::middleman>();
  caf::actor_system sys{cfg};
  node_runtime node;
  if (auto st = start_node(sys, *loaded.value, node); !st.ok()) {
    std::fprintf(stderr, "%s\n", st.to_string().c_str());
    return 1;
  }
  caf::scoped_actor self{sys};
  caf::actor analyzer;
  while (!(analyzer = node.ctx->lookup("analyzer")))
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  auto first_time = system_clock_source().now();
  auto t0 = clk::now();
  for (uint64_t i = 0; i < n; ++i)
    self->send(analyzer, event_atom::value, storm_event(i));
  // Mailboxes are FIFO per sender: when this is answered, the analyzer has
  // taken every event before it.
  double analyzed_secs = 0;
  self->request(analyzer, caf::infinite, caf::get_atom::value)
    .receive([&](uint64_t) { analyzed_secs = seconds_since(t0); },
             [&](const caf::error& err) { std::fprintf(stderr, "%s\n", sys.render(err).c_str()); });
  // ...and when this inject is answered, all of them are on disk.
  auto marker = storm_event(n);
  self->request(analyzer, caf::infinite, inject_atom::value, marker)
    .receive([](const std::string&, const std::string&) {},
             [&](const caf::error& err) { std::fprintf(stderr, "%s\n", sys.render(err).c_str()); });
  auto secs = seconds_since(t0);
  stop_node(sys, node);
  storage::store db;
  std::vector<incident> incidents;
  std::vector<alert> alerts;
  uint64_t stored = 0;
  if (!db.open(dir + "/faultd.db").ok() || !db.incidents(0, false, incidents).ok()
      || !db.alerts(0, alerts).ok() || !db.count_events(stored).ok())
    return 1;
  double first_alert_ms = -1;
  for (auto& a : alerts) {
    double ms = std::chrono::duration<double, std::milli>(a.time - first_time).count();
    if (first_alert_ms < 0 || ms < first_alert_ms)
      first_alert_ms = ms;
  }
  std::printf("{\"bench\":\"storm\",\"path\":\"node\",\"events\":%llu,"
              "\"analyzed_events_per_s\":%.0f,\"stored_events_per_s\":%.0f,"
              "\"events_stored\":%llu,\"incidents\":%zu,\"alerts\":%zu,"
              "\"first_alert_ms\":%.1f}\n",
              static_cast<unsigned long long>(n + 1), static_cast<double>(n) / analyzed_secs,
              static_cast<double>(n + 1) / secs,
              static_cast<unsigned long long>(stored), incidents.size(), alerts.size(),
              first_alert_ms);
  std::string rm = "rm -rf " + dir;
  return std::system(rm.c_str()) == 0 ? 0 : 1;
}

} // namespace

int main(int argc, char** argv) {
  uint64_t n = 100000;
  for (int i = 1; i < argc; ++i) {
    if (std::strcmp(argv[i], "--events") == 0 && i + 1 < argc) {
      n = std::strtoull(argv[++i], nullptr, 10);
    } else {
      std::fprintf(stderr, "usage: bench_storm [--events N]\n");
      return 2;
    }
  }
  log::set_level("warn");
  run_logic(n);
  return run_node(n);
}
