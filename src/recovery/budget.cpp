#include "recovery/budget.hpp"

#include <algorithm>
#include <charconv>
#include <sstream>
#include <tuple>

namespace faultd::recovery {

namespace {

bool before(const budget_claim& a, const budget_claim& b) {
  return std::tie(a.since_ms, a.node, a.incident) < std::tie(b.since_ms, b.node, b.incident);
}

} // namespace

std::string budget_key(const std::string& node) {
  return std::string{budget_prefix} + node;
}

std::string encode_claims(const std::vector<budget_claim>& claims) {
  std::string out;
  for (const auto& c : claims) {
    out += std::to_string(c.since_ms);
    out += c.running ? " running " : " waiting ";
    out += c.incident;
    out += '\n';
  }
  return out;
}

std::vector<budget_claim> decode_claims(const std::string& node, const std::string& value,
                                        size_t* bad) {
  std::vector<budget_claim> out;
  std::istringstream in{value};
  std::string line;
  while (std::getline(in, line)) {
    if (line.empty())
      continue;
    std::istringstream fields{line};
    std::string since, state, incident, extra;
    budget_claim c;
    c.node = node;
    bool ok = static_cast<bool>(fields >> since >> state >> incident) && !(fields >> extra);
    if (ok) {
      auto [p, ec] = std::from_chars(since.data(), since.data() + since.size(), c.since_ms);
      ok = ec == std::errc{} && p == since.data() + since.size() && c.since_ms >= 0
           && (state == "running" || state == "waiting");
    }
    if (!ok) {
      if (bad != nullptr)
        ++*bad;
      continue;
    }
    c.running = state == "running";
    c.incident = std::move(incident);
    out.push_back(std::move(c));
  }
  return out;
}

cluster_budget::cluster_budget(std::string self, uint32_t limit, duration settle, duration jitter,
                               random_source random)
  : self_(std::move(self)), limit_(limit), settle_(settle), jitter_(jitter),
    random_(random ? std::move(random) : default_random_source()) {
}

void cluster_budget::claim(const std::string& incident, timestamp now) {
  if (mine_.count(incident) > 0)
    return;
  mine m;
  m.claim = budget_claim{self_, incident, to_unix_millis(now), false};
  m.jitter = std::chrono::duration_cast<duration>(jitter_ * std::clamp(random_(), 0.0, 1.0));
  mine_.emplace(incident, std::move(m));
}

void cluster_budget::hold(const std::string& incident, timestamp now) {
  auto& m = mine_[incident];
  if (m.claim.incident.empty())
    m.claim = budget_claim{self_, incident, to_unix_millis(now), true};
  m.claim.running = true;
}

void cluster_budget::release(const std::string& incident) {
  mine_.erase(incident);
}

bool cluster_budget::waiting(const std::string& incident) const {
  auto i = mine_.find(incident);
  return i != mine_.end() && !i->second.claim.running;
}

bool cluster_budget::holds(const std::string& incident) const {
  auto i = mine_.find(incident);
  return i != mine_.end() && i->second.claim.running;
}

size_t cluster_budget::waiting_count() const {
  return static_cast<size_t>(
    std::count_if(mine_.begin(), mine_.end(), [](auto& kv) { return !kv.second.claim.running; }));
}

size_t cluster_budget::running_count() const {
  return mine_.size() - waiting_count();
}

std::vector<budget_grant> cluster_budget::grant(const std::vector<budget_claim>& others,
                                                bool peers_alive, timestamp now) {
  const auto settle = peers_alive ? settle_ : duration{0};
  size_t running = 0;
  std::map<std::string, size_t> running_by_node;
  std::vector<const budget_claim*> waiting;
  for (const auto& c : others) {
    if (c.node == self_)
      continue;
    if (c.running) {
      ++running;
      ++running_by_node[c.node];
    } else {
      waiting.push_back(&c);
    }
  }
  for (const auto& [id, m] : mine_) {
    if (m.claim.running) {
      ++running;
      ++running_by_node[self_];
    } else {
      waiting.push_back(&m.claim);
    }
  }
  std::sort(waiting.begin(), waiting.end(),
            [](const budget_claim* a, const budget_claim* b) { return before(*a, *b); });
  // "2 running (n1 1, n3 1)", "0 running"
  auto by_node = [](const std::map<std::string, size_t>& counts) {
    std::string s;
    for (const auto& [node, n] : counts)
      s += (s.empty() ? "" : ", ") + node + " " + std::to_string(n);
    return s.empty() ? s : " (" + s + ")";
  };
  auto runs = [&] { return std::to_string(running) + " running" + by_node(running_by_node); };
  std::map<std::string, size_t> ahead_by_node;
  std::vector<budget_grant> out;
  size_t ahead = 0;
  // Whether this node's claim `m` starts now; one that finds the budget
  // full records what it found.
  auto starts = [&](mine& m) {
    if (running + ahead >= limit_) {
      auto found = runs() + ", " + std::to_string(ahead) + " waiting ahead of it"
                   + by_node(ahead_by_node);
      if (m.found_full.empty())
        m.found_full = found;
      m.last_full = std::move(found);
      return false;
    }
    return now >= ready_at(m, settle);
  };
  for (const auto* c : waiting) {
    // Another node's claim, one that finds the budget full, and one still
    // in its settle and jitter all stay ahead of the claims after them.
    if (c->node != self_ || !starts(mine_.at(c->incident))) {
      ++ahead;
      ++ahead_by_node[c->node];
      continue;
    }
    auto& m = mine_.at(c->incident);
    budget_grant g;
    g.incident = c->incident;
    g.waited = std::max(duration{0}, now - from_unix_millis(m.claim.since_ms));
    const auto limit = "the cluster restart budget (max_concurrent_cluster " + std::to_string(limit_);
    if (!m.found_full.empty())
      g.why = "waited " + human_duration(g.waited) + " for " + limit + "): it found "
              + m.found_full
              + (m.last_full == m.found_full ? std::string{} : "; last: " + m.last_full);
    else
      g.why = "started after " + human_duration(g.waited) + " (settle " + human_duration(settle)
              + " + jitter " + human_duration(m.jitter) + ") under " + limit + ", " + runs()
              + ")";
    m.claim.running = true;
    ++running;
    ++running_by_node[self_];
    out.push_back(std::move(g));
  }
  return out;
}

timestamp cluster_budget::ready_at(const mine& m, duration settle) {
  return from_unix_millis(m.claim.since_ms) + settle + m.jitter;
}

std::optional<timestamp> cluster_budget::next_ready(bool peers_alive) const {
  std::optional<timestamp> out;
  for (const auto& [id, m] : mine_) {
    if (m.claim.running)
      continue;
    auto t = ready_at(m, peers_alive ? settle_ : duration{0});
    if (!out || t < *out)
      out = t;
  }
  return out;
}

std::string cluster_budget::encode() const {
  std::vector<budget_claim> claims;
  for (const auto& [id, m] : mine_)
    claims.push_back(m.claim);
  std::sort(claims.begin(), claims.end(), before);
  return encode_claims(claims);
}

} // namespace faultd::recovery
