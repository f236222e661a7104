#include <doctest/doctest.h>

#include <functional>
#include <map>
#include <memory>

#include "faultd/util.hpp"
#include "replica/engine.hpp"

using namespace faultd;
using namespace faultd::replica;

namespace {

/// Engines on one manual clock, and a network that delivers their messages
/// through the wire encoding (so what is tested is what travels).
struct cluster {
  manual_clock clock;
  std::map<std::string, std::unique_ptr<engine>> nodes;
  /// Decides per message whether it is lost (default: none are).
  std::function<bool(const envelope&)> lose = [](const envelope&) { return false; };
  size_t delivered = 0;
  size_t entries_moved = 0;
  size_t bytes = 0;
  size_t largest = 0;

  explicit cluster(std::vector<std::string> ids, engine_params base = {}) {
    uint64_t seed = 1;
    for (auto& id : ids) {
      auto p = base;
      p.map.self = id;
      nodes[id] = std::make_unique<engine>(p, clock, seed++);
    }
    for (auto& [id, e] : nodes)
      e->set_peers(ids);
  }

  engine& operator[](const std::string& id) { return *nodes.at(id); }

  /// A partition: each node gossips only within its side.
  void split(const std::vector<std::string>& side_a, const std::vector<std::string>& side_b) {
    for (auto& id : side_a)
      nodes.at(id)->set_peers(side_a);
    for (auto& id : side_b)
      nodes.at(id)->set_peers(side_b);
  }

  void heal() {
    std::vector<std::string> ids;
    for (auto& [id, e] : nodes)
      ids.push_back(id);
    for (auto& [id, e] : nodes)
      e->set_peers(ids);
  }

  /// Delivers until no message is left (or `rounds` passes).
  void settle(int rounds = 1000) {
    for (int i = 0; i < rounds; ++i) {
      std::vector<envelope> all;
      for (auto& [id, e] : nodes)
        for (auto& env : e->take_outbox())
          all.push_back(std::move(env));
      if (all.empty())
        return;
      for (auto& env : all) {
        if (lose(env))
          continue;
        auto bytes_out = encode(env.msg);
        bytes += bytes_out.size();
        largest = std::max(largest, bytes_out.size());
        state_message m;
        REQUIRE(decode(bytes_out, m).ok());
        if (m.kind == msg_kind::push || m.kind == msg_kind::entries)
          entries_moved += m.entries.size();
        ++delivered;
        nodes.at(env.to)->receive(m);
      }
    }
  }

  bool converged() {
    auto& first = *nodes.begin()->second;
    for (auto& [id, e] : nodes)
      if (e->map().digest() != first.map().digest())
        return false;
    return true;
  }
};

state_entry put(engine& e, const std::string& key, const std::string& value) {
  state_entry w;
  REQUIRE(e.put(key, value, w).ok());
  return w;
}

} // namespace

TEST_CASE("a write is pushed to every node, and each stores and lists it once") {
  cluster c{{"a", "b", "c"}};
  put(c["a"], "svc/web/active", "b");
  c.settle();
  for (auto id : {"a", "b", "c"}) {
    auto* e = c[id].map().get("svc/web/active");
    REQUIRE(e != nullptr);
    CHECK(e->value == "b");
    CHECK(e->origin_node == "a");
    CHECK(c[id].take_changed().size() == 1);
  }
  CHECK(c.converged());
  CHECK(c["b"].counters().applied == 1);
}

