#include "membership/wire.hpp"

#include "faultd/v1/peer.pb.h"

namespace faultd::membership {

std::string encode(const peer_message& m) {
  faultd::v1::PeerMessage p;
  p.set_kind(static_cast<faultd::v1::PeerMessage::Kind>(m.kind));
  p.set_from(m.from);
  p.set_address(m.address);
  p.set_incarnation(m.incarnation);
  p.set_nonce(m.nonce);
  p.set_seq(m.seq);
  for (const auto& r : m.members) {
    auto* x = p.add_members();
    x->set_id(r.id);
    x->set_address(r.address);
    x->set_state(static_cast<uint32_t>(r.state));
    x->set_incarnation(r.incarnation);
    x->set_suspected_by(r.suspected_by);
  }
  p.set_target(m.target);
  p.set_origin(m.origin);
  p.set_probe_id(m.probe_id);
  p.set_reason(m.reason);
  p.set_duplicate_id(m.duplicate_id);
  p.set_known_incarnation(m.known_incarnation);
  return p.SerializeAsString();
}

bool decode(const std::string& bytes, peer_message& out, std::string& error) {
  faultd::v1::PeerMessage p;
  if (!p.ParseFromString(bytes)) {
    error = "not a PeerMessage";
    return false;
  }
  if (!faultd::v1::PeerMessage::Kind_IsValid(p.kind())) {
    error = "unknown kind " + std::to_string(static_cast<int>(p.kind()));
    return false;
  }
  if (p.from().empty()) {
    error = "no sender id";
    return false;
  }
  out = peer_message{};
  out.kind = static_cast<peer_kind>(p.kind());
  out.from = p.from();
  out.address = p.address();
  out.incarnation = p.incarnation();
  out.nonce = p.nonce();
  out.seq = p.seq();
  for (const auto& x : p.members()) {
    if (x.id().empty() || x.state() > static_cast<uint32_t>(member_state::left)) {
      error = "bad member record";
      return false;
    }
    out.members.push_back({x.id(), x.address(), static_cast<member_state>(x.state()),
                           x.incarnation(), x.suspected_by()});
  }
  out.target = p.target();
  out.origin = p.origin();
  out.probe_id = p.probe_id();
  out.reason = p.reason();
  out.duplicate_id = p.duplicate_id();
  out.known_incarnation = p.known_incarnation();
  return true;
}

} // namespace faultd::membership
