#include "control/state_codec.hpp"

#include "faultd/util.hpp"
#include "faultd/v1/control.pb.h"
#include "storage/proto_convert.hpp"

namespace faultd::control {

namespace {

void fill(v1::StateEntryInfo& out, const state_entry& e) {
  out.set_key(e.key);
  out.set_value(storage::valid_utf8(e.value));
  out.set_version(e.version);
  out.set_checksum(e.checksum);
  out.set_updated_by(e.origin_node);
  out.set_updated_at(format_timestamp(e.updated_at));
}

} // namespace

std::string encode_state_entry(const state_entry& e) {
  v1::ControlResponse resp;
  resp.set_ok(true);
  fill(*resp.mutable_state_entry(), e);
  return resp.SerializeAsString();
}

std::string encode_state_list(const std::vector<state_entry>& entries) {
  v1::ControlResponse resp;
  resp.set_ok(true);
  auto* body = resp.mutable_state_list(); // set even when empty
  for (auto& e : entries)
    fill(*body->add_entries(), e);
  return resp.SerializeAsString();
}

std::string encode_state_report(const replica::state_report& r) {
  v1::ControlResponse resp;
  resp.set_ok(true);
  auto* body = resp.mutable_state_report();
  body->set_consistency_percentage(r.consistency_percentage);
  for (auto& n : r.nodes) {
    auto* x = body->add_nodes();
    x->set_id(n.id);
    x->set_keys(n.keys);
    x->set_agree(n.agree);
    x->set_differ(n.differ);
    x->set_missing(n.missing);
  }
  for (auto& id : r.unanswered)
    body->add_unanswered(id);
  return resp.SerializeAsString();
}

std::string encode_snapshots(const std::vector<replica::snapshot_info>& xs) {
  v1::ControlResponse resp;
  resp.set_ok(true);
  auto* body = resp.mutable_snapshots();
  for (auto& s : xs) {
    auto* x = body->add_snapshots();
    x->set_id(s.id);
    x->set_created_at(format_timestamp(s.created_at));
    x->set_keys(s.keys);
  }
  return resp.SerializeAsString();
}

} // namespace faultd::control
