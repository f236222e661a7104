// SWIM membership (src/membership/swim.hpp) on a small in-memory network in
// virtual time: joins, crashes, false suspicions refuted, indirect probes
// around a broken link, leaves, rejoins, and the retransmit limit.

#include <doctest/doctest.h>

#include <deque>
#include <functional>
#include <limits>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include "membership/swim.hpp"

using namespace faultd;
using namespace faultd::membership;

namespace {

/// N nodes "n0".."n<N-1>" at addresses "a0"..; every message arrives at
/// once (in order) unless `drop` says otherwise or an end is down.
struct network {
  manual_clock clock;
  swim_params params;
  std::vector<std::unique_ptr<swim_node>> nodes;
  std::set<size_t> down;
  /// (from index, to index) -> lost?
  std::function<bool(size_t, size_t)> drop = [](size_t, size_t) { return false; };
  std::deque<std::pair<size_t, swim_out>> inflight;
  size_t sent = 0;

  explicit network(size_t n, swim_params p = {}) : params(p) {
    for (size_t i = 0; i < n; ++i)
      add();
  }
  size_t add(uint64_t incarnation = 0) {
    auto i = nodes.size();
    nodes.push_back(std::make_unique<swim_node>("n" + std::to_string(i), "a" + std::to_string(i),
                                                params, clock, 1000 + i, incarnation));
    return i;
  }
  swim_node& at(size_t i) { return *nodes[i]; }
  void post(size_t from, std::vector<swim_out> outs) {
    for (auto& o : outs)
      inflight.emplace_back(from, std::move(o));
  }
  void deliver() {
    while (!inflight.empty()) {
      auto [from, o] = std::move(inflight.front());
      inflight.pop_front();
      ++sent;
      size_t to = std::stoul(o.address.substr(1));
      if (to >= nodes.size() || down.count(to) || down.count(from) || drop(from, to))
        continue;
      post(to, nodes[to]->receive(o.msg));
    }
  }
  /// Everyone joins through n0.
  void join_all() {
    for (size_t i = 1; i < nodes.size(); ++i)
      post(i, nodes[i]->join("a0"));
    deliver();
  }
  void run(duration d, duration step = millis_d(10)) {
    for (duration t{0}; t < d; t += step) {
      clock.advance(step);
      for (size_t i = 0; i < nodes.size(); ++i)
        if (!down.count(i))
          post(i, nodes[i]->tick());
      deliver();
    }
  }
  /// State of `whom` as `i` sees it (nullopt: unknown).
  std::optional<member_state> seen(size_t i, size_t whom) {
    auto r = nodes[i]->find("n" + std::to_string(whom));
    return r ? std::optional<member_state>{r->state} : std::nullopt;
  }
  bool all_see(size_t whom, member_state s) {
    for (size_t i = 0; i < nodes.size(); ++i)
      if (i != whom && !down.count(i) && seen(i, whom) != s)
        return false;
    return true;
  }
};

/// A message from `from` (at `address`) carrying `records`: gossip by
/// default.
peer_message word_from(std::string from, std::string address, std::vector<member_record> records,
                       peer_kind kind = peer_kind::heartbeat) {
  peer_message m;
  m.kind = kind;
  m.from = std::move(from);
  m.address = std::move(address);
  m.members = std::move(records);
  return m;
}

} // namespace

TEST_CASE("swim: nodes joining through one seed all learn each other") {
  network net{8};
  net.join_all();
  net.run(seconds_d(10));
  for (size_t i = 0; i < 8; ++i) {
    CHECK(net.at(i).live_peers() == 7);
    CHECK(net.all_see(i, member_state::alive));
  }
}

TEST_CASE("swim: a crashed node is suspected by a failed probe, then dead everywhere") {
  network net{10};
  net.join_all();
  net.run(seconds_d(5));
  for (auto& n : net.nodes)
    n->take_changes();
  net.down.insert(7);
  // Each node probes every member once per pass (10 s here), then the
  // suspicion times out after 4 probe intervals (log10(10) = 1).
  net.run(seconds_d(20));
  CHECK(net.all_see(7, member_state::dead));
  bool probed = false;
  for (size_t i = 0; i < 10; ++i)
    for (auto& c : net.at(i).take_changes())
      if (c.id == "n7" && c.to == member_state::suspect
          && c.reason.rfind("no ack to a probe", 0) == 0)
        probed = true;
  CHECK(probed);
  // Nobody else was judged.
  for (size_t j = 0; j < 10; ++j)
    if (j != 7)
      CHECK(net.all_see(j, member_state::alive));
}

