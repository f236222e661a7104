#include <doctest/doctest.h>

#include "membership/members.hpp"
#include "membership/wire.hpp"

using namespace faultd;
using namespace faultd::membership;

namespace {

table_params params() {
  table_params p;
  p.phi.heartbeat_interval = millis_d(100);
  p.phi.threshold = 8;
  p.phi.min_std_deviation = millis_d(50);
  p.probe_window = millis_d(300);
  p.suspect_timeout = millis_d(500);
  return p;
}

struct cluster {
  manual_clock clock;
  member_table t{"n1", "127.0.0.1:7001", 10, params(), clock};

  void add(const std::string& id, uint64_t inc = 5, uint64_t nonce = 42) {
    auto v = t.join(id, "127.0.0.1:" + std::to_string(7000 + id.back() - '0'), inc, nonce, false);
    REQUIRE(v.result == join_result::accepted);
    t.set_connected(id, true);
  }

  /// Heartbeats from `ids` every 100 ms for `n` rounds, ticking on time.
  std::vector<member_change> run(const std::vector<std::string>& ids, int n,
                                 std::vector<std::string>* probes = nullptr) {
    std::vector<member_change> all;
    for (int i = 0; i < n; ++i) {
      clock.advance(millis_d(100));
      for (auto& id : ids)
        for (auto& c : t.heard(id, t.find(id)->incarnation))
          all.push_back(c);
      auto r = t.tick(duration{0});
      for (auto& c : r.changes)
        all.push_back(c);
      if (probes)
        probes->insert(probes->end(), r.probe.begin(), r.probe.end());
    }
    return all;
  }

  member_state state(const std::string& id) { return t.find(id)->state; }
};

} // namespace

TEST_CASE("a joining node is alive, its own id and a live duplicate are refused") {
  cluster c;
  c.add("n2");
  CHECK(c.state("n2") == member_state::alive);
  auto self = c.t.join("n1", "127.0.0.1:9999", 1, 7, false);
  CHECK(self.result == join_result::refused_self);
  // Another process (another nonce) claims n2 while n2's link is up.
  auto dup = c.t.join("n2", "127.0.0.1:9998", 99, 43, true);
  CHECK(dup.result == join_result::refused_duplicate);
  CHECK(dup.reason.find("127.0.0.1:7002") != std::string::npos);
  CHECK(c.t.find("n2")->address == "127.0.0.1:7002");
  // Its messages do not speak for n2; n2's own do.
  CHECK_FALSE(c.t.speaks_for("n2", 43));
  CHECK(c.t.speaks_for("n2", 42));
  CHECK(c.t.speaks_for("n7", 43));
  // The same process joining again on a new link is fine.
  CHECK(c.t.join("n2", "127.0.0.1:7002", 5, 42, true).result == join_result::accepted);
}

TEST_CASE("a silent member is probed, then suspect, then dead") {
  cluster c;
  c.add("n2");
  c.add("n3");
  c.run({"n2", "n3"}, 50);
  std::vector<std::string> probes;
  std::vector<member_change> changes;
  for (int i = 0; i < 30 && c.state("n3") != member_state::dead; ++i) {
    auto ch = c.run({"n2"}, 1, &probes);
    changes.insert(changes.end(), ch.begin(), ch.end());
  }
  REQUIRE(probes == std::vector<std::string>{"n3"});
  REQUIRE(changes.size() == 2);
  CHECK(changes[0].to == member_state::suspect);
  CHECK(changes[0].reason.find("no indirect probe") != std::string::npos);
  CHECK(changes[1].to == member_state::dead);
  CHECK_FALSE(changes[1].crashed);
  CHECK(c.state("n2") == member_state::alive); // the one that kept talking
}

