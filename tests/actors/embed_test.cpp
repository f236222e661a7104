// A node embedded through the public API alone (faultd/embed.hpp): an
// application's own check type (a queue-depth probe) and action type (a
// drain), faults sent through the typed intake, incidents heard by a typed
// listener, circuit and degradation read through the typed state actor.
// Nothing below includes src/ or actors/.

#include <doctest/doctest.h>

#include <atomic>
#include <mutex>
#include <vector>

#include <caf/all.hpp>
#include <caf/io/all.hpp>

#include <faultd/embed.hpp>

#include "support/support.hpp"

using namespace faultd;

namespace {

/// The application's queue and what its parts did to it.
struct queue_world {
  std::atomic<int> depth{0};
  std::atomic<int> drains{0};
  std::atomic<int> probes{0};
};

/// A check type of the application's own: critical while the queue is
/// deeper than its `max` parameter.
checks::check_function depth_probe(std::shared_ptr<queue_world> w) {
  return [w](const check_config& c) {
    ++w->probes;
    checks::check_result r;
    int max = std::stoi(c.parameters.at("max"));
    int d = w->depth;
    r.outcome = d > max ? checks::check_outcome::critical : checks::check_outcome::ok;
    r.message = "depth " + std::to_string(d) + (d > max ? " > " : " <= ") + std::to_string(max);
    r.code = d;
    return r;
  };
}

/// An action type of the application's own: drains the queue.
class drain_executor final : public actions::action_executor {
public:
  explicit drain_executor(std::shared_ptr<queue_world> w) : w_(std::move(w)) {}
  actions::action_result execute(const recovery_action& a,
                                 const actions::action_context& ctx) override {
    actions::action_result r;
    if (actions::resolve_target(a, ctx) != "orders") {
      r.st = {errc::bad_request, "unknown queue " + actions::resolve_target(a, ctx)};
      return r;
    }
    w_->depth = 0;
    ++w_->drains;
    r.note = "drained orders";
    return r;
  }
  status rollback(const recovery_action&, const actions::action_context&,
                  const std::string&) override {
    return {};
  }

private:
  std::shared_ptr<queue_world> w_;
};

/// What a listener heard, in order.
struct heard {
  std::mutex m;
  std::vector<incident> xs;
  std::vector<incident> of(const std::string& component) {
    std::lock_guard<std::mutex> g{m};
    std::vector<incident> out;
    for (auto& x : xs)
      if (x.component == component)
        out.push_back(x);
    return out;
  }
};

incident_listener_actor::behavior_type listener(incident_listener_actor::pointer,
                                                std::shared_ptr<heard> h) {
  return {
    [=](incident_atom, const incident& x) {
      std::lock_guard<std::mutex> g{h->m};
      h->xs.push_back(x);
    },
  };
}

std::string config_text(const std::string& data_dir) {
  return R"(
node:
  id: embedded
  data_dir: )" + data_dir + R"(
fault_detection:
  resources: {enabled: false}
  security: {enabled: false}
services:
  - name: orders
    checks:
      - type: queue_depth
        interval: 50ms
        failure_threshold: 2
        fault: resource_exhaustion
        severity: high
        parameters: {max: "100"}
strategies:
  drain:
    fault_types: [resource_exhaustion]
    severity_levels: [high]
    priority: 500
    actions:
      - type: drain_queue
        target: ${component}
        timeout: 5s
)";
}

node_extensions extensions_for(const std::shared_ptr<queue_world>& w) {
  node_extensions ext;
  ext.checks["queue_depth"] = depth_probe(w);
  ext.actions["drain_queue"] = std::make_shared<drain_executor>(w);
  return ext;
}

struct app {
  caf::actor_system_config caf_cfg;
  std::unique_ptr<caf::actor_system> sys;
  explicit app(const config& cfg) {
    prepare_actor_system(caf_cfg, cfg);
    sys = std::make_unique<caf::actor_system>(caf_cfg);
  }
};

} // namespace

