// How SWIM membership (src/membership/swim.hpp) behaves in clusters of 10,
// 100 and 1,000 nodes, by simulation: N swim_node instances in one process
// on virtual time, every message encoded and decoded with the peer wire
// format (so the bytes counted are the protobuf bytes a node would send; no
// TCP/IP or frame headers), each lost with probability `loss` on its own
// and otherwise delivered after 0.5-2 ms. Discrete-event and single
// threaded, deterministic per seed (as bench_gossip_sim).
//
// Parameters: memberlist's LAN defaults, which Serf uses (probe every 1 s,
// probe timeout 500 ms, 3 indirect probes, gossip to 3 every 200 ms,
// retransmit ×4, suspicion ×4, push-pull every 30 s).
//
// Phases of one run:
//   settle  every node joins through node 0 (staggered over the first
//           second); settled when every node lists every other as a live
//           member; then up to 60 s more until no node has anything left to
//           disseminate (drain). A cluster that has not settled within
//           120 s goes on to the next phases all the same, with the share
//           of (node, member) pairs listed live at that moment reported
//           (at 1,000 nodes and 30% loss, false suspicions and their
//           refutations never all stop at once)
//   idle    30 s of a settled cluster: bytes and messages per node per
//           second, and any suspicion or death of a live node
//   join    one more node joins through a random member: when each node
//           lists it alive, and through how many hops
//   crash   a random member stops answering (all its messages lost): when
//           the first node suspects it, when each live node lists it dead,
//           and how many hops the suspicion travelled
//
//   bench_membership_sim [--trials N] [--only N]
//
// One JSON object per line (one per case: N × loss), medians over the
// trials; exit status 1 if a join or a crash did not reach every node
// within its horizon.

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <functional>
#include <map>
#include <memory>
#include <queue>
#include <random>
#include <set>
#include <string>
#include <vector>

#include "bench_args.hpp"
#include "faultd/time.hpp"
#include "membership/swim.hpp"
#include "membership/wire.hpp"

using namespace faultd;
using namespace faultd::membership;
using std::chrono::microseconds;

namespace {

constexpr int64_t lat_min_us = 500;
constexpr int64_t lat_max_us = 2000;
constexpr int64_t observe_every_us = 100'000;

struct case_params {
  size_t n = 10;
  double loss = 0;
  uint64_t seed = 1;
};

struct case_result {
  bool complete = false;
  double settle_ms = -1;          ///< -1: not within 120 s
  double settled_share = 0;       ///< live (node, member) pairs when the settle phase ended
  double drain_ms = -1;  ///< when no node had anything left to disseminate (-1: never within 60 s)
  double idle_bytes_per_node_s = 0;
  double idle_msgs_per_node_s = 0;
  double join_t50 = -1, join_t99 = -1, join_t9999 = -1, join_t100 = -1;
  uint32_t join_hops = 0;
  double detect_ms = -1;
  double dead_t50 = -1, dead_t99 = -1, dead_t100 = -1;
  uint32_t suspect_hops = 0;
  size_t false_suspicions = 0;  ///< of live nodes, during settle and idle: (node, incarnation)
  size_t false_deaths = 0;      ///< the same for deaths
};

struct event {
  int64_t at_us = 0;
  uint64_t seq = 0;
  enum kind_t { tick, message, observe, timer } kind = tick;
  uint32_t to = 0;
  uint32_t from = 0;
  std::string bytes;
};

struct later {
  bool operator()(const event& a, const event& b) const {
    return a.at_us != b.at_us ? a.at_us > b.at_us : a.seq > b.seq;
  }
};

std::string name_of(size_t i) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "n%04zu", i);
  return buf;
}

class simulation {
public:
  explicit simulation(const case_params& p) : p_(p), rng_(p.seed) {
    // One more node than n: the one that joins later.
    for (size_t i = 0; i <= p.n; ++i) {
      nodes_.push_back(std::make_unique<swim_node>(name_of(i), "a" + std::to_string(i),
                                                   swim_params{}, clock_, p.seed * 7919 + i));
    }
    scheduled_.assign(p.n + 1, -1);
    bytes_.assign(p.n + 1, 0);
    msgs_.assign(p.n + 1, 0);
    active_.assign(p.n + 1, false);
    down_.assign(p.n + 1, false);
  }

