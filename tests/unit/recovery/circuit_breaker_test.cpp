#include <doctest/doctest.h>

#include <atomic>
#include <condition_variable>
#include <mutex>
#include <thread>
#include <utility>
#include <vector>

#include "recovery/circuit_breaker.hpp"

using namespace faultd;
using namespace faultd::recovery;
using std::chrono::milliseconds;
using std::chrono::seconds;

namespace {

circuit_breaker_config count_config() {
  circuit_breaker_config c;
  c.failure_rate_threshold = 0.5;
  c.minimum_calls = 4;
  c.window = circuit_window::count;
  c.window_size = 4;
  c.open_wait = seconds(30);
  c.half_open_probes = 2;
  c.probes_to_close = 2;
  return c;
}

void call(circuit_breaker& b, bool ok) {
  REQUIRE(b.try_acquire());
  if (ok)
    b.on_success();
  else
    b.on_failure();
}

/// Opens `b` by failing calls while closed.
void trip(circuit_breaker& b) {
  while (b.state() == circuit_state::closed)
    call(b, false);
}

/// A one-shot barrier (std::latch is C++20).
class start_gate {
public:
  explicit start_gate(int n) : waiting_(n) {}
  void arrive_and_wait() {
    std::unique_lock<std::mutex> lock{mutex_};
    if (--waiting_ == 0) {
      cv_.notify_all();
      return;
    }
    cv_.wait(lock, [this] { return waiting_ == 0; });
  }

private:
  std::mutex mutex_;
  std::condition_variable cv_;
  int waiting_;
};

} // namespace

TEST_CASE("circuit states have their spelling") {
  CHECK(to_string(circuit_state::closed) == "closed");
  CHECK(to_string(circuit_state::open) == "open");
  CHECK(to_string(circuit_state::half_open) == "half_open");
}

TEST_CASE("a closed breaker grants calls and stays closed below minimum_calls") {
  manual_clock clock;
  circuit_breaker b{"svc", count_config(), clock};
  CHECK(b.state() == circuit_state::closed);
  // Three failures in a row: a 100% failure rate, but fewer than 4 calls.
  for (int i = 0; i < 3; ++i)
    call(b, false);
  CHECK(b.state() == circuit_state::closed);
  auto st = b.stats();
  CHECK(st.calls == 3);
  CHECK(st.failures == 3);
  call(b, false);
  CHECK(b.state() == circuit_state::open);
  CHECK_FALSE(b.try_acquire());
}

TEST_CASE("the breaker opens when the failure rate reaches the threshold and not below it") {
  manual_clock clock;
  auto cfg = count_config();
  cfg.window_size = 10;
  cfg.minimum_calls = 5;
  circuit_breaker b{"svc", cfg, clock};
  // 5 calls, 2 failures: 40% < 50%.
  for (bool ok : {true, false, true, false, true})
    call(b, ok);
  CHECK(b.state() == circuit_state::closed);
  // 6 calls, 3 failures: 50%, the threshold.
  call(b, false);
  CHECK(b.state() == circuit_state::open);
}

TEST_CASE("a count window only considers the latest calls") {
  manual_clock clock;
  circuit_breaker b{"svc", count_config(), clock};  // last 4 calls, 50%
  // F S S S S: the failure drops out of the window of 4.
  for (bool ok : {false, true, true, true, true})
    call(b, ok);
  CHECK(b.stats().calls == 4);
  CHECK(b.stats().failures == 0);
  // S S S F: 25%.
  call(b, false);
  CHECK(b.state() == circuit_state::closed);
  // S S F F: 50%.
  call(b, false);
  CHECK(b.state() == circuit_state::open);
}

TEST_CASE("a time window forgets calls older than its duration") {
  manual_clock clock;
  auto cfg = count_config();
  cfg.window = circuit_window::time;
  cfg.window_duration = seconds(10);
  cfg.minimum_calls = 3;
  circuit_breaker b{"svc", cfg, clock};
  call(b, false);
  call(b, false);
  clock.advance(seconds(10));
  // The two failures have left the window: 1 call, below minimum_calls.
  call(b, false);
  CHECK(b.state() == circuit_state::closed);
  CHECK(b.stats().calls == 1);
  clock.advance(seconds(5));
  call(b, true);
  call(b, false);
  // 3 calls within 10s, 2 failures: 67%.
  CHECK(b.state() == circuit_state::open);
}