TEST_CASE("an indirect probe that reaches the member keeps it alive") {
  cluster c;
  c.add("n2");
  c.add("n3");
  c.run({"n2", "n3"}, 50);
  std::vector<std::string> probes;
  // n3's heartbeats stop arriving on our link, but n2 reaches it.
  for (int i = 0; i < 40; ++i) {
    c.run({"n2"}, 1, &probes);
    if (!probes.empty()) {
      c.t.probe_answered("n3", "n2");
      probes.clear();
    }
    REQUIRE(c.state("n3") == member_state::alive);
  }
}

TEST_CASE("a suspect heard again is alive, a crashed member is dead at once") {
  cluster c;
  c.add("n2");
  c.run({"n2"}, 20);
  for (int i = 0; i < 20 && c.state("n2") != member_state::suspect; ++i)
    c.run({}, 1);
  REQUIRE(c.state("n2") == member_state::suspect);
  auto back = c.t.heard("n2", 5);
  REQUIRE(back.size() == 1);
  CHECK(back[0].to == member_state::alive);
  auto dead = c.t.crashed("n2", "connection refused");
  REQUIRE(dead.size() == 1);
  CHECK(dead[0].crashed);
  CHECK(c.state("n2") == member_state::dead);
  CHECK(c.t.crashed("n2", "again").empty());
}

TEST_CASE("a stale incarnation cannot bring a dead member back, a higher one can") {
  cluster c;
  c.add("n2", 5);
  c.t.crashed("n2", "connection refused");
  // A heartbeat or gossip from before the death changes nothing.
  CHECK(c.t.heard("n2", 5).empty());
  bool refuted = false;
  CHECK(c.t.gossip("n3", {{"n2", "127.0.0.1:7002", member_state::alive, 5}}, refuted).empty());
  CHECK(c.state("n2") == member_state::dead);
  // A restarted process with the old incarnation is told to go higher.
  auto stale = c.t.join("n2", "127.0.0.1:7002", 5, 77, false);
  CHECK(stale.result == join_result::refused_stale);
  CHECK(stale.known_incarnation == 5);
  auto rejoin = c.t.join("n2", "127.0.0.1:7002", 6, 77, false);
  REQUIRE(rejoin.result == join_result::accepted);
  REQUIRE(rejoin.changes.size() == 1);
  CHECK(rejoin.changes[0].from == member_state::dead);
  CHECK(c.state("n2") == member_state::alive);
  CHECK(c.t.find("n2")->incarnation == 6);
}

TEST_CASE("gossip teaches new members, and a suspicion of this node is refuted") {
  cluster c;
  c.add("n2");
  bool refuted = false;
  auto ch = c.t.gossip("n2",
                       {{"n3", "127.0.0.1:7003", member_state::alive, 3},
                        {"n1", "127.0.0.1:7001", member_state::suspect, 10}},
                       refuted);
  REQUIRE(ch.size() == 1);
  CHECK(ch[0].is_new);
  CHECK(ch[0].id == "n3");
  CHECK(refuted);
  CHECK(c.t.incarnation() == 11);
  auto links = c.t.to_connect();
  REQUIRE(links.size() == 1);
  CHECK(links[0].id == "n3");
  // The refutation goes out with the next heartbeats.
  auto out = c.t.gossip_out(false);
  REQUIRE_FALSE(out.empty());
  CHECK(out[0].id == "n1");
  CHECK(out[0].incarnation == 11);
}

TEST_CASE("a member known from gossip joins with the incarnation gossip gave it") {
  cluster c;
  c.add("n2");
  bool refuted = false;
  c.t.gossip("n2", {{"n3", "127.0.0.1:7003", member_state::alive, 3}}, refuted);
  CHECK(c.t.join("n3", "127.0.0.1:7003", 2, 99, false).result == join_result::refused_stale);
  CHECK(c.t.join("n3", "127.0.0.1:7003", 3, 99, false).result == join_result::accepted);
  c.t.set_connected("n3", true);
  // From now on it is met: another process under its id is a duplicate.
  CHECK(c.t.join("n3", "127.0.0.1:7009", 4, 100, true).result == join_result::refused_duplicate);
}