TEST_CASE("a config names an application's check type only when it is registered") {
  test::temp_dir dir;
  auto w = std::make_shared<queue_world>();
  auto ext = extensions_for(w);
  auto plain = parse_config(config_text(dir.path()), "app.yaml");
  REQUIRE_FALSE(plain);
  CHECK(plain.error->message.find("unknown check type \"queue_depth\"") != std::string::npos);
  auto loaded = parse_config(config_text(dir.path()), "app.yaml", ext.names());
  REQUIRE_MESSAGE(loaded, (loaded.error ? loaded.error->to_string() : ""));
  const auto& c = loaded.value->services.at(0).checks.at(0);
  CHECK(c.kind == check_kind::custom);
  CHECK(c.custom_type == "queue_depth");
  CHECK(c.name == "queue_depth");  // named after its type by default
  CHECK(check_type_name(c) == "queue_depth");
  CHECK(c.parameters.at("max") == "100");
  auto with = [&](const std::string& check) {
    return parse_config("services:\n  - name: s\n    checks:\n      - " + check + "\n", "app.yaml",
                        ext.names());
  };
  // Keys of other check types are refused on it, and its parameters on them.
  auto url = with("{type: queue_depth, url: \"http://127.0.0.1/\"}");
  REQUIRE_FALSE(url);
  CHECK(url.error->message.find("not valid for a queue_depth check") != std::string::npos);
  auto params = with("{type: tcp, port: 1, parameters: {max: \"1\"}}");
  REQUIRE_FALSE(params);
  CHECK(params.error->message.find("only for an application's own check types")
        != std::string::npos);
  CHECK(params.error->line == 4);
  // "custom" is no name, and the error lists the registered types.
  auto literal = with("{type: custom}");
  REQUIRE_FALSE(literal);
  CHECK(literal.error->message.find("unknown check type \"custom\"") != std::string::npos);
  CHECK(literal.error->message.find("queue_depth") != std::string::npos);
}

TEST_CASE("a node does not start when a check's custom type has no function") {
  test::temp_dir dir;
  auto w = std::make_shared<queue_world>();
  auto ext = extensions_for(w);
  auto loaded = parse_config(config_text(dir.path()), "app.yaml", ext.names());
  REQUIRE(loaded);
  app a{*loaded.value};
  std::unique_ptr<embedded_node> node;
  node_extensions actions_only;
  actions_only.actions = ext.actions;
  auto st = embedded_node::start(*a.sys, *loaded.value, actions_only, node);
  CHECK_FALSE(st.ok());
  CHECK(st.message().find("service orders check queue_depth: custom check type queue_depth has "
                          "no function")
        != std::string::npos);
  CHECK(node == nullptr);
  node_extensions bad = ext;
  bad.checks["tcp"] = depth_probe(w);
  auto st2 = embedded_node::start(*a.sys, *loaded.value, bad, node);
  CHECK_FALSE(st2.ok());
  CHECK(st2.message().find("custom check type \"tcp\"") != std::string::npos);
}

