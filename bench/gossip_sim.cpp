// How a write to the replicated map spreads through a large cluster, by
// simulation: N virtual nodes in one process, each running the replication
// engine the state-sync actor runs (replica::engine: push gossip with
// relays, digest anti-entropy, send windows), over a simulated network with
// latency and loss. Every message goes through the wire encoding, so the
// bytes counted are the bytes a node would send (the protobuf message; no
// TCP/IP headers, no frame header).
//
// The simulation is discrete-event on virtual time, in one thread: a
// thousand nodes on a 2-core machine would otherwise measure the scheduler,
// not the protocol, and the figures would change from run to run. The
// engines see the virtual time through their clock (the one clock_source
// the actor gives them in production), so timers, retries and versions
// behave as in a node. What the simulation leaves out: the membership layer
// (every node lists every other alive, as after a settled join) and the
// sqlite commit (the actor commits before it acknowledges; see bench_state
// for the real three-process figure).
//
// Each node, as the actor does: a tick every 100ms (resends of chunks not
// acknowledged after `timeout`), one anti-entropy exchange with a random
// peer every `sync_interval` (random phase). Each node holds the same
// `--keys` keys before the write, so digests have something to compare.
// After 3 exchange rounds of warm-up, one node writes a fresh key; the run
// records when each node first holds it and through how many hops (a hop is
// one message, push or anti-entropy), and stops when all hold it or at the
// horizon (60 sync intervals, at least 60s of virtual time).
//
// The network: every message is lost with probability `loss` (each one on
// its own, as UDP; a lost chunk is resent by its window, a lost digest or
// want waits for the next exchange) and otherwise arrives after a latency
// drawn uniformly from [0.5ms, 2ms]. Messages between two nodes may
// overtake each other.
//
// Cases: N = 10, 100, 1000 at 0% and 30% loss, each with faultd's default
// sync_interval (10s) and with 200ms (Serf's gossip interval, to compare
// with Serf's published convergence model: about 2.2s to reach 99.99% of
// 1,000 nodes with fanout 3 and 200ms rounds). Fanout 3 in every case.
// Per case, the median over the trials (different seeds) of:
//   t50_ms, t99_ms, t9999_ms, t100_ms  virtual time from the write until
//                        that share of the nodes holds it (t9999 of 10 or
//                        100 nodes is every node)
//   reached             nodes holding it at the end (of n)
//   max_hops            the longest chain of messages that carried it
//   log_bound_hops      ceil(log_fanout(n)): the rounds a push epidemic
//                        needs at best
//   via_push            nodes that got it from push gossip (the others, from
//                        anti-entropy)
//   idle_bytes_per_node_s     sent per node per second before the write
//                             (anti-entropy alone)
//   spread_bytes_per_node     sent per node from the write until every node
//                             holds it, beyond the idle rate
//
//   bench_gossip_sim [--trials N] [--only N] [--keys K]
//
// Prints one JSON object per line (one per case); exit status 1 if a case
// did not reach every node within its horizon.

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <queue>
#include <random>
#include <string>
#include <unordered_map>
#include <vector>

#include "bench_args.hpp"
#include "faultd/time.hpp"
#include "replica/engine.hpp"

using namespace faultd;
using namespace faultd::replica;
using std::chrono::microseconds;
using std::chrono::milliseconds;

