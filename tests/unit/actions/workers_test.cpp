#include <doctest/doctest.h>

#include <condition_variable>
#include <memory>
#include <mutex>
#include <stdexcept>
#include <string>
#include <vector>

#include "actions/workers.hpp"
#include "support/support.hpp"

using namespace faultd;
using namespace faultd::actions;

namespace {

/// A call that blocks until released, then returns `ok`.
struct gate {
  std::mutex m;
  std::condition_variable cv;
  bool open = false;
  void release() {
    std::lock_guard<std::mutex> g{m};
    open = true;
    cv.notify_all();
  }
  action_workers::work_fn call(bool ok, std::string note) {
    return [this, ok, note] {
      std::unique_lock<std::mutex> g{m};
      cv.wait(g, [this] { return open; });
      worker_outcome out;
      out.ok = ok;
      out.note = note;
      if (!ok)
        out.error = "failed on purpose";
      return out;
    };
  }
};

/// What an owner was told, thread-safe.
struct inbox {
  std::mutex m;
  std::vector<std::pair<uint64_t, worker_outcome>> got;
  action_workers::deliver_fn fn() {
    return [this](uint64_t ticket, const worker_outcome& out) {
      std::lock_guard<std::mutex> g{m};
      got.emplace_back(ticket, out);
    };
  }
  size_t size() {
    std::lock_guard<std::mutex> g{m};
    return got.size();
  }
};

auto later() {
  return std::chrono::steady_clock::now() + std::chrono::seconds(30);
}

} // namespace

TEST_CASE("a worker's outcome reaches its owner with the ticket it was started under") {
  auto board = std::make_shared<action_workers>();
  gate g;
  inbox box;
  auto t = board->start({"x1", false, 0}, later(), 7, box.fn(), g.call(true, "done"));
  CHECK(board->running() == 1);
  CHECK(board->pending({"x1", false, 0}));
  CHECK_FALSE(board->pending({"x1", true, 0}));
  g.release();
  REQUIRE(test::wait_until([&] { return box.size() == 1; }));
  CHECK(box.got[0].first == t);
  CHECK(box.got[0].second.ok);
  CHECK(box.got[0].second.note == "done");
  board->release(t, 8); // not its owner: ignored
  CHECK(board->pending({"x1", false, 0}));
  board->release(t, 7);
  CHECK_FALSE(board->pending({"x1", false, 0}));
  CHECK(board->wait_idle(later()));
}

TEST_CASE("a released worker runs on, but its outcome goes nowhere") {
  auto board = std::make_shared<action_workers>();
  gate g;
  inbox box;
  auto t = board->start({"x1", false, 0}, later(), 7, box.fn(), g.call(true, "late"));
  board->release(t, 7); // the owner's timer fired first
  CHECK_FALSE(board->pending({"x1", false, 0}));
  CHECK(board->running() == 1);
  CHECK_FALSE(board->wait_idle(std::chrono::steady_clock::now() + std::chrono::milliseconds(20)));
  g.release();
  CHECK(board->wait_idle(later()));
  CHECK(box.size() == 0);
}

TEST_CASE("a worker whose owner stopped is attached to by the next owner, running or finished") {
  auto board = std::make_shared<action_workers>();
  inbox first;
  inbox second;
  SUBCASE("still running") {
    gate g;
    auto t = board->start({"x1", false, 2}, later(), 7, first.fn(), g.call(true, "once"));
    board->detach(7);
    CHECK_FALSE(board->attach({"x1", false, 1}, 8, second.fn())); // another step
    auto a = board->attach({"x1", false, 2}, 8, second.fn());
    REQUIRE(a);
    CHECK(a->ticket == t);
    g.release();
    REQUIRE(test::wait_until([&] { return second.size() == 1; }));
    CHECK(second.got[0].second.note == "once");
  }
  SUBCASE("finished while nobody owned it: delivered at attach") {
    gate g;
    auto t = board->start({"x1", true, 0}, later(), 7, first.fn(), g.call(false, ""));
    board->detach(7);
    g.release();
    REQUIRE(board->wait_idle(later()));
    CHECK(first.size() == 0);
    auto a = board->attach({"x1", true, 0}, 8, second.fn());
    REQUIRE(a);
    CHECK(a->ticket == t);
    REQUIRE(second.size() == 1);
    CHECK_FALSE(second.got[0].second.ok);
    CHECK(second.got[0].second.error == "failed on purpose");
  }
  CHECK(first.size() == 0);
}

TEST_CASE("an executor that throws is a failed outcome naming the exception") {
  auto board = std::make_shared<action_workers>();
  inbox box;
  board->start({"x1", false, 0}, later(), 7, box.fn(),
               []() -> worker_outcome { throw std::runtime_error("boom"); });
  REQUIRE(test::wait_until([&] { return box.size() == 1; }));
  CHECK_FALSE(box.got[0].second.ok);
  CHECK(box.got[0].second.error == "executor threw: boom");
}

TEST_CASE("executor_call runs execute or rollback and reports a missing executor") {
  recovery_action a;
  a.type = action_type::state_sync;
  auto missing = executor_call(nullptr, a, action_context{}, false, "");
  auto out = missing();
  CHECK_FALSE(out.ok);
  CHECK(out.error == "no executor registered for state_sync");
}
