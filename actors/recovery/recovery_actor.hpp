#pragma once

// The recovery manager (the seed's Recovery Strategy Selector + Recovery
// Executor) and its incident supervisors.
//
// For every root incident the analyzer opens, the manager selects a strategy
// (src/recovery/selector.hpp: fault type, severity, component pattern,
// highest priority, deterministic ties) and spawns ONE incident supervisor
// actor for it (monitored). The incident supervisor drives an
// execution_machine (src/recovery/execution.hpp): it runs the strategy's
// actions through the executors (src/actions/), with timeouts, retries with
// backoff and jitter, the strategy's overall timeout, and rollback in
// reverse order; it journals the execution in sqlite before and after every
// step and reports progress to the analyzer (faultctl incidents shows it).
//
// An incident with no matching strategy is recorded with strategy "none"
// and alerted. When an incident closes, the degradations its recovery set
// are restored. At start the manager reads the journal: an unfinished
// execution whose strategy is unchanged is resumed (a completed action is
// never run again); any other is closed as failed with the reason.
//
// Executors block (restart, then wait for health), so incident supervisors
// run them on worker threads (src/actions/workers.hpp) and never block a
// scheduler thread themselves; an action that outlives its timeout is
// abandoned and counted as a failed attempt.
//
// Each incident supervisor is listed in the actor directory as
// "incident:<first 8 characters of the incident id>" under "recovery", so
// `faultctl chaos crash-actor` reaches it; the manager "restarts" a crashed
// one by resuming its execution from the journal (attaching to the worker
// of the step it was in, if that still runs). Supervisors are not linked to
// the manager: a crashed manager's next incarnation adopts the ones still
// running instead of resuming their journals, so no action runs twice. A
// stop of the manager (user_shutdown) stops them.
//
// Interface ("recovery"):
//   (opened_atom, incident) -> void
//   (closed_atom, incident) -> void
//   (done_atom, recovery_execution) -> void     from an incident supervisor

#include <memory>

#include <caf/fwd.hpp>

#include "actors/node/context.hpp"

namespace faultd {

caf::actor spawn_recovery_actor(caf::actor_system& sys, std::shared_ptr<node_context> ctx);

} // namespace faultd