namespace {

constexpr auto tick_every = milliseconds(100);
constexpr int64_t lat_min_us = 500;
constexpr int64_t lat_max_us = 2000;

struct case_params {
  size_t n = 10;
  double loss = 0;
  milliseconds sync_interval{10000};
  uint32_t fanout = 3;
  size_t keys = 100;
  uint64_t seed = 1;
};

struct case_result {
  bool complete = false;
  double t50 = 0, t99 = 0, t9999 = 0, t100 = 0;
  size_t reached = 0;
  uint32_t max_hops = 0;
  size_t via_push = 0;
  double idle_bytes_per_node_s = 0;
  double spread_bytes_per_node = 0;
};

struct event {
  int64_t at_us = 0;
  uint64_t seq = 0;
  bool tick = false;
  uint32_t to = 0;
  uint32_t from = 0;
  std::string bytes;
};

struct later {
  bool operator()(const event& a, const event& b) const {
    return a.at_us != b.at_us ? a.at_us > b.at_us : a.seq > b.seq;
  }
};

class simulation {
public:
  explicit simulation(const case_params& p) : p_(p), rng_(p.seed) {
    std::vector<std::string> ids;
    for (size_t i = 0; i < p.n; ++i) {
      char buf[32];
      std::snprintf(buf, sizeof buf, "n%04zu", i);
      ids.emplace_back(buf);
      index_[ids.back()] = static_cast<uint32_t>(i);
      ids_.push_back(ids.back());
    }
    engine_params ep;
    ep.fanout = p.fanout;
    // The defaults of state_sync (include/faultd/config.hpp).
    ep.max_message_size = 1 << 20;
    ep.window.timeout = std::chrono::seconds(30);
    ep.window.retries = 3;
    // Every node starts with the same keys, written by node 0.
    std::vector<state_entry> common;
    {
      ep.map.self = ids[0];
      engine seed_engine{ep, clock_, p.seed};
      for (size_t k = 0; k < p.keys; ++k) {
        state_entry e;
        seed_engine.map().put("registry/key-" + std::to_string(k), std::string(64, 'v'), e);
        common.push_back(e);
      }
    }
    for (size_t i = 0; i < p.n; ++i) {
      auto q = ep;
      q.map.self = ids[i];
      nodes_.push_back(std::make_unique<engine>(q, clock_, p.seed * 7919 + i));
      nodes_.back()->set_peers(ids);
      for (auto& e : common)
        nodes_.back()->load(e);
      nodes_.back()->take_outbox();
      nodes_.back()->take_changed();
    }
    next_sync_.resize(p.n);
    got_at_.assign(p.n, -1);
    hops_.assign(p.n, 0);
    pushed_.assign(p.n, false);
    bytes_.assign(p.n, 0);
    auto interval_us = us(p.sync_interval);
    for (uint32_t i = 0; i < p.n; ++i) {
      next_sync_[i] = std::uniform_int_distribution<int64_t>(0, interval_us - 1)(rng_);
      event t;
      t.at_us = std::uniform_int_distribution<int64_t>(0, us(tick_every) - 1)(rng_);
      t.tick = true;
      t.to = i;
      push(std::move(t));
    }
  }

  case_result run() {
    case_result r;
    auto interval_us = us(p_.sync_interval);
    int64_t write_at = 3 * interval_us;
    int64_t horizon = write_at + std::max<int64_t>(60 * interval_us, 60'000'000);
    bool written = false;
    uint64_t idle_bytes = 0;
    size_t reached = 0;
    int64_t done_at = -1;
    uint64_t bytes_at_write = 0;
    uint64_t bytes_at_done = 0;
    std::vector<int64_t> times;
    while (!queue_.empty()) {
      if (!written && queue_.top().at_us >= write_at) {
        advance_to(write_at);
        idle_bytes = total_bytes();
        bytes_at_write = idle_bytes;
        state_entry e;
        nodes_[0]->put("sim/fresh", std::string(64, 'w'), e);
        got_at_[0] = write_at;
        ++reached;
        times.push_back(0);
        drain(0);
        written = true;
      }
      auto ev = queue_.top();
      queue_.pop();
      if (ev.at_us > horizon)
        break;
      advance_to(ev.at_us);
      auto& node = *nodes_[ev.to];
      if (ev.tick) {
        node.tick();
        if (now_us_ >= next_sync_[ev.to]) {
          next_sync_[ev.to] = now_us_ + interval_us;
          auto peer = std::uniform_int_distribution<size_t>(0, p_.n - 2)(rng_);
          if (peer >= ev.to)
            ++peer;
          node.start_exchange(ids_[peer]);
        }
        ev.at_us += us(tick_every);
        push(std::move(ev));
      } else {
        state_message m;
        if (!decode(ev.bytes, m).ok()) {
          std::fprintf(stderr, "bench_gossip_sim: a message did not decode\n");
          std::exit(1);
        }
        node.receive(m);
        if (written && got_at_[ev.to] < 0 && node.map().find("sim/fresh") != nullptr) {
          got_at_[ev.to] = now_us_;
          hops_[ev.to] = hops_[ev.from] + 1;
          pushed_[ev.to] = m.kind == msg_kind::push;
          times.push_back(now_us_ - write_at);
          if (++reached == p_.n) {
            done_at = now_us_;
            bytes_at_done = total_bytes();
          }
        }
      }
      drain(ev.to);
      if (done_at >= 0)
        break;
    }
    auto at_share = [&](double share) { return bench::at_share(times, p_.n, share); };
    r.complete = done_at >= 0;
    r.reached = reached;
    r.t50 = at_share(0.5);
    r.t99 = at_share(0.99);
    r.t9999 = at_share(0.9999);
    r.t100 = at_share(1.0);
    for (size_t i = 0; i < p_.n; ++i) {
      r.max_hops = std::max(r.max_hops, hops_[i]);
      if (pushed_[i])
        ++r.via_push;
    }
    auto idle_s = static_cast<double>(write_at) / 1e6;
    r.idle_bytes_per_node_s = static_cast<double>(idle_bytes) / static_cast<double>(p_.n) / idle_s;
    if (r.complete) {
      auto spread_s = static_cast<double>(done_at - write_at) / 1e6;
      auto extra = static_cast<double>(bytes_at_done - bytes_at_write)
                   - r.idle_bytes_per_node_s * static_cast<double>(p_.n) * spread_s;
      r.spread_bytes_per_node = std::max(0.0, extra) / static_cast<double>(p_.n);
    }
    return r;
  }

private:
  static int64_t us(std::chrono::steady_clock::duration d) {
    return std::chrono::duration_cast<microseconds>(d).count();
  }

