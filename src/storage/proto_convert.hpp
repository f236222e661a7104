#pragma once

// Conversions between faultd's domain types (include/faultd/domain.hpp) and
// their protobuf mirrors (proto/faultd/v1/domain.proto).
//
// The protobuf classes are only forward-declared here so that this header
// stays cheap to include; a caller that uses a returned message includes
// "faultd/v1/domain.pb.h" itself. Code that only needs bytes includes
// "storage/wire.hpp" instead, which has no protobuf in it at all.
//
// Mapping rules:
// - timestamps and durations are int64 nanoseconds (since the Unix epoch);
// - enums map by number (the .proto enums list the domain's values in the
//   same order); from_proto rejects any number outside the domain enum with
//   errc::malformed_payload, since proto3 keeps unknown enum numbers;
// - std::optional fields map to proto3 `optional` fields;
// - proto3 `string` must be valid UTF-8 or the message will not parse again,
//   so to_proto replaces invalid UTF-8 sequences in strings with U+FFFD
//   (detector output may contain arbitrary bytes; a record that cannot be
//   read back would be worse than a replaced byte). state_entry::value is a
//   `bytes` field and is copied unchanged.

#include "faultd/domain.hpp"
#include "faultd/error.hpp"

namespace faultd::v1 {
class FaultEvent;
class RecoveryAction;
class RecoveryStrategy;
class ActionExecution;
class RecoveryExecution;
class Incident;
class Alert;
class StateEntry;
} // namespace faultd::v1

namespace faultd::storage {

/// `s` with every invalid UTF-8 byte replaced by U+FFFD.
std::string valid_utf8(std::string_view s);

/// Domain value -> protobuf message. Never fails.
v1::FaultEvent to_proto(const fault_event& x);
v1::RecoveryAction to_proto(const recovery_action& x);
v1::RecoveryStrategy to_proto(const recovery_strategy& x);
v1::ActionExecution to_proto(const action_execution& x);
v1::RecoveryExecution to_proto(const recovery_execution& x);
v1::Incident to_proto(const incident& x);
v1::Alert to_proto(const alert& x);
v1::StateEntry to_proto(const state_entry& x);

/// Protobuf message -> domain value. Returns errc::malformed_payload (naming
/// the field and the bad number) if an enum holds a value the domain does
/// not know; `out` is then left in an unspecified but valid state.
status from_proto(const v1::FaultEvent& in, fault_event& out);
status from_proto(const v1::RecoveryAction& in, recovery_action& out);
status from_proto(const v1::RecoveryStrategy& in, recovery_strategy& out);
status from_proto(const v1::ActionExecution& in, action_execution& out);
status from_proto(const v1::RecoveryExecution& in, recovery_execution& out);
status from_proto(const v1::Incident& in, incident& out);
status from_proto(const v1::Alert& in, alert& out);
status from_proto(const v1::StateEntry& in, state_entry& out);

} // namespace faultd::storage
