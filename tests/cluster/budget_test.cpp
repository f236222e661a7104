// The cluster restart budget (recovery.max_concurrent_cluster) across real
// faultd nodes on loopback: faults on every node at once recover at most
// `limit` at a time in the whole cluster, each incident says why it
// waited, an incident that closes while it waits never runs its recovery,
// and one that waited when the recovery manager crashed asks again.

#include <doctest/doctest.h>

#include <algorithm>
#include <string>
#include <utility>
#include <vector>

#include "faultd/time.hpp"
#include "support/node_process.hpp"
#include "support/support.hpp"

using namespace faultd::test;

namespace {

/// Every fault on a `job-*` component is fixed by a command that takes a
/// couple of seconds, so that recoveries overlap unless the budget spaces them.
std::string budget_yaml(int limit) {
  return "recovery:\n  max_concurrent_cluster: " + std::to_string(limit)
         + "\n  cluster_jitter: 200ms\n"
           "strategies:\n"
           "  slow_fix:\n"
           "    fault_types: [software_error]\n"
           "    component: \"job-*\"\n"
           "    priority: 500\n"
           "    actions:\n"
           "      - {type: restart_service, timeout: 20s, parameters: {command: \"sleep 2\"}}\n";
}

std::string inject(node_process& n, const std::string& component) {
  auto r = n.ctl({"--json", "inject", "--type", "software_error", "--component", component,
                  "--severity", "high"});
  REQUIRE_MESSAGE(r.status == 0, r.err);
  auto id = json_value(r.out, "incident_id");
  REQUIRE(!id.empty());
  return id;
}

std::string recovery_of(node_process& n, const std::string& id) {
  return json_value(n.incident_json(id), "recovery");
}

/// [started_at, ended_at] of the incident's first action, in ms.
std::pair<int64_t, int64_t> action_span(const std::string& incident) {
  auto ms = [](const std::string& t) {
    auto p = faultd::parse_timestamp(t);
    INFO("timestamp: ", t);
    REQUIRE(p.has_value());
    return std::chrono::duration_cast<std::chrono::milliseconds>(p->time_since_epoch()).count();
  };
  auto at = incident.find("\"actions\"");
  REQUIRE(at != std::string::npos);
  return {ms(json_value(incident, "started_at", at)), ms(json_value(incident, "ended_at", at))};
}

/// The most spans that overlap at one instant (an end and a start in the
/// same millisecond do not overlap).
size_t most_at_once(const std::vector<std::pair<int64_t, int64_t>>& spans) {
  std::vector<std::pair<int64_t, int>> edges;
  for (auto& [from, to] : spans) {
    edges.emplace_back(from, +1);
    edges.emplace_back(to, -1);
  }
  std::sort(edges.begin(), edges.end());  // at equal times, -1 sorts first
  size_t now = 0, most = 0;
  for (auto& [t, d] : edges) {
    now += d;
    most = std::max(most, now);
  }
  return most;
}

bool contains(const std::string& s, const std::string& part) {
  return s.find(part) != std::string::npos;
}

/// With a budget of one: a first job's recovery runs, a second one's waits.
std::pair<std::string, std::string> one_running_one_waiting(node_process& n) {
  auto first = inject(n, "job-a");
  REQUIRE(wait_until([&] { return recovery_of(n, first) == "running"; }));
  auto second = inject(n, "job-b");
  REQUIRE(wait_until([&] { return contains(n.incident_json(second), "slow_fix=waiting"); }));
  return {first, second};
}

} // namespace