TEST_CASE("swim: a node told it is suspected refutes with a higher incarnation") {
  network net{5};
  net.join_all();
  net.run(seconds_d(5));
  // n1 tells n3 that n2 is suspect (a false rumour).
  auto rumour = word_from("n1", "a1", {{"n2", "a2", member_state::suspect, 0}});
  net.post(1, net.at(3).receive(rumour));
  net.deliver();
  CHECK(net.seen(3, 2) == member_state::suspect);
  net.run(seconds_d(3));  // well within the 4 s suspicion timeout
  CHECK(net.at(2).incarnation() == 1);
  CHECK(net.all_see(2, member_state::alive));
  CHECK(net.at(3).find("n2")->incarnation == 1);
  net.run(seconds_d(10));
  CHECK(net.all_see(2, member_state::alive));  // the old rumour cannot win again
}

TEST_CASE("swim: a broken link alone makes no suspicion: the indirect probe gets through") {
  network net{6};
  net.join_all();
  net.run(seconds_d(3));
  for (auto& n : net.nodes)
    n->take_changes();
  net.drop = [](size_t from, size_t to) {
    return (from == 0 && to == 4) || (from == 4 && to == 0);
  };
  net.run(seconds_d(30));  // n0 probes n4 several times over the broken link
  for (auto& c : net.at(0).take_changes())
    CHECK_MESSAGE(c.id != "n4", c.reason);
  CHECK(net.all_see(4, member_state::alive));
}

TEST_CASE("swim: a leaving node is left, not dead, and a dead one returns only with a higher incarnation") {
  network net{5};
  net.join_all();
  net.run(seconds_d(5));
  net.post(3, net.at(3).leave());
  net.deliver();
  net.down.insert(3);
  net.run(seconds_d(10));
  CHECK(net.all_see(3, member_state::left));
  // n4 crashes and is buried.
  net.down.insert(4);
  net.run(seconds_d(20));
  CHECK(net.all_see(4, member_state::dead));
  // A record of it alive at its old incarnation changes nothing.
  auto stale = word_from("n1", "a1", {{"n4", "a4", member_state::alive, 0}});
  net.at(0).receive(stale);
  CHECK(net.seen(0, 4) == member_state::dead);
  // Restarted with a higher incarnation, it is alive again everywhere.
  net.down.erase(4);
  net.nodes[4] = std::make_unique<swim_node>("n4", "a4", net.params, net.clock, 77, 5);
  net.post(4, net.at(4).join("a0"));
  net.deliver();
  net.run(seconds_d(5));
  CHECK(net.all_see(4, member_state::alive));
}

TEST_CASE("swim: a rumour is sent a bounded number of times, and the load per node does not grow with N") {
  auto per_node_per_s = [](size_t n) {
    network net{n};
    net.join_all();
    net.run(seconds_d(40));  // settled: queues drained
    for (auto& node : net.nodes)
      CHECK(node->queued() == 0);
    auto before = net.sent;
    net.run(seconds_d(20));
    return static_cast<double>(net.sent - before) / static_cast<double>(n) / 20.0;
  };
  auto small = per_node_per_s(8);
  auto large = per_node_per_s(64);
  // A probe (ping + ack) per second each and a push-pull per 30 s: about 2
  // messages per node per second whatever the size.
  CHECK(small < 3.0);
  CHECK(large < 3.0);
}

TEST_CASE("swim: a join whose JOIN or WELCOME is lost is sent again until a member answers") {
  network net{4};
  // The first two messages between n3 and the seed are lost: its JOIN, then
  // (after the retry) the seed's WELCOME.
  int lost = 0;
  net.drop = [&](size_t from, size_t to) {
    bool between = (from == 3 && to == 0) || (from == 0 && to == 3);
    return between && lost++ < 2;
  };
  net.join_all();
  net.run(seconds_d(5));
  CHECK(lost >= 2);
  CHECK(net.at(3).live_peers() == 3);
  CHECK(net.all_see(3, member_state::alive));
}

