#pragma once

// A real faultd process for cluster tests: its own temp dir, config and
// control socket; started with the built binary and driven with the built
// faultctl.

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "support/support.hpp"

namespace faultd::test {

/// First value of "key": in a compact JSON text (numbers and strings) at or
/// after `from`, or "".
std::string json_value(const std::string& json, const std::string& key, size_t from = 0);

class node_process {
public:
  /// Writes a config with node id `id`, a data dir in the temp dir (the
  /// control socket in it), plus `extra_yaml`; then starts faultd and waits
  /// until `faultctl status` answers.
  explicit node_process(const std::string& extra_yaml = "", const std::string& id = "test-node");

  /// The same, with `before_start(data_dir)` called before faultd starts
  /// (e.g. to mount something there).
  node_process(const std::string& extra_yaml, const std::string& id,
               const std::function<void(const std::string&)>& before_start);

  /// Stops faultd (SIGTERM, then SIGKILL) and ends whatever services it
  /// left behind (they outlive a killed faultd on purpose, see adoption).
  ~node_process();

  /// Starts faultd again (after it was killed).
  void start();

  /// SIGKILLs every process recorded in the data dir's run records, with
  /// their trees (what a faultd killed with -9 left running).
  void kill_recorded_services();

  /// Runs faultctl against this node.
  run_result ctl(std::vector<std::string> args);

  /// The JSON object of one service in `faultctl --json services` (and
  /// everything after it), or "".
  std::string service_json(const std::string& name);

  /// A service's pid as faultctl shows it ("" if unknown), once it is no
  /// longer `pending` or `starting` (waits up to 10 s for that, asking again
  /// when faultctl fails).
  std::string service_pid(const std::string& name);

  /// `faultctl --json incident ID`'s output.
  std::string incident_json(const std::string& id);

  temp_dir dir;
  /// The control endpoint, unix:<data_dir>/control.sock.
  std::string node;
  std::unique_ptr<child_process> proc;
};

/// cluster: keys for quick failure detection, per membership mode: the
/// mesh with 50 ms heartbeats, or SWIM probing every 200 ms.
extern const std::string fast_mesh;
extern const std::string fast_swim;

/// The config of a cluster member listening on 127.0.0.1:`port` with
/// `seeds`, quick failure detection (`cluster_keys`), no services (unless
/// `extra` has its own `services:`), no resource or security detectors;
/// `extra` is appended (top-level YAML).
std::string member_yaml(uint16_t port, const std::vector<uint16_t>& seeds,
                        const std::string& extra = "",
                        const std::string& cluster_keys = fast_mesh);

/// A faultd process that is a cluster member (member_yaml).
struct cluster_member {
  uint16_t port = free_port();
  std::unique_ptr<node_process> proc;

  /// `seed_self`: this node's own address is among its seeds too (a seed
  /// list that names every node, as tools/caf-run writes it).
  cluster_member(const std::string& id, std::vector<uint16_t> seeds, bool seed_self = false,
                 const std::string& extra = "", const std::string& cluster_keys = fast_mesh);

  /// `faultctl --json members`' object of member `id` (and what follows).
  std::string entry(const std::string& id);
  std::string state_of(const std::string& id) { return json_value(entry(id), "state"); }
  bool sees(const std::string& id, const std::string& state) { return state_of(id) == state; }
  std::string log();
};

} // namespace faultd::test