TEST_CASE("an open breaker refuses calls until open_wait has passed, then half-opens") {
  manual_clock clock;
  circuit_breaker b{"svc", count_config(), clock};
  trip(b);
  clock.advance(seconds(29));
  CHECK_FALSE(b.try_acquire());
  CHECK(b.state() == circuit_state::open);
  clock.advance(seconds(1));
  CHECK(b.state() == circuit_state::half_open);
  CHECK(b.try_acquire());
}

TEST_CASE("half-open grants at most half_open_probes permits at a time") {
  manual_clock clock;
  circuit_breaker b{"svc", count_config(), clock};  // 2 probes, 2 to close
  trip(b);
  clock.advance(seconds(30));
  CHECK(b.try_acquire());
  CHECK(b.try_acquire());
  CHECK_FALSE(b.try_acquire());
  CHECK(b.stats().probes_in_flight == 2);
  // One probe reports success: its slot is free again, one more to close.
  b.on_success();
  CHECK(b.state() == circuit_state::half_open);
  CHECK(b.try_acquire());
  CHECK_FALSE(b.try_acquire());
}

TEST_CASE("enough successful probes close the breaker with an empty window") {
  manual_clock clock;
  circuit_breaker b{"svc", count_config(), clock};
  trip(b);
  clock.advance(seconds(30));
  REQUIRE(b.try_acquire());
  REQUIRE(b.try_acquire());
  b.on_success();
  CHECK(b.state() == circuit_state::half_open);
  CHECK(b.stats().probe_successes == 1);
  b.on_success();
  CHECK(b.state() == circuit_state::closed);
  CHECK(b.stats().calls == 0);
  // The old failures are gone: three new failures do not reopen it.
  for (int i = 0; i < 3; ++i)
    call(b, false);
  CHECK(b.state() == circuit_state::closed);
}

TEST_CASE("a failed probe reopens the breaker at once and restarts the open wait") {
  manual_clock clock;
  circuit_breaker b{"svc", count_config(), clock};
  trip(b);
  clock.advance(seconds(30));
  REQUIRE(b.try_acquire());
  b.on_success();
  REQUIRE(b.try_acquire());
  b.on_failure();
  CHECK(b.state() == circuit_state::open);
  CHECK_FALSE(b.try_acquire());
  clock.advance(seconds(29));
  CHECK(b.state() == circuit_state::open);
  clock.advance(seconds(1));
  CHECK(b.state() == circuit_state::half_open);
  CHECK(b.stats().probe_successes == 0);
}

TEST_CASE("a probe permit that is never reported expires after open_wait") {
  manual_clock clock;
  auto cfg = count_config();
  cfg.half_open_probes = 1;
  circuit_breaker b{"svc", cfg, clock};
  trip(b);
  clock.advance(seconds(30));
  REQUIRE(b.try_acquire());  // this probe is lost
  clock.advance(seconds(29));
  CHECK_FALSE(b.try_acquire());
  clock.advance(seconds(1));
  CHECK(b.stats().probes_in_flight == 0);
  CHECK(b.try_acquire());
  b.on_success();
  b.on_success();
  CHECK(b.state() == circuit_state::closed);
}

TEST_CASE("without half_open_on_success outcomes reported while open are ignored") {
  manual_clock clock;
  auto cfg = count_config();
  cfg.half_open_on_success = false;
  circuit_breaker b{"svc", cfg, clock};
  trip(b);
  b.on_success();
  b.on_success();
  CHECK(b.state() == circuit_state::open);
  b.on_failure();
  clock.advance(seconds(30));
  CHECK(b.state() == circuit_state::half_open);
}