  void push(event e) {
    e.seq = seq_++;
    queue_.push(std::move(e));
  }

  void advance_to(int64_t t) {
    if (t > now_us_) {
      clock_.advance(microseconds(t - now_us_));
      now_us_ = t;
    }
  }

  uint64_t total_bytes() const {
    uint64_t sum = 0;
    for (auto b : bytes_)
      sum += b;
    return sum;
  }

  void drain(uint32_t from) {
    auto& node = *nodes_[from];
    node.take_changed();
    node.take_rejections();
    for (auto& env : node.take_outbox()) {
      auto bytes = encode(env.msg);
      bytes_[from] += bytes.size();
      if (p_.loss > 0 && std::uniform_real_distribution<double>(0, 1)(rng_) < p_.loss)
        continue;
      event e;
      e.at_us = now_us_ + std::uniform_int_distribution<int64_t>(lat_min_us, lat_max_us)(rng_);
      e.to = index_.at(env.to);
      e.from = from;
      e.bytes = std::move(bytes);
      push(std::move(e));
    }
  }

  case_params p_;
  std::mt19937_64 rng_;
  manual_clock clock_;
  int64_t now_us_ = 0;
  uint64_t seq_ = 0;
  std::vector<std::unique_ptr<engine>> nodes_;
  std::vector<std::string> ids_;
  std::unordered_map<std::string, uint32_t> index_;
  std::priority_queue<event, std::vector<event>, later> queue_;
  std::vector<int64_t> next_sync_;
  std::vector<int64_t> got_at_;
  std::vector<uint32_t> hops_;
  std::vector<bool> pushed_;
  std::vector<uint64_t> bytes_;
};

int usage() {
  std::fprintf(stderr, "usage: bench_gossip_sim [--trials N] [--only N] [--keys K]\n");
  return 2;
}

} // namespace

int main(int argc, char** argv) {
  size_t trials = 5;
  size_t only = 0;
  size_t keys = 100;
  if (!bench::parse_counts(argc, argv,
                           {{"--trials", &trials}, {"--only", &only}, {"--keys", &keys}}))
    return usage();
  bool all_complete = true;
  for (size_t n : {size_t{10}, size_t{100}, size_t{1000}}) {
    if (only != 0 && n != only)
      continue;
    for (auto interval : {milliseconds(10000), milliseconds(200)}) {
      for (double loss : {0.0, 0.3}) {
        std::vector<double> t50, t99, t9999, t100, reached, hops, via_push, idle, spread;
        size_t incomplete = 0;
        for (size_t t = 0; t < trials; ++t) {
          case_params p;
          p.n = n;
          p.loss = loss;
          p.sync_interval = interval;
          p.keys = keys;
          p.seed = 1000 * t + n;
          auto r = simulation{p}.run();
          if (!r.complete)
            ++incomplete;
          t50.push_back(r.t50);
          t99.push_back(r.t99);
          t9999.push_back(r.t9999);
          t100.push_back(r.t100);
          reached.push_back(static_cast<double>(r.reached));
          hops.push_back(r.max_hops);
          via_push.push_back(static_cast<double>(r.via_push));
          idle.push_back(r.idle_bytes_per_node_s);
          spread.push_back(r.spread_bytes_per_node);
        }
        auto bound = static_cast<int>(std::ceil(std::log(static_cast<double>(n)) / std::log(3.0)));
        std::printf("{\"bench\":\"gossip_sim\",\"n\":%zu,\"loss\":%.2f,\"sync_interval_ms\":%lld,"
                    "\"fanout\":3,\"keys\":%zu,\"trials\":%zu,\"incomplete\":%zu,"
                    "\"t50_ms\":%.1f,\"t99_ms\":%.1f,\"t9999_ms\":%.1f,\"t100_ms\":%.1f,"
                    "\"reached\":%.0f,\"max_hops\":%.0f,\"log_bound_hops\":%d,\"via_push\":%.0f,"
                    "\"idle_bytes_per_node_s\":%.0f,\"spread_bytes_per_node\":%.0f%s}\n",
                    n, loss, static_cast<long long>(interval.count()), keys, trials, incomplete,
                    bench::median(t50), bench::median(t99), bench::median(t9999), bench::median(t100), bench::median(reached),
                    bench::median(hops), bound, bench::median(via_push), bench::median(idle), bench::median(spread),
                    n == 1000 && interval == milliseconds(200)
                        ? ",\"serf_published_t9999_ms\":2200" : "");
        std::fflush(stdout);
        if (incomplete > 0)
          all_complete = false;
      }
    }
  }
  return all_complete ? 0 : 1;
}