TEST_CASE("swim: a suspicion nobody confirms lasts long, and confirmations shorten it to the minimum") {
  manual_clock clock;
  swim_params p;
  p.probe_interval = seconds_d(1000);  // no probes of its own here
  p.gossip_interval = seconds_d(1000);
  p.push_pull_interval = seconds_d(1000);
  swim_node a{"a", "a-addr", p, clock, 1};
  auto welcome = word_from("c", "c-addr",
                           {{"b", "b-addr", member_state::alive, 0},
                            {"d", "d-addr", member_state::alive, 0},
                            {"e", "e-addr", member_state::alive, 0}},
                           peer_kind::welcome);
  a.receive(welcome);
  auto rumour = [&](const std::string& by) {
    auto m = word_from("c", "c-addr", {{"b", "b-addr", member_state::suspect, 0, by}});
    a.receive(m);
  };
  rumour("c");
  REQUIRE(a.find("b")->state == member_state::suspect);
  // The minimum here is 4 probe intervals (log10 of 5 members is below 1);
  // unconfirmed, a suspicion lasts 6 times that.
  clock.advance(seconds_d(4 * 1000 + 1));
  a.tick();
  CHECK(a.find("b")->state == member_state::suspect);
  // The same suspecter again is no confirmation; two others are.
  rumour("c");
  rumour("d");
  a.tick();
  CHECK(a.find("b")->state == member_state::suspect);
  rumour("e");
  a.tick();
  CHECK(a.find("b")->state == member_state::dead);
  // A suspicion nobody confirms still ends, at 6 times the minimum.
  swim_node lone{"l", "l-addr", p, clock, 2};
  lone.receive(welcome);
  auto m = word_from("c", "c-addr", {{"d", "d-addr", member_state::suspect, 0, "c"}});
  lone.receive(m);
  clock.advance(seconds_d(6 * 4 * 1000 - 1));
  lone.tick();
  CHECK(lone.find("d")->state == member_state::suspect);
  clock.advance(seconds_d(2));
  lone.tick();
  CHECK(lone.find("d")->state == member_state::dead);
}

TEST_CASE("swim: the dissemination queue is bounded") {
  manual_clock clock;
  swim_params p;
  p.max_queue_depth = 10;
  swim_node a{"a", "a-addr", p, clock, 1};
  peer_message m;
  m.kind = peer_kind::heartbeat;  // gossip: every new member is news to spread
  m.from = "c";
  m.address = "c-addr";
  for (int i = 0; i < 100; ++i)
    m.members.push_back({"m" + std::to_string(i), "x", member_state::alive, 0});
  a.receive(m);
  CHECK(a.live_peers() == 101);  // all known
  CHECK(a.queued() == 10);       // at most 10 of them waiting to be spread
}

TEST_CASE("swim: a frozen node that thaws is told it was buried, refutes, and is alive again") {
  swim_params p;
  p.push_pull_interval = seconds_d(3600);  // the news itself, not a push-pull
  network net{5, p};
  net.join_all();
  net.run(seconds_d(5));
  // n2 hears nothing for a second (its probe started then is unanswered),
  // then stops (a SIGSTOP: it neither ticks nor hears) and is buried...
  net.drop = [](size_t, size_t to) { return to == 2; };
  net.run(millis_d(1000));
  net.drop = [](size_t, size_t) { return false; };
  net.down.insert(2);
  net.run(seconds_d(30));
  REQUIRE(net.all_see(2, member_state::dead));
  auto buried_at = net.at(0).find("n2")->incarnation;
  for (auto& n : net.nodes)
    n->take_changes();
  // ...and thaws, still believing everyone alive (and itself too). Its
  // first probe is answered with the news; it refutes.
  net.down.erase(2);
  net.run(seconds_d(5));
  CHECK(net.all_see(2, member_state::alive));
  CHECK(net.at(2).incarnation() > buried_at);
  // Its probe in flight when it stopped went unanswered: no suspicion of
  // anyone comes of its own stall.
  for (auto& n : net.nodes)
    for (auto& c : n->take_changes()) {
      INFO(c.id, ": ", c.reason);
      CHECK((c.id == "n2" || c.to != member_state::suspect));
    }
  for (size_t j = 0; j < 5; ++j)
    CHECK(net.all_see(j, member_state::alive));
}

