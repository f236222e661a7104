#pragma once

// The Fault Analyzer's logic (docs/ARCHITECTURE.md, "One node: the
// pipeline"): turns a stream of fault events into incidents. It deduplicates (one incident per open
// component+type, reopened when the same fault returns within the dedup
// window), suppresses flapping, correlates faults with their root cause
// through declared service dependencies and dead peer nodes, computes the
// impact scope and decides which incidents raise an alert.
//
// A plain class with no actor, no storage and no timer in it: the analyzer
// actor owns one instance, feeds it events, calls tick() periodically and
// persists the incidents each call returns in `result::changed`. Time comes
// from the injected clock_source only.
//
// Correlation rule. An open incident E "explains" a fault F (F becomes a
// symptom with F.root_cause set, and is never alerted on its own) when
//  - E is on a service that F's component depends on, directly or
//    transitively, and E's type is service_unavailable; or
//  - E is on component "node:<id>", F's event came from node <id> (or F is
//    about a service that runs_on <id>), and E's type is
//    service_unavailable, network_timeout or hardware_failure (the peer is
//    dead, unreachable or broken); or
//  - E is on component "gateway:<id>" with type network_timeout or
//    service_unavailable, and F is about "device:<d>" whose events name
//    gateway <id> (details["gateway"]).
// root_cause always names the ultimate root: if E is itself a symptom of R,
// F.root_cause is R. Symptoms close when their root closes.
//
// Fault sources. Each detector that can say a fault is over (a process
// running again, a check passing, a resource back under its threshold, a
// service back within its limits, storage writing again, a device heard
// again, an alert sink delivering again) is a source of its own, keyed
// "process", "check:<check name>", "resources", "limits", "storage",
// "membership", "devices", "alerting". An incident stays open while any such source still reports
// the fault: a process start does not close what a check raised. Only an
// incident raised by sources with no clearing signal (faults injected by
// hand, one-shot security findings, user detectors) closes after
// auto_close_after of quiet.
//
// Alert triggers (each at most once per incident; symptoms never alert):
//  - opened: the incident opens or reopens as a root with severity >=
//    min_alert_severity (a reopened incident alerts again unless its last
//    alert is younger than dedup_window, so a quick bounce is one alert);
//  - escalated: its severity rises to a level >= min_alert_severity after it
//    opened;
//  - threshold: its event_count reaches alert_threshold while nothing has
//    been alerted for it yet (so a storm of duplicates is one alert);
//  - flapping: it starts flapping (whatever its severity).

#include <array>
#include <cstddef>
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include "faultd/config.hpp"
#include "faultd/domain.hpp"
#include "faultd/time.hpp"

namespace spdlog {
class logger;
} // namespace spdlog

namespace faultd::analysis {

/// The analyzer's tunables (see fault_detection_config for their meaning).
struct settings {
  std::string node_id;                     ///< this node; used for events without a node
  duration dedup_window = seconds_d(60);   ///< a closed incident reopens if its fault returns within this
  uint32_t flap_threshold = 5;             ///< clear-closes within flap_window that mark flapping; 0 = off
  duration flap_window = seconds_d(300);   ///< cycle counting window and quiet time that ends flapping
  duration auto_close_after = seconds_d(300); ///< quiet time that closes an incident; 0 = never
  uint32_t alert_threshold = 5;            ///< event_count that alerts even below min_alert_severity; 0 = off
  fault_severity min_alert_severity = fault_severity::high; ///< incidents at or above alert on open
  /// Services that run on another node (services[].runs_on): their faults
  /// count as that node's for the correlation rule.
  std::map<std::string, std::string> runs_on;
};

/// The key of the source that reported `e` ("process", "check:<name>", ...)
/// and whether that source ever clears what it raised.
std::string source_key(const fault_event& e);
bool source_clears(const std::string& key);

/// Settings from a loaded config (node id, fault_detection, alerting.min_severity).
settings make_settings(const config& cfg);

/// Service name -> the services it depends on (service_config::depends_on).
using dependency_graph = std::map<std::string, std::vector<std::string>>;

/// The dependency graph of the configured services.
dependency_graph make_dependency_graph(const std::vector<service_config>& services);

/// What one call to the analyzer did.
struct result {
  std::string incident_id;      ///< incident the event went to ("" if none)
  bool opened = false;          ///< a new incident was opened for the event
  bool reopened = false;        ///< a recently closed incident was reopened for the event
  bool suppressed = false;      ///< a clear was ignored because its incident is flapping
  std::vector<incident> changed; ///< full copies of every incident whose state changed, to persist
  std::vector<alert> alerts;    ///< alerts to send
};

/// The Fault Analyzer's state machine. Not thread-safe: one owner calls it.
class analyzer {
public:
  /// `clock` must outlive the analyzer. `deps` may contain cycles.
  analyzer(settings s, dependency_graph deps, const clock_source& clock);
  ~analyzer();
  analyzer(const analyzer&) = delete;
  analyzer& operator=(const analyzer&) = delete;

  /// Folds one event into the incidents: dedup, reopen, clear, flapping,
  /// correlation and alerts as described at the top of this file. Cheap on
  /// the duplicate path (two hash lookups and one copy of the incident).
  result on_event(const fault_event& e);

