#include <optional>
#include <vector>

#include <doctest/doctest.h>

#include "checks/health_tracker.hpp"

using namespace faultd;
using namespace faultd::checks;

namespace {

constexpr auto ok = check_outcome::ok;
constexpr auto warn = check_outcome::warning;
constexpr auto crit = check_outcome::critical;

/// Feeds outcomes; returns the index and value of every transition.
std::vector<std::pair<size_t, health_transition>> feed(health_tracker& t,
                                                       const std::vector<check_outcome>& seq) {
  std::vector<std::pair<size_t, health_transition>> out;
  for (size_t i = 0; i < seq.size(); ++i)
    if (auto tr = t.record(seq[i]))
      out.emplace_back(i, *tr);
  return out;
}

check_result result(check_outcome o, const std::string& msg) {
  check_result r;
  r.outcome = o;
  r.message = msg;
  r.latency_ms = 12.5;
  r.code = o == ok ? 200 : 503;
  return r;
}

} // namespace

TEST_CASE("tracker turns healthy only after success_threshold consecutive oks") {
  health_tracker t(3, 2);
  CHECK(t.state() == health_state::unknown);
  CHECK_FALSE(t.record(ok));
  CHECK(t.state() == health_state::unknown);
  auto tr = t.record(ok);
  REQUIRE(tr);
  CHECK(tr->from == health_state::unknown);
  CHECK(tr->to == health_state::healthy);
  CHECK(tr->consecutive_successes == 2);
  CHECK(t.state() == health_state::healthy);
  CHECK_FALSE(t.record(ok));
}

TEST_CASE("tracker turns unhealthy after failure_threshold consecutive failures and says so once") {
  health_tracker t(3, 1);
  auto trs = feed(t, {ok, crit, crit, crit, crit, crit, crit});
  REQUIRE(trs.size() == 2);
  CHECK(trs[0].first == 0);
  CHECK(trs[0].second.to == health_state::healthy);
  CHECK(trs[1].first == 3);
  CHECK(trs[1].second.from == health_state::healthy);
  CHECK(trs[1].second.to == health_state::unhealthy);
  CHECK(trs[1].second.level == crit);
  CHECK(trs[1].second.consecutive_failures == 3);
  CHECK(t.consecutive_failures() == 6);
}

TEST_CASE("an ok in between resets the failure count") {
  health_tracker t(3, 1);
  auto trs = feed(t, {ok, crit, crit, ok, crit, crit, ok});
  REQUIRE(trs.size() == 1);
  CHECK(t.state() == health_state::healthy);
}

TEST_CASE("a failure in between resets the success count during recovery") {
  health_tracker t(2, 3);
  auto trs = feed(t, {crit, crit, ok, ok, crit, ok, ok});
  REQUIRE(trs.size() == 1);
  CHECK(trs[0].second.to == health_state::unhealthy);
  CHECK(t.state() == health_state::unhealthy);
  auto tr = t.record(ok);
  REQUIRE(tr);
  CHECK(tr->from == health_state::unhealthy);
  CHECK(tr->to == health_state::healthy);
  CHECK(tr->consecutive_successes == 3);
}

TEST_CASE("warnings count as failures with a warning level") {
  health_tracker t(3, 1);
  auto trs = feed(t, {warn, crit, warn});
  REQUIRE(trs.size() == 1);
  CHECK(trs[0].second.level == warn);
}

TEST_CASE("a run of criticals escalates an unhealthy warning state once") {
  health_tracker t(2, 1);
  auto trs = feed(t, {warn, warn, crit, crit, crit, warn, crit, crit});
  REQUIRE(trs.size() == 2);
  CHECK(trs[0].first == 1);
  CHECK(trs[0].second.level == warn);
  CHECK_FALSE(trs[0].second.escalated());
  CHECK(trs[1].first == 3);
  CHECK(trs[1].second.escalated());
  CHECK(trs[1].second.level == crit);
  CHECK(t.level() == crit);
}

