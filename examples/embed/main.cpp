// queue_guard: a small CAF application whose order queue is guarded by a
// faultd node embedded in its own actor system, through the installed
// package alone (faultd/embed.hpp).
//
// - its own detector: a check type `queue_depth` that asks the queue actor
//   for its depth;
// - its own action: `drain_queue`, which spills the backlog to a file and
//   restarts the stalled consumer;
// - a typed listener that prints every incident change.
//
// The run: orders arrive at 600/s and the consumer keeps up; after a second
// the consumer stalls, the queue backs up past 1000, faultd opens an
// incident, runs drain_queue, the probe passes again and the incident
// closes. Exit 0 once that happened (1 if not within 60 s, 2 on bad usage).
// While it runs, `faultctl --node unix:DATA_DIR/control.sock status` works
// against it like against faultd.

#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <deque>
#include <fstream>
#include <future>
#include <memory>
#include <string>
#include <thread>

#include <caf/all.hpp>

#include <faultd/embed.hpp>

namespace {

using namespace std::chrono_literals;

// -- the application's order queue ---------------------------------------------

using push_atom = caf::atom_constant<caf::atom("push")>;
using work_atom = caf::atom_constant<caf::atom("work")>;
using stall_atom = caf::atom_constant<caf::atom("stall")>;
using depth_atom = caf::atom_constant<caf::atom("depth")>;
using spill_atom = caf::atom_constant<caf::atom("spill")>;

/// Producers push orders; its consumer takes up to 80 every 100 ms unless
/// stalled; spill moves the backlog to a file and restarts the consumer.
using queue_actor = caf::typed_actor<caf::reacts_to<push_atom, int32_t>,
                                     caf::reacts_to<work_atom>,
                                     caf::reacts_to<stall_atom>,
                                     caf::replies_to<depth_atom>::with<int32_t>,
                                     caf::replies_to<spill_atom, std::string>::with<int32_t>>;

struct queue_state {
  std::deque<int32_t> orders;
  int32_t next = 0;
  bool stalled = false;
};

queue_actor::behavior_type order_queue(queue_actor::stateful_pointer<queue_state> self) {
  self->send(self, work_atom::value);
  return {
    [=](push_atom, int32_t n) {
      for (int32_t i = 0; i < n; ++i)
        self->state.orders.push_back(self->state.next++);
    },
    [=](work_atom) {
      for (int i = 0; i < 80 && !self->state.stalled && !self->state.orders.empty(); ++i)
        self->state.orders.pop_front();
      self->delayed_send(self, 100ms, work_atom::value);
    },
    [=](stall_atom) { self->state.stalled = true; },
    [=](depth_atom) { return static_cast<int32_t>(self->state.orders.size()); },
    [=](spill_atom, const std::string& path) -> caf::result<int32_t> {
      std::ofstream out{path, std::ios::app};
      for (auto order : self->state.orders)
        out << order << '\n';
      if (!out.flush())
        return caf::make_error(caf::sec::runtime_error, "cannot write " + path);
      auto n = static_cast<int32_t>(self->state.orders.size());
      self->state.orders.clear();
      self->state.stalled = false;
      return n;
    },
  };
}

// -- its own detector and action for faultd -------------------------------------

/// The `queue_depth` check type: critical while the queue holds more than
/// the check's `max` parameter. Runs on the check's own thread.
faultd::checks::check_function queue_depth_probe(caf::actor_system& sys, queue_actor queue) {
  return [&sys, queue](const faultd::check_config& c) {
    faultd::checks::check_result r;  // critical until the queue answers
    auto max = std::stoi(c.parameters.at("max"));  // checked in main
    caf::scoped_actor self{sys};
    self->request(queue, c.timeout, depth_atom::value)
      .receive(
        [&](int32_t depth) {
          r.code = depth;
          r.outcome = depth > max ? faultd::checks::check_outcome::critical
                                  : faultd::checks::check_outcome::ok;
          r.message = "depth " + std::to_string(depth) + (depth > max ? " > " : " <= ")
                      + std::to_string(max);
        },
        [&](caf::error& e) { r.message = "the queue does not answer: " + sys.render(e); });
    return r;
  };
}

/// The `drain_queue` action type: spills the backlog and restarts the
/// consumer. Runs on a worker thread of the node, within its deadline.
class drain_queue final : public faultd::actions::action_executor {
public:
  drain_queue(caf::actor_system& sys, queue_actor queue, std::string spill_path)
    : sys_(sys), queue_(std::move(queue)), spill_path_(std::move(spill_path)) {}