TEST_CASE("a success reported while open half-opens the breaker at once, failures change nothing") {
  manual_clock clock;
  circuit_breaker b{"svc", count_config(), clock};
  trip(b);
  b.on_failure();
  CHECK(b.state() == circuit_state::open);
  b.on_success();
  CHECK(b.state() == circuit_state::half_open);
  CHECK(b.stats().probe_successes == 0); // not counted as a probe
}

TEST_CASE("force_open opens the breaker and force_close closes it") {
  manual_clock clock;
  circuit_breaker b{"svc", count_config(), clock};
  SUBCASE("an ordinary forced open half-opens after the wait") {
    b.force_open();
    CHECK(b.state() == circuit_state::open);
    CHECK_FALSE(b.try_acquire());
    clock.advance(seconds(30));
    CHECK(b.state() == circuit_state::half_open);
  }
  SUBCASE("a held open stays open until force_close") {
    b.force_open(true);
    clock.advance(seconds(300));
    CHECK(b.state() == circuit_state::open);
    CHECK(b.stats().held_open);
    CHECK_FALSE(b.try_acquire());
    b.force_close();
    CHECK(b.state() == circuit_state::closed);
    CHECK_FALSE(b.stats().held_open);
    CHECK(b.try_acquire());
  }
  SUBCASE("force_close empties the window") {
    for (int i = 0; i < 3; ++i)
      call(b, false);
    b.force_close();
    CHECK(b.stats().calls == 0);
    call(b, false);
    CHECK(b.state() == circuit_state::closed);
  }
}

TEST_CASE("the listener hears every transition and may call back into the breaker") {
  manual_clock clock;
  circuit_breaker b{"svc", count_config(), clock};
  std::vector<std::pair<circuit_state, circuit_state>> seen;
  b.set_listener([&](circuit_state from, circuit_state to) {
    seen.emplace_back(from, to);
    (void)b.state();  // must not deadlock
  });
  trip(b);
  clock.advance(seconds(30));
  REQUIRE(b.try_acquire());
  REQUIRE(b.try_acquire());
  b.on_success();
  b.on_success();
  b.force_open();
  b.force_open();  // already open: no new transition
  using P = std::pair<circuit_state, circuit_state>;
  CHECK(seen == std::vector<P>{{circuit_state::closed, circuit_state::open},
                               {circuit_state::open, circuit_state::half_open},
                               {circuit_state::half_open, circuit_state::closed},
                               {circuit_state::closed, circuit_state::open}});
}

TEST_CASE("exactly half_open_probes permits are granted to eight threads at once") {
  manual_clock clock;
  auto cfg = count_config();
  cfg.half_open_probes = 3;
  circuit_breaker b{"svc", cfg, clock};
  trip(b);
  clock.advance(seconds(30));
  for (int round = 0; round < 20; ++round) {
    start_gate gate{8};
    std::atomic<int> granted{0};
    std::vector<std::thread> threads;
    for (int t = 0; t < 8; ++t)
      threads.emplace_back([&] {
        gate.arrive_and_wait();
        if (b.try_acquire())
          granted.fetch_add(1);
      });
    for (auto& t : threads)
      t.join();
    CHECK(granted.load() == 3);
    // Free the slots for the next round: the probes expire unreported.
    clock.advance(seconds(30));
  }
  CHECK(b.state() == circuit_state::half_open);
}

TEST_CASE("out-of-range limits are clamped to usable values") {
  manual_clock clock;
  circuit_breaker_config cfg;
  cfg.failure_rate_threshold = 0.0;
  cfg.minimum_calls = 0;
  cfg.half_open_probes = 0;
  cfg.probes_to_close = 0;
  circuit_breaker b{"svc", cfg, clock};
  call(b, true);
  CHECK(b.state() == circuit_state::closed);  // successes alone never open it
  call(b, false);
  CHECK(b.state() == circuit_state::open);
  clock.advance(cfg.open_wait);
  CHECK(b.try_acquire());
  CHECK_FALSE(b.try_acquire());
  b.on_success();
  CHECK(b.state() == circuit_state::closed);
}
