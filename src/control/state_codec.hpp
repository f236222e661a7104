#pragma once

// Replies of `faultctl state` (the replicated map), node side. Each returns
// a serialized ControlResponse (proto/faultd/v1/control.proto).

#include <string>
#include <vector>

#include "faultd/domain.hpp"
#include "replica/report.hpp"

namespace faultd::control {

/// get, put: {"key","value","version","checksum","updated_by","updated_at"}.
std::string encode_state_entry(const state_entry& e);
/// list: {"entries":[...]}.
std::string encode_state_list(const std::vector<state_entry>& entries);
/// report: {"consistency_percentage","nodes":[{"id","keys","agree","differ","missing"}],"unanswered"}.
std::string encode_state_report(const replica::state_report& r);
/// snapshot, snapshots: {"snapshots":[{"id","created_at","keys"}]}.
std::string encode_snapshots(const std::vector<replica::snapshot_info>& xs);

} // namespace faultd::control
