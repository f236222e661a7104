#include <doctest/doctest.h>

#include "recovery/budget.hpp"

using namespace faultd;
using namespace faultd::recovery;
using std::chrono::milliseconds;

namespace {

const timestamp t0{std::chrono::seconds(1'800'000'000)};

int64_t ms(timestamp t) {
  return std::chrono::duration_cast<milliseconds>(t.time_since_epoch()).count();
}

/// A budget with a fixed jitter fraction (0.5 of `jitter`).
cluster_budget make(const std::string& self, uint32_t limit, milliseconds settle = milliseconds(100),
                    milliseconds jitter = milliseconds(200)) {
  return cluster_budget{self, limit, settle, jitter, [] { return 0.5; }};
}

std::vector<std::string> ids(const std::vector<budget_grant>& g) {
  std::vector<std::string> out;
  for (auto& x : g)
    out.push_back(x.incident);
  return out;
}

} // namespace

TEST_CASE("budget claims round-trip and bad lines are skipped and counted") {
  std::vector<budget_claim> in{{"n1", "a", 5, true}, {"n1", "b", 7, false}};
  auto text = encode_claims(in);
  CHECK(text == "5 running a\n7 waiting b\n");
  size_t bad = 0;
  auto out = decode_claims("n1", text + "x running c\n9 sleeping d\n-3 waiting e\n1 running\n"
                                        "2 running f g\n\n",
                           &bad);
  CHECK(bad == 5);
  REQUIRE(out.size() == 2);
  CHECK(out[0].incident == "a");
  CHECK(out[0].running);
  CHECK(out[1].since_ms == 7);
  CHECK_FALSE(out[1].running);
  CHECK(out[1].node == "n1");
  CHECK(budget_key("n3") == "recovery/budget/n3");
}

TEST_CASE("a claim starts only after settle plus its jitter") {
  auto b = make("n1", 4);
  b.claim("a", t0);
  CHECK(b.waiting("a"));
  CHECK(b.grant({}, true, t0 + milliseconds(199)).empty());
  auto g = b.grant({}, true, t0 + milliseconds(200));  // settle 100 + jitter 100
  REQUIRE(g.size() == 1);
  CHECK(g[0].waited == milliseconds(200));
  CHECK(g[0].why.find("settle 100ms + jitter 100ms") != std::string::npos);
  CHECK(g[0].why.find("0 running") != std::string::npos);
  CHECK(b.holds("a"));
  CHECK_FALSE(b.waiting("a"));
}

TEST_CASE("a lone node skips the settle, not the jitter") {
  auto b = make("n1", 4);
  b.claim("a", t0);
  CHECK(b.next_ready(false) == t0 + milliseconds(100));
  CHECK(b.next_ready(true) == t0 + milliseconds(200));
  CHECK(b.grant({}, false, t0 + milliseconds(99)).empty());
  CHECK(b.grant({}, false, t0 + milliseconds(100)).size() == 1);
  CHECK_FALSE(b.next_ready(false));
}

TEST_CASE("no more than the limit run across the cluster, the others wait in claim order") {
  auto b = make("n2", 2);
  std::vector<budget_claim> others{{"n1", "x", ms(t0), true}, {"n3", "y", ms(t0) + 1, false}};
  b.claim("a", t0 + milliseconds(2));
  b.claim("b", t0 + milliseconds(3));
  auto later = t0 + milliseconds(500);
  // x runs and y (older) is ahead: a and b wait.
  CHECK(b.grant(others, true, later).empty());
  // y starts on n3: still 2 running.
  others[1].running = true;
  CHECK(b.grant(others, true, later).empty());
  // x ends: a (older than b) starts, b still waits.
  others.erase(others.begin());
  auto g = b.grant(others, true, later + milliseconds(1));
  REQUIRE(ids(g) == std::vector<std::string>{"a"});
  CHECK(g[0].why.find("waited ") == 0);
  CHECK(g[0].why.find("max_concurrent_cluster 2") != std::string::npos);
  // What it found the first time: x on n1 running, y ahead.
  CHECK(g[0].why.find("1 running (n1 1), 1 waiting ahead of it (n3 1)") != std::string::npos);
  CHECK(b.grant(others, true, later + milliseconds(2)).empty());
  b.release("a");
  CHECK(ids(b.grant(others, true, later + milliseconds(3))) == std::vector<std::string>{"b"});
  CHECK(b.running_count() == 1);
  CHECK(b.waiting_count() == 0);
}

TEST_CASE("ties in claim time go by node id, then incident") {
  // n1 and n2 both claim at the same millisecond with one slot: n1 first.
  auto n1 = make("n1", 1);
  auto n2 = make("n2", 1);
  n1.claim("a", t0);
  n2.claim("b", t0);
  auto later = t0 + milliseconds(300);
  auto n1_claims = decode_claims("n1", n1.encode());
  auto n2_claims = decode_claims("n2", n2.encode());
  CHECK(n2.grant(n1_claims, true, later).empty());
  CHECK(n1.grant(n2_claims, true, later).size() == 1);
  // n2 sees n1's running claim: still no room.
  CHECK(n2.grant(decode_claims("n1", n1.encode()), true, later).empty());
  n1.release("a");
  CHECK(n2.grant(decode_claims("n1", n1.encode()), true, later).size() == 1);
}

TEST_CASE("an earlier claim still in its jitter keeps its place") {
  cluster_budget b{"n1", 1, milliseconds(0), milliseconds(1000),
                   [n = 0]() mutable { return n++ == 0 ? 0.9 : 0.0; }};
  b.claim("slow", t0);                        // ready at +900ms
  b.claim("quick", t0 + milliseconds(1));     // ready at +1ms, but behind
  CHECK(b.grant({}, false, t0 + milliseconds(500)).empty());
  CHECK(ids(b.grant({}, false, t0 + milliseconds(900))) == std::vector<std::string>{"slow"});
}

TEST_CASE("held recoveries count and a claim is not made twice") {
  auto b = make("n1", 1);
  b.hold("resumed", t0);
  b.claim("resumed", t0 + milliseconds(5));  // keeps running
  CHECK(b.holds("resumed"));
  b.claim("a", t0);
  b.claim("a", t0 + milliseconds(50));  // keeps its first place
  CHECK(b.encode() == std::to_string(ms(t0)) + " waiting a\n" + std::to_string(ms(t0))
                        + " running resumed\n");
  CHECK(b.grant({}, false, t0 + seconds_d(5)).empty());
  b.release("resumed");
  CHECK(b.grant({}, false, t0 + seconds_d(5)).size() == 1);
}

TEST_CASE("this node's own lines among the others are ignored") {
  auto b = make("n1", 1);
  b.claim("a", t0);
  // A stale copy of n1's claims (e.g. from before a restart) in the map.
  std::vector<budget_claim> others{{"n1", "old", ms(t0) - 5000, true}};
  CHECK(b.grant(others, false, t0 + seconds_d(1)).size() == 1);
}
