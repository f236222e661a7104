#pragma once

// The one list of faultd's message vocabulary: atoms, and the local-only
// message types.
//
// Rule: what crosses a node boundary is an atom plus std::string carrying
// serialized protobuf (proto/faultd/v1/*.proto) — CAF's built-in types only,
// so nodes of different versions interoperate and nothing needs CAF type
// registration on the wire. The remote signatures are listed under "remote";
// tests/actors/wire_test.cpp sends every one over a real loopback connection.
//
// Domain structs travel between actors of ONE node only; they are marked
// with CAF_ALLOW_UNSAFE_MESSAGE_TYPE below (CAF refuses to serialize them,
// so a mistake shows up as an error rather than as silent corruption).

#include <string>
#include <vector>

#include <caf/allowed_unsafe_message_type.hpp>
#include <caf/atom.hpp>

#include "devices/silence_detector.hpp"
#include "faultd/domain.hpp"
#include "faultd/interfaces.hpp"
#include "process/supervisor.hpp"
#include "replica/report.hpp"

namespace faultd {

// -- remote (serialized protobuf in a std::string) ----------------------------
/// (ctl_atom, std::string ControlRequest) -> std::string ControlResponse
using ctl_atom = caf::atom_constant<caf::atom("ctl")>;
/// (peer_atom, std::string PeerMessage): one faultd node to another's
/// published peer actor (proto/faultd/v1/peer.proto); no reply.
using peer_atom = caf::atom_constant<caf::atom("peer")>;
/// (state_atom, std::string StateMessage): one node's state sync to
/// another's (proto/faultd/v1/state.proto), over the membership link: to the
/// peer front or the membership actor, which hand it to "state_sync"; no
/// reply. Locally, (state_atom, std::string to, std::string bytes) asks the
/// membership actor to send it to member `to`.
using state_atom = caf::atom_constant<caf::atom("state")>;

// -- local ---------------------------------------------------------------------
// event_atom, inject_atom, incident_atom, circuit_atom and degrade_atom are
// in faultd/interfaces.hpp (the typed interfaces an application uses).
/// (tick_atom): a periodic timer fired.
using tick_atom = caf::atom_constant<caf::atom("tick")>;
/// (proc_atom, process event): the process supervisor thread reports.
using proc_atom = caf::atom_constant<caf::atom("proc")>;
/// (persist_atom, ...) -> bool: write to sqlite; reply once committed.
using persist_atom = caf::atom_constant<caf::atom("persist")>;
/// (faults_atom, int64_t since_ns, uint32_t limit) -> std::vector<fault_event>
using faults_atom = caf::atom_constant<caf::atom("faults")>;
/// (incidents_atom, uint32_t limit, bool open_only) -> std::vector<incident>
using incidents_atom = caf::atom_constant<caf::atom("incidents")>;
/// (alert_atom, alert): raise an alert.
using alert_atom = caf::atom_constant<caf::atom("alert")>;
/// (opened_atom, incident, timestamp fault_time): analyzer -> recovery: a
/// root incident opened or reopened; fault_time is when its fault was seen.
using opened_atom = caf::atom_constant<caf::atom("opened")>;
/// (post_atom, std::string url, std::string body, int64_t timeout_ns) ->
/// std::string error: alerting -> its poster: one HTTP POST ("" = 2xx).
using post_atom = caf::atom_constant<caf::atom("post")>;
/// (resend_atom): internal to alerting: firing alerts to Alertmanager again.
using resend_atom = caf::atom_constant<caf::atom("resend")>;
/// (devices_atom, bool silent_only, std::string gateway) ->
/// std::vector<devices::device_view>: control -> devices.
using devices_atom = caf::atom_constant<caf::atom("devices")>;
/// (closed_atom, incident): analyzer -> recovery and alerting: an incident closed.
using closed_atom = caf::atom_constant<caf::atom("closed")>;
/// (recovery_atom, std::string incident_id, std::string strategy,
///  std::vector<action_execution>): recovery -> analyzer: no execution runs
/// (no strategy, maintenance); (recovery_atom, recovery_execution): an
/// execution's progress, with its status and error.
using recovery_atom = caf::atom_constant<caf::atom("recovery")>;
/// (execution_atom, recovery_execution) -> bool: journal an execution step.
using execution_atom = caf::atom_constant<caf::atom("execution")>;
/// (unfinished_atom) -> std::vector<recovery_execution>: journal at start.
using unfinished_atom = caf::atom_constant<caf::atom("unfinished")>;
/// (done_atom, recovery_execution): incident supervisor -> recovery manager.
using done_atom = caf::atom_constant<caf::atom("done")>;
/// (restore_atom): internal: an actor loads its state from storage at start.
using restore_atom = caf::atom_constant<caf::atom("restore")>;
/// (recheck_atom): a check actor runs its check now (after a restart).
using recheck_atom = caf::atom_constant<caf::atom("recheck")>;
/// (children_atom) -> std::vector<std::string>: a supervisor's children, in start order.
using children_atom = caf::atom_constant<caf::atom("children")>;
/// (ladder_atom, std::string incident_id, std::vector<std::string> ladder):
/// recovery -> analyzer: the strategies run so far, "<id>=<outcome>".
using ladder_atom = caf::atom_constant<caf::atom("ladder")>;
/// (waited_atom, std::string incident_id, std::string why): recovery ->
/// analyzer: why its recovery waited under the cluster restart budget.
using waited_atom = caf::atom_constant<caf::atom("waited")>;
/// (budget_atom): internal to recovery: look at the cluster restart budget again.
using budget_atom = caf::atom_constant<caf::atom("budget")>;

/// (ack_atom, std::string incident_id) -> incident: control -> analyzer.
using ack_atom = caf::atom_constant<caf::atom("ack")>;
/// (close_atom, std::string incident_id, std::string reason) -> incident:
/// control -> analyzer, an operator closes an incident.
using close_atom = caf::atom_constant<caf::atom("close")>;
/// (preview_atom, fault_event) -> (std::string what, std::string incident_id,
/// bool recovers, bool alert): control -> analyzer, inject --dry-run.
using preview_atom = caf::atom_constant<caf::atom("preview")>;
/// (alerts_atom, uint32_t limit) -> std::vector<alert>: recent alerts, newest first.
using alerts_atom = caf::atom_constant<caf::atom("alerts")>;
/// (maint_atom, std::string service, bool on): control -> services, alerting,
/// recovery: a service entered or left maintenance.
using maint_atom = caf::atom_constant<caf::atom("maint")>;

/// (reload_atom) -> std::string ControlResponse: control front -> whoever
/// can reload the node (faultd's main thread), for faultctl reload.
using reload_atom = caf::atom_constant<caf::atom("reload")>;

/// (join_atom) -> std::string: node start -> membership: answered once the
/// first join through the seeds is settled: "" (joined, or no seed answered
/// in time: the node runs alone until one does) or why this node may not
/// join (its id is taken).
using join_atom = caf::atom_constant<caf::atom("join")>;

/// (port_atom, std::string address, bool refused): a probe of a member's
/// peer port after its link broke (membership, internal).
using port_atom = caf::atom_constant<caf::atom("port")>;

/// (leave_atom) -> bool: node stop -> membership: tell every peer this node
/// leaves; answered once the goodbyes are on their way.
using leave_atom = caf::atom_constant<caf::atom("leave")>;

// -- the state-sync actor's local interface: each answers a
// replica::state_result (its `st` says whether it worked) ----------------------
/// (sget_atom, std::string key): the entry of a live key (not_found if none).
using sget_atom = caf::atom_constant<caf::atom("sget")>;
/// (sput_atom, std::string key, std::string value): writes and spreads it.
using sput_atom = caf::atom_constant<caf::atom("sput")>;
/// (sdel_atom, std::string key): deletes it (a tombstone); count 1 if it was live.
using sdel_atom = caf::atom_constant<caf::atom("sdel")>;
/// (sreg_atom, std::string key, std::string value, bool erased): a local
/// change of a replicated registry key (state/registry.hpp), written to the
/// map as registry/<key>; no answer (the registry already holds it).
using sreg_atom = caf::atom_constant<caf::atom("sreg")>;
/// (slist_atom, std::string prefix): the live entries under the prefix.
using slist_atom = caf::atom_constant<caf::atom("slist")>;
/// (sreport_atom): compares digests with every alive member.
using sreport_atom = caf::atom_constant<caf::atom("sreport")>;
/// (ssnap_atom): records the live keys as a new snapshot.
using ssnap_atom = caf::atom_constant<caf::atom("ssnap")>;
/// (ssnaps_atom): the snapshots, newest first.
using ssnaps_atom = caf::atom_constant<caf::atom("ssnaps")>;
/// (srestore_atom, std::string id, std::string prefix): the keys under the
/// prefix become what snapshot `id` holds (written anew, so they win
/// everywhere; keys the snapshot lacks are deleted).
using srestore_atom = caf::atom_constant<caf::atom("srestore")>;
/// (ssync_atom): an anti-entropy exchange with every alive member now.
using ssync_atom = caf::atom_constant<caf::atom("ssync")>;

} // namespace faultd

CAF_ALLOW_UNSAFE_MESSAGE_TYPE(std::vector<faultd::devices::device_view>)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(faultd::process::event)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(faultd::alert)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(faultd::recovery_execution)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(faultd::recovery_action)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(std::vector<faultd::action_execution>)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(std::vector<faultd::recovery_execution>)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(std::vector<faultd::fault_event>)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(std::vector<faultd::incident>)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(std::vector<faultd::alert>)
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(faultd::replica::state_result)
