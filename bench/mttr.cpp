// Mean time to recovery: a fault injected over the control endpoint (as
// `faultctl inject` does, with the same client) -> incident opened -> strategy selected -> the
// managed service restarted and its checks passing again.
//
// An in-process node runs one managed service (the static stamp helper)
// with an exec check, and a strategy whose one action restarts it. Each run
// injects service_unavailable for a fresh component name (so each run opens
// its own incident) with the action targeting the service explicitly. The
// MTTR of a run is the journaled end of the restart action (it ends when
// the restarted service's checks pass) minus the time just before the
// inject was sent. Also printed: the time until the new process ran (its
// own start stamp).
//
// usage: bench_mttr [--runs N]

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <string>
#include <thread>
#include <vector>

#include <caf/all.hpp>
#include <caf/io/all.hpp>

#include "actors/node/node.hpp"
#include "actors/type_ids.hpp"
#include "control/client.hpp"
#include "control/codec.hpp"
#include "faultd/config.hpp"
#include "faultd/log.hpp"
#include "storage/store.hpp"

using namespace faultd;

namespace {

double percentile(std::vector<double> xs, double p) {
  if (xs.empty())
    return 0;
  std::sort(xs.begin(), xs.end());
  auto idx = static_cast<size_t>(p * static_cast<double>(xs.size() - 1) + 0.5);
  return xs[std::min(idx, xs.size() - 1)];
}

/// Start stamps ("pid ns") the helper wrote, oldest first.
std::vector<std::pair<int, int64_t>> stamps(const std::string& path) {
  std::vector<std::pair<int, int64_t>> out;
  std::ifstream in{path};
  int pid = 0;
  long long ns = 0;
  while (in >> pid >> ns)
    out.emplace_back(pid, ns);
  return out;
}

} // namespace

int main(int argc, char** argv) {
  int runs = 25;
  for (int i = 1; i < argc; ++i) {
    if (std::strcmp(argv[i], "--runs") == 0 && i + 1 < argc) {
      runs = std::atoi(argv[++i]);
    } else {
      std::fprintf(stderr, "usage: bench_mttr [--runs N]\n");
      return 2;
    }
  }
  if (runs < 1)
    return 2;
  log::set_level("warn");
  char tmpl[] = "/tmp/faultd-mttr-XXXXXX";
  if (::mkdtemp(tmpl) == nullptr)
    return 1;
  std::string dir = tmpl;
  std::string stamp_file = dir + "/stamps";
  std::string yaml = "node:\n  id: bench\n  data_dir: " + dir + "\n"
                     "fault_detection:\n  resources: {enabled: false}\n"
                     "services:\n"
                     "  - name: svc\n"
                     "    command: [\"" STAMP_SERVICE_BIN "\", \"--service\", \"" + stamp_file + "\"]\n"
                     "    restart: {policy: always, burst: 1000}\n"
                     "    checks:\n"
                     "      - type: exec\n"
                     "        command: [\"/bin/true\"]\n"
                     "        interval: 5s\n"
                     "        timeout: 2s\n"
                     "        failure_threshold: 1\n"
                     "        success_threshold: 1\n"
                     "strategies:\n"
                     "  restart_svc:\n"
                     "    fault_types: [service_unavailable]\n"
                     "    severity_levels: [high, critical]\n"
                     "    priority: 1000\n"
                     "    timeout: 30s\n"
                     "    actions:\n"
                     "      - type: restart_service\n"
                     "        target: svc\n"
                     "        timeout: 10s\n";
  auto loaded = parse_config(yaml, "bench");
  if (!loaded) {
    std::fprintf(stderr, "%s\n", loaded.error->to_string().c_str());
    return 1;
  }
  caf::actor_system_config server_cfg;
  server_cfg.load<caf::io::middleman>();
  caf::actor_system server{server_cfg};
  node_runtime node;
  if (auto st = start_node(server, *loaded.value, node); !st.ok()) {
    std::fprintf(stderr, "%s\n", st.to_string().c_str());
    return 1;
  }
  auto endpoint = loaded.value->node.control_endpoint();
  caf::scoped_actor local{server};
  std::vector<double> mttr_ms, running_ms;
  std::string error;
  for (int run = 0; run < runs && error.empty(); ++run) {
    // Wait until the service runs and is healthy before injecting.
    while (stamps(stamp_file).empty())
      std::this_thread::sleep_for(std::chrono::milliseconds(1));
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
    auto before = stamps(stamp_file);
    control::request req;
    req.cmd = control::command::inject;
    req.event.type = fault_type::service_unavailable;
    req.event.severity = fault_severity::critical;
    req.event.component = "svc-run-" + std::to_string(run);
    auto t0 = system_clock_source().now();
    std::string incident_id;
    std::string bytes;
    if (auto st = control::call(endpoint, control::encode_request(req), std::chrono::seconds(10),
                                bytes);
        !st.ok()) {
      error = "inject failed: " + st.message();
      break;
    }
    control::reply rep;
    if (!control::decode_reply(bytes, rep).ok() || !rep.ok) {
      error = "inject failed: " + rep.error;
      break;
    }
    auto pos = rep.json.find("\"incident_id\":\"");
    if (pos != std::string::npos)
      incident_id = rep.json.substr(pos + 15, 36);
    // Wait for the journal to show the restart action completed.
    auto give_up = std::chrono::steady_clock::now() + std::chrono::seconds(20);
    std::optional<timestamp> ended;
    while (!ended && std::chrono::steady_clock::now() < give_up) {
      local->request(node.ctx->lookup("storage"), std::chrono::seconds(5), incident_atom::value,
                     incident_id)
        .receive(
          [&](const std::vector<incident>& xs) {
            if (!xs.empty() && !xs[0].actions.empty()
                && xs[0].actions[0].status == action_status::completed)
              ended = xs[0].actions[0].ended_at;
          },
          [&](const caf::error&) {});
      if (!ended)
        std::this_thread::sleep_for(std::chrono::milliseconds(1));
    }
    if (!ended) {
      error = "run " + std::to_string(run) + ": restart did not complete within 20s";
      break;
    }
    mttr_ms.push_back(std::chrono::duration<double, std::milli>(*ended - t0).count());
    auto after = stamps(stamp_file);
    if (after.size() > before.size())
      running_ms.push_back(static_cast<double>(after.back().second - to_unix_nanos(t0)) / 1e6);
  }
  stop_node(server, node);
  std::string rm = "rm -rf " + dir;
  if (std::system(rm.c_str()) != 0)
    std::fprintf(stderr, "cannot remove %s\n", dir.c_str());
  if (!error.empty()) {
    std::printf("{\"bench\":\"mttr\",\"error\":\"%s\"}\n", error.c_str());
    return 1;
  }
  std::printf("{\"bench\":\"mttr\",\"runs\":%zu,\"p50_ms\":%.2f,\"p99_ms\":%.2f,\"max_ms\":%.2f,"
              "\"new_process_running_p50_ms\":%.2f}\n",
              mttr_ms.size(), percentile(mttr_ms, 0.5), percentile(mttr_ms, 0.99),
              percentile(mttr_ms, 1.0), percentile(running_ms, 0.5));
  return 0;
}