TEST_CASE("an embedded node: its own probe's fault reaches its own action, heard by a typed listener") {
  test::temp_dir dir;
  auto w = std::make_shared<queue_world>();
  auto ext = extensions_for(w);
  auto loaded = parse_config(config_text(dir.path()), "app.yaml", ext.names());
  REQUIRE_MESSAGE(loaded, (loaded.error ? loaded.error->to_string() : ""));
  app a{*loaded.value};
  std::unique_ptr<embedded_node> node;
  auto st = embedded_node::start(*a.sys, *loaded.value, ext, node);
  REQUIRE_MESSAGE(st.ok(), st.to_string());
  auto h = std::make_shared<heard>();
  CHECK(node->subscribe(a.sys->spawn(listener, h)).ok());
  CHECK(node->running_config().node.id == "embedded");
  CHECK_FALSE(node->subscribe(incident_listener_actor{}).ok());
  // A second node in this process is refused.
  std::unique_ptr<embedded_node> second;
  auto twice = embedded_node::start(*a.sys, *loaded.value, ext, second);
  CHECK_FALSE(twice.ok());
  CHECK(twice.message().find("already runs in this process") != std::string::npos);
  REQUIRE(test::wait_until([&] { return w->probes >= 2; }));
  CHECK(h->of("orders").empty());  // a shallow queue is no fault
  // The queue backs up: the probe fails twice, recovery drains it, the
  // probe passes again and the incident closes.
  w->depth = 5000;
  REQUIRE(test::wait_until([&] { return w->drains >= 1; }, std::chrono::seconds(20)));
  auto closed = [&] {
    auto xs = h->of("orders");
    return !xs.empty() && xs.back().status == incident_status::closed;
  };
  REQUIRE(test::wait_until(closed, std::chrono::seconds(30)));
  auto xs = h->of("orders");
  CHECK(xs.front().status == incident_status::open);
  CHECK(xs.front().type == fault_type::resource_exhaustion);
  CHECK(xs.back().strategy == "drain");
  REQUIRE(!xs.back().actions.empty());
  CHECK(xs.back().actions[0].action.custom_type == "drain_queue");
  CHECK(xs.back().actions[0].status == action_status::completed);
  REQUIRE(xs.back().recovery_status.has_value());
  CHECK(*xs.back().recovery_status == execution_status::completed);
  CHECK(w->drains == 1);
  CHECK(w->depth == 0);

  caf::scoped_actor self{*a.sys};
  // Recovery's state through its typed interface.
  std::string circuit, level;
  self->request(node->recovery_state(), std::chrono::seconds(5), circuit_atom::value,
                std::string{"orders"})
    .receive([&](const std::string& s) { circuit = s; }, [](const caf::error&) {});
  self->request(node->recovery_state(), std::chrono::seconds(5), degrade_atom::value,
                std::string{"orders"})
    .receive([&](const std::string& s) { level = s; }, [](const caf::error&) {});
  CHECK(circuit == "closed");
  CHECK(level == "full");

  // A fault of the application's own, through the typed intake: stored,
  // then heard.
  fault_event f;
  f.type = fault_type::software_error;
  f.severity = fault_severity::critical;
  f.component = "billing";
  f.details["message"] = "ledger mismatch";
  std::string event_id, incident_id;
  self->request(node->intake(), std::chrono::seconds(10), inject_atom::value, f)
    .receive(
      [&](const std::string& e, const std::string& i) {
        event_id = e;
        incident_id = i;
      },
      [](const caf::error&) {});
  CHECK(!event_id.empty());
  CHECK(!incident_id.empty());
  REQUIRE(test::wait_until([&] { return !h->of("billing").empty(); }));
  auto billing = h->of("billing").front();
  CHECK(billing.id == incident_id);
  CHECK(billing.node == "embedded");
  CHECK(billing.severity == fault_severity::critical);
  // A fire-and-forget report folds into the same incident.
  caf::anon_send(node->intake(), event_atom::value, f);
  REQUIRE(test::wait_until([&] { return h->of("billing").back().event_count == 2; }));
  // An injected clear closes it, and the listener hears that too.
  auto clear = f;
  clear.clears = true;
  clear.severity = fault_severity::low;
  self->request(node->intake(), std::chrono::seconds(10), inject_atom::value, clear)
    .receive([](const std::string&, const std::string&) {}, [](const caf::error&) {});
  bool billing_closed = test::wait_until(
    [&] { return h->of("billing").back().status == incident_status::closed; });
  std::string seq;
  for (auto& x : h->of("billing"))
    seq += std::string{to_string(x.status)} + "/" + std::to_string(x.event_count) + "/"
           + x.strategy + " ";
  INFO("billing updates: ", seq);
  REQUIRE(billing_closed);
  // Values no fault can have are refused before they reach storage.
  auto bad = f;
  bad.severity = static_cast<fault_severity>(9);
  std::string bad_refusal;
  self->request(node->intake(), std::chrono::seconds(10), inject_atom::value, bad)
    .receive([](const std::string&, const std::string&) {},
             [&](const caf::error& e) { bad_refusal = a.sys->render(e); });
  CHECK(bad_refusal.find("unknown severity 9") != std::string::npos);
  bad = f;
  bad.component = "billing\n2026 forged log line";
  bad_refusal.clear();
  self->request(node->intake(), std::chrono::seconds(10), inject_atom::value, bad)
    .receive([](const std::string&, const std::string&) {},
             [&](const caf::error& e) { bad_refusal = a.sys->render(e); });
  CHECK(bad_refusal.find("control characters") != std::string::npos);
  // One without a component is refused, not guessed.
  fault_event nameless;
  std::string refusal;
  self->request(node->intake(), std::chrono::seconds(10), inject_atom::value, nameless)
    .receive([](const std::string&, const std::string&) {},
             [&](const caf::error& e) { refusal = a.sys->render(e); });
  CHECK(refusal.find("needs a component") != std::string::npos);

  node->stop();
  // After stop the handles answer with an error instead of hanging.
  std::string after;
  self->request(node->recovery_state(), std::chrono::seconds(5), circuit_atom::value,
                std::string{"orders"})
    .receive([&](const std::string& s) { after = s; },
             [&](const caf::error& e) { after = a.sys->render(e); });
  CHECK(after.find("the faultd node has stopped") != std::string::npos);
  // Once stopped, another node may start in this process.
  node.reset();
  auto again = embedded_node::start(*a.sys, *loaded.value, ext, second);
  CHECK_MESSAGE(again.ok(), again.to_string());
}