TEST_CASE("a threshold of zero behaves as one") {
  health_tracker t(0, 0);
  auto a = t.record(crit);
  REQUIRE(a);
  CHECK(a->to == health_state::unhealthy);
  auto b = t.record(ok);
  REQUIRE(b);
  CHECK(b->to == health_state::healthy);
}

TEST_CASE("tracker takes its thresholds from the check config") {
  check_config cfg;
  cfg.failure_threshold = 2;
  cfg.success_threshold = 4;
  health_tracker t(cfg);
  auto trs = feed(t, {crit, crit, ok, ok, ok, ok});
  REQUIRE(trs.size() == 2);
  CHECK(trs[0].first == 1);
  CHECK(trs[1].first == 5);
}

TEST_CASE("an unhealthy transition becomes a fault event of the check's type") {
  manual_clock clock;
  check_config cfg;
  cfg.name = "api";
  cfg.kind = check_kind::http;
  cfg.fault = fault_type::network_timeout;
  cfg.severity = fault_severity::critical;
  cfg.failure_threshold = 2;
  health_tracker t(cfg);
  t.record(crit);
  auto tr = t.record(crit);
  REQUIRE(tr);
  auto ev = make_check_event("gateway", cfg, *tr, result(crit, "HTTP 503, expected 200"), "n1",
                             clock);
  REQUIRE(ev);
  CHECK(ev->id.size() == 36);
  CHECK(ev->time == clock.now());
  CHECK(ev->type == fault_type::network_timeout);
  CHECK(ev->severity == fault_severity::critical);
  CHECK(ev->component == "gateway");
  CHECK(ev->node == "n1");
  CHECK(ev->source == "check:http");
  CHECK_FALSE(ev->clears);
  CHECK(ev->details.at("check") == "api");
  CHECK(ev->details.at("kind") == "http");
  CHECK(ev->details.at("message") == "HTTP 503, expected 200");
  CHECK(ev->metrics.at("latency_ms") == doctest::Approx(12.5));
  CHECK(ev->metrics.at("consecutive_failures") == doctest::Approx(2));
}

TEST_CASE("a warning-level fault event has medium severity") {
  manual_clock clock;
  check_config cfg;
  cfg.kind = check_kind::exec;
  cfg.severity = fault_severity::critical;
  cfg.failure_threshold = 1;
  health_tracker t(cfg);
  auto tr = t.record(warn);
  REQUIRE(tr);
  auto ev = make_check_event("db", cfg, *tr, result(warn, "slow"), "n1", clock);
  REQUIRE(ev);
  CHECK(ev->severity == fault_severity::medium);
  CHECK(ev->details.at("check") == "exec");
  CHECK(ev->source == "check:exec");
}

TEST_CASE("recovery produces a clearing event and a first healthy state produces none") {
  manual_clock clock;
  check_config cfg;
  cfg.kind = check_kind::tcp;
  cfg.failure_threshold = 1;
  cfg.success_threshold = 1;
  health_tracker t(cfg);
  auto first = t.record(ok);
  REQUIRE(first);
  CHECK_FALSE(make_check_event("mqtt", cfg, *first, result(ok, "connected"), "n1", clock));
  auto down = t.record(crit);
  REQUIRE(down);
  auto down_ev = make_check_event("mqtt", cfg, *down, result(crit, "refused"), "n1", clock);
  REQUIRE(down_ev);
  CHECK_FALSE(down_ev->clears);
  clock.advance(seconds_d(5));
  auto up = t.record(ok);
  REQUIRE(up);
  auto up_ev = make_check_event("mqtt", cfg, *up, result(ok, "connected"), "n1", clock);
  REQUIRE(up_ev);
  CHECK(up_ev->clears);
  CHECK(up_ev->component == "mqtt");
  CHECK(up_ev->type == down_ev->type);
  CHECK(up_ev->time == down_ev->time + seconds_d(5));
  CHECK(up_ev->id != down_ev->id);
}
