// Every message a node accepts from the network, sent over a real loopback
// connection from a second actor system (as faultctl does), plus the bad
// ones: bytes that do not decode and messages of the wrong shape are dropped
// and answered with an error, and the node keeps serving.

#include <doctest/doctest.h>

#include <caf/all.hpp>
#include <caf/io/all.hpp>

#include "actors/node/node.hpp"
#include "actors/type_ids.hpp"
#include "control/codec.hpp"
#include "support/support.hpp"

using namespace faultd;

namespace {

struct fixture {
  test::temp_dir dir;
  caf::actor_system_config server_cfg;
  caf::actor_system_config client_cfg;
  std::unique_ptr<caf::actor_system> server;
  std::unique_ptr<caf::actor_system> client;
  node_runtime node;
  caf::actor remote;

  fixture() {
    auto loaded = parse_config(R"(
node:
  id: wire-node
  listen: 127.0.0.1:)" + std::to_string(test::free_port())
                                 + R"(
  data_dir: )" + dir.path() + R"(
fault_detection:
  resources: {enabled: false}
  security: {enabled: false}
)",
                               "wire_test");
    REQUIRE_MESSAGE(loaded, (loaded.error ? loaded.error->to_string() : ""));
    server_cfg.load<caf::io::middleman>();
    client_cfg.load<caf::io::middleman>();
    server = std::make_unique<caf::actor_system>(server_cfg);
    client = std::make_unique<caf::actor_system>(client_cfg);
    auto st = start_node(*server, *loaded.value, node);
    REQUIRE_MESSAGE(st.ok(), st.to_string());
    auto r = client->middleman().remote_actor("127.0.0.1", node.port);
    REQUIRE_MESSAGE(r, client->render(r.error()));
    remote = *r;
  }

  ~fixture() {
    remote = nullptr;
    stop_node(*server, node);
  }

  /// Sends raw request bytes; returns the decoded reply.
  control::reply ask(const std::string& bytes) {
    caf::scoped_actor self{*client};
    control::reply rep;
    bool answered = false;
    self->request(remote, std::chrono::seconds(10), ctl_atom::value, bytes)
      .receive(
        [&](const std::string& reply_bytes) {
          auto st = control::decode_reply(reply_bytes, rep);
          REQUIRE_MESSAGE(st.ok(), st.to_string());
          answered = true;
        },
        [&](const caf::error& err) { FAIL("request failed: " << client->render(err)); });
    CHECK(answered);
    return rep;
  }

  control::reply ask(const control::request& req) { return ask(control::encode_request(req)); }
};

} // namespace

TEST_CASE("every control command crosses a real loopback connection and is answered") {
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
  control::request crash;
  crash.cmd = control::command::chaos_crash_actor;
  crash.id = "analyzer";
  auto rep = f.ask(crash);
  REQUIRE_MESSAGE(rep.ok, rep.error);
  CHECK(rep.json.find("\"supervisor\":\"sup:analysis\"") != std::string::npos);
  control::request list;
  list.cmd = control::command::chaos_list_actors;
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
  caf::scoped_actor self{*f.client};
  bool got_error = false;
  self->request(f.remote, std::chrono::seconds(5), int32_t{42}, std::string{"hello"})
    .receive([&](const caf::message&) {}, [&](const caf::error&) { got_error = true; });
  CHECK(got_error);
  control::request status;
  status.cmd = control::command::status;
  CHECK(f.ask(status).ok);
}
