// Recovery actions on worker threads, inside a node in this process: an
// executor that ignores its deadline is abandoned and the execution goes on;
// a crash of the recovery manager mid-action runs nothing twice.

#include <doctest/doctest.h>

#include <atomic>
#include <condition_variable>
#include <mutex>

#include <caf/all.hpp>
#include <caf/io/all.hpp>

#include "actions/executor.hpp"
#include "actions/workers.hpp"
#include "actors/node/node.hpp"
#include "actors/supervision/supervisor_actor.hpp"
#include "actors/type_ids.hpp"
#include "faultd/util.hpp"
#include "support/support.hpp"

using namespace faultd;

namespace {

/// An application's executor that blocks until released, whatever its
/// deadline says.
class stuck_executor final : public actions::action_executor {
public:
  actions::action_result execute(const recovery_action&, const actions::action_context&) override {
    ++calls;
    std::unique_lock<std::mutex> g{m_};
    cv_.wait(g, [this] { return open_; });
    actions::action_result r;
    r.note = "released";
    return r;
  }
  status rollback(const recovery_action&, const actions::action_context&,
                  const std::string&) override {
    return {};
  }
  void release() {
    std::lock_guard<std::mutex> g{m_};
    open_ = true;
    cv_.notify_all();
  }
  std::atomic<int> calls{0};

private:
  std::mutex m_;
  std::condition_variable cv_;
  bool open_ = false;
};

struct fixture {
  test::temp_dir dir;
  caf::actor_system_config cfg;
  std::unique_ptr<caf::actor_system> sys;
  node_runtime node;
  std::shared_ptr<stuck_executor> stuck = std::make_shared<stuck_executor>();

  explicit fixture(const std::string& action_yaml) {
    auto loaded = parse_config(R"(
node:
  id: workers-node
  listen: 127.0.0.1:)" + std::to_string(test::free_port())
                                 + R"(
  data_dir: )" + dir.path() + R"(
fault_detection:
  resources: {enabled: false}
  security: {enabled: false}
strategies:
  stuck:
    fault_types: [software_error]
    severity_levels: [critical]
    priority: 500
    rollback_enabled: false
    actions:
      - )" + action_yaml + "\n",
                               "recovery_workers_test");
    REQUIRE_MESSAGE(loaded, (loaded.error ? loaded.error->to_string() : ""));
    cfg.load<caf::io::middleman>();
    sys = std::make_unique<caf::actor_system>(cfg);
    auto st = start_node(*sys, *loaded.value, node);
    REQUIRE_MESSAGE(st.ok(), st.to_string());
    node.ctx->executors->add(action_type::state_sync, stuck);
  }

  ~fixture() {
    stuck->release();
    stop_node(*sys, node);
  }

  void inject(const std::string& component) {
    fault_event f;
    f.id = make_uuid();
    f.time = system_clock_source().now();
    f.type = fault_type::software_error;
    f.severity = fault_severity::critical;
    f.component = component;
    f.node = "workers-node";
    f.source = "test";
    node.ctx->send_to("analyzer", event_atom::value, f);
  }

  /// The incident of `component` as stored (empty id if none yet).
  incident stored(const std::string& component) {
    caf::scoped_actor self{*sys};
    incident out;
    auto storage = node.ctx->lookup("storage");
    if (!storage)
      return out;
    self->request(storage, std::chrono::seconds(5), incidents_atom::value, uint32_t{50}, false)
      .receive(
        [&](const std::vector<incident>& xs) {
          for (auto& i : xs)
            if (i.component == component)
              out = i;
        },
        [](const caf::error&) {});
    return out;
  }

  bool finished(const std::string& component) {
    auto i = stored(component);
    return i.recovery_status && (*i.recovery_status == execution_status::completed
                                 || *i.recovery_status == execution_status::failed
                                 || *i.recovery_status == execution_status::rolled_back);
  }
};

} // namespace

TEST_CASE("an executor that ignores its deadline is abandoned and each attempt counts as timed out") {
  fixture f{"{type: state_sync, target: app, timeout: 1s, retry_count: 1, retry_delay: 100ms}"};
  f.inject("app");
  REQUIRE(test::wait_until([&] { return f.finished("app"); }, std::chrono::seconds(20)));
  auto inc = f.stored("app");
  CHECK(*inc.recovery_status == execution_status::failed);
  REQUIRE(inc.actions.size() == 1);
  CHECK(inc.actions[0].attempts == 2);
  CHECK(inc.actions[0].error.find("timed out after 1s") != std::string::npos);
  // Both calls are still inside the executor: the execution did not wait
  // for them, and they are not counted as done.
  CHECK(f.stuck->calls == 2);
  CHECK(f.node.ctx->workers->running() == 2);
  f.stuck->release();
  CHECK(f.node.ctx->workers->wait_idle(std::chrono::steady_clock::now()
                                       + std::chrono::seconds(10)));
}

TEST_CASE("a crash of the recovery manager mid-action leaves the action running once, adopted") {
  fixture f{"{type: state_sync, target: app, timeout: 30s, retry_count: 2}"};
  f.inject("app");
  REQUIRE(test::wait_until([&] { return f.stuck->calls == 1; }, std::chrono::seconds(20)));
  auto before = f.node.ctx->dir->find("recovery");
  REQUIRE(before);
  crash_actor(before->actor);
  REQUIRE(test::wait_until([&] {
    auto now = f.node.ctx->dir->find("recovery");
    return now && now->restarts == before->restarts + 1;
  }));
  // The new manager adopted the live supervisor instead of resuming the
  // journal: no second call, even with attempts left.
  CHECK_FALSE(test::wait_until([&] { return f.stuck->calls > 1; }, std::chrono::milliseconds(500)));
  f.stuck->release();
  REQUIRE(test::wait_until([&] { return f.finished("app"); }, std::chrono::seconds(20)));
  auto inc = f.stored("app");
  CHECK(*inc.recovery_status == execution_status::completed);
  REQUIRE(inc.actions.size() == 1);
  CHECK(inc.actions[0].attempts == 1);
  CHECK(f.stuck->calls == 1);
}

TEST_CASE("a crashed incident supervisor's successor attaches to the running action") {
  fixture f{"{type: state_sync, target: app, timeout: 30s, retry_count: 2}"};
  f.inject("app");
  REQUIRE(test::wait_until([&] { return f.stuck->calls == 1; }, std::chrono::seconds(20)));
  std::optional<actor_directory::entry> sup;
  for (auto& e : f.node.ctx->dir->list())
    if (e.name.rfind("incident:", 0) == 0)
      sup = e;
  REQUIRE(sup);
  crash_actor(sup->actor);
  REQUIRE(test::wait_until([&] {
    auto now = f.node.ctx->dir->find(sup->name);
    return now && now->restarts == sup->restarts + 1;
  }));
  CHECK_FALSE(test::wait_until([&] { return f.stuck->calls > 1; }, std::chrono::milliseconds(500)));
  f.stuck->release();
  REQUIRE(test::wait_until([&] { return f.finished("app"); }, std::chrono::seconds(20)));
  auto inc = f.stored("app");
  CHECK(*inc.recovery_status == execution_status::completed);
  CHECK(inc.actions[0].attempts == 1);
  CHECK(f.stuck->calls == 1);
}