  faultd::actions::action_result execute(const faultd::recovery_action& a,
                                         const faultd::actions::action_context& ctx) override {
    faultd::actions::action_result r;
    auto target = faultd::actions::resolve_target(a, ctx);
    if (target != "orders") {
      r.st = {faultd::errc::bad_request, "no queue named " + target};
      return r;
    }
    caf::scoped_actor self{sys_};
    self->request(queue_, faultd::actions::time_left(ctx), spill_atom::value, spill_path_)
      .receive(
        [&](int32_t n) {
          spilled += n;
          r.note = "spilled " + std::to_string(n) + " orders to " + spill_path_
                   + " and restarted the consumer";
        },
        [&](caf::error& e) { r.st = {faultd::errc::unavailable, sys_.render(e)}; });
    return r;
  }

  faultd::status rollback(const faultd::recovery_action&, const faultd::actions::action_context&,
                          const std::string&) override {
    return {};  // spilled orders stay in the file for replay
  }

  std::atomic<int32_t> spilled{0};

private:
  caf::actor_system& sys_;
  queue_actor queue_;
  std::string spill_path_;
};

// -- a typed listener of incidents ---------------------------------------------

struct listener_state {
  std::shared_ptr<std::promise<faultd::incident>> closed;
  std::string seen;  ///< the incident printed as opened
  bool recovered = false;
};

faultd::incident_listener_actor::behavior_type
listener(faultd::incident_listener_actor::stateful_pointer<listener_state> self,
         std::shared_ptr<std::promise<faultd::incident>> closed) {
  self->state.closed = std::move(closed);
  return {
    [=](faultd::incident_atom, const faultd::incident& x) {
      auto& st = self->state;
      if (x.component != "orders")
        return;
      if (st.seen != x.id) {
        st.seen = x.id;
        std::printf("incident opened id=%s type=%s severity=%s\n", x.id.c_str(),
                    std::string{faultd::to_string(x.type)}.c_str(),
                    std::string{faultd::to_string(x.severity)}.c_str());
      }
      if (!st.recovered && x.recovery_status
          && *x.recovery_status == faultd::execution_status::completed) {
        st.recovered = true;
        for (const auto& a : x.actions)
          std::printf("recovery strategy=%s action=%s status=%s\n", x.strategy.c_str(),
                      std::string{faultd::action_name(a.action)}.c_str(),
                      std::string{faultd::to_string(a.status)}.c_str());
      }
      if (x.status == faultd::incident_status::closed && st.closed) {
        std::printf("incident closed id=%s reason=\"%s\"\n", x.id.c_str(),
                    x.close_reason.c_str());
        st.closed->set_value(x);
        st.closed = nullptr;
      }
      std::fflush(stdout);
    },
  };
}

std::string config_yaml(const std::string& data_dir) {
  return R"(
node:
  id: queue-guard
  data_dir: )" + data_dir + R"(
fault_detection:
  resources: {enabled: false}
  security: {enabled: false}
services:
  - name: orders        # no command: faultd watches it, the application runs it
    checks:
      - type: queue_depth
        interval: 200ms
        timeout: 1s
        failure_threshold: 2
        fault: resource_exhaustion
        severity: high
        parameters: {max: "1000"}
strategies:
  drain_orders:
    fault_types: [resource_exhaustion]
    severity_levels: [high]
    priority: 500
    actions:
      - type: drain_queue
        target: ${component}
        timeout: 5s
)";
}

} // namespace

