#include "membership/swim.hpp"

#include <algorithm>
#include <cmath>
#include <limits>

namespace faultd::membership {

namespace {

bool gone(member_state s) { return s == member_state::dead || s == member_state::left; }

} // namespace

swim_node::swim_node(std::string id, std::string address, swim_params params,
                     const clock_source& clock, uint64_t seed, uint64_t incarnation)
  : id_(std::move(id)),
    address_(std::move(address)),
    params_(params),
    clock_(&clock),
    rng_(seed),
    incarnation_(incarnation) {
  auto t = now();
  // Random phases, so a cluster started at once does not probe in lockstep.
  auto phase = [&](duration d) {
    auto n = std::max<int64_t>(1, d.count());
    return duration{static_cast<int64_t>(rng_() % static_cast<uint64_t>(n))};
  };
  next_probe_ = t + phase(params_.probe_interval);
  next_gossip_ = t + phase(params_.gossip_interval);
  next_push_pull_ = t + phase(params_.push_pull_interval);
  next_knock_ = t + phase(params_.reconnect_interval);
}

size_t swim_node::retransmit_limit() const {
  auto n = static_cast<double>(cluster_size());
  return params_.retransmit_mult * static_cast<size_t>(std::ceil(std::log10(n + 1)));
}

duration swim_node::suspicion_timeout() const {
  auto scale = std::max(1.0, std::log10(static_cast<double>(cluster_size())));
  return std::chrono::duration_cast<duration>(params_.probe_interval
                                              * (static_cast<double>(params_.suspicion_mult) * scale));
}

duration swim_node::suspicion_timeout(const member& m) const {
  auto min_t = suspicion_timeout();
  auto max_t = min_t * static_cast<int64_t>(std::max<size_t>(1, params_.suspicion_max_mult));
  auto k = static_cast<double>(params_.suspicion_mult > 2 ? params_.suspicion_mult - 2 : 1);
  auto c = static_cast<double>(m.confirmers.empty() ? 0 : m.confirmers.size() - 1);
  if (c >= k)
    return min_t;
  auto frac = std::log(c + 1) / std::log(k + 1);
  auto t = max_t - std::chrono::duration_cast<duration>((max_t - min_t) * frac);
  return std::max(min_t, t);
}

void swim_node::confirm(member& m, const std::string& by) {
  // Only members count (and only as many as shorten the suspicion fully):
  // made-up names neither grow the set nor bury anyone sooner.
  if (by.empty() || m.rec.state != member_state::suspect
      || m.confirmers.size() > params_.suspicion_mult
      || (by != id_ && live_pos_.count(by) == 0) || !m.confirmers.insert(by).second)
    return;
  reschedule(m);
  auto r = m.rec;
  r.suspected_by = by;
  enqueue(r);  // the others count it too
}

void swim_node::reschedule(member& m) {
  deadlines_.erase({m.deadline, m.rec.id});
  if (m.rec.state != member_state::suspect || !m.suspect_since)
    return;
  m.deadline = *m.suspect_since + suspicion_timeout(m);
  deadlines_.insert({m.deadline, m.rec.id});
}

member_record swim_node::self_record() const {
  return {id_, address_, leaving_ ? member_state::left : member_state::alive, incarnation_};
}

std::vector<member_record> swim_node::full_list() const {
  std::vector<member_record> out;
  out.reserve(members_.size() + 1);
  out.push_back(self_record());
  for (const auto& [id, m] : members_)
    out.push_back(m.rec);
  return out;
}

void swim_node::enqueue(const member_record& r) {
  // A newer record of a member replaces the older.
  if (auto it = queue_.find(r.id); it != queue_.end())
    by_sent_.erase({it->second.sent, it->second.age, r.id});
  auto age = next_age_--;
  queue_[r.id] = queued_record{r, 0, age};
  by_sent_.insert({0, age, r.id});
  if (queue_.size() <= std::max<size_t>(1, params_.max_queue_depth))
    return;
  auto most = std::prev(by_sent_.end());  // the most sent (and oldest) goes
  queue_.erase(std::get<2>(*most));
  by_sent_.erase(most);
}

void swim_node::track_live(const std::string& id, bool live) {
  auto it = live_pos_.find(id);
  if (live && it == live_pos_.end()) {
    live_pos_[id] = live_.size();
    live_.push_back(id);
  } else if (!live && it != live_pos_.end()) {
    auto pos = it->second;
    live_pos_.erase(it);
    if (pos + 1 != live_.size()) {
      live_[pos] = std::move(live_.back());
      live_pos_[live_[pos]] = pos;
    }
    live_.pop_back();
  }
}

void swim_node::set_state(member& m, member_state to, uint64_t incarnation,
                          const std::string& reason, bool is_new, bool spread) {
  member_change c;
  c.id = m.rec.id;
  c.address = m.rec.address;
  c.from = m.rec.state;
  c.to = to;
  c.incarnation = incarnation;
  c.is_new = is_new;
  c.reason = reason;
  m.rec.state = to;
  m.rec.incarnation = incarnation;
  m.confirmers.clear();
  m.stall_credit = duration{0};
  if (to == member_state::suspect) {
    m.suspect_since = now();
    if (!m.rec.suspected_by.empty())
      m.confirmers.insert(m.rec.suspected_by);
  } else {
    m.suspect_since.reset();
    m.rec.suspected_by.clear();
  }
  reschedule(m);
  track_live(m.rec.id, !gone(to));
  changes_.push_back(std::move(c));
  if (spread)
    enqueue(m.rec);
}

void swim_node::refute(uint64_t seen) {
  // Nobody can know a higher incarnation of this node than its own but a
  // liar: far above it (or near the top, where +1 would wrap) is ignored.
  if (seen > incarnation_ && (seen - incarnation_ > max_incarnation_jump
                              || seen >= std::numeric_limits<uint64_t>::max() - 1))
    return;
  incarnation_ = std::max(incarnation_, seen) + 1;
  enqueue(self_record());
}

bool swim_node::apply(const member_record& r, const std::string& from, bool spread_new) {
  if (r.id.empty())
    return false;
  if (r.id == id_) {
    if ((r.state == member_state::suspect || gone(r.state)) && r.incarnation >= incarnation_
        && !leaving_) {
      auto before = incarnation_;
      refute(r.incarnation);
      return incarnation_ != before;
    }
    return false;
  }
  auto it = members_.find(r.id);
  if (it == members_.end()) {
    if (gone(r.state))
      return false;  // never knew it: nothing to forget
    if (members_.size() >= params_.max_members)
      return false;  // a flood of made-up ids stops here
    member m;
    m.rec = r;
    auto [pos, added] = members_.emplace(r.id, std::move(m));
    (void) added;
    pos->second.rec.state = member_state::alive;
    set_state(pos->second, r.state, r.incarnation, "learned from " + from, true, spread_new);
    return true;
  }
  auto& m = it->second;
  if (r.incarnation > m.rec.incarnation
      && r.incarnation - m.rec.incarnation > max_incarnation_jump)
    return false;  // a forgery (see max_incarnation_jump)
  switch (r.state) {
    case member_state::alive:
      if (r.incarnation <= m.rec.incarnation)
        return false;
      if (!r.address.empty())
        m.rec.address = r.address;
      if (gone(m.rec.state))
        m.nonce = 0;  // a new process: its nonce comes with its first JOIN here
      set_state(m, member_state::alive, r.incarnation,
                "incarnation " + std::to_string(r.incarnation) + " alive, from " + from);
      return true;
    case member_state::suspect:
      if ((m.rec.state == member_state::alive && r.incarnation >= m.rec.incarnation)
          || (m.rec.state == member_state::suspect && r.incarnation > m.rec.incarnation)) {
        m.rec.suspected_by = r.suspected_by.empty() ? from : r.suspected_by;
        set_state(m, member_state::suspect, r.incarnation, "suspected, from " + from);
        return true;
      }
      if (m.rec.state == member_state::suspect && r.incarnation == m.rec.incarnation)
        confirm(m, r.suspected_by);
      return false;
    case member_state::dead:
    case member_state::left:
      if ((!gone(m.rec.state) && r.incarnation >= m.rec.incarnation)
          || (m.rec.state == member_state::dead && r.state == member_state::left
              && r.incarnation >= m.rec.incarnation)) {
        set_state(m, r.state, r.incarnation,
                  std::string{r.state == member_state::left ? "left" : "dead"} + ", from " + from);
        return true;
      }
      return false;
  }
  return false;
}

peer_message swim_node::make(peer_kind kind) {
  peer_message m;
  m.kind = kind;
  m.from = id_;
  m.address = address_;
  m.incarnation = incarnation_;
  return m;
}

swim_out swim_node::with_full_list(peer_kind kind, std::string to, std::string address) {
  swim_out o;
  o.to = std::move(to);
  o.address = std::move(address);
  o.msg = make(kind);
  o.msg.members = full_list();
  return o;
}

swim_out swim_node::to_member(const std::string& id, peer_message m) {
  piggyback(m);
  swim_out o;
  o.to = id;
  if (auto it = members_.find(id); it != members_.end())
    o.address = it->second.rec.address;
  o.msg = std::move(m);
  return o;
}

void swim_node::piggyback(peer_message& m) {
  auto limit = retransmit_limit();
  std::vector<queue_key> taken;
  for (auto it = by_sent_.begin(); it != by_sent_.end() && taken.size() < params_.max_piggyback;
       ++it)
    taken.push_back(*it);  // least sent, newest first
  for (auto& key : taken) {
    by_sent_.erase(key);
    auto q = queue_.find(std::get<2>(key));
    m.members.push_back(q->second.rec);
    if (++q->second.sent >= limit)
      queue_.erase(q);
    else
      by_sent_.insert({q->second.sent, q->second.age, q->first});
  }
}

std::vector<std::string> swim_node::random_live(size_t k, const std::string& except) {
  // k is small (fanout, indirect probes): sample positions without
  // replacement rather than shuffle the whole list.
  std::vector<std::string> out;
  auto avail = live_.size() - (live_pos_.count(except) > 0 ? 1 : 0);
  k = std::min(k, avail);
  if (k == 0)
    return out;
  if (k * 4 >= live_.size()) {  // most of them: a partial shuffle
    std::vector<std::string> ids;
    for (const auto& id : live_)
      if (id != except)
        ids.push_back(id);
    for (size_t i = 0; i < k; ++i) {
      std::uniform_int_distribution<size_t> pick{i, ids.size() - 1};
      std::swap(ids[i], ids[pick(rng_)]);
    }
    ids.resize(k);
    return ids;
  }
  std::uniform_int_distribution<size_t> pick{0, live_.size() - 1};
  while (out.size() < k) {
    const auto& id = live_[pick(rng_)];
    if (id != except && std::find(out.begin(), out.end(), id) == out.end())
      out.push_back(id);
  }
  return out;
}

std::vector<swim_out> swim_node::join(const std::string& seed_address) {
  return join(std::vector<std::string>{seed_address});
}

std::vector<swim_out> swim_node::join(const std::vector<std::string>& seed_addresses) {
  std::vector<swim_out> out;
  seeds_.clear();
  for (const auto& a : seed_addresses)
    if (!a.empty() && a != address_)
      seeds_.push_back(a);
  next_seed_ = 0;
  next_join_ = now() + params_.probe_interval;
  for (const auto& a : seeds_)  // all at first, then one per retry
    out.push_back(with_full_list(peer_kind::join, "", a));
  return out;
}

join_verdict swim_node::admit(const std::string& id, const std::string& address,
                              uint64_t incarnation, uint64_t nonce, bool other_link) {
  auto v = judge_own_id(id, id_, address_);
  if (v.result != join_result::accepted)
    return v;
  auto it = members_.find(id);
  if (it == members_.end())
    return v;  // new: receive() adds it (the nonce with it)
  auto& m = it->second;
  bool met = m.nonce != 0;  // admitted before (else known from gossip only)
  bool same_process = met && nonce == m.nonce;
  v = judge_rejoin(m.rec, met, same_process, other_link, incarnation);
  if (v.result != join_result::accepted)
    return v;
  if (incarnation - m.rec.incarnation > max_incarnation_jump) {
    // Far beyond what restarts and refutations reach (a forged JOIN that
    // would put the member out of its own reach).
    v.result = join_result::refused_stale;
    v.known_incarnation = m.rec.incarnation;
    v.reason = "incarnation " + std::to_string(incarnation) + " of " + id
               + " is implausibly far above the known " + std::to_string(m.rec.incarnation);
    return v;
  }
  m.nonce = nonce;
  if (!address.empty() && incarnation > m.rec.incarnation)
    m.rec.address = address;
  return v;
}

bool swim_node::speaks_for(const std::string& id, uint64_t nonce) const {
  auto it = members_.find(id);
  return it == members_.end() || it->second.nonce == 0 || it->second.nonce == nonce;
}

void swim_node::crashed(const std::string& id, const std::string& reason) {
  auto it = members_.find(id);
  if (it == members_.end() || gone(it->second.rec.state))
    return;
  set_state(it->second, member_state::dead, it->second.rec.incarnation, reason);
  changes_.back().crashed = true;
}

void swim_node::check_probe() {
  if (!probe_ || probe_->acked)
    return;
  auto it = members_.find(probe_->target);
  if (it != members_.end() && it->second.rec.state == member_state::alive) {
    it->second.rec.suspected_by = id_;
    set_state(it->second, member_state::suspect, it->second.rec.incarnation,
              "no ack to a probe, direct or through " + std::to_string(params_.indirect_probes)
                + " others");
  } else if (it != members_.end()) {
    confirm(it->second, id_);  // already suspected by others: this node confirms
  }
  probe_.reset();
}

void swim_node::start_probe(std::vector<swim_out>& out) {
  check_probe();
  for (size_t tries = 0; tries < 2; ++tries) {
    while (next_in_order_ < order_.size()) {
      const auto& id = order_[next_in_order_++];
      auto it = members_.find(id);
      if (it == members_.end() || gone(it->second.rec.state))
        continue;
      probe p;
      p.target = id;
      p.seq = ++seq_;
      p.started = now();
      auto m = make(peer_kind::ping);
      m.target = id;
      m.seq = p.seq;
      probe_ = p;
      out.push_back(to_member(id, std::move(m)));
      return;
    }
    // A new pass, in a new random order.
    order_ = live_;
    next_in_order_ = 0;
    std::shuffle(order_.begin(), order_.end(), rng_);
  }
}

void swim_node::expire_suspects() {
  auto t = now();
  while (!deadlines_.empty() && deadlines_.begin()->first <= t) {
    auto& m = members_.at(deadlines_.begin()->second);
    // The minimum grows with the cluster: an end computed earlier may have
    // moved (reschedule then puts it back further on).
    if (m.suspect_since && t - *m.suspect_since >= suspicion_timeout(m))
      set_state(m, member_state::dead, m.rec.incarnation,
                "suspicion timed out (" + std::to_string(m.confirmers.size()) + " suspecting)");
    else
      reschedule(m);
  }
}

void swim_node::gossip_round(std::vector<swim_out>& out) {
  if (queue_.empty())
    return;
  for (const auto& id : random_live(params_.gossip_fanout, ""))
    if (!queue_.empty())
      out.push_back(to_member(id, make(peer_kind::heartbeat)));
}

void swim_node::stalled(duration d) {
  // This node did not run (a SIGSTOP, a starved CPU, a long backlog): the
  // ack of its probe in flight, and the refutations of its suspects, could
  // not reach it. Its own silence is no evidence against anyone. The credit
  // a suspicion gets is bounded (one minimal suspicion time in all), so a
  // node that stays overloaded still buries the members that are gone.
  probe_.reset();
  std::vector<std::string> ids;
  for (const auto& [due, id] : deadlines_)
    ids.push_back(id);
  auto cap = suspicion_timeout();
  for (const auto& id : ids) {
    auto& m = members_.at(id);
    auto credit = std::min(d, cap - std::min(cap, m.stall_credit));
    m.stall_credit += credit;
    if (m.suspect_since)
      *m.suspect_since += credit;
    reschedule(m);
  }
  for (auto& [seq, r] : relays_)
    r.until += d;
}

void swim_node::knock(std::vector<swim_out>& out) {
  // Rare (one member per reconnect_interval): a scan is fine.
  std::vector<const member*> dead;
  for (const auto& [id, m] : members_)
    if (m.rec.state == member_state::dead)
      dead.push_back(&m);
  if (dead.empty())
    return;
  std::uniform_int_distribution<size_t> pick{0, dead.size() - 1};
  const auto* m = dead[pick(rng_)];
  auto ping = make(peer_kind::ping);
  ping.target = m->rec.id;
  ping.seq = ++seq_;
  out.push_back(to_member(m->rec.id, std::move(ping)));
}

void swim_node::tell_buried(member& m, const peer_message& from, std::vector<swim_out>& out) {
  auto t = now();
  if (m.told && t - *m.told < params_.probe_timeout)
    return;
  m.told = t;
  auto word = make(peer_kind::heartbeat);
  word.members.push_back(m.rec);  // dead at the incarnation it spoke with (or above)
  auto o = to_member(m.rec.id, std::move(word));
  o.address = from.address;
  out.push_back(std::move(o));
}

void swim_node::push_pull(std::vector<swim_out>& out) {
  auto ids = random_live(1, "");
  if (ids.empty())
    return;
  const auto& to = ids.front();
  out.push_back(with_full_list(peer_kind::join, to, members_.at(to).rec.address));
}

std::vector<swim_out> swim_node::tick() {
  std::vector<swim_out> out;
  auto t = now();
  if (leaving_)
    return out;
  if (last_tick_ && t - *last_tick_ > params_.probe_interval)
    stalled(t - *last_tick_);
  last_tick_ = t;
  if (!seeds_.empty() && t >= next_join_) {
    out.push_back(with_full_list(peer_kind::join, "", seeds_[next_seed_++ % seeds_.size()]));
    next_join_ = t + params_.probe_interval;
  }
  if (t >= next_probe_) {
    start_probe(out);
    next_probe_ += params_.probe_interval;
    if (next_probe_ <= t)  // fell behind (a stalled caller): no burst of probes
      next_probe_ = t + params_.probe_interval;
  }
  if (probe_ && !probe_->acked && !probe_->indirect_sent
      && t >= probe_->started + params_.probe_timeout) {
    probe_->indirect_sent = true;
    // The target once more directly, beside the indirect probes (memberlist
    // sends this one over TCP; here every link is a stream already).
    auto again = make(peer_kind::ping);
    again.target = probe_->target;
    again.seq = probe_->seq;
    out.push_back(to_member(probe_->target, std::move(again)));
    for (const auto& via : random_live(params_.indirect_probes, probe_->target)) {
      auto m = make(peer_kind::ping_req);
      m.target = probe_->target;
      m.probe_id = probe_->seq;
      out.push_back(to_member(via, std::move(m)));
    }
  }
  for (auto it = relays_.begin(); it != relays_.end();)
    it = t >= it->second.until ? relays_.erase(it) : std::next(it);
  expire_suspects();
  if (t >= next_gossip_) {
    gossip_round(out);
    next_gossip_ += params_.gossip_interval;
    if (next_gossip_ <= t)
      next_gossip_ = t + params_.gossip_interval;
  }
  if (t >= next_knock_) {
    knock(out);
    next_knock_ = t + params_.reconnect_interval;
  }
  if (t >= next_push_pull_) {
    push_pull(out);
    next_push_pull_ += params_.push_pull_interval;
    if (next_push_pull_ <= t)
      next_push_pull_ = t + params_.push_pull_interval;
  }
  return out;
}

std::chrono::steady_clock::time_point swim_node::next_due() const {
  if (leaving_)
    return std::chrono::steady_clock::time_point::max();  // tick() does nothing more
  auto due = std::min({next_probe_, next_gossip_, next_push_pull_, next_knock_});
  if (!seeds_.empty())
    due = std::min(due, next_join_);
  if (probe_ && !probe_->acked && !probe_->indirect_sent)
    due = std::min(due, probe_->started + params_.probe_timeout);
  if (!deadlines_.empty())
    due = std::min(due, deadlines_.begin()->first);
  return due;
}

std::vector<swim_out> swim_node::receive(const peer_message& m) {
  std::vector<swim_out> out;
  if (m.from.empty() || m.from == id_)
    return out;
  if (auto it = members_.find(m.from); it != members_.end()) {
    it->second.last_heard = now();
    // Buried here at an incarnation it has not gone past: it cannot know
    // (it was frozen, or cut off); told, it refutes.
    if (it->second.rec.state == member_state::dead && m.incarnation <= it->second.rec.incarnation
        && m.kind != peer_kind::leave && !leaving_)
      tell_buried(it->second, m, out);
  }
  // Whatever it says, the sender was alive when it said it.
  apply({m.from, m.address,
         m.kind == peer_kind::leave ? member_state::left : member_state::alive, m.incarnation},
        m.from);
  if ((m.kind == peer_kind::join || m.kind == peer_kind::welcome) && m.nonce != 0)
    if (auto it = members_.find(m.from); it != members_.end() && it->second.nonce == 0)
      it->second.nonce = m.nonce;  // admitted (admit() let it in)
  // A full list (push-pull) is everything its sender knows; what it
  // teaches about members new here is not news to spread.
  bool full = m.kind == peer_kind::join || m.kind == peer_kind::welcome;
  for (const auto& r : m.members)
    if (r.id != m.from || r.state != member_state::alive)
      apply(r, m.from, !full);
  if (leaving_)
    return out;
  switch (m.kind) {
    case peer_kind::ping: {
      if (!m.target.empty() && m.target != id_)
        break;  // meant for another node at this address
      auto ack = make(peer_kind::ack);
      ack.target = id_;
      ack.probe_id = m.seq;
      ack.origin = m.origin;
      auto o = to_member(m.from, std::move(ack));
      o.address = m.address;
      out.push_back(std::move(o));
      break;
    }
    case peer_kind::ping_req: {
      auto it = members_.find(m.target);
      if (it == members_.end() || m.target == id_)
        break;
      auto seq = ++seq_;
      relays_[seq] = relay{m.from, m.probe_id, now() + params_.probe_timeout};
      auto ping = make(peer_kind::ping);
      ping.target = m.target;
      ping.seq = seq;
      ping.origin = m.from;
      out.push_back(to_member(m.target, std::move(ping)));
      break;
    }
    case peer_kind::ack: {
      if (m.origin.empty() || m.origin == id_) {
        if (probe_ && probe_->seq == m.probe_id && probe_->target == m.target)
          probe_->acked = true;
        break;
      }
      auto it = relays_.find(m.probe_id);
      if (it == relays_.end() || it->second.origin != m.origin)
        break;
      auto fwd = make(peer_kind::ack);
      fwd.target = m.target;
      fwd.probe_id = it->second.origin_seq;
      fwd.origin = it->second.origin;
      auto to = it->second.origin;
      relays_.erase(it);
      out.push_back(to_member(to, std::move(fwd)));
      break;
    }
    case peer_kind::join: {
      out.push_back(with_full_list(peer_kind::welcome, m.from, m.address));
      break;
    }
    case peer_kind::welcome:
      seeds_.clear();  // joined: its records are applied
      break;
    default:
      break;  // heartbeat (gossip), leave: their records are applied
  }
  return out;
}

std::vector<swim_out> swim_node::leave() {
  std::vector<swim_out> out;
  leaving_ = true;
  enqueue(self_record());
  for (const auto& id : random_live(params_.gossip_fanout, ""))
    out.push_back(to_member(id, make(peer_kind::leave)));
  return out;
}

std::vector<member_change> swim_node::take_changes() {
  std::vector<member_change> out;
  out.swap(changes_);
  return out;
}

std::optional<member_record> swim_node::find(const std::string& id) const {
  if (auto it = members_.find(id); it != members_.end())
    return it->second.rec;
  return std::nullopt;
}

std::vector<member_view> swim_node::view() const {
  std::vector<member_view> out;
  out.reserve(members_.size() + 1);
  member_view me;
  me.id = id_;
  me.address = address_;
  me.state = leaving_ ? member_state::left : member_state::alive;
  me.incarnation = incarnation_;
  me.self = true;
  out.push_back(std::move(me));
  auto t = now();
  for (const auto& [id, m] : members_) {
    member_view v;
    v.id = id;
    v.address = m.rec.address;
    v.state = m.rec.state;
    v.incarnation = m.rec.incarnation;
    if (m.last_heard)
      v.last_heard = t - *m.last_heard;
    out.push_back(std::move(v));
  }
  return out;
}

} // namespace faultd::membership