  case_result run() {
    case_result r;
    // -- settle
    active_[0] = true;
    schedule(0);
    for (uint32_t i = 1; i < p_.n; ++i) {
      at(static_cast<int64_t>(i) * 1'000'000 / static_cast<int64_t>(p_.n), [this, i] {
        active_[i] = true;
        send_all(i, nodes_[i]->join("a0"));
        schedule(i);
      });
    }
    int64_t settled = -1;
    observer_ = [&] {
      if (settled < 0 && all_known())
        settled = now_us_;
      count_false();
      return settled >= 0;
    };
    run_until(now_us_ + 120'000'000);
    r.settle_ms = settled >= 0 ? static_cast<double>(settled) / 1000.0 : -1;
    r.settled_share = live_share();
    // What the joins left to disseminate drains before the idle phase (at
    // loss, suspicions and their refutations keep some traffic going).
    int64_t drained = -1;
    observer_ = [&] {
      count_false();
      if (drained < 0 && all_drained())
        drained = now_us_;
      return drained >= 0;
    };
    run_until(now_us_ + 60'000'000);
    r.drain_ms = drained >= 0 ? static_cast<double>(drained) / 1000.0 : -1;
    // -- idle
    auto bytes0 = total(bytes_), msgs0 = total(msgs_);
    int64_t idle_start = now_us_;
    int64_t idle_end = now_us_ + 30'000'000;
    observer_ = [&] {
      count_false();
      return now_us_ >= idle_end;
    };
    run_until(idle_end + observe_every_us);
    auto idle_s = static_cast<double>(now_us_ - idle_start) / 1e6;
    r.idle_bytes_per_node_s = static_cast<double>(total(bytes_) - bytes0) / static_cast<double>(p_.n) / idle_s;
    r.idle_msgs_per_node_s = static_cast<double>(total(msgs_) - msgs0) / static_cast<double>(p_.n) / idle_s;
    r.false_suspicions = false_suspicions_.size();
    r.false_deaths = false_deaths_.size();
    // -- join
    auto joiner = static_cast<uint32_t>(p_.n);
    auto via = std::uniform_int_distribution<size_t>(0, p_.n - 1)(rng_);
    int64_t join_at = now_us_;
    track_ = joiner;
    track_dead_ = false;
    learned_at_.assign(p_.n + 1, -1);
    hops_.assign(p_.n + 1, 0);
    learned_at_[joiner] = join_at;
    active_[joiner] = true;
    send_all(joiner, nodes_[joiner]->join("a" + std::to_string(via)));
    schedule(joiner);
    observer_ = [&] { return count_learned() == p_.n + 1; };
    bool joined = run_until(join_at + 60'000'000);
    std::vector<int64_t> times;
    for (size_t i = 0; i <= p_.n; ++i)
      if (learned_at_[i] >= 0)
        times.push_back(learned_at_[i] - join_at);
    r.join_t50 = bench::at_share(times, p_.n + 1, 0.5);
    r.join_t99 = bench::at_share(times, p_.n + 1, 0.99);
    r.join_t9999 = bench::at_share(times, p_.n + 1, 0.9999);
    r.join_t100 = bench::at_share(times, p_.n + 1, 1.0);
    for (auto h : hops_)
      r.join_hops = std::max(r.join_hops, h);
    // -- crash
    // A member no node suspects now (at loss, suspicions come and go): the
    // detection measured is of the crash, not of an earlier false alarm.
    auto victim = static_cast<uint32_t>(std::uniform_int_distribution<size_t>(1, p_.n - 1)(rng_));
    for (size_t tries = 0; tries < p_.n && !alive_everywhere(victim); ++tries)
      victim = victim % static_cast<uint32_t>(p_.n - 1) + 1;
    int64_t crash_at = now_us_;
    down_[victim] = true;
    track_ = victim;
    track_dead_ = true;
    suspected_at_.assign(p_.n + 1, -1);
    learned_at_.assign(p_.n + 1, -1);
    hops_.assign(p_.n + 1, 0);
    observer_ = [&] { return count_learned() == p_.n; };  // every live node
    bool buried = run_until(crash_at + 120'000'000);
    int64_t first = -1;
    times.clear();
    for (size_t i = 0; i <= p_.n; ++i) {
      if (i == victim)
        continue;
      if (suspected_at_[i] >= 0 && (first < 0 || suspected_at_[i] < first))
        first = suspected_at_[i];
      if (learned_at_[i] >= 0)
        times.push_back(learned_at_[i] - crash_at);
    }
    r.detect_ms = first >= 0 ? static_cast<double>(first - crash_at) / 1000.0 : -1;
    r.dead_t50 = bench::at_share(times, p_.n, 0.5);
    r.dead_t99 = bench::at_share(times, p_.n, 0.99);
    r.dead_t100 = bench::at_share(times, p_.n, 1.0);
    for (auto h : hops_)
      r.suspect_hops = std::max(r.suspect_hops, h);
    r.complete = joined && buried;
    return r;
  }

private:
  static int64_t us(std::chrono::steady_clock::duration d) {
    return std::chrono::duration_cast<microseconds>(d).count();
  }