TEST_CASE("anti-entropy repairs lost pushes and moves only what differs") {
  cluster c{{"a", "b"}};
  for (int i = 0; i < 200; ++i)
    put(c["a"], "k/" + std::to_string(i), "v" + std::to_string(i));
  c.settle();
  REQUIRE(c.converged());
  // A partition: three writes on a, one on b, none pushed across.
  c.split({"a"}, {"b"});
  put(c["a"], "k/1", "changed");
  put(c["a"], "k/new", "x");
  c["a"].erase("k/2");
  put(c["b"], "k/b-only", "y");
  c.settle();
  CHECK_FALSE(c.converged());
  c.heal();
  c.entries_moved = 0;
  c["a"].start_exchange("b");
  c.settle();
  CHECK(c.converged());
  CHECK(c.entries_moved == 4); // 3 from a, 1 from b: not the 200 that agree
  CHECK(c["b"].map().get("k/1")->value == "changed");
  CHECK(c["b"].map().get("k/2") == nullptr);
  CHECK(c["a"].map().get("k/b-only")->value == "y");
}

TEST_CASE("an entry whose value does not match its checksum is dropped, listed and still acked") {
  cluster c{{"a", "b"}};
  c.lose = [](const envelope& env) { return env.msg.kind == msg_kind::push; };
  auto w = put(c["a"], "k", "good");
  c.settle();
  state_message forged;
  forged.kind = msg_kind::push;
  forged.from = "a";
  forged.seq = 77;
  w.value = "evil";
  forged.entries.push_back(w);
  c["b"].receive(forged);
  CHECK(c["b"].map().find("k") == nullptr);
  auto rej = c["b"].take_rejections();
  REQUIRE(rej.size() == 1);
  CHECK(rej[0].from == "a");
  CHECK(rej[0].key == "k");
  CHECK(rej[0].why == apply_result::bad_checksum);
  auto out = c["b"].take_outbox();
  REQUIRE(out.size() == 1);
  CHECK(out[0].msg.kind == msg_kind::ack);
  CHECK(out[0].msg.seq == 77);
}

TEST_CASE("a send window keeps at most `window` chunks unacknowledged and retries the rest later") {
  engine_params p;
  p.max_message_size = 2048;
  p.window.window = 2;
  p.window.timeout = std::chrono::seconds(1);
  p.window.retries = 2;
  cluster c{{"a", "b"}, p};
  c.split({"a"}, {"b"});
  for (int i = 0; i < 40; ++i)
    put(c["a"], "big/" + std::to_string(i), std::string(600, 'x'));
  c.settle();
  c.heal();
  c["a"].start_exchange("b");
  // Deliver a's messages to b but hold b's acks: a sends no more than 2.
  size_t unacked = 0;
  for (int round = 0; round < 10; ++round) {
    for (auto& env : c["a"].take_outbox())
      if (env.msg.kind == msg_kind::entries)
        ++unacked;
      else
        c["b"].receive(env.msg);
    for (auto& env : c["b"].take_outbox())
      if (env.msg.kind != msg_kind::ack)
        c["a"].receive(env.msg);
  }
  CHECK(unacked == 2);
  // Acks flow again: everything arrives, in chunks under the limit.
  c["a"].tick();
  c.settle();
  c.clock.advance(std::chrono::seconds(2));
  c["a"].tick();
  c.settle();
  CHECK(c.converged());
  CHECK(c.largest <= 2048);
}

TEST_CASE("a large exchange is cut into parts under max_message_size and still converges") {
  engine_params p;
  p.max_message_size = 4096;
  cluster c{{"a", "b"}, p};
  c.split({"a"}, {"b"});
  for (int i = 0; i < 2000; ++i)
    put(c["a"], "device/" + std::to_string(i) + "/state", "online");
  c.settle();
  c.heal();
  c["b"].start_exchange("a"); // b pulls: a's VERSIONS come in parts
  c.settle();
  CHECK(c.converged());
  CHECK(c["b"].map().live_count() == 2000);
  CHECK(c.largest <= 4096);
}

