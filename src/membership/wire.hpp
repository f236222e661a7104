#pragma once

// The peer protocol's messages (proto/faultd/v1/peer.proto) as a plain
// struct, and their encoding. Decoding never trusts its input: bytes that
// are not a PeerMessage, or one without a sender, are an error.

#include <cstdint>
#include <string>
#include <vector>

#include "membership/members.hpp"

namespace faultd::membership {

enum class peer_kind : uint8_t { heartbeat, join, welcome, refuse, ping_req, ping, ack, leave };

struct peer_message {
  peer_kind kind = peer_kind::heartbeat;
  std::string from;
  std::string address;
  uint64_t incarnation = 0;
  uint64_t nonce = 0;
  uint64_t seq = 0;
  std::vector<member_record> members;
  std::string target;
  std::string origin;
  uint64_t probe_id = 0;
  std::string reason;
  bool duplicate_id = false;
  uint64_t known_incarnation = 0;
};

std::string encode(const peer_message& m);

/// False (with `error` set) for bytes that are not a valid peer message.
bool decode(const std::string& bytes, peer_message& out, std::string& error);

} // namespace faultd::membership
