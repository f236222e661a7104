// Membership and replicated state together, by simulation in one actor
// system: N virtual nodes, each a CAF actor that runs the code a faultd node
// runs with `cluster.membership: swim` (membership::swim_node) and its
// state-sync engine (replica::engine), the engine's peers taken from the
// SWIM view as the state-sync actor takes them from the membership board.
// The network is simulated between the actors: every message is encoded
// with the wire format (the bytes counted are protobuf bytes), lost with
// probability `loss` on its own, and otherwise delivered after 0.5-2 ms
// (a delayed send).
//
// Time is virtual: the actor system runs CAF's test coordinator (the
// scheduler of CAF's own test DSL), one thread that runs every actor whose
// mailbox holds a message, then moves the actor clock to the next delayed
// message. The nodes read the same virtual time through their clock_source.
// So a thousand actors on this 2-core machine measure the protocol, not
// the machine: in real time they did not keep up (the first version of this
// bench, at 1,000 nodes, buried live nodes 3 million times while the CPU
// ran behind) and the figures are deterministic per seed.
//
// Each virtual node, as the actors of a node do: SWIM with memberlist's LAN
// defaults; an engine tick every 100 ms and an anti-entropy exchange with a
// random alive peer every 10 s (state_sync's defaults); the engine's peers
// refreshed from the SWIM view at most every 500 ms after a change. Every
// node starts with the same 100 keys.
//
// Phases of one case:
//   settle  every node joins through node 0 over the first second; settled
//           when every node lists every other live (at most 120 s; the
//           share of live pairs is reported either way)
//   idle    10 s: bytes per node per second, membership and state apart
//   write   node 0 writes a fresh key: when each node holds it, and the
//           longest chain of state messages that carried it
//   join    one more node joins through a random member: when each node
//           lists it alive
//   crash   a member stops answering (its actor drops everything): when
//           each live node lists it dead
//
//   bench_cluster_sim [--trials N] [--only N]
//
// One JSON object per line (per case: N x loss), medians over the trials;
// exit status 1 if a write, join or crash did not reach every node within
// 60 s.

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <memory>
#include <random>
#include <set>
#include <string>
#include <vector>

#include <caf/all.hpp>

#include "bench_args.hpp"
#include "faultd/time.hpp"
#include "membership/swim.hpp"
#include "membership/wire.hpp"
#include "replica/engine.hpp"

using namespace faultd;
using steady = std::chrono::steady_clock;
using coordinator = caf::scheduler::test_coordinator;

namespace {

using swim_msg_atom = caf::atom_constant<caf::atom("swimmsg")>;
using state_msg_atom = caf::atom_constant<caf::atom("statemsg")>;
using vtick_atom = caf::atom_constant<caf::atom("vtick")>;
using write_atom = caf::atom_constant<caf::atom("write")>;
using vjoin_atom = caf::atom_constant<caf::atom("vjoin")>;
using crash_atom = caf::atom_constant<caf::atom("crash")>;

constexpr auto engine_tick = std::chrono::milliseconds(100);
constexpr auto sync_interval = std::chrono::seconds(10);
constexpr auto peers_refresh = std::chrono::milliseconds(500);
const std::string fresh_key = "sim/fresh";

std::string id_of(size_t i) { return "n" + std::to_string(i); }
size_t index_of(const std::string& s) { return std::stoul(s.substr(1)); }

/// What the virtual nodes share: the network's directory and what they
/// observed, written by each node's actor, read by the controller (all on
/// the test coordinator's one thread).
struct world {
  size_t nodes = 0;  ///< n + the one that joins later
  double loss = 0;
  manual_clock clock;  ///< virtual, moved with the actor clock
  steady::time_point start = clock.steady_now();
  std::vector<caf::actor> actors;
  std::vector<uint32_t> live;
  std::vector<int64_t> got_at;     ///< fresh key held (µs), -1
  std::vector<uint32_t> got_hops;
  std::vector<int64_t> joiner_at;  ///< lists the joiner alive (µs)
  std::vector<int64_t> victim_at;  ///< lists the victim dead (µs)
  std::vector<uint64_t> swim_bytes;
  std::vector<uint64_t> state_bytes;
  int64_t joiner = -1;
  int64_t victim = -1;
  /// Suspicions and deaths of live nodes, each (member, incarnation) once
  /// however many nodes adopted it.
  std::set<std::pair<std::string, uint64_t>> false_suspicions, false_deaths;
  int64_t first_suspicion = -1;  ///< of the victim, by any node (µs)
  std::vector<state_entry> common;

