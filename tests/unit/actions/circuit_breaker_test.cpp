#include <doctest/doctest.h>

#include <string>

#include "actions/circuit_board.hpp"
#include "actions/circuit_breaker.hpp"
#include "support/support.hpp"

using namespace faultd;
using namespace faultd::actions;
using faultd::test::read_file;
using faultd::test::temp_dir;

namespace {

recovery_action open_circuit(const std::string& target) {
  recovery_action a;
  a.type = action_type::circuit_breaker;
  a.target = target;
  return a;
}

action_context ctx_for(const std::string& component) {
  action_context ctx;
  ctx.incident_id = "inc-5";
  ctx.component = component;
  ctx.deadline = std::chrono::steady_clock::now() + std::chrono::seconds(5);
  return ctx;
}

} // namespace

TEST_CASE("the board opens and closes circuits and mirrors each change into the registry") {
  temp_dir dir;
  state::registry reg{dir.path()};
  manual_clock clock;
  circuit_board board{&reg, clock};
  CHECK(board.state("db") == "closed");
  CHECK(board.states().empty());

  board.force_open("db");
  CHECK(board.state("db") == "open");
  CHECK(read_file(dir.file("circuit/db")) == "open");
  CHECK_FALSE(board.allow("db"));

  board.force_close("db");
  CHECK(board.state("db") == "closed");
  CHECK(read_file(dir.file("circuit/db")) == "closed");
  CHECK(board.allow("db"));
  CHECK(board.states() == std::map<std::string, std::string>{{"db", "closed"}});
}

TEST_CASE("failed check results open a circuit; after the wait a passing probe closes it") {
  temp_dir dir;
  state::registry reg{dir.path()};
  manual_clock clock;
  recovery::circuit_breaker_config cfg;
  cfg.minimum_calls = 4;
  cfg.failure_rate_threshold = 0.5;
  cfg.open_wait = seconds_d(10);
  circuit_board board{&reg, clock, cfg};

  board.record("db", true);
  board.record("db", true);
  board.record("db", false);
  CHECK(board.state("db") == "closed");
  board.record("db", false); // 2 of 4 failed
  CHECK(board.state("db") == "open");
  CHECK(read_file(dir.file("circuit/db")) == "open");

  clock.advance(seconds_d(11));
  CHECK(board.states().at("db") == "half_open");
  CHECK(read_file(dir.file("circuit/db")) == "half_open");
  board.record("db", true);
  CHECK(board.state("db") == "closed");
  CHECK(read_file(dir.file("circuit/db")) == "closed");
}

TEST_CASE("the circuit_breaker action opens the circuit and rollback closes it again") {
  temp_dir dir;
  state::registry reg{dir.path()};
  manual_clock clock;
  circuit_board board{&reg, clock};
  circuit_breaker_executor ex{board};
  auto a = open_circuit("network_service");
  auto ctx = ctx_for("timeseries-db");

  auto r = ex.execute(a, ctx);
  REQUIRE_MESSAGE(r.st.ok(), r.st.to_string());
  CHECK(r.rollback_data == "closed");
  CHECK(board.state("timeseries-db") == "open");
  CHECK(reg.get("circuit/timeseries-db") == std::optional<std::string>{"open"});

  CHECK(ex.rollback(a, ctx, r.rollback_data).ok());
  CHECK(board.state("timeseries-db") == "closed");
  CHECK(read_file(dir.file("circuit/timeseries-db")) == "closed");
}

TEST_CASE("rolling back an action on an already open circuit leaves it open") {
  temp_dir dir;
  state::registry reg{dir.path()};
  manual_clock clock;
  circuit_board board{&reg, clock};
  circuit_breaker_executor ex{board};
  board.force_open("db");
  auto a = open_circuit("db");
  auto r = ex.execute(a, ctx_for("x"));
  REQUIRE(r.st.ok());
  CHECK(r.rollback_data == "open");
  CHECK(ex.rollback(a, ctx_for("x"), r.rollback_data).ok());
  CHECK(board.state("db") == "open");
}

TEST_CASE("action parameters configure the breaker: it half-opens after open_for") {
  temp_dir dir;
  state::registry reg{dir.path()};
  manual_clock clock;
  circuit_board board{&reg, clock};
  circuit_breaker_executor ex{board};
  auto a = open_circuit("db");
  a.parameters["failure_rate"] = "0.5";
  a.parameters["open_for"] = "30s";
  REQUIRE(ex.execute(a, ctx_for("x")).st.ok());
  clock.advance(seconds_d(29));
  CHECK(board.state("db") == "open");
  clock.advance(seconds_d(2));
  CHECK(board.state("db") == "half_open");

  // hold keeps it open past the wait.
  a.parameters["hold"] = "true";
  REQUIRE(ex.execute(a, ctx_for("x")).st.ok());
  clock.advance(seconds_d(60));
  CHECK(board.state("db") == "open");
}

TEST_CASE("bad circuit parameters are refused naming the parameter") {
  temp_dir dir;
  state::registry reg{dir.path()};
  manual_clock clock;
  circuit_board board{&reg, clock};
  circuit_breaker_executor ex{board};
  auto a = open_circuit("db");
  a.parameters["failure_rate_threshold"] = "1.5";
  auto r = ex.execute(a, ctx_for("x"));
  CHECK(r.st.code() == errc::bad_request);
  CHECK(r.st.message().find("failure_rate_threshold=\"1.5\"") != std::string::npos);
  CHECK(board.state("db") == "closed");

  status err;
  auto cfg = parse_circuit_parameters({{"minimum_calls", "7"}, {"open_wait", "500ms"},
                                       {"half_open_probes", "3"}},
                                      {}, err);
  REQUIRE(cfg.has_value());
  CHECK(cfg->minimum_calls == 7);
  CHECK(cfg->open_wait == millis_d(500));
  CHECK(cfg->half_open_probes == 3);
  CHECK_FALSE(parse_circuit_parameters({{"minimum_calls", "0"}}, {}, err).has_value());
  CHECK(err.message().find("minimum_calls") != std::string::npos);
}
