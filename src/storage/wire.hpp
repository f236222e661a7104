#pragma once

// The wire and storage encoding of the domain values that cross nodes or are
// stored: the serialized protobuf message of proto/faultd/v1/domain.proto
// (FaultEvent, Incident, RecoveryExecution, StateEntry). This header has no
// protobuf in it, so CAF-heavy code can include it freely.

#include <string>
#include <string_view>

#include "faultd/domain.hpp"
#include "faultd/error.hpp"

namespace faultd::storage {

/// The protobuf encoding of `x` (see proto_convert.hpp for the mapping).
std::string serialize(const fault_event& x);
std::string serialize(const incident& x);
std::string serialize(const recovery_execution& x);
std::string serialize(const state_entry& x);
std::string serialize(const alert& x);

/// Decodes what serialize() produced. Returns errc::malformed_payload if the
/// bytes are not a message of that type or hold an unknown enum value.
status parse(std::string_view bytes, fault_event& out);
status parse(std::string_view bytes, incident& out);
status parse(std::string_view bytes, recovery_execution& out);
status parse(std::string_view bytes, state_entry& out);
status parse(std::string_view bytes, alert& out);

} // namespace faultd::storage