  explicit world(size_t n)
    : nodes(n),
      live(n, 0),
      got_at(n, -1),
      got_hops(n, 0),
      joiner_at(n, -1),
      victim_at(n, -1),
      swim_bytes(n, 0),
      state_bytes(n, 0) {}

  int64_t now_us() const {
    return std::chrono::duration_cast<std::chrono::microseconds>(clock.steady_now() - start)
      .count();
  }
};

struct vnode_state {
  uint32_t index = 0;
  std::shared_ptr<world> w;
  std::unique_ptr<membership::swim_node> swim;
  std::unique_ptr<replica::engine> eng;
  std::mt19937_64 rng;
  bool running = false;
  bool down = false;
  bool peers_dirty = true;
  steady::time_point next_peers, next_engine_tick, next_sync;
  bool holds = false;
  uint32_t hops = 0;
};

using vnode = caf::stateful_actor<vnode_state>*;

template <class Atom>
void transmit(vnode self, Atom atom, size_t to, std::string bytes) {
  auto& s = self->state;
  auto& counter = std::is_same<Atom, swim_msg_atom>::value ? s.w->swim_bytes : s.w->state_bytes;
  counter[s.index] += bytes.size();
  if (to >= s.w->actors.size())
    return;
  if (s.w->loss > 0 && std::uniform_real_distribution<double>(0, 1)(s.rng) < s.w->loss)
    return;
  auto latency = std::chrono::microseconds(std::uniform_int_distribution<int>(500, 2000)(s.rng));
  self->delayed_send(s.w->actors[to], latency, atom, s.index, s.holds ? s.hops : 0u,
                     std::move(bytes));
}

void flush_state(vnode self) {
  auto& s = self->state;
  for (auto& env : s.eng->take_outbox())
    transmit(self, state_msg_atom::value, index_of(env.to), replica::encode(env.msg));
  s.eng->take_changed();
  s.eng->take_rejections();
}

void after_swim(vnode self, std::vector<membership::swim_out> outs) {
  auto& s = self->state;
  for (auto& o : outs)
    if (!o.address.empty())
      transmit(self, swim_msg_atom::value, std::stoul(o.address.substr(1)),
               membership::encode(o.msg));
  auto changes = s.swim->take_changes();
  if (changes.empty())
    return;
  s.peers_dirty = true;
  s.w->live[s.index] = static_cast<uint32_t>(s.swim->live_peers());
  auto t = s.w->now_us();
  auto joiner = s.w->joiner, victim = s.w->victim;
  for (auto& c : changes) {
    auto who = static_cast<int64_t>(index_of(c.id));
    if (who == joiner && c.to == membership::member_state::alive)
      s.w->joiner_at[s.index] = t;
    if (who == victim && c.to == membership::member_state::suspect
        && s.w->first_suspicion < 0)
      s.w->first_suspicion = t;
    if (c.to == membership::member_state::dead) {
      if (who == victim)
        s.w->victim_at[s.index] = t;
      else
        s.w->false_deaths.emplace(c.id, c.incarnation);
    }
    if (c.to == membership::member_state::suspect && who != victim)
      s.w->false_suspicions.emplace(c.id, c.incarnation);
  }
}

void note_fresh(vnode self, uint32_t from_hops) {
  auto& s = self->state;
  if (s.holds || s.eng->map().find(fresh_key) == nullptr)
    return;
  s.holds = true;
  s.hops = from_hops + 1;
  s.w->got_hops[s.index] = s.hops;
  s.w->got_at[s.index] = s.w->now_us();
}

void tick(vnode self) {
  auto& s = self->state;
  if (s.down)
    return;
  after_swim(self, s.swim->tick());
  auto now = s.w->clock.steady_now();
  if (s.peers_dirty && now >= s.next_peers) {
    std::vector<std::string> peers;
    for (auto& m : s.swim->view())
      if (!m.self && m.state == membership::member_state::alive)
        peers.push_back(m.id);
    s.eng->set_peers(std::move(peers));
    s.peers_dirty = false;
    s.next_peers = now + peers_refresh;
  }
  if (now >= s.next_engine_tick) {
    s.eng->tick();
    s.next_engine_tick = now + engine_tick;
  }
  if (now >= s.next_sync) {
    s.next_sync = now + sync_interval;
    const auto& peers = s.eng->peers();
    if (!peers.empty())
      s.eng->start_exchange(peers[std::uniform_int_distribution<size_t>(0, peers.size() - 1)(s.rng)]);
  }
  flush_state(self);
  auto due = std::min(s.swim->next_due(), s.next_engine_tick);
  auto wait = std::chrono::duration_cast<std::chrono::milliseconds>(due - now);
  wait = std::clamp(wait, std::chrono::milliseconds(1), std::chrono::milliseconds(100));
  self->delayed_send(self, wait, vtick_atom::value);
}

caf::behavior virtual_node(vnode self, uint32_t index, std::shared_ptr<world> w) {
  auto& s = self->state;
  s.index = index;
  s.w = w;
  s.rng.seed(7919 * index + 17);
  s.swim = std::make_unique<membership::swim_node>(id_of(index), "a" + std::to_string(index),
                                                   membership::swim_params{}, w->clock, s.rng(),
                                                   1);
  replica::engine_params ep;
  ep.map.self = id_of(index);
  ep.window.timeout = std::chrono::seconds(30);
  ep.window.retries = 3;
  s.eng = std::make_unique<replica::engine>(ep, w->clock, s.rng());
  for (auto& e : w->common)
    s.eng->load(e);
  s.eng->take_outbox();
  s.eng->take_changed();
  auto now = w->clock.steady_now();
  s.next_engine_tick = now + engine_tick;
  s.next_sync = now + std::chrono::milliseconds(std::uniform_int_distribution<int>(0, 9999)(s.rng));
  return {
    [self](vjoin_atom, int64_t via) {
      auto& s = self->state;
      if (via >= 0)
        after_swim(self, s.swim->join("a" + std::to_string(via)));
      if (!s.running) {
        s.running = true;
        tick(self);
      }
    },
    [self](vtick_atom) { tick(self); },
    [self](swim_msg_atom, uint32_t, uint32_t, const std::string& bytes) {
      auto& s = self->state;
      if (s.down || !s.running)
        return;
      membership::peer_message m;
      std::string err;
      if (membership::decode(bytes, m, err))
        after_swim(self, s.swim->receive(m));
    },
    [self](state_msg_atom, uint32_t, uint32_t hops, const std::string& bytes) {
      auto& s = self->state;
      if (s.down || !s.running)
        return;
      replica::state_message m;
      if (!replica::decode(bytes, m).ok())
        return;
      s.eng->receive(m);
      note_fresh(self, hops);
      flush_state(self);
    },
    [self](write_atom) {
      auto& s = self->state;
      state_entry e;
      if (!s.eng->put(fresh_key, std::string(64, 'w'), e).ok())
        return;
      note_fresh(self, 0);
      s.hops = 0;
      s.w->got_hops[s.index] = 0;
      flush_state(self);
    },
    [self](crash_atom) { self->state.down = true; },
  };
}

struct case_result {
  bool complete = false;
  double settle_ms = -1, settled_share = 0;
  double idle_swim_b = 0, idle_state_b = 0;
  double w50 = -1, w99 = -1, w9999 = -1, w100 = -1;
  double write_hops = 0;
  double j50 = -1, j100 = -1;
  double detect = -1, d50 = -1, d100 = -1;
  double false_suspicions = 0, false_deaths = 0;
};

/// ms at which `share` of the first `count` nodes in `at` (µs, -1 =
/// never) but `skip` had reached it, counted from `from`.
double share_at(const std::vector<int64_t>& at, size_t count, int64_t from, double share,
                int64_t skip = -1) {
  std::vector<int64_t> t;
  size_t total = 0;
  for (size_t i = 0; i < count; ++i) {
    if (static_cast<int64_t>(i) == skip)
      continue;
    ++total;
    if (at[i] >= 0)
      t.push_back(std::max<int64_t>(0, at[i] - from));
  }
  return bench::at_share(std::move(t), total, share);
}

size_t count_set(const std::vector<int64_t>& at, size_t count, int64_t skip = -1) {
  size_t k = 0;
  for (size_t i = 0; i < count; ++i)
    if (static_cast<int64_t>(i) != skip && at[i] >= 0)
      ++k;
  return k;
}

/// Runs the actors until `done` (looked at every 10 ms of virtual time) or
/// for `limit` more; whether done.
template <class Pred>
bool run_for(world& w, coordinator& sched, std::chrono::microseconds limit, Pred done) {
  auto& clk = sched.clock();
  auto until = w.now_us() + limit.count();
  int64_t next_look = w.now_us();
  for (;;) {
    sched.run();
    if (w.now_us() >= next_look) {
      if (done())
        return true;
      next_look = w.now_us() + 10'000;
    }
    auto next = clk.has_pending_timeout() ? clk.schedule().begin()->first : clk.current_time;
    auto step = std::chrono::duration_cast<std::chrono::microseconds>(next - clk.current_time);
    if (!clk.has_pending_timeout() || w.now_us() + step.count() > until) {
      auto rest = std::chrono::microseconds(std::max<int64_t>(0, until - w.now_us()));
      w.clock.advance(rest);
      clk.advance_time(rest);
      sched.run();
      return done();
    }
    w.clock.advance(step);  // first: the messages it releases see the new time
    clk.advance_time(step);
  }
}

bool never() { return false; }

uint64_t sum(const std::vector<uint64_t>& v, size_t n) {
  uint64_t s = 0;
  for (size_t i = 0; i < n; ++i)
    s += v[i];
  return s;
}

case_result run_case(size_t n, double loss, uint64_t seed) {
  case_result r;
  auto w = std::make_shared<world>(n + 1);
  w->loss = loss;
  {
    replica::engine_params ep;
    ep.map.self = id_of(0);
    replica::engine seed_engine{ep, w->clock, seed};
    for (size_t k = 0; k < 100; ++k) {
      state_entry e;
      seed_engine.map().put("registry/key-" + std::to_string(k), std::string(64, 'v'), e);
      w->common.push_back(e);
    }
  }
  caf::actor_system_config cfg;
  cfg.set("scheduler.policy", caf::atom("testing"));
  cfg.set("logger.file-verbosity", caf::atom("quiet"));
  caf::actor_system sys{cfg};
  auto& sched = dynamic_cast<coordinator&>(sys.scheduler());
  for (uint32_t i = 0; i <= n; ++i)
    w->actors.push_back(sys.spawn(virtual_node, i, w));
  sched.run();
  std::mt19937_64 rng{seed};
  using us = std::chrono::microseconds;
  // -- settle
  w->start = w->clock.steady_now();
  caf::anon_send(w->actors[0], vjoin_atom::value, int64_t{-1});
  for (uint32_t i = 1; i < n; ++i) {
    run_for(*w, sched, us(1'000'000 * i / n - w->now_us()), never);
    caf::anon_send(w->actors[i], vjoin_atom::value, int64_t{0});
  }
  auto all_live = [&] {
    for (size_t i = 0; i < n; ++i)
      if (w->live[i] != n - 1)
        return false;
    return true;
  };
  if (run_for(*w, sched, us(120'000'000 - w->now_us()), all_live))
    r.settle_ms = static_cast<double>(w->now_us()) / 1000.0;
  double live = 0;
  for (size_t i = 0; i < n; ++i)
    live += std::min<double>(w->live[i], static_cast<double>(n - 1));
  r.settled_share = live / (static_cast<double>(n) * static_cast<double>(n - 1));
  // -- idle (the joins' gossip has died down by then at 0% loss)
  run_for(*w, sched, us(5'000'000), never);
  auto swim0 = sum(w->swim_bytes, n), state0 = sum(w->state_bytes, n);
  auto idle_from = w->now_us();
  run_for(*w, sched, us(10'000'000), never);
  auto idle_s = static_cast<double>(w->now_us() - idle_from) / 1e6;
  r.idle_swim_b = static_cast<double>(sum(w->swim_bytes, n) - swim0) / static_cast<double>(n) / idle_s;
  r.idle_state_b = static_cast<double>(sum(w->state_bytes, n) - state0) / static_cast<double>(n) / idle_s;
  // -- write
  auto write_at = w->now_us();
  caf::anon_send(w->actors[0], write_atom::value);
  bool written = run_for(*w, sched, us(60'000'000), [&] { return count_set(w->got_at, n) == n; });
  r.w50 = share_at(w->got_at, n, write_at, 0.5);
  r.w99 = share_at(w->got_at, n, write_at, 0.99);
  r.w9999 = share_at(w->got_at, n, write_at, 0.9999);
  r.w100 = share_at(w->got_at, n, write_at, 1.0);
  for (size_t i = 0; i < n; ++i)
    r.write_hops = std::max<double>(r.write_hops, w->got_hops[i]);
  // -- join
  auto joiner = static_cast<int64_t>(n);
  w->joiner = joiner;
  auto join_at = w->now_us();
  caf::anon_send(w->actors[n], vjoin_atom::value,
                 static_cast<int64_t>(std::uniform_int_distribution<size_t>(0, n - 1)(rng)));
  bool joined = run_for(*w, sched, us(60'000'000),
                        [&] { return count_set(w->joiner_at, n + 1, joiner) == n; });
  r.j50 = share_at(w->joiner_at, n + 1, join_at, 0.5, joiner);
  r.j100 = share_at(w->joiner_at, n + 1, join_at, 1.0, joiner);
  // -- crash
  auto victim = static_cast<int64_t>(std::uniform_int_distribution<size_t>(1, n - 1)(rng));
  w->victim = victim;
  auto crash_at = w->now_us();
  caf::anon_send(w->actors[victim], crash_atom::value);
  bool buried = run_for(*w, sched, us(60'000'000),
                        [&] { return count_set(w->victim_at, n + 1, victim) == n; });
  if (auto f = w->first_suspicion; f >= 0)
    r.detect = static_cast<double>(f - crash_at) / 1000.0;
  r.d50 = share_at(w->victim_at, n + 1, crash_at, 0.5, victim);
  r.d100 = share_at(w->victim_at, n + 1, crash_at, 1.0, victim);
  r.false_suspicions = static_cast<double>(w->false_suspicions.size());
  r.false_deaths = static_cast<double>(w->false_deaths.size());
  r.complete = written && joined && buried;
  // The actors read the directory until they are down; the handles go
  // before the system does.
  for (auto& a : w->actors)
    caf::anon_send_exit(a, caf::exit_reason::user_shutdown);
  sched.run();  // one thread: the exits run here
  w->actors.clear();
  return r;
}

int usage() {
  std::fprintf(stderr, "usage: bench_cluster_sim [--trials N] [--only N]\n");
  return 2;
}

} // namespace

