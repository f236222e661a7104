// An application's own action type, registered by name before the node
// starts: the config names it in a strategy, the node refuses to start
// without its executor, and a fault's recovery runs it (journaled under its
// name) inside a node in this process.

#include <doctest/doctest.h>

#include <atomic>
#include <mutex>

#include <caf/all.hpp>
#include <caf/io/all.hpp>

#include "actions/executor.hpp"
#include "actors/node/node.hpp"
#include "actors/type_ids.hpp"
#include "faultd/util.hpp"
#include "support/support.hpp"

using namespace faultd;

namespace {

/// Drains "a queue": records what it was asked.
class drain_executor final : public actions::action_executor {
public:
  actions::action_result execute(const recovery_action& a,
                                 const actions::action_context& ctx) override {
    std::lock_guard<std::mutex> g{m_};
    ++calls;
    target = actions::resolve_target(a, ctx);
    depth = actions::parameter(a, "depth");
    actions::action_result r;
    r.note = "drained " + target;
    return r;
  }
  status rollback(const recovery_action&, const actions::action_context&,
                  const std::string&) override {
    return {};
  }
  std::atomic<int> calls{0};
  std::mutex m_;
  std::string target;
  std::string depth;
};

std::string config_text(const std::string& data_dir) {
  return R"(
node:
  id: embed-node
  data_dir: )" + data_dir + R"(
fault_detection:
  resources: {enabled: false}
  security: {enabled: false}
strategies:
  drain:
    fault_types: [resource_exhaustion]
    severity_levels: [high]
    priority: 500
    actions:
      - type: drain_queue
        target: ${component}
        parameters: {depth: "100"}
        timeout: 5s
)";
}

/// The config parsed knowing the application's drain_queue type.
config load_with_drain(const std::string& data_dir) {
  parse_options opts;
  opts.action_types = {"drain_queue"};
  auto loaded = parse_config(config_text(data_dir), "app.yaml", opts);
  REQUIRE_MESSAGE(loaded, (loaded.error ? loaded.error->to_string() : ""));
  return *loaded.value;
}

struct node_in_process {
  caf::actor_system_config cfg;
  std::unique_ptr<caf::actor_system> sys;
  node_runtime node;
  node_in_process() {
    cfg.load<caf::io::middleman>();
    sys = std::make_unique<caf::actor_system>(cfg);
  }
  ~node_in_process() {
    if (node.ctx)
      stop_node(*sys, node);
  }
};

} // namespace

TEST_CASE("a config names an application's action type only when it is registered") {
  test::temp_dir dir;
  auto plain = parse_config(config_text(dir.path()), "app.yaml");
  REQUIRE_FALSE(plain);
  CHECK(plain.error->message.find("unknown action type \"drain_queue\"") != std::string::npos);
  auto cfg = load_with_drain(dir.path());
  auto& a = cfg.strategies.at("drain").actions.at(0);
  CHECK(a.type == action_type::custom);
  CHECK(a.custom_type == "drain_queue");
  CHECK(action_name(a) == "drain_queue");
  CHECK(a.parameters.at("depth") == "100");  // its own parameters: its executor reads them
  // "custom" itself is no type a config can name.
  parse_options opts;
  opts.action_types = {"drain_queue"};
  auto literal = parse_config(R"(
strategies:
  s:
    fault_types: [software_error]
    actions: [{type: custom}]
)", "app.yaml", opts);
  REQUIRE_FALSE(literal);
  CHECK(literal.error->message.find("unknown action type \"custom\"") != std::string::npos);
  CHECK(literal.error->message.find("drain_queue") != std::string::npos);  // listed as known
}

TEST_CASE("a node does not start when a strategy's custom action type has no executor") {
  test::temp_dir dir;
  auto cfg = load_with_drain(dir.path());
  node_in_process p;
  auto st = start_node(*p.sys, cfg, p.node);
  CHECK_FALSE(st.ok());
  CHECK(st.message().find("custom action type drain_queue has no executor") != std::string::npos);
  node_extensions bad;
  bad.actions["restart_service"] = std::make_shared<drain_executor>();
  auto st2 = start_node(*p.sys, cfg, p.node, {}, bad);
  CHECK_FALSE(st2.ok());
  CHECK(st2.message().find("no built-in type") != std::string::npos);
}

TEST_CASE("a fault's recovery runs the application's action, journaled under its name") {
  test::temp_dir dir;
  auto cfg = load_with_drain(dir.path());
  auto drain = std::make_shared<drain_executor>();
  node_in_process p;
  node_extensions ext;
  ext.actions["drain_queue"] = drain;
  auto st = start_node(*p.sys, cfg, p.node, {}, ext);
  REQUIRE_MESSAGE(st.ok(), st.to_string());
  auto f = p.node.ctx->make_fault(fault_type::resource_exhaustion, fault_severity::high,
                                  "orders-queue", "queue-probe", "queue depth 12000");
  p.node.ctx->send_to("analyzer", event_atom::value, f);
  REQUIRE(test::wait_until([&] { return drain->calls == 1; }, std::chrono::seconds(20)));
  {
    std::lock_guard<std::mutex> g{drain->m_};
    CHECK(drain->target == "orders-queue");
    CHECK(drain->depth == "100");
  }
  // As stored (decoded from the journal): the action under its own name.
  auto stored = [&] {
    caf::scoped_actor self{*p.sys};
    std::optional<incident> out;
    if (auto storage = p.node.ctx->lookup("storage"))
      self->request(storage, std::chrono::seconds(5), incidents_atom::value, uint32_t{10}, false)
        .receive(
          [&](const std::vector<incident>& xs) {
            for (auto& i : xs)
              if (i.component == "orders-queue" && i.recovery_status
                  && *i.recovery_status == execution_status::completed)
                out = i;
          },
          [](const caf::error&) {});
    return out;
  };
  REQUIRE(test::wait_until([&] { return stored().has_value(); }, std::chrono::seconds(20)));
  auto inc = *stored();
  REQUIRE(inc.actions.size() == 1);
  CHECK(inc.actions[0].action.type == action_type::custom);
  CHECK(inc.actions[0].action.custom_type == "drain_queue");
  CHECK(inc.actions[0].status == action_status::completed);
  CHECK(drain->calls == 1);
}