TEST_CASE("swim: two sides that buried each other find each other again by the dead-member ping") {
  swim_params p;
  p.reconnect_interval = seconds_d(5);
  network net{6, p};
  net.join_all();
  net.run(seconds_d(5));
  auto side = [](size_t i) { return i < 3; };
  net.drop = [&](size_t from, size_t to) { return side(from) != side(to); };
  net.run(seconds_d(60));
  REQUIRE(net.seen(0, 4) == member_state::dead);
  REQUIRE(net.seen(4, 0) == member_state::dead);
  net.drop = [](size_t, size_t) { return false; };
  // No push-pull needed (30 s): the pings of dead members heal it.
  net.run(seconds_d(15));
  for (size_t j = 0; j < 6; ++j)
    CHECK(net.all_see(j, member_state::alive));
}

TEST_CASE("swim: admission refuses a second process under a live id and a rejoin at a buried incarnation") {
  manual_clock clock;
  swim_node n{"n0", "a0", swim_params{}, clock, 1};
  CHECK(n.admit("n0", "a9", 0, 42, false).result == join_result::refused_self);
  // n1 joins as process 7.
  REQUIRE(n.admit("n1", "a1", 3, 7, false).result == join_result::accepted);
  peer_message join;
  join.kind = peer_kind::join;
  join.from = "n1";
  join.address = "a1";
  join.incarnation = 3;
  join.nonce = 7;
  n.receive(join);
  CHECK(n.speaks_for("n1", 7));
  CHECK_FALSE(n.speaks_for("n1", 8));
  CHECK(n.speaks_for("n2", 8));  // unknown: nothing to say
  // Process 8 claims n1 from elsewhere while 7's link is up: a duplicate.
  auto dup = n.admit("n1", "a5", 4, 8, true);
  CHECK(dup.result == join_result::refused_duplicate);
  CHECK(dup.reason == "node id n1 is taken by the live node at a1");
  CHECK(n.speaks_for("n1", 7));
  // n1 crashes (its port refuses); a new process at the old incarnation is
  // stale, one above it is admitted.
  n.crashed("n1", "its port refuses connections");
  auto changes = n.take_changes();
  REQUIRE_FALSE(changes.empty());
  CHECK(changes.back().to == member_state::dead);
  CHECK(changes.back().crashed);
  auto stale = n.admit("n1", "a1", 3, 9, false);
  CHECK(stale.result == join_result::refused_stale);
  CHECK(stale.known_incarnation == 3);
  CHECK(n.admit("n1", "a1", 4, 9, false).result == join_result::accepted);
  CHECK(n.speaks_for("n1", 9));
  join.incarnation = 4;
  join.nonce = 9;
  n.receive(join);
  CHECK(n.find("n1")->state == member_state::alive);
  // The view: this node first, then n1 heard just now.
  auto v = n.view();
  REQUIRE(v.size() == 2);
  CHECK(v[0].self);
  CHECK(v[1].id == "n1");
  CHECK(v[1].incarnation == 4);
  REQUIRE(v[1].last_heard);
  CHECK(*v[1].last_heard == duration{0});
  // Buried again, and back at 5 by gossip (it rejoined through another
  // node): its new process, unknown here yet, joins at 5 without a refusal.
  n.crashed("n1", "its port refuses connections");
  auto word = word_from("n2", "a2", {{"n1", "a1", member_state::alive, 5}});
  n.receive(word);
  REQUIRE(n.find("n1")->state == member_state::alive);
  CHECK(n.admit("n1", "a1", 5, 11, false).result == join_result::accepted);
}

