#include "support/node_process.hpp"

#include <doctest/doctest.h>

#include <csignal>

#include "process/proc.hpp"
#include "process/run_state.hpp"

namespace faultd::test {

std::string json_value(const std::string& json, const std::string& key, size_t from) {
  auto pos = json.find("\"" + key + "\":", from);
  if (pos == std::string::npos)
    return {};
  pos += key.size() + 3;
  if (json[pos] == '"')
    return json.substr(pos + 1, json.find('"', pos + 1) - pos - 1);
  return json.substr(pos, json.find_first_of(",}]", pos) - pos);
}

node_process::node_process(const std::string& extra_yaml, const std::string& id)
  : node_process(extra_yaml, id, [](const std::string&) {}) {
}

node_process::node_process(const std::string& extra_yaml, const std::string& id,
                           const std::function<void(const std::string&)>& before_start)
  : node("unix:" + dir.file("data") + "/control.sock") {
  write_file(dir.file("faultd.yaml"), "node:\n  id: " + id + "\n  data_dir: " + dir.file("data")
                                        + "\n" + extra_yaml);
  before_start(dir.file("data"));
  start();
}

node_process::~node_process() {
  if (proc && proc->running()) {
    proc->signal(SIGTERM);
    if (proc->wait(std::chrono::seconds(30)) < 0)
      proc->signal(SIGKILL);
  }
  proc.reset();
  kill_recorded_services();
}

void node_process::kill_recorded_services() {
  process::run_dir runs{dir.file("data") + "/run"};
  for (auto& r : runs.read_all()) {
    if (!process::still_running(r))
      continue;
    for (auto& st : process::process_tree(r.pid, r.token))
      ::kill(st.pid, SIGKILL);
  }
}

void node_process::start() {
  proc = std::make_unique<child_process>(
    std::vector<std::string>{faultd_bin(), "--config", dir.file("faultd.yaml")},
    dir.file("faultd.out"));
  bool up = wait_until([&] { return ctl({"status"}).status == 0; }, std::chrono::seconds(20));
  REQUIRE_MESSAGE(up, "faultd did not come up: " << read_file(dir.file("faultd.out")));
}

run_result node_process::ctl(std::vector<std::string> args) {
  args.insert(args.begin(), {faultctl_bin(), "--node", node});
  return run(args, std::chrono::seconds(20));
}

std::string node_process::service_json(const std::string& name) {
  auto out = ctl({"--json", "services"}).out;
  auto pos = out.find("{\"name\":\"" + name + "\"");
  return pos == std::string::npos ? "" : out.substr(pos);
}

std::string node_process::service_pid(const std::string& name) {
  // A service faultd is still starting has no pid yet ("0"): wait for it.
  // So does a faultctl call that failed (a busy machine): ask again.
  std::string pid;
  wait_until([&] {
    auto json = service_json(name);
    pid = json_value(json, "pid");
    auto state = json_value(json, "state");
    return !state.empty() && state != "pending" && state != "starting";
  });
  return pid;
}

std::string node_process::incident_json(const std::string& id) {
  return ctl({"--json", "incident", id}).out;
}

const std::string fast_mesh =
  "  heartbeat_interval: 50ms\n  suspect_timeout: 300ms\n  min_std_deviation: 50ms\n";
const std::string fast_swim = "  membership: swim\n  probe_interval: 200ms\n  probe_timeout: 100ms\n"
                              "  gossip_interval: 50ms\n  push_pull_interval: 5s\n";

std::string member_yaml(uint16_t port, const std::vector<uint16_t>& seeds,
                        const std::string& extra, const std::string& cluster_keys) {
  std::string list;
  for (auto s : seeds)
    list += (list.empty() ? "" : ", ") + std::string{"127.0.0.1:"} + std::to_string(s);
  return "  listen: 127.0.0.1:" + std::to_string(port) + "\ncluster:\n  seeds: [" + list + "]\n"
         + cluster_keys
         + (extra.rfind("services:", 0) == 0 || extra.find("\nservices:") != std::string::npos
              ? ""
              : "services: []\n")
         + "fault_detection:\n  resources: {enabled: false}\n  security: {enabled: false}\n"
         + extra;
}

cluster_member::cluster_member(const std::string& id, std::vector<uint16_t> seeds,
                               bool seed_self, const std::string& extra,
                               const std::string& cluster_keys) {
  if (seed_self)
    seeds.push_back(port);
  proc = std::make_unique<node_process>(member_yaml(port, seeds, extra, cluster_keys), id);
}

std::string cluster_member::entry(const std::string& id) {
  auto r = proc->ctl({"--json", "members"});
  if (r.status != 0)
    return "";
  auto at = r.out.find("\"id\":\"" + id + "\"");
  return at == std::string::npos ? "" : r.out.substr(at);
}

std::string cluster_member::log() {
  return read_file(proc->dir.file("data") + "/faultd.log");
}

} // namespace faultd::test