  template <class F>
  void at(int64_t when, F f) {
    timers_.emplace(when, std::function<void()>(std::move(f)));
    event e;
    e.at_us = when;
    e.kind = event::timer;
    push(std::move(e));
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

  void schedule(uint32_t i) {
    if (!active_[i] || down_[i])
      return;
    auto due = now_us_ + std::max<int64_t>(1, us(nodes_[i]->next_due() - clock_.steady_now()));
    if (scheduled_[i] >= 0 && scheduled_[i] <= due && scheduled_[i] > now_us_)
      return;  // an earlier tick is already queued
    scheduled_[i] = due;
    event e;
    e.at_us = due;
    e.kind = event::tick;
    e.to = i;
    push(std::move(e));
  }

  void send_all(uint32_t from, std::vector<swim_out> outs) {
    for (auto& o : outs) {
      auto bytes = encode(o.msg);
      bytes_[from] += bytes.size();
      ++msgs_[from];
      if (p_.loss > 0 && std::uniform_real_distribution<double>(0, 1)(rng_) < p_.loss)
        continue;
      auto to = std::stoul(o.address.substr(1));
      event e;
      e.at_us = now_us_ + std::uniform_int_distribution<int64_t>(lat_min_us, lat_max_us)(rng_);
      e.kind = event::message;
      e.to = static_cast<uint32_t>(to);
      e.from = from;
      e.bytes = std::move(bytes);
      push(std::move(e));
    }
  }

  /// What node `i` knows of the tracked node: learned (alive for a join,
  /// dead for a crash) and suspected.
  void note(uint32_t i, int64_t hops_from) {
    if (track_ < 0 || static_cast<uint32_t>(track_) == i)
      return;
    auto rec = nodes_[i]->find(name_of(static_cast<size_t>(track_)));
    if (!rec)
      return;
    if (track_dead_ && suspected_at_[i] < 0 && rec->state != member_state::alive) {
      suspected_at_[i] = now_us_;
      hops_[i] = hops_from < 0 ? 0 : static_cast<uint32_t>(hops_from) + 1;
    }
    bool learned = track_dead_ ? rec->state == member_state::dead : rec->state == member_state::alive;
    if (learned && learned_at_[i] < 0) {
      learned_at_[i] = now_us_;
      if (!track_dead_)
        hops_[i] = hops_from < 0 ? 0 : static_cast<uint32_t>(hops_from) + 1;
    }
  }

  int64_t hops_of(uint32_t i) const {
    if (track_ < 0)
      return -1;
    if (track_dead_)
      return suspected_at_[i] >= 0 ? hops_[i] : -1;
    return learned_at_[i] >= 0 ? hops_[i] : -1;
  }

  /// Runs events until the observer says done or `horizon`; false at the horizon.
  bool run_until(int64_t horizon) {
    event tick_observe;
    tick_observe.at_us = (now_us_ / observe_every_us + 1) * observe_every_us;
    tick_observe.kind = event::observe;
    push(tick_observe);
    while (!queue_.empty()) {
      auto ev = queue_.top();
      if (ev.at_us > horizon)
        return false;
      queue_.pop();
      advance_to(ev.at_us);
      switch (ev.kind) {
        case event::timer: {
          for (auto it = timers_.begin(); it != timers_.end() && it->first <= now_us_;) {
            auto f = std::move(it->second);
            it = timers_.erase(it);
            f();
          }
          break;
        }
        case event::observe: {
          if (ev.at_us < observed_until_)
            break;  // one left from an earlier phase
          observed_until_ = ev.at_us + 1;
          if (observer_ && observer_())
            return true;
          ev.at_us += observe_every_us;
          push(ev);
          break;
        }
        case event::tick: {
          if (scheduled_[ev.to] != ev.at_us || down_[ev.to])
            break;  // superseded
          scheduled_[ev.to] = -1;
          send_all(ev.to, nodes_[ev.to]->tick());
          note(ev.to, -1);
          schedule(ev.to);
          break;
        }
        case event::message: {
          if (down_[ev.to] || !active_[ev.to] || down_[ev.from])
            break;
          peer_message m;
          std::string error;
          if (!decode(ev.bytes, m, error)) {
            std::fprintf(stderr, "bench_membership_sim: a message did not decode: %s\n",
                         error.c_str());
            std::exit(1);
          }
          send_all(ev.to, nodes_[ev.to]->receive(m));
          note(ev.to, hops_of(ev.from));
          schedule(ev.to);
          break;
        }
      }
    }
    return false;
  }

  /// Every node lists every other as a live member (alive or suspect).
  bool all_known() const {
    for (size_t i = 0; i < p_.n; ++i)
      if (nodes_[i]->live_peers() != p_.n - 1)
        return false;
    return true;
  }

  /// Share of (node, other node) pairs listed live (alive or suspect).
  double live_share() const {
    double live = 0;
    for (size_t i = 0; i < p_.n; ++i)
      live += static_cast<double>(std::min(nodes_[i]->live_peers(), p_.n - 1));
    return live / (static_cast<double>(p_.n) * static_cast<double>(p_.n - 1));
  }

  /// Every other node lists `v` alive.
  bool alive_everywhere(uint32_t v) const {
    for (size_t i = 0; i <= p_.n; ++i) {
      if (i == v)
        continue;
      auto rec = nodes_[i]->find(name_of(v));
      if (!rec || rec->state != member_state::alive)
        return false;
    }
    return true;
  }

  /// No node has anything left to disseminate.
  bool all_drained() const {
    for (size_t i = 0; i < p_.n; ++i)
      if (nodes_[i]->queued() != 0)
        return false;
    return true;
  }

  /// Suspicions and deaths of live nodes (every node is live before the
  /// crash), each (member, incarnation) counted once however many nodes
  /// adopted it.
  void count_false() {
    for (size_t i = 0; i < p_.n; ++i)
      for (auto& c : nodes_[i]->take_changes()) {
        if (c.to == member_state::suspect)
          false_suspicions_.emplace(c.id, c.incarnation);
        if (c.to == member_state::dead)
          false_deaths_.emplace(c.id, c.incarnation);
      }
  }

  size_t count_learned() const {
    size_t k = 0;
    for (size_t i = 0; i <= p_.n; ++i)
      if (learned_at_[i] >= 0 && !down_[i])
        ++k;
    return k;
  }

  static uint64_t total(const std::vector<uint64_t>& v) {
    uint64_t s = 0;
    for (auto x : v)
      s += x;
    return s;
  }

  case_params p_;
  std::mt19937_64 rng_;
  manual_clock clock_;
  int64_t now_us_ = 0;
  int64_t observed_until_ = 0;
  uint64_t seq_ = 0;
  std::vector<std::unique_ptr<swim_node>> nodes_;
  std::priority_queue<event, std::vector<event>, later> queue_;
  std::multimap<int64_t, std::function<void()>> timers_;
  std::function<bool()> observer_;
  std::vector<int64_t> scheduled_;
  std::vector<uint64_t> bytes_;
  std::vector<uint64_t> msgs_;
  std::vector<bool> active_;
  std::vector<bool> down_;
  int64_t track_ = -1;
  bool track_dead_ = false;
  std::vector<int64_t> learned_at_;
  std::vector<int64_t> suspected_at_;
  std::vector<uint32_t> hops_;
  std::set<std::pair<std::string, uint64_t>> false_suspicions_;
  std::set<std::pair<std::string, uint64_t>> false_deaths_;
};

int usage() {
  std::fprintf(stderr, "usage: bench_membership_sim [--trials N] [--only N]\n");
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
      std::vector<double> settle, share, drain, idle_b, idle_m, j50, j99, j9999, j100, jh, det, d50, d99, d100,
        sh, fs, fd;
      size_t incomplete = 0;
      for (size_t t = 0; t < trials; ++t) {
        case_params p;
        p.n = n;
        p.loss = loss;
        p.seed = 1000 * t + n;
        auto r = simulation{p}.run();
        if (!r.complete)
          ++incomplete;
        settle.push_back(r.settle_ms);
        share.push_back(r.settled_share);
        drain.push_back(r.drain_ms);
        idle_b.push_back(r.idle_bytes_per_node_s);
        idle_m.push_back(r.idle_msgs_per_node_s);
        j50.push_back(r.join_t50);
        j99.push_back(r.join_t99);
        j9999.push_back(r.join_t9999);
        j100.push_back(r.join_t100);
        jh.push_back(r.join_hops);
        det.push_back(r.detect_ms);
        d50.push_back(r.dead_t50);
        d99.push_back(r.dead_t99);
        d100.push_back(r.dead_t100);
        sh.push_back(r.suspect_hops);
        fs.push_back(static_cast<double>(r.false_suspicions));
        fd.push_back(static_cast<double>(r.false_deaths));
      }
      auto bound = static_cast<int>(std::ceil(std::log(static_cast<double>(n)) / std::log(3.0)));
      std::printf("{\"bench\":\"membership_sim\",\"n\":%zu,\"loss\":%.2f,\"trials\":%zu,"
                  "\"incomplete\":%zu,\"settle_ms\":%.0f,\"settled_share\":%.6f,\"drain_ms\":%.0f,\"idle_bytes_per_node_s\":%.0f,"
                  "\"idle_msgs_per_node_s\":%.2f,\"join_t50_ms\":%.0f,\"join_t99_ms\":%.0f,"
                  "\"join_t9999_ms\":%.0f,\"join_t100_ms\":%.0f,\"join_max_hops\":%.0f,"
                  "\"log_bound_hops\":%d,\"detect_ms\":%.0f,\"dead_t50_ms\":%.0f,"
                  "\"dead_t99_ms\":%.0f,\"dead_t100_ms\":%.0f,\"suspect_max_hops\":%.0f,"
                  "\"false_suspicions\":%.0f,\"false_deaths\":%.0f%s}\n",
                  n, loss, trials, incomplete, bench::median(settle), bench::median(share), bench::median(drain), bench::median(idle_b),
                  bench::median(idle_m),
                  bench::median(j50), bench::median(j99), bench::median(j9999), bench::median(j100), bench::median(jh), bound,
                  bench::median(det), bench::median(d50), bench::median(d99), bench::median(d100), bench::median(sh), bench::median(fs),
                  bench::median(fd), n == 1000 ? ",\"serf_published_t9999_ms\":2200" : "");
      std::fflush(stdout);
      if (incomplete > 0)
        all_complete = false;
    }
  }
  return all_complete ? 0 : 1;
}
