#include "membership/members.hpp"

#include <algorithm>
#include <cstdio>

namespace faultd::membership {

std::string_view to_string(member_state s) {
  switch (s) {
    case member_state::alive:
      return "alive";
    case member_state::suspect:
      return "suspect";
    case member_state::dead:
      return "dead";
    case member_state::left:
      return "left";
  }
  return "unknown";
}

namespace {

bool gone(member_state s) { return s == member_state::dead || s == member_state::left; }

std::string phi_text(double phi) {
  char buf[32];
  std::snprintf(buf, sizeof(buf), "%.1f", phi);
  return buf;
}

} // namespace

join_verdict judge_rejoin(const member_record& known, bool met, bool same_process,
                          bool held_elsewhere, uint64_t incarnation) {
  join_verdict v;
  if (!same_process && !gone(known.state) && held_elsewhere) {
    v.result = join_result::refused_duplicate;
    v.reason = "node id " + known.id + " is taken by the live node at " + known.address;
    return v;
  }
  // A member that died (or left) comes back only with a higher
  // incarnation; so does a new process under a known id. One known from
  // gossip only may join with the incarnation gossip gave it.
  bool stale = (gone(known.state) || (met && !same_process)) ? incarnation <= known.incarnation
                                                             : incarnation < known.incarnation;
  if (stale) {
    v.result = join_result::refused_stale;
    v.known_incarnation = known.incarnation;
    v.reason = "incarnation " + std::to_string(incarnation) + " of " + known.id
               + " is not above the known " + std::to_string(known.incarnation);
  }
  return v;
}

member_table::member_table(std::string self_id, std::string self_address, uint64_t incarnation,
                           table_params params, const clock_source& clock)
  : self_id_(std::move(self_id)),
    self_address_(std::move(self_address)),
    incarnation_(incarnation),
    params_(params),
    clock_(&clock) {
}

member_change member_table::set_state(member& m, member_state to, std::string reason) {
  member_change c;
  c.id = m.rec.id;
  c.address = m.rec.address;
  c.from = m.rec.state;
  c.to = to;
  c.incarnation = m.rec.incarnation;
  c.reason = std::move(reason);
  m.rec.state = to;
  m.retransmit_left = params_.retransmit;
  m.probing_since.reset();
  if (to != member_state::suspect)
    m.suspect_since.reset();
  else
    m.suspect_since = clock_->steady_now();
  if (to == member_state::alive)
    m.stall_credit = duration{0};
  return c;
}

double member_table::phi_of(const member& m) const {
  if (!m.detector)
    return 0;
  return m.detector->phi_at(clock_->steady_now() - m.stall_credit);
}

bool member_table::hears_directly(const member& m) const {
  return m.connected && m.detector && m.detector->since_last()
         && phi_of(m) < params_.phi.threshold;
}

join_verdict judge_own_id(const std::string& id, const std::string& self_id,
                          const std::string& self_address) {
  join_verdict v;
  if (id == self_id) {
    v.result = join_result::refused_self;
    v.reason = "node id " + id + " is taken by the node at " + self_address;
  }
  return v;
}

join_verdict member_table::join(const std::string& id, const std::string& address,
                                uint64_t incarnation, uint64_t nonce, bool other_link) {
  auto v = judge_own_id(id, self_id_, self_address_);
  if (v.result != join_result::accepted)
    return v;
  auto it = members_.find(id);
  if (it != members_.end()) {
    auto& m = it->second;
    bool met = m.nonce != 0; // it joined us before (else: known from gossip only)
    bool same_process = met && nonce == m.nonce;
    // Here every member has a link: a process that joined us and whose link
    // is still up holds the id.
    v = judge_rejoin(m.rec, met, same_process, met && other_link, incarnation);
    if (v.result != join_result::accepted)
      return v;
    m.rec.address = address;
    m.rec.incarnation = std::max(m.rec.incarnation, incarnation);
    m.nonce = nonce;
    m.detector.emplace(params_.phi, *clock_);
    m.detector->heartbeat();
    m.reached_until.reset();
    if (m.rec.state != member_state::alive)
      v.changes.push_back(set_state(m, member_state::alive,
                                    gone(m.rec.state) ? "rejoined" : "joined again"));
    return v;
  }
  member m;
  m.rec = {id, address, member_state::alive, incarnation};
  m.nonce = nonce;
  m.detector.emplace(params_.phi, *clock_);
  m.detector->heartbeat();
  m.retransmit_left = params_.retransmit;
  member_change c;
  c.id = id;
  c.address = address;
  c.to = member_state::alive;
  c.incarnation = incarnation;
  c.is_new = true;
  c.reason = "joined";
  v.changes.push_back(std::move(c));
  members_.emplace(id, std::move(m));
  return v;
}

std::vector<member_change> member_table::heard(const std::string& id, uint64_t incarnation) {
  std::vector<member_change> out;
  auto it = members_.find(id);
  if (it == members_.end())
    return out;
  auto& m = it->second;
  if (gone(m.rec.state)) {
    // Only a higher incarnation brings a member back; a heartbeat already
    // on its way when it was buried does not.
    if (incarnation <= m.rec.incarnation)
      return out;
    m.rec.incarnation = incarnation;
    m.detector.emplace(params_.phi, *clock_);
    m.detector->heartbeat();
    out.push_back(set_state(m, member_state::alive, "heard with a higher incarnation"));
    return out;
  }
  if (!m.detector)
    m.detector.emplace(params_.phi, *clock_);
  m.detector->heartbeat();
  m.stall_credit = duration{0};
  m.probing_since.reset();
  m.rec.incarnation = std::max(m.rec.incarnation, incarnation);
  if (m.rec.state == member_state::suspect)
    out.push_back(set_state(m, member_state::alive, "heard again"));
  return out;
}

std::vector<member_change> member_table::gossip(const std::string& from,
                                                const std::vector<member_record>& records,
                                                bool& refuted) {
  std::vector<member_change> out;
  refuted = false;
  for (const auto& r : records) {
    if (r.id == self_id_) {
      if ((r.state == member_state::suspect || r.state == member_state::dead)
          && r.incarnation >= incarnation_ && self_state_ == member_state::alive) {
        refute(r.incarnation);
        refuted = true;
      }
      continue;
    }
    if (r.id == from)
      continue; // a sender's own record: heard() has it
    auto it = members_.find(r.id);
    if (it == members_.end()) {
      member m;
      m.rec = r;
      if (r.state == member_state::suspect)
        m.rec.state = member_state::alive; // we will judge it ourselves
      if (!gone(m.rec.state)) { // silence from now on counts against it
        m.detector.emplace(params_.phi, *clock_);
        m.detector->heartbeat();
      }
      m.retransmit_left = params_.retransmit;
      member_change c;
      c.id = r.id;
      c.address = r.address;
      c.to = m.rec.state;
      c.incarnation = r.incarnation;
      c.is_new = true;
      c.reason = "learned from " + from;
      out.push_back(std::move(c));
      members_.emplace(r.id, std::move(m));
      continue;
    }
    auto& m = it->second;
    switch (r.state) {
      case member_state::alive:
        if (r.incarnation > m.rec.incarnation) {
          m.rec.incarnation = r.incarnation;
          if (!r.address.empty())
            m.rec.address = r.address;
          if (m.rec.state != member_state::alive) {
            if (gone(m.rec.state)) { // judged afresh from now
              m.detector.emplace(params_.phi, *clock_);
              m.detector->heartbeat();
            }
            out.push_back(set_state(m, member_state::alive,
                                    "incarnation " + std::to_string(r.incarnation)
                                      + " alive, reported by " + from));
          }
        }
        break;
      case member_state::suspect:
        if (m.rec.state == member_state::alive && r.incarnation >= m.rec.incarnation
            && !hears_directly(m)) {
          m.rec.incarnation = r.incarnation;
          out.push_back(set_state(m, member_state::suspect, "suspected by " + from));
        }
        break;
      case member_state::dead:
        if (!gone(m.rec.state) && r.incarnation >= m.rec.incarnation && !hears_directly(m)) {
          m.rec.incarnation = r.incarnation;
          out.push_back(set_state(m, member_state::dead, "reported dead by " + from));
        }
        break;
      case member_state::left:
        if (m.rec.state != member_state::left && r.incarnation >= m.rec.incarnation) {
          m.rec.incarnation = r.incarnation;
          out.push_back(set_state(m, member_state::left, "left (reported by " + from + ")"));
        }
        break;
    }
  }
  return out;
}

bool member_table::speaks_for(const std::string& id, uint64_t nonce) const {
  auto it = members_.find(id);
  return it == members_.end() || it->second.nonce == 0 || it->second.nonce == nonce;
}

void member_table::set_connected(const std::string& id, bool up) {
  auto it = members_.find(id);
  if (it == members_.end())
    return;
  it->second.connected = up;
}

bool member_table::connected(const std::string& id) const {
  auto it = members_.find(id);
  return it != members_.end() && it->second.connected;
}

std::vector<member_change> member_table::crashed(const std::string& id,
                                                 const std::string& reason) {
  std::vector<member_change> out;
  auto it = members_.find(id);
  if (it == members_.end() || gone(it->second.rec.state))
    return out;
  it->second.connected = false;
  it->second.detector.reset();
  auto c = set_state(it->second, member_state::dead, reason);
  c.crashed = true;
  out.push_back(std::move(c));
  return out;
}

std::vector<member_change> member_table::left(const std::string& id, uint64_t incarnation) {
  std::vector<member_change> out;
  auto it = members_.find(id);
  if (it == members_.end() || it->second.rec.state == member_state::left
      || incarnation < it->second.rec.incarnation)
    return out;
  it->second.rec.incarnation = incarnation;
  out.push_back(set_state(it->second, member_state::left, "left"));
  return out;
}

std::vector<member_change> member_table::probe_answered(const std::string& id,
                                                        const std::string& via) {
  std::vector<member_change> out;
  auto it = members_.find(id);
  if (it == members_.end() || gone(it->second.rec.state))
    return out;
  auto& m = it->second;
  m.probing_since.reset();
  // Reached: its silence on our link is the link's fault, for a while.
  m.reached_until = clock_->steady_now() + stretched(params_.probe_window + params_.suspect_timeout);
  if (m.rec.state == member_state::suspect)
    out.push_back(set_state(m, member_state::alive, "reached through " + via));
  return out;
}

tick_result member_table::tick(duration lateness) {
  tick_result out;
  auto now = clock_->steady_now();
  auto late_limit = std::max(params_.phi.heartbeat_interval / 2, duration{millis_d(20)});
  if (lateness > late_limit) {
    out.late = true;
    on_time_ = 0;
    health_ = std::min(health_ + 1, params_.max_health);
    for (auto& [id, m] : members_)
      m.stall_credit += lateness;
    return out; // a starved node suspects nobody
  }
  if (health_ > 0 && ++on_time_ >= 10) {
    --health_;
    on_time_ = 0;
  }
  for (auto& [id, m] : members_) {
    if (gone(m.rec.state))
      continue;
    // Without a link the silence grows just the same: a member this node
    // cannot reach is judged like one that stopped talking.
    bool silent = m.detector && phi_of(m) >= params_.phi.threshold;
    if (m.reached_until && now < *m.reached_until)
      continue;
    m.reached_until.reset();
    if (!silent) {
      m.probing_since.reset();
      continue;
    }
    auto why = "phi " + phi_text(phi_of(m)) + " over " + phi_text(params_.phi.threshold)
             + (m.connected ? "" : " (no link)");
    if (m.rec.state == member_state::alive) {
      if (!m.probing_since) {
        m.probing_since = now;
        out.probe.push_back(id);
      } else if (now - *m.probing_since >= stretched(params_.probe_window)) {
        out.changes.push_back(
          set_state(m, member_state::suspect, why + ", no indirect probe reached it"));
      }
    } else if (m.rec.state == member_state::suspect && m.suspect_since
               && now - *m.suspect_since >= stretched(params_.suspect_timeout)) {
      out.changes.push_back(set_state(m, member_state::dead,
                                      why + ", suspect for "
                                        + human_duration(now - *m.suspect_since)));
    }
  }
  return out;
}

std::vector<member_record> member_table::gossip_out(bool full) {
  std::vector<member_record> out;
  if (full || self_retransmit_ > 0) {
    out.push_back({self_id_, self_address_, self_state_, incarnation_});
    if (self_retransmit_ > 0)
      --self_retransmit_;
  }
  for (auto& [id, m] : members_) {
    if (full || m.retransmit_left > 0)
      out.push_back(m.rec);
    if (m.retransmit_left > 0)
      --m.retransmit_left;
  }
  return out;
}

std::vector<member_view> member_table::view() const {
  std::vector<member_view> out;
  member_view me;
  me.id = self_id_;
  me.address = self_address_;
  me.state = self_state_;
  me.incarnation = incarnation_;
  me.self = true;
  out.push_back(std::move(me));
  for (const auto& [id, m] : members_) {
    member_view v;
    v.id = id;
    v.address = m.rec.address;
    v.state = m.rec.state;
    v.incarnation = m.rec.incarnation;
    v.connected = m.connected;
    if (m.detector) {
      v.phi = phi_of(m);
      v.last_heard = m.detector->since_last();
    }
    out.push_back(std::move(v));
  }
  return out;
}

std::vector<member_record> member_table::to_connect() const {
  std::vector<member_record> out;
  for (const auto& [id, m] : members_)
    if (!gone(m.rec.state) && !m.connected && !m.rec.address.empty())
      out.push_back(m.rec);
  return out;
}

std::vector<member_record> member_table::dead_members() const {
  std::vector<member_record> out;
  for (const auto& [id, m] : members_)
    if (m.rec.state == member_state::dead && !m.rec.address.empty())
      out.push_back(m.rec);
  return out;
}

std::optional<member_record> member_table::find(const std::string& id) const {
  auto it = members_.find(id);
  if (it == members_.end())
    return std::nullopt;
  return it->second.rec;
}

std::vector<std::string> member_table::alive_peers() const {
  std::vector<std::string> out;
  for (const auto& [id, m] : members_)
    if (m.rec.state == member_state::alive)
      out.push_back(id);
  return out;
}

void member_table::leave() {
  self_state_ = member_state::left;
  self_retransmit_ = params_.retransmit;
}

void member_table::refute(uint64_t at_least) {
  incarnation_ = std::max(incarnation_, at_least) + 1;
  self_retransmit_ = params_.retransmit;
}

} // namespace faultd::membership