TEST_CASE("swim: a join through several seeds moves on from one that does not answer") {
  network net{4};
  net.run(seconds_d(1));
  net.down.insert(1);
  // n3 knows n1 (down) and n0 as seeds; only n0 answers.
  net.post(3, net.at(3).join(std::vector<std::string>{"a1", "a0"}));
  net.deliver();
  CHECK_FALSE(net.at(3).joining());
  CHECK(net.seen(0, 3) == member_state::alive);
  // A node whose only seed is down keeps trying, and gets in once it is up.
  network net2{3};
  net2.down.insert(0);
  net2.post(2, net2.at(2).join(std::vector<std::string>{"a0"}));
  net2.run(seconds_d(3));
  CHECK(net2.at(2).joining());
  net2.down.erase(0);
  net2.run(seconds_d(3));
  CHECK_FALSE(net2.at(2).joining());
  CHECK(net2.seen(0, 2) == member_state::alive);
}

TEST_CASE("swim: forged records cannot wrap an incarnation, flood the member list or confirm a suspicion") {
  manual_clock clock;
  swim_params p;
  p.max_members = 3;
  swim_node n{"n0", "a0", p, clock, 1, 1000};
  peer_message m;
  m.kind = peer_kind::heartbeat;
  m.from = "n1";
  m.address = "a1";
  m.incarnation = 5;
  // "n0 is dead at the top incarnation": a refutation would wrap to 0.
  m.members = {{"n0", "a0", member_state::dead, std::numeric_limits<uint64_t>::max()}};
  n.receive(m);
  CHECK(n.incarnation() == 1000);
  // An honest suspicion at n0's own incarnation is refuted.
  m.members = {{"n0", "a0", member_state::suspect, 1000}};
  n.receive(m);
  CHECK(n.incarnation() == 1001);
  // A member pushed out of its own reach: alive far above what it has.
  m.members = {{"n1", "a1", member_state::alive, uint64_t{1} << 50}};
  n.receive(m);
  CHECK(n.find("n1")->incarnation == 5);
  // Made-up ids: no more than max_members are kept.
  m.members.clear();
  for (int i = 0; i < 10; ++i)
    m.members.push_back({"x" + std::to_string(i), "ax", member_state::alive, 1});
  n.receive(m);
  CHECK(n.view().size() == 1 + 3);
  // A suspicion of n1 "confirmed" by names that are not members stays
  // unconfirmed: it lasts the long (unconfirmed) time.
  m.members = {{"n1", "a1", member_state::suspect, 5, "ghost-0"}};
  n.receive(m);
  REQUIRE(n.find("n1")->state == member_state::suspect);
  for (int i = 1; i < 50; ++i) {
    m.members = {{"n1", "a1", member_state::suspect, 5, "ghost-" + std::to_string(i)}};
    n.receive(m);
  }
  clock.advance(seconds_d(5));  // past the 4 s minimum
  n.tick();
  CHECK(n.find("n1")->state == member_state::suspect);
}

TEST_CASE("swim: a live member's id is refused to a process at another address, links or not") {
  manual_clock clock;
  swim_node n{"n0", "a0", swim_params{}, clock, 1};
  // n2 is known from gossip only (no nonce here yet).
  auto word = word_from("n1", "a1", {{"n2", "a2", member_state::alive, 7}});
  n.receive(word);
  auto v = n.admit("n2", "a9", 8, 99, true);
  CHECK(v.result == join_result::refused_duplicate);
  // At its own address it is a restart.
  CHECK(n.admit("n2", "a2", 8, 99, false).result == join_result::accepted);
}

TEST_CASE("swim: a leaving node has nothing more to do, and an overloaded node still buries") {
  manual_clock clock;
  swim_node n{"n0", "a0", swim_params{}, clock, 1};
  auto word = word_from("n1", "a1", {{"n2", "a2", member_state::suspect, 0, "n1"}});
  n.receive(word);
  REQUIRE(n.find("n2")->state == member_state::suspect);
  // Ticks 2 s apart (a backlog): each is a stall, but the suspicion's
  // credit is bounded, so n2 is buried in the end (unconfirmed: 24 s, plus
  // at most 4 s of credit).
  for (int i = 0; i < 20 && n.find("n2")->state == member_state::suspect; ++i) {
    clock.advance(seconds_d(2));
    n.tick();
  }
  CHECK(n.find("n2")->state == member_state::dead);
  n.leave();
  CHECK(n.next_due() == std::chrono::steady_clock::time_point::max());
  CHECK(n.tick().empty());
}