int main(int argc, char** argv) {
  if (argc > 2 || (argc == 2 && argv[1][0] == '-')) {
    std::fprintf(stderr, "usage: queue_guard [DATA_DIR]   (default ./queue-guard-data)\n");
    return 2;
  }
  std::string data_dir = argc == 2 ? argv[1] : "./queue-guard-data";
  // The config may name the application's types once it says which exist.
  faultd::parse_options names;
  names.check_types = {"queue_depth"};
  names.action_types = {"drain_queue"};
  auto parsed = faultd::parse_config(config_yaml(data_dir), "queue_guard.yaml", names);
  if (!parsed) {
    std::fprintf(stderr, "%s\n", parsed.error->to_string().c_str());
    return 2;
  }
  const auto& cfg = *parsed.value;
  for (const auto& c : cfg.services.at(0).checks)
    if (c.kind == faultd::check_kind::custom && c.parameters.count("max") == 0) {
      std::fprintf(stderr, "queue_guard.yaml: check %s needs parameters.max\n", c.name.c_str());
      return 2;
    }

  caf::actor_system_config caf_cfg;
  faultd::prepare_actor_system(caf_cfg, cfg);  // the middleman (and TLS if configured)
  caf::actor_system sys{caf_cfg};
  auto queue = sys.spawn(order_queue);
  auto drain = std::make_shared<drain_queue>(sys, queue, data_dir + "/spilled-orders.txt");
  faultd::node_extensions ext;
  ext.checks["queue_depth"] = queue_depth_probe(sys, queue);
  ext.actions["drain_queue"] = drain;

  std::unique_ptr<faultd::embedded_node> node;
  if (auto st = faultd::embedded_node::start(sys, cfg, ext, node); !st.ok()) {
    std::fprintf(stderr, "faultd did not start: %s\n", st.to_string().c_str());
    caf::anon_send_exit(queue, caf::exit_reason::user_shutdown);
    return 1;
  }
  auto closed = std::make_shared<std::promise<faultd::incident>>();
  auto done = closed->get_future();
  auto heard = sys.spawn(listener, closed);
  if (auto st = node->subscribe(heard); !st.ok()) {
    std::fprintf(stderr, "cannot listen to incidents: %s\n", st.to_string().c_str());
    node->stop();
    caf::anon_send_exit(heard, caf::exit_reason::user_shutdown);
    caf::anon_send_exit(queue, caf::exit_reason::user_shutdown);
    return 1;
  }
  std::printf("queue_guard running; faultctl --node unix:%s/control.sock status\n",
              data_dir.c_str());
  std::fflush(stdout);

  // Orders arrive at 600/s; after a second the consumer stalls.
  auto started = std::chrono::steady_clock::now();
  auto deadline = started + 60s;
  bool stalled = false;
  while (done.wait_for(100ms) != std::future_status::ready
         && std::chrono::steady_clock::now() < deadline) {
    caf::anon_send(queue, push_atom::value, int32_t{60});
    if (!stalled && std::chrono::steady_clock::now() - started >= 1s) {
      stalled = true;
      std::printf("consumer stalled\n");
      std::fflush(stdout);
      caf::anon_send(queue, stall_atom::value);
    }
  }
  bool ok = done.wait_for(0s) == std::future_status::ready;
  node->unsubscribe(heard);
  node->stop();
  caf::anon_send_exit(heard, caf::exit_reason::user_shutdown);
  caf::anon_send_exit(queue, caf::exit_reason::user_shutdown);
  if (!ok) {
    std::printf("no incident closed within 60s\n");
    return 1;
  }
  auto inc = done.get();
  auto took = std::chrono::duration_cast<std::chrono::milliseconds>(
    *inc.closed_at - inc.opened_at);
  std::printf("recovered spilled=%d incident_open=%lldms\n", static_cast<int>(drain->spilled),
              static_cast<long long>(took.count()));
  return 0;
}
