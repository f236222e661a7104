#include "replica/engine.hpp"

#include <algorithm>
#include <cmath>

namespace faultd::replica {

namespace {

size_t version_size(const key_version& kv) {
  return kv.key.size() + kv.origin.size() + 24;
}

} // namespace

engine::engine(engine_params p, const clock_source& clock, uint64_t seed)
    : p_(std::move(p)), clock_(&clock), map_(p_.map, clock), rng_(seed) {}

size_t engine::budget() const {
  return p_.max_message_size > message_overhead ? p_.max_message_size - message_overhead : 1;
}

void engine::set_peers(std::vector<std::string> peers) {
  std::sort(peers.begin(), peers.end());
  peers.erase(std::unique(peers.begin(), peers.end()), peers.end());
  peers.erase(std::remove(peers.begin(), peers.end(), p_.map.self), peers.end());
  peers_ = std::move(peers);
  for (auto it = windows_.begin(); it != windows_.end();) {
    if (!std::binary_search(peers_.begin(), peers_.end(), it->first)) {
      dropped_chunks_ += it->second.dropped();
      it = windows_.erase(it);
    } else {
      ++it;
    }
  }
}

state_message engine::make(msg_kind kind) const {
  state_message m;
  m.kind = kind;
  m.from = p_.map.self;
  return m;
}

void engine::send(const std::string& to, state_message m) {
  ++counters_.messages_out;
  outbox_.push_back(envelope{to, std::move(m)});
}

void engine::queue_entries(const std::string& to, std::vector<state_entry> entries, bool rumor) {
  if (entries.empty())
    return;
  auto it = windows_.find(to);
  if (it == windows_.end())
    it = windows_.emplace(to, send_window{p_.window}).first;
  for (auto& c : chunk(std::move(entries), p_.max_message_size))
    it->second.push(std::move(c), rumor);
  flush(to);
}

void engine::flush(const std::string& to) {
  auto it = windows_.find(to);
  if (it == windows_.end())
    return;
  for (auto& o : it->second.due(clock_->steady_now())) {
    auto m = make(o.rumor ? msg_kind::push : msg_kind::entries);
    m.seq = o.seq;
    m.entries = *o.entries;
    send(to, std::move(m));
  }
}

std::vector<std::string> engine::pick(size_t n, const std::set<std::string>& except) {
  std::vector<std::string> candidates;
  for (auto& p : peers_)
    if (except.count(p) == 0)
      candidates.push_back(p);
  std::shuffle(candidates.begin(), candidates.end(), rng_);
  if (candidates.size() > n)
    candidates.resize(n);
  return candidates;
}

status engine::put(const std::string& key, std::string value, state_entry& written) {
  if (auto st = map_.put(key, std::move(value), written); !st.ok())
    return st;
  changed_.push_back(written);
  spread({written}, "");
  return {};
}

bool engine::erase(const std::string& key) {
  auto tomb = map_.erase(key);
  if (!tomb)
    return false;
  changed_.push_back(*tomb);
  spread({*tomb}, "");
  return true;
}

uint32_t engine::rumor_rounds() const {
  if (p_.rumor_rounds > 0)
    return p_.rumor_rounds;
  auto nodes = static_cast<double>(peers_.size() + 1);
  return static_cast<uint32_t>(std::ceil(std::log10(nodes + 1)));
}

bool engine::everyone_knows(const rumor& r) const {
  return std::all_of(peers_.begin(), peers_.end(),
                     [&](const std::string& p) { return r.known.count(p) > 0; });
}

void engine::spread(const std::vector<state_entry>& fresh, const std::string& from) {
  std::map<std::string, std::vector<state_entry>> by_peer;
  auto rounds = rumor_rounds();
  for (auto& e : fresh) {
    rumor r;
    r.version = e.version;
    r.left = rounds;
    r.known = {e.origin_node, p_.map.self};
    if (!from.empty())
      r.known.insert(from);
    for (auto& p : pick(p_.fanout, r.known)) {
      by_peer[p].push_back(e);
      r.known.insert(p);
    }
    // Replaces a rumor of an older version of the key that still spreads.
    if (r.left > 0 && !everyone_knows(r))
      rumors_[e.key] = std::move(r);
    else
      rumors_.erase(e.key);
  }
  for (auto& [p, entries] : by_peer)
    queue_entries(p, std::move(entries), true);
}

void engine::push_rumors() {
  std::map<std::string, std::vector<state_entry>> by_peer;
  for (auto it = rumors_.begin(); it != rumors_.end();) {
    auto& r = it->second;
    const auto* e = map_.find(it->first);
    if (e != nullptr && e->version == r.version) {
      for (auto& p : pick(p_.fanout, r.known)) {
        by_peer[p].push_back(*e);
        r.known.insert(p);
      }
      --r.left;
    }
    // Done, superseded or collected, or nobody left to tell.
    if (e == nullptr || e->version != r.version || r.left == 0 || everyone_knows(r))
      it = rumors_.erase(it);
    else
      ++it;
  }
  for (auto& [p, entries] : by_peer)
    queue_entries(p, std::move(entries), true);
}

apply_result engine::load(const state_entry& e) {
  return map_.apply(e);
}

void engine::receive(const state_message& m) {
  ++counters_.messages_in;
  switch (m.kind) {
    case msg_kind::push:
    case msg_kind::entries: on_entries(m); break;
    case msg_kind::digest: on_digest(m); break;
    case msg_kind::versions: on_versions(m); break;
    case msg_kind::want: on_want(m); break;
    case msg_kind::ack:
      if (auto it = windows_.find(m.from); it != windows_.end()) {
        it->second.ack(m.seq);
        flush(m.from);
      }
      break;
  }
}

void engine::on_entries(const state_message& m) {
  std::vector<state_entry> fresh;
  for (const auto& e : m.entries) {
    auto r = map_.apply(e);
    switch (r) {
      case apply_result::applied:
        ++counters_.applied;
        changed_.push_back(*map_.find(e.key));
        if (m.kind == msg_kind::push)
          fresh.push_back(*map_.find(e.key));
        break;
      case apply_result::stale: ++counters_.stale; break;
      default:
        ++counters_.rejected;
        rejections_.push_back(rejection{m.from, e.key, r});
        break;
    }
  }
  auto ack = make(msg_kind::ack);
  ack.seq = m.seq;
  send(m.from, std::move(ack));
  // Pass the rumor on: each entry to peers that neither sent nor wrote it.
  if (!fresh.empty())
    spread(fresh, m.from);
}

uint64_t engine::start_exchange(const std::string& peer, bool report) {
  auto id = next_exchange_++;
  ++counters_.exchanges;
  auto m = make(msg_kind::digest);
  m.exchange = id;
  m.report = report;
  m.digest.assign(map_.digest().begin(), map_.digest().end());
  if (report)
    reports_[id].peer = peer;
  send(peer, std::move(m));
  return id;
}

void engine::on_digest(const state_message& m) {
  if (m.digest.size() != bucket_count)
    return;
  bucket_digest theirs{};
  std::copy(m.digest.begin(), m.digest.end(), theirs.begin());
  auto buckets = map_.differing(theirs);
  // Cut the answer by buckets so that every part fits a message (a single
  // bucket that does not fit travels alone).
  std::vector<state_message> parts;
  auto start_part = [&] {
    auto v = make(msg_kind::versions);
    v.exchange = m.exchange;
    v.report = m.report;
    v.keys = map_.entries().size();
    parts.push_back(std::move(v));
  };
  start_part();
  size_t used = 0;
  for (auto b : buckets) {
    auto vs = map_.versions({b});
    size_t size = 8;
    for (auto& kv : vs)
      size += version_size(kv);
    if (used + size > budget() && !parts.back().buckets.empty()) {
      start_part();
      used = 0;
    }
    used += size;
    auto& part = parts.back();
    part.buckets.push_back(b);
    for (auto& kv : vs)
      part.versions.push_back(std::move(kv));
  }
  for (auto& part : parts) {
    part.parts = static_cast<uint32_t>(parts.size());
    send(m.from, std::move(part));
  }
}

void engine::on_versions(const state_message& m) {
  auto c = map_.compare(m.buckets, m.versions);
  if (m.report) {
    auto it = reports_.find(m.exchange);
    if (it == reports_.end() || it->second.peer != m.from || it->second.done)
      return;
    auto& r = it->second;
    r.parts = m.parts;
    r.keys = m.keys;
    ++r.parts_seen;
    r.listed.insert(m.buckets.begin(), m.buckets.end());
    r.sum.agree += c.agree;
    r.sum.differ += c.differ;
    r.sum.missing += c.missing;
    if (r.parts_seen >= r.parts) {
      // Keys in the buckets the peer did not list agree (equal sums).
      for (auto& [key, e] : map_.entries())
        if (r.listed.count(bucket_of(key)) == 0)
          ++r.sum.agree;
      r.done = true;
    }
    return;
  }
  std::vector<state_entry> ours;
  for (auto& kv : c.send)
    if (auto* e = map_.find(kv.key))
      ours.push_back(*e);
  queue_entries(m.from, std::move(ours), false);
  // Ask for the rest, in parts that fit.
  state_message want = make(msg_kind::want);
  size_t used = 0;
  for (auto& key : c.want) {
    if (used + key.size() + 8 > budget() && !want.want.empty()) {
      send(m.from, std::move(want));
      want = make(msg_kind::want);
      used = 0;
    }
    used += key.size() + 8;
    want.want.push_back(key);
  }
  if (!want.want.empty())
    send(m.from, std::move(want));
}

void engine::on_want(const state_message& m) {
  std::vector<state_entry> out;
  for (auto& key : m.want)
    if (auto* e = map_.find(key))
      out.push_back(*e);
  queue_entries(m.from, std::move(out), false);
}

void engine::tick() {
  push_rumors();
  for (auto& [peer, w] : windows_) {
    (void)w;
    flush(peer);
  }
}

std::optional<peer_comparison> engine::report_of(uint64_t exchange) const {
  auto it = reports_.find(exchange);
  if (it == reports_.end() || !it->second.done)
    return std::nullopt;
  auto& r = it->second;
  return peer_comparison{r.peer, r.keys, r.sum.agree, r.sum.differ, r.sum.missing};
}

void engine::forget_report(uint64_t exchange) {
  reports_.erase(exchange);
}

uint64_t engine::dropped_chunks() const {
  auto n = dropped_chunks_;
  for (auto& [peer, w] : windows_)
    n += w.dropped();
  return n;
}

std::vector<envelope> engine::take_outbox() {
  return std::exchange(outbox_, {});
}

std::vector<state_entry> engine::take_changed() {
  return std::exchange(changed_, {});
}

std::vector<rejection> engine::take_rejections() {
  return std::exchange(rejections_, {});
}

} // namespace faultd::replica
