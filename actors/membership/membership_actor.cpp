#include "actors/membership/membership_actor.hpp"

#include <algorithm>
#include <map>
#include <random>
#include <set>

#include <caf/all.hpp>
#include <caf/io/all.hpp>

#include "actors/membership/tls_gate.hpp"
#include "actors/membership/tls_watch.hpp"
#include "actors/type_ids.hpp"
#include "faultd/log.hpp"
#include "faultd/util.hpp"
#include "membership/board.hpp"
#include "membership/incarnation.hpp"
#include "membership/members.hpp"
#include "membership/port_probe.hpp"
#include "membership/swim.hpp"
#include "membership/wire.hpp"

namespace faultd {

using membership::member_change;
using membership::member_state;
using membership::peer_kind;
using membership::peer_message;

namespace {

std::optional<endpoint> endpoint_of(const std::string& address) {
  return parse_endpoint(address);
}

/// A link to a member, by its address: a handle from connecting to its
/// peer port (its front), or adopted from a message it sent us (its
/// membership actor). Either way one TCP connection per pair of nodes:
/// CAF 0.17 closes a second one between the same nodes, and its proxies die
/// with it, so two nodes dialling each other at once would drop each
/// other's links over and over (seen with TLS).
struct link {
  caf::actor handle;                 ///< invalid while connecting
  std::vector<std::string> outbox;   ///< messages waiting for the handle
};

struct membership_state {
  std::shared_ptr<node_context> ctx;
  std::shared_ptr<membership_runtime> rt;
  std::shared_ptr<spdlog::logger> log = log::get("membership");
  std::map<std::string, link> links;      ///< by address
  std::map<caf::actor_addr, std::string> address_of;
  uint64_t seq = 0;
  uint64_t next_probe = 1;
  /// Probes this node asked for: probe id -> target.
  std::map<uint64_t, std::string> probes;
  std::mt19937_64 rng{std::random_device{}()};
  std::chrono::steady_clock::time_point next_tick;
  uint64_t ticks = 0;
  uint64_t dropped = 0;
  std::chrono::steady_clock::time_point last_drop_log;
  /// The first join: who waits for it, and the seeds not yet settled.
  std::vector<caf::response_promise> join_waiters;
  size_t seeds_pending = 0;
  bool joined = false;  ///< a WELCOME came
  bool settled = false; ///< the first join is decided (joined, refused, or no seed answered)
  std::string refused; ///< why this node may not join ("" = it may)
  /// Failed TLS handshakes not yet raised (one fault per 10 s at most).
  std::vector<tls_watch::failure> tls_failures;
  uint64_t tls_failures_unraised = 0;
  uint64_t gate_refused = 0;   ///< by the handshake gate, not yet logged
  uint64_t gate_timed_out = 0; ///< ditto
  uint64_t gate_unraised = 0;  ///< both, not yet in a fault
  std::string gate_last_peer;
  std::optional<std::chrono::steady_clock::time_point> gate_logged;
  std::optional<std::chrono::steady_clock::time_point> gate_raised;
  std::optional<std::chrono::steady_clock::time_point> tls_raised;
  uint64_t stored_incarnation = 0; ///< swim: the last one written to incarnation_path
  static inline const char* name = "membership";
};

using self_ptr = caf::stateful_actor<membership_state>*;

// The mesh (member_table) or SWIM (swim_node), by cluster.membership: what
// is common to both goes through the helpers below.
membership::member_table& table(self_ptr self) { return *self->state.rt->table; }
bool swim_mode(self_ptr self) { return self->state.rt->swim != nullptr; }
membership::swim_node& swim(self_ptr self) { return *self->state.rt->swim; }

const std::string& self_id(self_ptr self) {
  return swim_mode(self) ? swim(self).id() : table(self).self_id();
}
const std::string& self_address(self_ptr self) {
  return swim_mode(self) ? swim(self).address() : table(self).self_address();
}
uint64_t incarnation(self_ptr self) {
  return swim_mode(self) ? swim(self).incarnation() : table(self).incarnation();
}
std::optional<membership::member_record> find_member(self_ptr self, const std::string& id) {
  return swim_mode(self) ? swim(self).find(id) : table(self).find(id);
}

bool link_up(self_ptr self, const std::string& address) {
  auto it = self->state.links.find(address);
  return it != self->state.links.end() && it->second.handle;
}

std::vector<membership::member_view> current_view(self_ptr self) {
  if (!swim_mode(self))
    return table(self).view();
  auto v = swim(self).view();
  for (auto& m : v)
    m.connected = !m.self && link_up(self, m.address);
  return v;
}

peer_message make(self_ptr self, peer_kind kind) {
  peer_message m;
  m.kind = kind;
  m.from = self_id(self);
  m.address = self_address(self);
  m.incarnation = incarnation(self);
  m.nonce = self->state.rt->nonce;
  return m;
}

void publish_view(self_ptr self) {
  self->state.ctx->members->publish(current_view(self),
                                    swim_mode(self) ? 0 : table(self).local_health());
}

void settle_join(self_ptr self) {
  auto& s = self->state;
  s.settled = true;
  for (auto& rp : s.join_waiters)
    rp.deliver(s.refused);
  s.join_waiters.clear();
}

/// A fault this detector reports (high, source "membership").
fault_event membership_fault(self_ptr self, fault_type type, std::string component) {
  fault_event f;
  f.id = make_uuid();
  f.time = system_clock_source().now();
  f.type = type;
  f.severity = fault_severity::high;
  f.component = std::move(component);
  f.node = self->state.ctx->cfg.node.id;
  f.source = "membership";
  return f;
}

fault_event node_fault(self_ptr self, const member_change& c, fault_type type, bool clears) {
  auto f = membership_fault(self, type, "node:" + c.id);
  f.clears = clears;
  f.details["address"] = c.address;
  f.details["incarnation"] = std::to_string(c.incarnation);
  f.details["message"] = clears ? "node " + c.id + " is " + std::string{to_string(c.to)} + " again ("
                                    + c.reason + ")"
                                : "node " + c.id + " at " + c.address + " is dead: " + c.reason;
  return f;
}

/// Logs changes and turns deaths (and returns) into faults.
void report(self_ptr self, const std::vector<member_change>& changes) {
  auto& s = self->state;
  for (const auto& c : changes) {
    if (c.is_new)
      s.log->info("member-joined id={} address={} state={} incarnation={} reason=\"{}\"", c.id,
                  c.address, to_string(c.to), c.incarnation, c.reason);
    else
      s.log->info("member-state-changed id={} address={} from={} to={} incarnation={} "
                  "reason=\"{}\"",
                  c.id, c.address, to_string(c.from), to_string(c.to), c.incarnation, c.reason);
    if (c.to == member_state::dead) {
      auto type = c.crashed ? fault_type::hardware_failure : fault_type::network_timeout;
      s.ctx->send_to("analyzer", event_atom::value, node_fault(self, c, type, false));
    } else if (c.from == member_state::dead && !c.is_new) {
      for (auto type : {fault_type::hardware_failure, fault_type::network_timeout})
        s.ctx->send_to("analyzer", event_atom::value, node_fault(self, c, type, true));
    }
  }
  if (!changes.empty())
    publish_view(self);
}

void connect(self_ptr self, const std::string& address);

/// Sends `m` to the member at `address`, connecting first if needed.
void send_to_address(self_ptr self, const std::string& address, const peer_message& m) {
  auto& s = self->state;
  auto bytes = membership::encode(m);
  auto it = s.links.find(address);
  if (it != s.links.end() && it->second.handle) {
    self->send(it->second.handle, peer_atom::value, std::move(bytes));
    return;
  }
  if (it != s.links.end()) {
    if (it->second.outbox.size() < 64)
      it->second.outbox.push_back(std::move(bytes));
    return;
  }
  connect(self, address);
  s.links[address].outbox.push_back(std::move(bytes));
}

void send_to_member(self_ptr self, const std::string& id, const peer_message& m) {
  if (auto rec = find_member(self, id))
    send_to_address(self, rec->address, m);
}

void link_failed(self_ptr self, const std::string& address, const caf::error& err) {
  auto& s = self->state;
  s.links.erase(address);
  s.log->debug("peer-connect-failed address={} error=\"{}\"", address,
               self->system().render(err));
  bool seed = false;
  for (auto& e : s.ctx->cfg.cluster.seeds)
    seed = seed || e.to_string() == address;
  if (seed && s.seeds_pending > 0) {
    // A seed that cannot be reached: the first join settles without it
    // (and the seeds are tried again every second until one answers).
    if (--s.seeds_pending == 0 && !s.settled)
      settle_join(self);
  }
}

/// Uses `h` as the link to `address` (monitored) and sends what waited.
void adopt(self_ptr self, const std::string& address, const caf::actor& h) {
  auto& s = self->state;
  auto& l = s.links[address];
  if (l.handle)
    return;
  l.handle = h;
  s.address_of[h.address()] = address;
  self->monitor(h);
  for (auto& bytes : l.outbox)
    self->send(h, peer_atom::value, std::move(bytes));
  l.outbox.clear();
}

void connect(self_ptr self, const std::string& address) {
  auto& s = self->state;
  if (s.links.count(address) != 0)
    return;
  auto ep = endpoint_of(address);
  if (!ep) {
    s.log->warn("peer-address-invalid address={}", address);
    return;
  }
  s.links[address];
  self
    ->request(s.rt->connector, std::chrono::seconds(2), caf::connect_atom::value, ep->host,
              ep->port)
    .then(
      [self, address](const caf::node_id&, caf::strong_actor_ptr& ptr,
                      const std::set<std::string>&) {
        auto h = caf::actor_cast<caf::actor>(ptr);
        if (!h) {
          link_failed(self, address, caf::sec::cannot_connect_to_node);
          return;
        }
        auto& l = self->state.links[address];
        if (l.handle)
          return; // it reached us first: its link stays
        // Our JOIN first: it tells the peer who we are (and gets us its list).
        self->send(h, peer_atom::value, membership::encode(make(self, peer_kind::join)));
        adopt(self, address, h);
      },
      [self, address](caf::error& err) { link_failed(self, address, err); });
}

void mark_linked(self_ptr self, const std::string& id, const std::string& address) {
  table(self).set_connected(id, link_up(self, address));
}

/// Links to members without one. Of two nodes the one with the smaller id
/// dials; the other waits for it, and dials itself only every 2 s (in case
/// the smaller one cannot).
void connect_to_known(self_ptr self) {
  bool patient = self->state.ticks % 20 != 0;
  for (auto& rec : table(self).to_connect())
    if (self->state.links.count(rec.address) == 0
        && (rec.id > table(self).self_id() || !patient))
      connect(self, rec.address);
}

void refuted(self_ptr self) {
  auto& s = self->state;
  s.log->info("member-refuted incarnation={} reason=\"suspected or reported dead by a peer\"",
              incarnation(self));
  s.stored_incarnation = incarnation(self);
  if (auto st = membership::store_incarnation(s.rt->incarnation_path, incarnation(self));
      !st.ok())
    s.log->warn("incarnation-unsaved error=\"{}\"", st.message());
  publish_view(self);
}

/// The sender introduces itself (JOIN, or WELCOME to our JOIN).
membership::join_verdict admit(self_ptr self, const peer_message& m) {
  auto known = table(self).find(m.from);
  // A new process on the very address of a known member: the old one no
  // longer holds that port, so its link (if we have not seen it break yet)
  // is stale.
  bool other_link = known && known->address != m.address && table(self).connected(m.from);
  return table(self).join(m.from, m.address, m.incarnation, m.nonce, other_link);
}

/// A JOIN that admission refused: REFUSE, and a taken id is a
/// security_violation.
peer_message refusal(self_ptr self, const membership::join_verdict& v) {
  auto refuse = make(self, peer_kind::refuse);
  refuse.reason = v.reason;
  refuse.duplicate_id = v.result != membership::join_result::refused_stale;
  refuse.known_incarnation = v.known_incarnation;
  return refuse;
}

void refuse_join(self_ptr self, const peer_message& m, const membership::join_verdict& v) {
  auto& s = self->state;
  auto refuse = refusal(self, v);
  if (refuse.duplicate_id) {
    s.log->error("member-refused id={} address={} reason=\"{}\"", m.from, m.address, v.reason);
    auto f = membership_fault(self, fault_type::security_violation, "membership");
    f.details["peer"] = m.address;
    f.details["claimed_id"] = m.from;
    f.details["message"] = "a node at " + m.address + " tried to join as " + m.from + ": "
                           + v.reason;
    s.ctx->send_to("analyzer", event_atom::value, std::move(f));
  } else {
    s.log->info("member-rejoin-stale id={} incarnation={} known={}", m.from, m.incarnation,
                v.known_incarnation);
  }
  send_to_address(self, m.address, refuse);
}

void on_join(self_ptr self, const peer_message& m) {
  auto v = admit(self, m);
  if (v.result != membership::join_result::accepted) {
    refuse_join(self, m, v);
    return;
  }
  mark_linked(self, m.from, m.address);
  report(self, v.changes);
  auto welcome = make(self, peer_kind::welcome);
  welcome.members = table(self).gossip_out(true);
  send_to_address(self, m.address, welcome);
}

/// A WELCOME from a process that may not be a member.
void welcome_refused(self_ptr self, const peer_message& m, const membership::join_verdict& v) {
  // It answered the JOIN we open every link with. One we buried at an
  // incarnation it has not gone past may not know it (we judged it dead
  // alone: it was starved of our heartbeats, not the other way round), and
  // it may never send a JOIN of its own to be refused: tell it, so that it
  // refutes and joins again, or the two stay apart for good.
  self->state.log->warn("member-welcome-ignored id={} address={} reason=\"{}\"", m.from,
                        m.address, v.reason);
  if (v.result == membership::join_result::refused_stale)
    send_to_address(self, m.address, refusal(self, v));
}

void on_welcome(self_ptr self, const peer_message& m) {
  auto& s = self->state;
  auto v = admit(self, m);
  if (v.result != membership::join_result::accepted) {
    welcome_refused(self, m, v);
    return;
  }
  mark_linked(self, m.from, m.address);
  report(self, v.changes);
  bool refute = false;
  report(self, table(self).gossip(m.from, m.members, refute));
  if (refute)
    refuted(self);
  connect_to_known(self);
  if (!s.joined) {
    s.joined = true;
    s.log->info("cluster-joined via={} members={}", m.from, table(self).view().size());
    settle_join(self);
  }
}

void send_swim(self_ptr self, std::vector<membership::swim_out> outs);

void on_refuse(self_ptr self, const peer_message& m) {
  auto& s = self->state;
  if (!m.duplicate_id) {
    // Our incarnation is not above the one we were buried with: go higher.
    if (swim_mode(self)) {
      swim(self).refute(m.known_incarnation);
      refuted(self);
      send_swim(self, swim(self).join(m.address));
      return;
    }
    table(self).refute(m.known_incarnation);
    refuted(self);
    send_to_address(self, m.address, make(self, peer_kind::join));
    return;
  }
  s.refused = "node " + m.from + " at " + m.address + " refused this node: " + m.reason;
  s.log->error("cluster-join-refused by={} reason=\"{}\"", m.from, m.reason);
  settle_join(self);
}

// -- swim -------------------------------------------------------------------

/// After a call into the swim node: its changes reported (faults and log),
/// a raised incarnation stored.
void swim_settle(self_ptr self) {
  report(self, swim(self).take_changes());
  if (swim(self).incarnation() != self->state.stored_incarnation)
    refuted(self);
}

void send_swim(self_ptr self, std::vector<membership::swim_out> outs) {
  for (auto& o : outs) {
    o.msg.nonce = self->state.rt->nonce;
    if (o.address.empty())
      if (auto rec = find_member(self, o.to))
        o.address = rec->address;
    if (!o.address.empty())
      send_to_address(self, o.address, o.msg);
  }
  swim_settle(self);
}

/// Every message of a swim cluster; JOIN and WELCOME pass admission first
/// (a taken id is refused as on the mesh). The link a message came by
/// becomes the way to its sender's address only once the sender is known
/// there (admitted, or a member at that address): a message cannot claim
/// another member's address.
void on_swim_message(self_ptr self, const peer_message& m, const caf::actor& sender) {
  auto& s = self->state;
  auto& node = swim(self);
  if (m.kind == peer_kind::refuse) {
    on_refuse(self, m);
    return;
  }
  auto known = node.find(m.from);
  if (m.kind == peer_kind::join || m.kind == peer_kind::welcome) {
    // Links open on demand here, so a link to the holder of an id proves
    // nothing either way: a member live at another address holds it.
    bool other_link = known && known->address != m.address;
    auto v = node.admit(m.from, m.address, m.incarnation, m.nonce, other_link);
    if (v.result != membership::join_result::accepted) {
      if (m.kind == peer_kind::join)
        refuse_join(self, m, v);
      else
        welcome_refused(self, m, v);
      return;
    }
    if (sender && !m.address.empty())
      adopt(self, m.address, sender);
  } else if (sender && known && known->address == m.address) {
    adopt(self, m.address, sender);
  }
  send_swim(self, node.receive(m));
  if (m.kind == peer_kind::welcome && !s.joined) {
    s.joined = true;
    s.log->info("cluster-joined via={} members={}", m.from, node.view().size());
    settle_join(self);
  }
}

/// Runs what is due (probes, suspicions, gossip, push-pull, joins) and
/// comes back when the next thing is (within 100 ms, for the TLS watch).
void swim_tick(self_ptr self) {
  auto& s = self->state;
  send_swim(self, swim(self).tick());
  auto now = std::chrono::steady_clock::now();
  auto wait = std::chrono::duration_cast<std::chrono::milliseconds>(swim(self).next_due() - now);
  wait = std::clamp(wait, std::chrono::milliseconds(1), std::chrono::milliseconds(100));
  self->delayed_send(self, wait, tick_atom::value);
  ++s.ticks;
  publish_view(self);
}

// -- mesh -------------------------------------------------------------------

void on_heartbeat(self_ptr self, const peer_message& m) {
  if (!table(self).find(m.from)) {
    // A node that knows us but we do not know (our table is newer than its
    // link): introduce ourselves; its WELCOME fills the gap.
    send_to_address(self, m.address, make(self, peer_kind::join));
    return;
  }
  mark_linked(self, m.from, m.address);
  report(self, table(self).heard(m.from, m.incarnation));
  bool refute = false;
  report(self, table(self).gossip(m.from, m.members, refute));
  if (refute)
    refuted(self);
  connect_to_known(self);
}

void on_peer_message(self_ptr self, const std::string& bytes, const caf::actor& sender) {
  auto& s = self->state;
  peer_message m;
  std::string err;
  if (!membership::decode(bytes, m, err)) {
    ++s.dropped;
    auto now = std::chrono::steady_clock::now();
    if (now - s.last_drop_log > std::chrono::seconds(10)) {
      s.last_drop_log = now;
      s.log->warn("peer-message-dropped reason=\"{}\" bytes={} dropped_total={}", err,
                  bytes.size(), s.dropped);
    }
    return;
  }
  if (m.from == self_id(self) && m.nonce == s.rt->nonce)
    return; // our own message (a seed list that names this node)
  if (m.kind != peer_kind::join && m.kind != peer_kind::welcome
      && !(swim_mode(self) ? swim(self).speaks_for(m.from, m.nonce)
                           : table(self).speaks_for(m.from, m.nonce))) {
    // Another process under a member's id (one we refused, or an old one):
    // its heartbeats and goodbyes are not the member's.
    s.log->debug("peer-message-ignored from={} address={} reason=\"not the process of that "
                 "member\"",
                 m.from, m.address);
    return;
  }
  if (swim_mode(self)) {
    on_swim_message(self, m, sender);
    return;
  }
  if (sender && !m.address.empty())
    adopt(self, m.address, sender); // answer on the link it came by
  switch (m.kind) {
    case peer_kind::join:
      on_join(self, m);
      break;
    case peer_kind::welcome:
      on_welcome(self, m);
      break;
    case peer_kind::refuse:
      on_refuse(self, m);
      break;
    case peer_kind::heartbeat:
      on_heartbeat(self, m);
      break;
    case peer_kind::ping_req: {
      // Reach the target on the asker's behalf.
      if (!table(self).connected(m.target))
        break;
      auto ping = make(self, peer_kind::ping);
      ping.target = m.target;
      ping.origin = m.from;
      ping.probe_id = m.probe_id;
      send_to_member(self, m.target, ping);
      break;
    }
    case peer_kind::ping: {
      auto ack = make(self, peer_kind::ack);
      ack.target = table(self).self_id();
      ack.origin = m.origin;
      ack.probe_id = m.probe_id;
      send_to_address(self, m.address, ack);
      report(self, table(self).heard(m.from, m.incarnation));
      break;
    }
    case peer_kind::ack:
      if (m.origin == table(self).self_id()) {
        auto it = s.probes.find(m.probe_id);
        if (it != s.probes.end() && it->second == m.target) {
          s.probes.erase(it);
          report(self, table(self).probe_answered(m.target, m.from));
        }
      } else {
        auto relay = make(self, peer_kind::ack); // relay to the asker
        relay.target = m.target;
        relay.origin = m.origin;
        relay.probe_id = m.probe_id;
        send_to_member(self, m.origin, relay);
      }
      report(self, table(self).heard(m.from, m.incarnation));
      break;
    case peer_kind::leave:
      report(self, table(self).left(m.from, m.incarnation));
      break;
  }
}

/// Connects to every seed but this node itself; how many.
size_t connect_seeds(self_ptr self) {
  size_t n = 0;
  for (auto& seed : self->state.ctx->cfg.cluster.seeds) {
    auto address = seed.to_string();
    if (address == self_address(self))
      continue;
    ++n;
    connect(self, address);
  }
  return n;
}

void probe(self_ptr self, const std::string& target) {
  auto& s = self->state;
  std::vector<std::string> helpers;
  for (auto& id : table(self).alive_peers())
    if (id != target && table(self).connected(id))
      helpers.push_back(id);
  std::shuffle(helpers.begin(), helpers.end(), s.rng);
  if (helpers.size() > 3)
    helpers.resize(3);
  auto id = s.next_probe++;
  s.probes[id] = target;
  if (s.probes.size() > 256)
    s.probes.erase(s.probes.begin());
  s.log->info("member-probing id={} helpers={} reason=\"phi over the threshold\"", target,
              helpers.size());
  for (auto& h : helpers) {
    auto req = make(self, peer_kind::ping_req);
    req.target = target;
    req.probe_id = id;
    send_to_member(self, h, req);
  }
}

/// Whether `address` is a seed's or a member's peer port.
bool is_peer_address(self_ptr self, const std::string& address) {
  for (auto& seed : self->state.ctx->cfg.cluster.seeds)
    if (seed.to_string() == address)
      return true;
  for (auto& v : current_view(self))
    if (v.address == address)
      return true;
  return false;
}

/// Failed TLS handshakes are refused peers: logged, counted, and raised as
/// a security_violation at most every 10 s (an attacker's flood is one
/// fault with a count, not a storm).
void raise_tls_failures(self_ptr self) {
  auto& s = self->state;
  uint64_t total = 0;
  auto fresh = tls_watch::take(total);
  for (auto& f : fresh) {
    // Outbound, only our own links count (an https check's handshake goes
    // through SSL_connect too).
    if (!f.accepting && !is_peer_address(self, f.peer))
      continue;
    s.log->warn("peer-tls-handshake-failed peer={} direction={} reason=\"{}\" total={}", f.peer,
                f.accepting ? "in" : "out", f.reason, total);
    ++s.tls_failures_unraised;
    if (s.tls_failures.size() < 8)
      s.tls_failures.push_back(std::move(f));
  }
  auto now = std::chrono::steady_clock::now();
  if (s.tls_failures_unraised == 0 || (s.tls_raised && now - *s.tls_raised < std::chrono::seconds(10)))
    return;
  s.tls_raised = now;
  auto& first = s.tls_failures.front();
  auto f = membership_fault(self, fault_type::security_violation, "membership");
  f.details["peer"] = first.peer;
  f.details["reason"] = first.reason;
  f.details["refused"] = std::to_string(s.tls_failures_unraised);
  f.details["message"] = std::string{"TLS handshake "} + (first.accepting ? "from " : "to ")
                         + first.peer + " failed: " + first.reason
                         + " (a peer without a certificate of this cluster's CA)";
  s.ctx->send_to("analyzer", event_atom::value, std::move(f));
  s.tls_failures.clear();
  s.tls_failures_unraised = 0;
}

/// Connections the handshake gate refused (too many in their handshake) or
/// closed (no handshake in time): an idle-connection flood. Logged at most
/// once a second and raised at most every 10 s, apart from refused peers
/// (one kind of attack must not hide the other).
void raise_gate_events(self_ptr self) {
  auto& s = self->state;
  auto g = tls_gate::expire();
  s.gate_refused += g.refused;
  s.gate_timed_out += g.timed_out;
  s.gate_unraised += g.refused + g.timed_out;
  if (g.refused + g.timed_out > 0)
    s.gate_last_peer = g.last_peer;
  auto now = std::chrono::steady_clock::now();
  auto timeout = human_duration(std::chrono::duration_cast<duration>(g.limits.timeout));
  if ((s.gate_refused > 0 || s.gate_timed_out > 0)
      && (!s.gate_logged || now - *s.gate_logged >= std::chrono::seconds(1))) {
    s.gate_logged = now;
    s.log->warn("peer-tls-handshakes-limited refused={} timed_out={} pending={} last_peer={} "
                "limit={} per_address={} timeout={}",
                s.gate_refused, s.gate_timed_out, g.pending, s.gate_last_peer,
                g.limits.max_pending, g.limits.max_pending_per_host, timeout);
    s.gate_refused = s.gate_timed_out = 0;
  }
  if (s.gate_unraised == 0 || (s.gate_raised && now - *s.gate_raised < std::chrono::seconds(10)))
    return;
  s.gate_raised = now;
  auto f = membership_fault(self, fault_type::security_violation, "membership");
  f.details["peer"] = s.gate_last_peer;
  f.details["refused"] = std::to_string(s.gate_unraised);
  f.details["message"] =
    std::to_string(s.gate_unraised) + " connections to the peer port refused or closed "
    + "without a TLS handshake (an idle-connection flood?): at most "
    + std::to_string(g.limits.max_pending) + " handshakes at once, "
    + std::to_string(g.limits.max_pending_per_host) + " from one address, each within "
    + timeout + "; the last from " + s.gate_last_peer;
  s.ctx->send_to("analyzer", event_atom::value, std::move(f));
  s.gate_unraised = 0;
}

void tick(self_ptr self) {
  auto& s = self->state;
  if (s.rt->tls) {
    raise_tls_failures(self);
    raise_gate_events(self);
  }
  if (swim_mode(self)) {
    swim_tick(self);
    return;
  }
  auto now = std::chrono::steady_clock::now();
  auto interval = s.ctx->cfg.cluster.heartbeat_interval;
  auto lateness = now > s.next_tick ? now - s.next_tick : std::chrono::steady_clock::duration{0};
  s.next_tick = now + interval;
  self->delayed_send(self, interval, tick_atom::value);
  auto r = table(self).tick(std::chrono::duration_cast<duration>(lateness));
  if (r.late)
    s.log->info("local-health-degraded health={} late_by={}", table(self).local_health(),
                human_duration(std::chrono::duration_cast<duration>(lateness)));
  report(self, r.changes);
  for (auto& id : r.probe)
    probe(self, id);
  auto hb = make(self, peer_kind::heartbeat);
  hb.seq = ++s.seq;
  hb.members = table(self).gossip_out(s.ticks++ % 10 == 0);
  auto bytes = membership::encode(hb);
  for (auto& v : table(self).view()) {
    if (v.self || v.state == member_state::dead || v.state == member_state::left)
      continue;
    auto it = s.links.find(v.address);
    if (it != s.links.end() && it->second.handle)
      self->send(it->second.handle, peer_atom::value, bytes);
  }
  connect_to_known(self);
  // Not joined yet (the seeds were down when this node started): try the
  // seeds again every second.
  if (!s.joined && s.ticks % 10 == 0)
    connect_seeds(self);
  // Now and then knock on a dead member's door: a healed partition or a
  // node restarted without seeds that name us comes back this way.
  if (s.ticks % 10 == 0) {
    auto dead = table(self).dead_members();
    if (!dead.empty()) {
      auto& rec = dead[s.rng() % dead.size()];
      connect(self, rec.address);
    }
  }
  publish_view(self);
}

} // namespace

caf::actor spawn_peer_front(caf::actor_system& sys, std::shared_ptr<node_context> ctx) {
  return sys.spawn([ctx](caf::event_based_actor* self) -> caf::behavior {
    auto dropped = std::make_shared<uint64_t>(0);
    self->set_default_handler(
      [dropped](caf::scheduled_actor*, caf::message_view&) -> caf::result<caf::message> {
        if (++*dropped % 1000 == 1)
          log::get("membership")->warn("peer-message-dropped dropped_total={} reason=\"not a "
                                       "peer message\"",
                                       *dropped);
        return caf::sec::unexpected_message;
      });
    // A state message is at most state_sync.max_message_size (one value
    // that does not fit a chunk travels alone, still within it).
    auto state_limit = ctx->cfg.state_sync.max_message_size + 4096;
    return {
      [self, ctx](peer_atom, std::string& bytes) {
        if (bytes.size() > (1u << 20))
          return; // no peer message is this big
        // The sender (the peer's membership actor) is the way back to it.
        ctx->send_to("membership", peer_atom::value, std::move(bytes),
                     caf::actor_cast<caf::actor>(self->current_sender()));
      },
      [ctx, state_limit, dropped](state_atom, std::string& bytes) {
        if (bytes.size() > state_limit) {
          if (++*dropped % 1000 == 1)
            log::get("membership")->warn("peer-message-dropped dropped_total={} reason=\"state "
                                         "message of {} bytes\"",
                                         *dropped, bytes.size());
          return;
        }
        ctx->send_to("state_sync", state_atom::value, std::move(bytes));
      },
    };
  });
}

caf::actor spawn_membership_actor(caf::actor_system& sys, std::shared_ptr<node_context> ctx,
                                  std::shared_ptr<membership_runtime> rt) {
  return sys.spawn([ctx, rt](caf::stateful_actor<membership_state>* self) -> caf::behavior {
    auto& s = self->state;
    s.ctx = ctx;
    s.rt = rt;
    // Links do not survive a restart of this actor: every member is
    // reconnected (and rejoined) from the table.
    if (rt->table)
      for (auto& v : rt->table->view())
        if (!v.self)
          rt->table->set_connected(v.id, false);
    if (rt->swim)
      s.stored_incarnation = rt->swim->incarnation();
    self->set_down_handler([self](const caf::down_msg& dm) {
      auto& s = self->state;
      auto it = s.address_of.find(dm.source);
      if (it == s.address_of.end())
        return;
      auto address = it->second;
      s.address_of.erase(it);
      auto l = s.links.find(address);
      if (l == s.links.end() || l->second.handle.address() != dm.source)
        return; // an older handle of a link that is up again
      s.links.erase(l);
      for (auto& v : current_view(self))
        if (!v.self && v.address == address) {
          if (!swim_mode(self))
            table(self).set_connected(v.id, false);
          s.log->info("peer-link-lost id={} address={} reason=\"{}\"", v.id, address,
                      self->system().render(dm.reason));
          if (v.state == member_state::dead || v.state == member_state::left)
            continue;
          // On a detached actor of its own (a host that drops packets makes
          // the probe wait; the actor system waits for it at shutdown).
          auto ep = endpoint_of(address);
          if (!ep)
            continue;
          self->spawn<caf::detached>(
            [e = *ep, address, me = caf::actor{self}](caf::blocking_actor* prober) {
              auto st = membership::probe_port(e, millis_d(500));
              prober->send(me, port_atom::value, address,
                           st == membership::port_state::refused);
            });
        }
    });
    if (rt->swim) {
      // The JOIN goes to every seed at once, then to one per second until
      // a member answers.
      std::vector<std::string> seeds;
      for (auto& e : ctx->cfg.cluster.seeds)
        if (e.to_string() != rt->swim->address())
          seeds.push_back(e.to_string());
      s.seeds_pending = seeds.size();
      send_swim(self, rt->swim->join(seeds));
    } else {
      s.seeds_pending = connect_seeds(self);
      connect_to_known(self);
    }
    if (s.seeds_pending == 0)
      s.joined = s.settled = true; // the first node: nothing to join
    s.next_tick = std::chrono::steady_clock::now();
    self->send(self, tick_atom::value);
    return {
      [self](peer_atom, const std::string& bytes, const caf::actor& sender) {
        on_peer_message(self, bytes, sender); // through our front
      },
      [self](peer_atom, const std::string& bytes) {
        // Straight from a peer that holds our handle (it answers on the link
        // we opened): the front's limit holds here too.
        if (bytes.size() > (1u << 20))
          return;
        on_peer_message(self, bytes, caf::actor_cast<caf::actor>(self->current_sender()));
      },
      [self](port_atom, const std::string& address, bool refused) {
        auto& s = self->state;
        const char* why = "its link broke and its peer port refuses connections";
        for (auto& v : current_view(self)) {
          if (v.self || v.address != address)
            continue;
          if (refused && swim_mode(self)) {
            swim(self).crashed(v.id, why);
            swim_settle(self);
          } else if (refused) {
            report(self, table(self).crashed(v.id, why));
          } else if (!swim_mode(self) && s.links.count(address) == 0
                     && v.id > table(self).self_id()) {
            connect(self, address); // still listening: link again (we dial)
          } // swim: links open again when a message needs one
        }
      },
      [self](state_atom, std::string& bytes) {
        // A peer's state sync, on the link it holds to us.
        auto& s = self->state;
        if (bytes.size() <= s.ctx->cfg.state_sync.max_message_size + 4096)
          s.ctx->send_to("state_sync", state_atom::value, std::move(bytes));
      },
      [self](state_atom, const std::string& to, std::string& bytes) {
        // Our own state sync's message for member `to` (never a remote's:
        // peers do not relay through us).
        auto sender = self->current_sender();
        if (!sender || sender->node() != self->node())
          return;
        auto rec = find_member(self, to);
        if (!rec)
          return;
        auto it = self->state.links.find(rec->address);
        if (it != self->state.links.end() && it->second.handle)
          self->send(it->second.handle, state_atom::value, std::move(bytes));
        else if (swim_mode(self) && rec->state != member_state::dead
                 && rec->state != member_state::left)
          connect(self, rec->address); // SWIM links open on demand
        // No link now: the window resends, anti-entropy repairs.
      },
      [self](tick_atom) { tick(self); },
      [self](join_atom) -> caf::result<std::string> {
        auto& s = self->state;
        if (s.settled)
          return s.refused;
        auto rp = self->make_response_promise<std::string>();
        s.join_waiters.push_back(rp);
        return rp;
      },
      [self](leave_atom) -> caf::result<bool> {
        auto& s = self->state;
        if (swim_mode(self))
          send_swim(self, swim(self).leave()); // a few members, and its gossip
        else
          table(self).leave();
        auto bye = make(self, peer_kind::leave);
        auto bytes = membership::encode(bye);
        size_t told = 0;
        for (auto& [address, l] : s.links)
          if (l.handle) {
            self->send(l.handle, peer_atom::value, bytes);
            ++told;
          }
        s.log->info("cluster-leaving told={}", told);
        publish_view(self);
        return true;
      },
    };
  });
}

} // namespace faultd
