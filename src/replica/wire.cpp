#include "replica/wire.hpp"

#include "faultd/v1/domain.pb.h"
#include "faultd/v1/state.pb.h"
#include "storage/proto_convert.hpp"

namespace faultd::replica {

std::string_view to_string(msg_kind k) {
  switch (k) {
    case msg_kind::push: return "push";
    case msg_kind::digest: return "digest";
    case msg_kind::versions: return "versions";
    case msg_kind::want: return "want";
    case msg_kind::entries: return "entries";
    case msg_kind::ack: return "ack";
  }
  return "unknown";
}

std::string encode(const state_message& m) {
  v1::StateMessage p;
  p.set_kind(static_cast<v1::StateMessage::Kind>(m.kind));
  p.set_from(m.from);
  p.set_seq(m.seq);
  p.set_exchange(m.exchange);
  for (auto d : m.digest)
    p.add_digest(d);
  for (auto b : m.buckets)
    p.add_buckets(b);
  for (const auto& kv : m.versions) {
    auto* x = p.add_versions();
    x->set_key(kv.key);
    x->set_version(kv.version);
    x->set_origin(kv.origin);
    x->set_tombstone(kv.tombstone);
  }
  for (const auto& k : m.want)
    p.add_want(k);
  for (const auto& e : m.entries)
    *p.add_entries() = storage::to_proto(e);
  p.set_report(m.report);
  p.set_keys(m.keys);
  p.set_parts(m.parts);
  return p.SerializeAsString();
}

status decode(std::string_view bytes, state_message& out) {
  auto bad = [](std::string why) { return status{errc::malformed_payload, std::move(why)}; };
  v1::StateMessage p;
  if (!p.ParseFromArray(bytes.data(), static_cast<int>(bytes.size())))
    return bad("not a StateMessage");
  if (!v1::StateMessage::Kind_IsValid(p.kind()))
    return bad("unknown kind " + std::to_string(static_cast<int>(p.kind())));
  if (p.from().empty())
    return bad("no sender id");
  if (p.digest_size() != 0 && p.digest_size() != static_cast<int>(bucket_count))
    return bad("a digest of " + std::to_string(p.digest_size()) + " sums, not "
               + std::to_string(bucket_count));
  out = state_message{};
  out.kind = static_cast<msg_kind>(p.kind());
  out.from = p.from();
  out.seq = p.seq();
  out.exchange = p.exchange();
  out.digest.assign(p.digest().begin(), p.digest().end());
  for (auto b : p.buckets()) {
    if (b >= bucket_count)
      return bad("bucket " + std::to_string(b) + " out of range");
    out.buckets.push_back(b);
  }
  for (const auto& x : p.versions())
    out.versions.push_back(key_version{x.key(), x.version(), x.origin(), x.tombstone()});
  out.want.assign(p.want().begin(), p.want().end());
  for (const auto& x : p.entries()) {
    state_entry e;
    if (auto st = storage::from_proto(x, e); !st.ok())
      return bad("entry: " + st.message());
    out.entries.push_back(std::move(e));
  }
  out.report = p.report();
  out.keys = p.keys();
  out.parts = p.parts();
  return {};
}

} // namespace faultd::replica