  /// Periodic housekeeping: closes incidents quiet for auto_close_after,
  /// ends flapping after a quiet flap_window, and forgets closed incidents
  /// older than dedup_window and flap history older than flap_window.
  result tick();

  /// Re-seeds incidents that were open before a restart (closed ones and
  /// ones whose component+type already has an open incident are skipped).
  /// Alert triggers that already apply to them are treated as fired.
  void restore(std::vector<incident> open);

  /// Records the recovery strategy chosen for an incident (and the actions
  /// of its execution so far); returns the changed incident to persist, or
  /// nothing if the incident is no longer retained.
  result set_recovery(const std::string& id, const std::string& strategy,
                      const std::vector<action_execution>& actions);
  /// The same for an execution's progress, with its status and error (what
  /// storage joins from the journal), so incident listeners see them too.
  result set_recovery(const recovery_execution& x);

  /// Records the escalation ladder of an incident (strategies run so far,
  /// "<id>=<outcome>"); returns the changed incident to persist.
  result set_ladder(const std::string& id, const std::vector<std::string>& ladder);

  /// Records why the latest recovery of incident `id` waited under the
  /// cluster restart budget; returns the changed incident to persist.
  result set_budget_wait(const std::string& id, const std::string& why);

  /// An operator acknowledged incident `id`: it raises no further alerts
  /// while it stays open (a reopen starts over). False if unknown or closed.
  bool acknowledge(const std::string& id, result& r);

  /// An operator closed incident `id` with `reason` (it reopens, as any
  /// closed incident, if its fault is seen again within dedup_window).
  /// False if unknown or already closed.
  bool close_by_operator(const std::string& id, const std::string& reason, result& r);

  /// What on_event(e) would do, without doing it (inject --dry-run).
  struct preview_result {
    std::string what;        ///< one line: "opens a new incident", "folds into <id>", ...
    std::string incident_id; ///< the existing incident it touches ("" = a new one)
    bool recovers = false;   ///< a root incident opens or reopens: recovery selects a strategy
    bool alert = false;      ///< an alert would be raised
  };
  preview_result preview(const fault_event& e);

  /// Copies of all open incidents, oldest first.
  std::vector<incident> open_incidents() const;

  /// Open incidents by (fault type, severity), as their names (metrics).
  std::map<std::pair<std::string, std::string>, uint64_t> open_counts() const;

  /// An open or recently closed incident by id, nullptr if unknown. The
  /// pointer is valid until the next non-const call.
  const incident* find(const std::string& id) const;

  /// Components that depend on `component`, directly or transitively,
  /// sorted, without `component` itself.
  std::vector<std::string> impact_scope(const std::string& component) const;

  /// Number of incidents held in memory (open and recently closed).
  size_t retained() const { return incidents_.size(); }

private:
  static constexpr size_t type_count = 7;

  enum alert_kind : uint8_t { kind_opened = 1, kind_escalated = 2, kind_threshold = 4, kind_flapping = 8 };

  struct entry {
    incident inc;
    uint8_t alerted = 0;                    ///< alert_kind bits already fired
    std::unordered_set<std::string> symptoms; ///< open incidents whose root this is
    std::set<std::string> active;           ///< sources with a clearing signal reporting it now
    std::optional<timestamp> last_alert;    ///< when it last alerted
  };

  struct key_state {
    entry* open = nullptr;       ///< the open incident of this key
    entry* closed = nullptr;     ///< the last closed one, while retained
    std::vector<timestamp> closes; ///< recent clear-closes (flap cycles), oldest first
  };

  struct component_state {
    std::array<key_state, type_count> keys;
  };

  key_state* find_key(const std::string& component, fault_type t);
  entry* lookup(const std::string& id);
  /// Applies `change` to the retained incident `id`: the changed incident
  /// to persist, or nothing if it is no longer retained.
  template <class F>
  result annotate(const std::string& id, F&& change);
  std::string find_root(const std::string& component, const std::string& reporter,
                        const std::string& self_id);
  void attach(entry& symptom, const std::string& root_id);
  void adopt_dependents(entry& x, result& r);
  void close(entry& x, const std::string& reason, timestamp now, result& r);
  void check_alerts(entry& x, fault_severity before, bool opening, const fault_event& e,
                    result& r);
  void raise(entry& x, alert_kind kind, const std::string& detail, timestamp now, result& r);
  void note_close(key_state& ks, timestamp now);

  settings settings_;
  const clock_source& clock_;
  std::unordered_map<std::string, std::vector<std::string>> dependencies_; ///< transitive, nearest first
  /// "device:<id>" -> its gateway, as the devices detector reported it.
  std::unordered_map<std::string, std::string> device_gateway_;
  std::unordered_map<std::string, std::vector<std::string>> impact_;       ///< transitive dependents, sorted
  std::unordered_map<std::string, component_state> components_;
  std::unordered_map<std::string, entry> incidents_; ///< by id; open and recently closed
  std::shared_ptr<spdlog::logger> log_;
};

} // namespace faultd::analysis
