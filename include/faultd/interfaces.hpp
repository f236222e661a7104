#pragma once

// The typed message interfaces (caf::typed_actor) of the actors an embedding
// application talks to (faultd/embed.hpp), so the compiler checks the
// contract on both sides. Their atoms are faultd's own: the node's internal
// actors use the same ones (actors/type_ids.hpp).
//
// The domain structs travel between actors of one process only: CAF may not
// serialize them (CAF_ALLOW_UNSAFE_MESSAGE_TYPE below), so sending one to a
// remote actor is an error, not silent corruption.

#include <string>

#include <caf/allowed_unsafe_message_type.hpp>
#include <caf/atom.hpp>
#include <caf/replies_to.hpp>
#include <caf/typed_actor.hpp>

#include "faultd/domain.hpp"

namespace faultd {

/// (event_atom, fault_event): a detector reports a fault (or, with
/// `clears`, that it is over); no reply.
using event_atom = caf::atom_constant<caf::atom("event")>;
/// (inject_atom, fault_event) -> (std::string event_id, std::string
/// incident_id), answered once the event and its incident are stored.
using inject_atom = caf::atom_constant<caf::atom("inject")>;
/// Internally (incident_atom, std::string id) -> incident; to an incident
/// listener, (incident_atom, incident): one incident as it is now.
using incident_atom = caf::atom_constant<caf::atom("incident")>;
/// (circuit_atom, std::string target) -> std::string: "closed", "open" or
/// "half_open" ("closed" for a target never seen).
using circuit_atom = caf::atom_constant<caf::atom("circuit")>;
/// (degrade_atom, std::string service) -> std::string: the service's
/// degradation level ("full", or the first of its degradation_levels, until
/// a recovery degrades it).
using degrade_atom = caf::atom_constant<caf::atom("degrade")>;

/// Where an application's detectors send their faults: into the node's
/// analyzer, exactly like faultd's own detectors (dedup, correlation,
/// recovery, alerts). A fault_event without an id, time, node or source
/// gets a fresh id, the current time, this node and "app"; one without a
/// component is dropped (logged; inject answers an error).
using fault_intake_actor = caf::typed_actor<
  caf::reacts_to<event_atom, fault_event>,
  caf::replies_to<inject_atom, fault_event>::with<std::string, std::string>>;

/// What recovery decided, as it stands: circuit states and degradation
/// levels (the cluster-wide ones replicated from other nodes included).
using recovery_state_actor = caf::typed_actor<
  caf::replies_to<circuit_atom, std::string>::with<std::string>,
  caf::replies_to<degrade_atom, std::string>::with<std::string>>;

/// What an application spawns to hear about incidents
/// (embedded_node::subscribe): each incident whenever it opens, changes
/// (count, status, recovery progress) or closes, in the order the analyzer
/// decided them. A storm of duplicates arrives as fewer updates, each with
/// the latest count.
using incident_listener_actor = caf::typed_actor<caf::reacts_to<incident_atom, incident>>;

} // namespace faultd

CAF_ALLOW_UNSAFE_MESSAGE_TYPE(faultd::fault_event)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(faultd::incident)
