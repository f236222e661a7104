// The state-sync messages a node takes on its peer port, sent as a hostile
// client would: over a real BASP connection to the published peer front.
// Bytes that do not decode, a message larger than state_sync's limit, and a
// well-formed write from a node that is not a member are all dropped; the
// node keeps serving and stores nothing of them.

#include <doctest/doctest.h>

#include <random>
#include <thread>

#include <caf/all.hpp>
#include <caf/io/all.hpp>

#include "actors/node/node.hpp"
#include "actors/type_ids.hpp"
#include "control/client.hpp"
#include "control/codec.hpp"
#include "faultd/util.hpp"
#include "replica/wire.hpp"
#include "support/raw_client.hpp"
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
  id: state-node
  data_dir: )" + dir.path() + R"(
  listen: 127.0.0.1:0
state_sync:
  max_message_size: 65536
fault_detection:
  resources: {enabled: false}
  security: {enabled: false}
)",
                               "state_wire_test");
    REQUIRE_MESSAGE(loaded, (loaded.error ? loaded.error->to_string() : ""));
    server_cfg.load<caf::io::middleman>();
    server = std::make_unique<caf::actor_system>(server_cfg);
    auto st = start_node(*server, *loaded.value, node);
    REQUIRE_MESSAGE(st.ok(), st.to_string());
    endpoint = loaded.value->node.control_endpoint();
  }

  ~fixture() { stop_node(*server, node); }

  control::reply state(const std::string& op, const std::string& key) {
    control::request req;
    req.cmd = control::command::state;
    req.op = op;
    req.key = key;
    return ask(req);
  }

  control::reply ask(const control::request& req) {
    std::string bytes;
    auto st = control::call(endpoint, control::encode_request(req), std::chrono::seconds(10),
                            bytes);
    REQUIRE_MESSAGE(st.ok(), st.to_string());
    control::reply rep;
    REQUIRE(control::decode_reply(bytes, rep).ok());
    return rep;
  }
};

} // namespace

TEST_CASE("hostile state messages on the peer port are dropped and the node keeps serving") {
  fixture f;
  caf::actor_system_config cfg;
  cfg.load<caf::io::middleman>();
  caf::actor_system client{cfg};
  auto front = client.middleman().remote_actor("127.0.0.1", f.node.port);
  REQUIRE_MESSAGE(front, client.render(front.error()));
  caf::scoped_actor self{client};
  std::mt19937 rng{7};
  for (int i = 0; i < 200; ++i)
    self->send(*front, state_atom::value, test::random_bytes(rng, 1 + rng() % 512));
  // Larger than state_sync.max_message_size.
  self->send(*front, state_atom::value, std::string(200000, 'x'));
  // Well-formed, with a valid checksum, from a node that is not a member.
  replica::state_message m;
  m.kind = replica::msg_kind::push;
  m.from = "intruder";
  m.seq = 1;
  state_entry e;
  e.key = "svc/web/active";
  e.value = "intruder";
  e.checksum = sha256_hex(e.value);
  e.version = 1;
  e.origin_node = "intruder";
  m.entries.push_back(e);
  self->send(*front, state_atom::value, replica::encode(m));
  // A digest of the wrong size.
  replica::state_message d;
  d.kind = replica::msg_kind::digest;
  d.from = "intruder";
  self->send(*front, state_atom::value, replica::encode(d) + std::string("\x29\x01", 2));
  // The node answers, stored none of it, and its state sync never crashed.
  std::this_thread::sleep_for(std::chrono::milliseconds(500));
  auto r = f.state("get", "svc/web/active");
  CHECK(!r.ok);
  CHECK(r.code == errc::not_found);
  control::request actors;
  actors.cmd = control::command::chaos_list_actors;
  auto listed = f.ask(actors).json;
  auto at = listed.find("\"name\":\"state_sync\"");
  REQUIRE_MESSAGE(at != std::string::npos, listed);
  CHECK_MESSAGE(listed.find("\"restarts\":0", at) == listed.find("\"restarts\":", at), listed);
  auto list = f.state("list", "");
  CHECK(list.ok);
  CHECK(list.json.find("intruder") == std::string::npos);
}