TEST_CASE("a rumour of death is not adopted for a member heard directly") {
  cluster c;
  c.add("n2");
  c.add("n3");
  c.run({"n2", "n3"}, 20);
  bool refuted = false;
  CHECK(c.t.gossip("n2", {{"n3", "", member_state::dead, 5}}, refuted).empty());
  CHECK(c.state("n3") == member_state::alive);
  // Once this node cannot hear n3 either, the rumour holds.
  c.t.set_connected("n3", false);
  auto ch = c.t.gossip("n2", {{"n3", "", member_state::dead, 5}}, refuted);
  REQUIRE(ch.size() == 1);
  CHECK(ch[0].to == member_state::dead);
}

TEST_CASE("a member that leaves is left, not dead") {
  cluster c;
  c.add("n2", 5);
  auto ch = c.t.left("n2", 5);
  REQUIRE(ch.size() == 1);
  CHECK(ch[0].to == member_state::left);
  for (int i = 0; i < 40; ++i)
    c.run({}, 1);
  CHECK(c.state("n2") == member_state::left);
}

TEST_CASE("a starved node suspects nobody and stretches its windows") {
  cluster c;
  c.add("n2");
  c.run({"n2"}, 50);
  // This node's ticks run 400 ms late for a while; n2's heartbeats wait in
  // its mailbox meanwhile.
  for (int i = 0; i < 5; ++i) {
    c.clock.advance(millis_d(500));
    auto r = c.t.tick(millis_d(400));
    CHECK(r.late);
    CHECK(r.changes.empty());
    CHECK(r.probe.empty());
  }
  CHECK(c.t.local_health() == 5);
  // The queued heartbeat arrives; an on-time tick finds nothing wrong.
  c.t.heard("n2", 5);
  auto r = c.t.tick(duration{0});
  CHECK(r.changes.empty());
  CHECK(c.state("n2") == member_state::alive);
  // Health recovers by one per ten on-time ticks.
  c.run({"n2"}, 20);
  CHECK(c.t.local_health() == 3);
  // Now n2 really stops: it takes longer to bury than on a healthy node.
  auto time_to_dead = [](cluster& x) {
    auto start = x.clock.steady_now();
    for (int i = 0; i < 200 && x.state("n2") != member_state::dead; ++i)
      x.run({}, 1);
    REQUIRE(x.state("n2") == member_state::dead);
    return x.clock.steady_now() - start;
  };
  cluster healthy;
  healthy.add("n2");
  healthy.run({"n2"}, 70);
  auto normal = time_to_dead(healthy);
  auto starved = time_to_dead(c);
  CHECK(normal <= millis_d(1500));
  CHECK(starved >= normal + millis_d(1000));
}

TEST_CASE("peer messages round-trip, and garbage does not decode") {
  peer_message m;
  m.kind = peer_kind::refuse;
  m.from = "n2";
  m.address = "127.0.0.1:7002";
  m.incarnation = 9;
  m.nonce = 123456789;
  m.members = {{"n3", "127.0.0.1:7003", member_state::suspect, 4}};
  m.reason = "taken";
  m.duplicate_id = true;
  m.known_incarnation = 8;
  peer_message back;
  std::string err;
  REQUIRE(decode(encode(m), back, err));
  CHECK(back.kind == peer_kind::refuse);
  CHECK(back.from == "n2");
  CHECK(back.nonce == 123456789);
  REQUIRE(back.members.size() == 1);
  CHECK(back.members[0].state == member_state::suspect);
  CHECK(back.duplicate_id);
  CHECK(back.known_incarnation == 8);
  CHECK_FALSE(decode(std::string("\xff\xff\xff\xff", 4), back, err));
  peer_message anonymous;
  CHECK_FALSE(decode(encode(anonymous), back, err));
  CHECK(err == "no sender id");
}