TEST_CASE("a report counts agreeing, differing and missing keys without moving any") {
  cluster c{{"a", "b"}};
  for (int i = 0; i < 50; ++i)
    put(c["a"], "k/" + std::to_string(i), "v");
  c.settle();
  c.split({"a"}, {"b"});
  put(c["a"], "k/0", "newer");       // differs
  put(c["a"], "k/only-a", "x");      // missing on b
  put(c["b"], "k/only-b", "y");      // missing on a
  c.settle();
  c.heal();
  c.entries_moved = 0;
  auto ex = c["a"].start_exchange("b", true);
  c.settle();
  auto r = c["a"].report_of(ex);
  REQUIRE(r.has_value());
  CHECK(r->id == "b");
  CHECK(r->keys == 51);
  CHECK(r->agree == 49);
  CHECK(r->differ == 1);
  CHECK(r->missing == 2);
  CHECK(c.entries_moved == 0);
  CHECK_FALSE(c.converged());
}

TEST_CASE("push gossip through relays reaches nodes the writer did not pick") {
  engine_params p;
  p.fanout = 1;
  std::vector<std::string> ids;
  for (int i = 0; i < 20; ++i)
    ids.push_back("n" + std::to_string(i));
  cluster c{ids, p};
  put(c["n0"], "k", "v");
  c.settle();
  size_t reached = 0;
  for (auto& id : ids)
    reached += c[id].map().get("k") != nullptr ? 1 : 0;
  CHECK(reached > 2); // relayed beyond the one peer n0 picked
}

TEST_CASE("a rumor pushed again at the next ticks reaches every node of 200 without anti-entropy") {
  std::vector<std::string> ids;
  for (int i = 0; i < 200; ++i)
    ids.push_back("n" + std::to_string(i));
  cluster c{ids};
  put(c["n0"], "k", "v");
  c.settle();
  auto reached = [&] {
    size_t n = 0;
    for (auto& id : ids)
      n += c[id].map().get("k") != nullptr ? 1 : 0;
    return n;
  };
  // One push per node leaves some out (about e^-3 of them).
  CHECK(reached() < ids.size());
  auto spreading = [&] {
    size_t n = 0;
    for (auto& id : ids)
      n += c[id].rumors();
    return n;
  };
  int rounds = 0;
  while (spreading() > 0 && rounds < 20) {
    c.clock.advance(std::chrono::milliseconds(100));
    for (auto& id : ids)
      c[id].tick();
    c.settle();
    ++rounds;
  }
  CHECK(reached() == ids.size());
  // Each node pushes for ceil(log10(201)) = 3 ticks after it took the
  // rumor, and the last took it within a few hops.
  CHECK(spreading() == 0);
  CHECK(rounds <= 8);
  CHECK(c[ids.front()].counters().exchanges == 0);
}

TEST_CASE("a rumor goes to no peer twice: in three nodes nothing is pushed again") {
  cluster c{{"a", "b", "c"}};
  put(c["a"], "k", "v");
  c.settle();
  for (auto id : {"a", "b", "c"})
    CHECK(c[id].rumors() == 0); // every peer was sent it or sent it
  auto before = c.delivered;
  for (auto id : {"a", "b", "c"})
    c[id].tick();
  c.settle();
  CHECK(c.delivered == before);
}

TEST_CASE("a newer write of a key replaces its rumor, and rumor_rounds bounds the pushes") {
  engine_params p;
  p.fanout = 1;
  p.rumor_rounds = 2;
  std::vector<std::string> ids;
  for (int i = 0; i < 20; ++i)
    ids.push_back("n" + std::to_string(i));
  cluster c{ids, p};
  c.lose = [](const envelope&) { return true; }; // nothing arrives: only n0 pushes
  put(c["n0"], "k", "v1");
  put(c["n0"], "k", "v2");
  CHECK(c["n0"].rumors() == 1);
  c.settle();
  for (int round = 0; round < 5; ++round) {
    c["n0"].tick();
    c.settle();
  }
  CHECK(c["n0"].rumors() == 0);
  // Two writes pushed to one peer each, then the rumor of v2 twice more.
  CHECK(c["n0"].counters().messages_out == 4);
}