int main(int argc, char** argv) {
  size_t trials = 3;
  size_t only = 0;
  if (!bench::parse_counts(argc, argv, {{"--trials", &trials}, {"--only", &only}}))
    return usage();
  bool all_complete = true;
  for (size_t n : {size_t{10}, size_t{100}, size_t{1000}}) {
    if (only != 0 && n != only)
      continue;
    for (double loss : {0.0, 0.3}) {
      std::vector<double> settle, share, swim_b, state_b, w50, w99, w9999, w100, wh, j50, j100,
        det, d50, d100, fs, fd;
      size_t incomplete = 0;
      for (size_t t = 0; t < trials; ++t) {
        auto r = run_case(n, loss, 1000 * t + n);
        if (!r.complete)
          ++incomplete;
        settle.push_back(r.settle_ms);
        share.push_back(r.settled_share);
        swim_b.push_back(r.idle_swim_b);
        state_b.push_back(r.idle_state_b);
        w50.push_back(r.w50);
        w99.push_back(r.w99);
        w9999.push_back(r.w9999);
        w100.push_back(r.w100);
        wh.push_back(r.write_hops);
        j50.push_back(r.j50);
        j100.push_back(r.j100);
        det.push_back(r.detect);
        d50.push_back(r.d50);
        d100.push_back(r.d100);
        fs.push_back(r.false_suspicions);
        fd.push_back(r.false_deaths);
      }
      using bench::median;
      auto bound = static_cast<int>(std::ceil(std::log(static_cast<double>(n)) / std::log(3.0)));
      std::printf("{\"bench\":\"cluster_sim\",\"n\":%zu,\"loss\":%.2f,\"trials\":%zu,"
                  "\"incomplete\":%zu,\"settle_ms\":%.0f,\"settled_share\":%.6f,"
                  "\"idle_membership_bytes_per_node_s\":%.0f,\"idle_state_bytes_per_node_s\":%.0f,"
                  "\"write_t50_ms\":%.1f,\"write_t99_ms\":%.1f,\"write_t9999_ms\":%.1f,"
                  "\"write_t100_ms\":%.1f,\"write_max_hops\":%.0f,\"log_bound_hops\":%d,"
                  "\"join_t50_ms\":%.0f,\"join_t100_ms\":%.0f,\"detect_ms\":%.0f,\"dead_t50_ms\":%.0f,"
                  "\"dead_t100_ms\":%.0f,\"false_suspicions\":%.0f,\"false_deaths\":%.0f%s}\n",
                  n, loss, trials, incomplete, median(settle), median(share), median(swim_b),
                  median(state_b), median(w50), median(w99), median(w9999), median(w100),
                  median(wh), bound, median(j50), median(j100), median(det), median(d50), median(d100),
                  median(fs), median(fd), n == 1000 ? ",\"serf_published_t9999_ms\":2200" : "");
      std::fflush(stdout);
      if (incomplete > 0)
        all_complete = false;
    }
  }
  return all_complete ? 0 : 1;
}
