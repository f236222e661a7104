#include <doctest/doctest.h>

#include <optional>
#include <string>

#include "actions/circuit_board.hpp"
#include "actions/circuit_breaker.hpp"
#include "support/support.hpp"

using namespace faultd;
using namespace faultd::actions;
using faultd::test::read_file;
using faultd::test::temp_dir;

namespace {

/// What the registry file of `target`'s circuit says once the board's
/// writes are on disk.
std::string mirrored(circuit_board& board, temp_dir& dir, const std::string& target) {
  board.flush();
  return read_file(dir.file("circuit/" + target));
}

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
  CHECK(mirrored(board, dir, "db") == "open");
  CHECK_FALSE(board.allow("db"));

  board.force_close("db");
  CHECK(board.state("db") == "closed");
  CHECK(mirrored(board, dir, "db") == "closed");
  CHECK(board.allow("db"));
  CHECK(board.states() == std::map<std::string, std::string>{{"db", "closed"}});
}

TEST_CASE("a state another node decided is followed, not written back over a hold on its way") {
  temp_dir dir;
  state::registry reg{dir.path()};
  manual_clock clock;
  circuit_board board{&reg, clock};
  size_t local_writes = 0;
  reg.on_local_change([&](const std::string&, const std::optional<std::string>&) { ++local_writes; });
  // circuit/db=open arrived from another node, circuit-hold/db not yet.
  REQUIRE(reg.apply_replicated("circuit/db", std::string{"open"}).ok());
  board.follow("db", true, false);
  board.flush();
  CHECK(board.state("db") == "open");
  CHECK(local_writes == 0);  // no erase of circuit-hold/db with a newer version
  // The hold arrives: the breaker is held now, still nothing written back.
  REQUIRE(reg.apply_replicated("circuit-hold/db", std::string{"true"}).ok());
  board.follow("db", true, true);
  board.flush();
  CHECK(local_writes == 0);
  CHECK(read_file(dir.file("circuit-hold/db")) == "true");
  board.follow("db", false, false);
  CHECK(board.state("db") == "closed");
  // A decision of this node's own is written (and replicated) as before.
  board.force_open("db");
  board.flush();
  CHECK(local_writes > 0);
}

TEST_CASE("failed check results open a circuit - after the wait a passing probe closes it") {
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
  CHECK(mirrored(board, dir, "db") == "open");

  board.record("db", false); // failures while open change nothing
  clock.advance(seconds_d(11));
  CHECK(board.states().at("db") == "half_open");
  CHECK(mirrored(board, dir, "db") == "half_open");
  board.record("db", true);
  CHECK(board.state("db") == "closed");
  CHECK(mirrored(board, dir, "db") == "closed");
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
  CHECK(mirrored(board, dir, "timeseries-db") == "open");

  CHECK(ex.rollback(a, ctx, r.rollback_data).ok());
  CHECK(board.state("timeseries-db") == "closed");
  CHECK(mirrored(board, dir, "timeseries-db") == "closed");
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

TEST_CASE("an open circuit half-opens on the next passing check, not after a fixed wait") {
  temp_dir dir;
  state::registry reg{dir.path()};
  manual_clock clock;
  circuit_board board{&reg, clock};
  board.force_open("db");
  board.record("db", false);
  CHECK(board.state("db") == "open");
  board.record("db", true); // the check passes again
  CHECK(board.state("db") == "half_open");
  CHECK(mirrored(board, dir, "db") == "half_open");
  board.record("db", true); // a probe passes
  CHECK(board.state("db") == "closed");

  SUBCASE("configurable: half_open_on_success false waits for open_wait") {
    auto a = open_circuit("db");
    a.parameters["half_open_on_success"] = "false";
    a.parameters["open_wait"] = "10s";
    circuit_breaker_executor ex{board};
    REQUIRE(ex.execute(a, ctx_for("x")).st.ok());
    board.record("db", true);
    CHECK(board.state("db") == "open");
    clock.advance(seconds_d(11));
    CHECK(board.state("db") == "half_open");
  }
  SUBCASE("a held circuit stays open whatever the checks say") {
    board.force_open("db", true);
    board.record("db", true);
    CHECK(board.state("db") == "open");
  }
}

TEST_CASE("circuit state survives a restart: a new board reads back what the old one wrote") {
  temp_dir dir;
  manual_clock clock;
  {
    state::registry reg{dir.path()};
    circuit_board board{&reg, clock};
    board.force_open("held", true);
    board.force_open("plain");
    board.force_open("probing");
    board.record("probing", true); // half_open when the node stops
    board.force_open("closed-again");
    board.force_close("closed-again");
    board.flush();
    CHECK(read_file(dir.file("circuit-hold/held")) == "true");
    CHECK(reg.get("circuit-hold/plain") == std::nullopt);
  }
  state::registry reg{dir.path()};
  circuit_board board{&reg, clock};
  CHECK(board.state("held") == "open");
  CHECK(board.state("plain") == "open");
  CHECK(board.state("probing") == "open");
  CHECK(board.state("closed-again") == "closed");
  CHECK(mirrored(board, dir, "probing") == "open"); // the file says what faultctl says
  board.record("plain", true);
  CHECK(board.state("plain") == "half_open");
  clock.advance(seconds_d(3600));
  board.record("held", true);
  CHECK(board.state("held") == "open"); // the hold survived
  board.force_close("held");
  CHECK(mirrored(board, dir, "held") == "closed");
  CHECK(reg.get("circuit-hold/held") == std::nullopt);
}