TEST_CASE("nine faults on three nodes recover two at a time across the cluster") {
  const auto yaml = budget_yaml(2);
  cluster_member n1{"n1", {}, true, yaml};
  cluster_member n2{"n2", {n1.port}, false, yaml};
  cluster_member n3{"n3", {n1.port}, false, yaml};
  std::vector<std::pair<std::string, cluster_member*>> nodes{{"n1", &n1}, {"n2", &n2},
                                                              {"n3", &n3}};
  REQUIRE(wait_until([&] {
    for (auto& [a_id, a] : nodes)
      for (auto& [b_id, b] : nodes)
        if (a != b && !a->sees(b_id, "alive"))
          return false;
    return true;
  }));
  // Three faults per node, as fast as faultctl goes.
  std::vector<std::pair<cluster_member*, std::string>> incidents;
  std::vector<std::string> where;  // node id of each incident
  for (int i = 1; i <= 3; ++i)
    for (auto& [id, n] : nodes) {
      incidents.emplace_back(n, inject(*n->proc, "job-" + id + "-" + std::to_string(i)));
      where.push_back(id);
    }
  REQUIRE(wait_until(
    [&] {
      for (auto& [n, id] : incidents)
        if (recovery_of(*n->proc, id) != "completed")
          return false;
      return true;
    },
    std::chrono::seconds(90)));
  std::vector<std::pair<int64_t, int64_t>> spans;
  size_t found_full = 0;
  for (auto& [n, id] : incidents) {
    auto inc = n->proc->incident_json(id);
    CAPTURE(inc);
    CHECK(json_value(inc, "strategy") == "slow_fix");
    auto why = json_value(inc, "budget_wait");
    CHECK(contains(why, "max_concurrent_cluster 2"));
    if (contains(why, "it found"))
      ++found_full;
    spans.push_back(action_span(inc));
  }
  // Never more than two at once. Only two can start first: the others,
  // injected while those ran (the last one about a second later on a slow
  // machine), found the budget full and said so.
  CHECK(most_at_once(spans) <= 2);
  CHECK(found_full >= 5);
  // Another node's recovery shows in what a waiting one found.
  bool named_peer = false;
  for (size_t i = 0; i < incidents.size(); ++i) {
    auto& [n, id] = incidents[i];
    auto why = json_value(n->proc->incident_json(id), "budget_wait");
    for (auto& [other, m] : nodes)
      if (other != where[i] && contains(why, other + " "))
        named_peer = true;
  }
  CHECK(named_peer);
  CHECK(contains(n1.log(), "recovery-budget-granted"));
}

TEST_CASE("an incident closed while it waits for the budget never runs its recovery") {
  node_process n{"services: []\n" + budget_yaml(1)};
  auto [first, second] = one_running_one_waiting(n);
  auto r = n.ctl({"incident", "close", second});
  REQUIRE_MESSAGE(r.status == 0, r.err);
  REQUIRE(wait_until([&] { return recovery_of(n, first) == "completed"; }));
  REQUIRE(wait_until([&] { return contains(n.incident_json(second), "slow_fix=not_run"); }));
  auto inc = n.incident_json(second);
  CAPTURE(inc);
  CHECK(contains(json_value(inc, "budget_wait"), "closed while waiting"));
  CHECK(json_value(inc, "recovery").empty());
  CHECK_FALSE(contains(inc, "\"started_at\""));
}

TEST_CASE("a strategy that waited when the recovery manager crashed asks again") {
  node_process n{"services: []\n" + budget_yaml(1)};
  auto [first, second] = one_running_one_waiting(n);
  auto r = n.ctl({"chaos", "crash-actor", "recovery"});
  REQUIRE_MESSAGE(r.status == 0, r.err);
  // The first one's supervisor is adopted (it keeps its slot); the second
  // runs after it.
  REQUIRE(wait_until([&] { return recovery_of(n, second) == "completed"; },
                     std::chrono::seconds(30)));
  CHECK(recovery_of(n, first) == "completed");
  auto a = action_span(n.incident_json(first));
  auto b = action_span(n.incident_json(second));
  CHECK(b.first >= a.second);
  CHECK(wait_until([&] {
    return contains(read_file(n.dir.file("data") + "/faultd.log"), "recovery-budget-requeued");
  }));
}
