// Every control request a node accepts, sent over its real control endpoint
// (a Unix socket) as faultctl does, plus the bad ones: bytes that do not
// decode are answered with an error, a local message of the wrong shape is
// dropped, and the node keeps serving.

#include <doctest/doctest.h>

#include <caf/all.hpp>
#include <caf/io/all.hpp>

#include "actors/node/node.hpp"
#include "actors/type_ids.hpp"
#include "control/client.hpp"
#include "control/codec.hpp"
#include "support/support.hpp"

using namespace faultd;

namespace {

struct fixture {
  test::temp_dir dir;
  caf::actor_system_config server_cfg;
  std::unique_ptr<caf::actor_system> server;
  node_runtime node;
  control_address endpoint;

  fixture() {
    auto loaded = parse_config(R"(
node:
  id: wire-node
  data_dir: )" + dir.path() + R"(
fault_detection:
  resources: {enabled: false}
  security: {enabled: false}
)",
                               "wire_test");
    REQUIRE_MESSAGE(loaded, (loaded.error ? loaded.error->to_string() : ""));
    server_cfg.load<caf::io::middleman>();
    server = std::make_unique<caf::actor_system>(server_cfg);
    auto st = start_node(*server, *loaded.value, node);
    REQUIRE_MESSAGE(st.ok(), st.to_string());
    endpoint = loaded.value->node.control_endpoint();
  }

  ~fixture() { stop_node(*server, node); }

  /// Sends raw request bytes as one frame; returns the decoded reply.
  control::reply ask(const std::string& bytes) {
    std::string reply_bytes;
    auto st = control::call(endpoint, bytes, std::chrono::seconds(10), reply_bytes);
    REQUIRE_MESSAGE(st.ok(), st.to_string());
    control::reply rep;
    auto d = control::decode_reply(reply_bytes, rep);
    REQUIRE_MESSAGE(d.ok(), d.to_string());
    return rep;
  }

  control::reply ask(const control::request& req) { return ask(control::encode_request(req)); }
};

} // namespace

TEST_CASE("every control command crosses the control endpoint and is answered") {
  fixture f;
  using control::command;
  for (auto cmd : {command::status, command::services, command::faults, command::incidents,
                   command::strategies, command::chaos_list_actors}) {
    control::request req;
    req.cmd = cmd;
    auto rep = f.ask(req);
    CHECK_MESSAGE(rep.ok, "command " << static_cast<int>(cmd) << ": " << rep.error);
    CHECK(!rep.json.empty());
  }
  control::request status;
  status.cmd = command::status;
  auto rep = f.ask(status);
  CHECK(rep.json.find("\"id\":\"wire-node\"") != std::string::npos);
  CHECK(rep.json.find("\"members\"") != std::string::npos);
  control::request strategies;
  strategies.cmd = command::strategies;
  CHECK(f.ask(strategies).json.find("service_unavailable") != std::string::npos);
}

TEST_CASE("an injected fault is stored and opens an incident that can be fetched by id") {
  fixture f;
  control::request inj;
  inj.cmd = control::command::inject;
  inj.event.type = fault_type::network_timeout;
  inj.event.severity = fault_severity::critical;
  inj.event.component = "gw-mqtt";
  inj.event.details["endpoint"] = "tcp://127.0.0.1:1883";
  auto rep = f.ask(inj);
  REQUIRE_MESSAGE(rep.ok, rep.error);
  CHECK(rep.json.find("\"incident_id\":\"\"") == std::string::npos);
  control::request list;
  list.cmd = control::command::incidents;
  auto incidents = f.ask(list);
  REQUIRE(incidents.ok);
  CHECK(incidents.json.find("\"component\":\"gw-mqtt\"") != std::string::npos);
  CHECK(incidents.json.find("\"fault_type\":\"network_timeout\"") != std::string::npos);
  control::request faults;
  faults.cmd = control::command::faults;
  CHECK(f.ask(faults).json.find("\"endpoint\":\"tcp://127.0.0.1:1883\"") != std::string::npos);
}

TEST_CASE("chaos crash-actor crosses the connection and the crashed actor comes back") {
  fixture f;
  control::request list;
  list.cmd = control::command::chaos_list_actors;
  // The node answers before every supervised actor is up (slow under ASan).
  REQUIRE(test::wait_until(
    [&] { return f.ask(list).json.find("\"name\":\"analyzer\"") != std::string::npos; }));
  control::request crash;
  crash.cmd = control::command::chaos_crash_actor;
  crash.id = "analyzer";
  auto rep = f.ask(crash);
  REQUIRE_MESSAGE(rep.ok, rep.error);
  CHECK(rep.json.find("\"supervisor\":\"sup:analysis\"") != std::string::npos);
  CHECK(test::wait_until([&] {
    return f.ask(list).json.find("\"name\":\"analyzer\",\"supervisor\":\"sup:analysis\",\"restarts\":1")
           != std::string::npos;
  }));
  crash.id = "no-such-actor";
  auto unknown = f.ask(crash);
  CHECK_FALSE(unknown.ok);
  CHECK(unknown.code == errc::not_found);
}

TEST_CASE("a request for an unknown incident fails with not_found") {
  fixture f;
  control::request req;
  req.cmd = control::command::incident;
  req.id = "no-such-incident";
  auto rep = f.ask(req);
  CHECK_FALSE(rep.ok);
  CHECK(rep.code == errc::not_found);
  CHECK(rep.error.find("no-such-incident") != std::string::npos);
}

TEST_CASE("malformed control bytes are answered with an error and the node keeps serving") {
  fixture f;
  auto rep = f.ask(std::string{"\xff\xff\xff garbage", 12});
  CHECK_FALSE(rep.ok);
  CHECK(rep.code == errc::malformed_payload);
  auto empty = f.ask(std::string{});
  CHECK_FALSE(empty.ok);
  control::request status;
  status.cmd = control::command::status;
  CHECK(f.ask(status).ok);
}

TEST_CASE("a message of the wrong shape is dropped and the node keeps serving") {
  fixture f;
  caf::scoped_actor self{*f.server};
  bool got_error = false;
  self->request(f.node.front, std::chrono::seconds(5), int32_t{42}, std::string{"hello"})
    .receive([&](const caf::message&) {}, [&](const caf::error&) { got_error = true; });
  CHECK(got_error);
  control::request status;
  status.cmd = control::command::status;
  CHECK(f.ask(status).ok);
}

TEST_CASE("the reply carries the request's id") {
  fixture f;
  control::request status;
  status.cmd = control::command::status;
  status.request_id = 424242;
  CHECK(f.ask(status).request_id == 424242);
}
