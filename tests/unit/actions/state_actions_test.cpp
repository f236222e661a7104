#include <doctest/doctest.h>

#include <map>
#include <vector>

#include "actions/state_actions.hpp"

using namespace faultd;
using namespace faultd::actions;

namespace {

/// A state that records what the executors asked of it.
struct fake_state {
  std::vector<std::string> calls;
  uint64_t peers = 2;
  int snapshots = 0;
  status fail_restore;

  state_access access() {
    state_access a;
    a.sync = [this](state_access::deadline, uint64_t& n) {
      calls.push_back("sync");
      n = peers;
      return status{};
    };
    a.snapshot = [this](state_access::deadline, std::string& id) {
      id = "snap-" + std::to_string(++snapshots);
      calls.push_back("snapshot " + id);
      return status{};
    };
    a.latest = [this](state_access::deadline, std::string& id) {
      calls.push_back("latest");
      if (snapshots == 0)
        return status{errc::not_found, "no snapshot"};
      id = "snap-" + std::to_string(snapshots);
      return status{};
    };
    a.restore = [this](const std::string& id, const std::string& prefix, state_access::deadline,
                       std::string& note) {
      calls.push_back("restore " + id + " " + prefix);
      note = "restored " + id;
      return fail_restore;
    };
    return a;
  }
};

action_context ctx() {
  action_context c;
  c.deadline = std::chrono::steady_clock::now() + std::chrono::seconds(5);
  return c;
}

recovery_action restore_action(std::map<std::string, std::string> params) {
  recovery_action a;
  a.type = action_type::data_restore;
  a.parameters = std::move(params);
  return a;
}

} // namespace

TEST_CASE("state_sync starts an exchange with every peer and has nothing to roll back") {
  fake_state f;
  state_sync_executor ex{f.access()};
  recovery_action a;
  a.type = action_type::state_sync;
  auto r = ex.execute(a, ctx());
  CHECK(r.st.ok());
  CHECK(r.note == "anti-entropy started with 2 peers");
  CHECK(f.calls == std::vector<std::string>{"sync"});
  CHECK(ex.rollback(a, ctx(), r.rollback_data).ok());
  CHECK(f.calls.size() == 1);
}

TEST_CASE("data_restore snapshots the present first, restores, and its rollback restores the present") {
  fake_state f;
  data_restore_executor ex{f.access()};
  auto a = restore_action({{"prefix", "cfg/"}});
  // Without any snapshot there is nothing to restore.
  CHECK(ex.execute(a, ctx()).st.code() == errc::not_found);
  f.snapshots = 1; // an operator's snapshot, snap-1
  f.calls.clear();
  auto r = ex.execute(a, ctx());
  REQUIRE(r.st.ok());
  CHECK(r.rollback_data == "snap-2");
  // "latest" is the operator's snapshot, not the one the action takes.
  CHECK(f.calls == std::vector<std::string>{"latest", "snapshot snap-2", "restore snap-1 cfg/"});
  REQUIRE(ex.rollback(a, ctx(), r.rollback_data).ok());
  CHECK(f.calls.back() == "restore snap-2 cfg/");

  auto named = ex.execute(restore_action({{"snapshot", "snap-old"}}), ctx());
  CHECK(named.st.ok());
  CHECK(f.calls.back() == "restore snap-old ");
}

TEST_CASE("a restore that fails is reported as failed, with nothing to roll back") {
  fake_state f;
  f.fail_restore = {errc::not_found, "no state snapshot snap-x"};
  data_restore_executor ex{f.access()};
  auto r = ex.execute(restore_action({{"snapshot", "snap-x"}}), ctx());
  CHECK(r.st.code() == errc::not_found);
  CHECK(r.rollback_data.empty());
}
