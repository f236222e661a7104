#pragma once

// The state-sync protocol's messages (proto/faultd/v1/state.proto) as a
// plain struct, and their encoding. Decoding never trusts its input: bytes
// that are not a StateMessage, a message without a sender, a digest that is
// not 256 sums or an entry that does not convert are an error (the entries'
// checksums are verified later, by replica_map::apply).

#include <cstdint>
#include <string>
#include <vector>

#include "faultd/domain.hpp"
#include "faultd/error.hpp"
#include "replica/replica_map.hpp"

namespace faultd::replica {

enum class msg_kind : uint8_t { push, digest, versions, want, entries, ack };
std::string_view to_string(msg_kind k);

struct state_message {
  msg_kind kind = msg_kind::push;
  std::string from;
  uint64_t seq = 0;
  uint64_t exchange = 0;
  std::vector<uint64_t> digest;  ///< DIGEST: bucket_count sums
  std::vector<uint32_t> buckets;
  std::vector<key_version> versions;
  std::vector<std::string> want;
  std::vector<state_entry> entries;
  bool report = false;
  uint64_t keys = 0;
  uint32_t parts = 0;
};

std::string encode(const state_message& m);

/// malformed_payload for bytes that are not a valid state message.
status decode(std::string_view bytes, state_message& out);

} // namespace faultd::replica
