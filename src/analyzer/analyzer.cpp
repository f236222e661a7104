#include "analyzer/analyzer.hpp"

#include <algorithm>
#include <deque>
#include <set>
#include <utility>

#include "faultd/log.hpp"
#include "faultd/util.hpp"

namespace faultd::analysis {

namespace {

const std::string node_prefix = "node:";

bool is_node_component(const std::string& c) {
  return c.compare(0, node_prefix.size(), node_prefix) == 0;
}

/// Types of an open incident on a service that explain its dependents' faults.
bool explains_dependents(fault_type t) { return t == fault_type::service_unavailable; }

/// Types of an open incident on "node:<id>" that explain that node's faults.
bool explains_node_faults(fault_type t) {
  return t == fault_type::service_unavailable || t == fault_type::network_timeout
         || t == fault_type::hardware_failure;
}

const std::string gateway_prefix = "gateway:";
const std::string device_prefix = "device:";

bool is_gateway_component(const std::string& c) {
  return c.compare(0, gateway_prefix.size(), gateway_prefix) == 0;
}

/// Types of an open incident on "gateway:<id>" that explain its devices'
/// faults (the devices detector raises network_timeout).
bool explains_device_faults(fault_type t) {
  return t == fault_type::network_timeout || t == fault_type::service_unavailable;
}

bool explains_others(const incident& inc) {
  if (is_gateway_component(inc.component))
    return explains_device_faults(inc.type);
  return is_node_component(inc.component) ? explains_node_faults(inc.type)
                                          : explains_dependents(inc.type);
}

/// One line of what an event says, for alert summaries.
std::string describe(const fault_event& e) {
  for (const char* k : {"message", "reason", "error", "detail"}) {
    auto i = e.details.find(k);
    if (i != e.details.end() && !i->second.empty())
      return i->second;
  }
  std::string out;
  for (const auto& [k, v] : e.details) {
    if (!out.empty())
      out += ", ";
    out += k + "=" + v;
  }
  if (out.empty())
    out = e.source.empty() ? "no details" : "reported by " + e.source;
  return out;
}

/// Breadth-first closure of `start` in `g`, nearest first, without `start`.
std::vector<std::string> closure(const std::string& start,
                                 const std::map<std::string, std::set<std::string>>& g) {
  std::vector<std::string> out;
  std::unordered_set<std::string> seen{start};
  std::deque<std::string> todo{start};
  while (!todo.empty()) {
    auto cur = std::move(todo.front());
    todo.pop_front();
    auto i = g.find(cur);
    if (i == g.end())
      continue;
    for (const auto& next : i->second)
      if (seen.insert(next).second) {
        out.push_back(next);
        todo.push_back(next);
      }
  }
  return out;
}

} // namespace

std::string source_key(const fault_event& e) {
  if (e.source.rfind("check:", 0) == 0) {
    auto c = e.details.find("check");
    return c != e.details.end() ? "check:" + c->second : e.source;
  }
  return e.source;
}

bool source_clears(const std::string& key) {
  return key == "process" || key == "resources" || key == "limits" || key == "storage"
         || key == "membership" || key == "devices" || key == "alerting"
         || key.rfind("check:", 0) == 0;
}

settings make_settings(const config& cfg) {
  settings s;
  s.node_id = cfg.node.id;
  const auto& fd = cfg.fault_detection;
  s.dedup_window = fd.dedup_window;
  s.flap_threshold = fd.flap_threshold;
  s.flap_window = fd.flap_window;
  s.auto_close_after = fd.auto_close_after;
  s.alert_threshold = fd.alert_threshold;
  s.min_alert_severity = cfg.alerting.min_severity;
  for (const auto& svc : cfg.services)
    if (!svc.runs_on.empty())
      s.runs_on[svc.name] = svc.runs_on;
  return s;
}

dependency_graph make_dependency_graph(const std::vector<service_config>& services) {
  dependency_graph g;
  for (const auto& svc : services)
    g[svc.name] = svc.depends_on;
  return g;
}

analyzer::analyzer(settings s, dependency_graph deps, const clock_source& clock)
  : settings_(std::move(s)), clock_(clock), log_(log::get("analyzer")) {
  std::map<std::string, std::set<std::string>> forward;
  std::map<std::string, std::set<std::string>> backward;
  std::set<std::string> names;
  for (const auto& [svc, ds] : deps) {
    names.insert(svc);
    for (const auto& d : ds) {
      if (d == svc)
        continue;
      names.insert(d);
      forward[svc].insert(d);
      backward[d].insert(svc);
    }
  }
  for (const auto& n : names) {
    auto down = closure(n, forward);
    if (!down.empty())
      dependencies_.emplace(n, std::move(down));
    auto up = closure(n, backward);
    std::sort(up.begin(), up.end());
    if (!up.empty())
      impact_.emplace(n, std::move(up));
  }
}

analyzer::~analyzer() = default;

analyzer::key_state* analyzer::find_key(const std::string& component, fault_type t) {
  auto i = components_.find(component);
  if (i == components_.end())
    return nullptr;
  return &i->second.keys[static_cast<size_t>(t)];
}

template <class F>
result analyzer::annotate(const std::string& id, F&& change) {
  result r;
  entry* x = lookup(id);
  if (x == nullptr)
    return r;
  change(x->inc);
  r.incident_id = id;
  r.changed.push_back(x->inc);
  return r;
}

result analyzer::set_ladder(const std::string& id, const std::vector<std::string>& ladder) {
  return annotate(id, [&](incident& inc) { inc.ladder = ladder; });
}

result analyzer::set_budget_wait(const std::string& id, const std::string& why) {
  return annotate(id, [&](incident& inc) { inc.budget_wait = why; });
}

result analyzer::set_recovery(const std::string& id, const std::string& strategy,
                              const std::vector<action_execution>& actions) {
  result r;
  entry* x = lookup(id);
  if (x == nullptr)
    return r;
  x->inc.strategy = strategy;
  x->inc.actions = actions;
  r.incident_id = id;
  r.changed.push_back(x->inc);
  return r;
}

result analyzer::set_recovery(const recovery_execution& x) {
  auto r = set_recovery(x.incident_id, x.strategy_id, x.actions);
  if (entry* e = r.changed.empty() ? nullptr : lookup(x.incident_id)) {
    e->inc.recovery_status = x.status;
    e->inc.recovery_error = x.error;
    r.changed.back() = e->inc;
  }
  return r;
}

bool analyzer::acknowledge(const std::string& id, result& r) {
  entry* x = lookup(id);
  if (x == nullptr || x->inc.status != incident_status::open)
    return false;
  x->inc.acknowledged = true;
  r.incident_id = id;
  r.changed.push_back(x->inc);
  log_->info("incident-acknowledged id={} component={}", id, x->inc.component);
  return true;
}

bool analyzer::close_by_operator(const std::string& id, const std::string& reason, result& r) {
  entry* x = lookup(id);
  if (x == nullptr || x->inc.status != incident_status::open)
    return false;
  r.incident_id = id;
  close(*x, reason.empty() ? "closed by operator" : "closed by operator: " + reason, clock_.now(),
        r);
  return true;
}

analyzer::preview_result analyzer::preview(const fault_event& e) {
  preview_result p;
  const auto now = clock_.now();
  const bool severe = e.severity >= settings_.min_alert_severity;
  key_state* ks = find_key(e.component, e.type);
  if (e.clears) {
    if (ks != nullptr && ks->open != nullptr) {
      p.incident_id = ks->open->inc.id;
      p.what = "clears its source's report on " + p.incident_id;
    } else {
      p.what = "nothing to clear: no open incident for " + e.component;
    }
    return p;
  }
  if (ks != nullptr && ks->open != nullptr) {
    auto& x = *ks->open;
    p.incident_id = x.inc.id;
    p.what = "folds into open incident " + x.inc.id;
    p.alert = severe && x.inc.root_cause.empty() && !x.inc.acknowledged
              && e.severity > x.inc.severity && !(x.alerted & kind_escalated);
    return p;
  }
  std::string root = find_root(e.component, e.node, "");
  if (ks != nullptr && ks->closed != nullptr && ks->closed->inc.closed_at
      && now - *ks->closed->inc.closed_at < settings_.dedup_window) {
    auto& x = *ks->closed;
    p.incident_id = x.inc.id;
    p.what = "reopens incident " + x.inc.id + " (closed " + human_duration(now - *x.inc.closed_at)
             + " ago)";
    p.alert = severe && root.empty()
              && (!x.last_alert || now - *x.last_alert >= settings_.dedup_window);
  } else {
    p.what = "opens a new incident";
    p.alert = severe && root.empty();
  }
  if (!root.empty())
    p.what += ", explained by " + root + " (a symptom: no recovery of its own)";
  p.recovers = root.empty();
  return p;
}

analyzer::entry* analyzer::lookup(const std::string& id) {
  auto i = incidents_.find(id);
  return i == incidents_.end() ? nullptr : &i->second;
}

std::vector<std::string> analyzer::impact_scope(const std::string& component) const {
  auto i = impact_.find(component);
  return i == impact_.end() ? std::vector<std::string>{} : i->second;
}

std::string analyzer::find_root(const std::string& component, const std::string& reporter,
                                const std::string& self_id) {
  auto root_of = [&](const entry* x) -> std::string {
    if (x == nullptr || x->inc.id == self_id)
      return {};
    const auto& rc = x->inc.root_cause;
    if (rc.empty())
      return x->inc.id;
    return rc == self_id ? std::string{} : rc;
  };
  // A gateway most of whose devices went silent explains their faults.
  if (auto g = device_gateway_.find(component); g != device_gateway_.end()) {
    if (auto i = components_.find(gateway_prefix + g->second); i != components_.end())
      for (size_t t = 0; t < type_count; ++t)
        if (explains_device_faults(static_cast<fault_type>(t)))
          if (auto id = root_of(i->second.keys[t].open); !id.empty())
            return id;
  }
  // A dead peer explains everything it reported, and the faults of the
  // services that run on it.
  std::string node = reporter;
  if (auto r = settings_.runs_on.find(component); r != settings_.runs_on.end())
    node = r->second;
  if (!node.empty() && node != settings_.node_id) {
    auto node_component = node_prefix + node;
    if (node_component != component) {
      if (auto i = components_.find(node_component); i != components_.end())
        for (size_t t = 0; t < type_count; ++t)
          if (explains_node_faults(static_cast<fault_type>(t)))
            if (auto id = root_of(i->second.keys[t].open); !id.empty())
              return id;
    }
  }
  // The nearest unavailable dependency explains a service's fault.
  auto d = dependencies_.find(component);
  if (d == dependencies_.end())
    return {};
  for (const auto& dep : d->second) {
    auto i = components_.find(dep);
    if (i == components_.end())
      continue;
    for (size_t t = 0; t < type_count; ++t)
      if (explains_dependents(static_cast<fault_type>(t)))
        if (auto id = root_of(i->second.keys[t].open); !id.empty())
          return id;
  }
  return {};
}

void analyzer::attach(entry& symptom, const std::string& root_id) {
  entry* root = lookup(root_id);
  if (root == nullptr || root == &symptom)
    return;
  symptom.inc.root_cause = root_id;
  root->symptoms.insert(symptom.inc.id);
  // Keep root_cause pointing at the ultimate root: this incident's own
  // symptoms move to the new root.
  for (const auto& s : symptom.symptoms)
    if (entry* y = lookup(s); y != nullptr && y != root) {
      y->inc.root_cause = root_id;
      root->symptoms.insert(s);
    }
  symptom.symptoms.clear();
}

void analyzer::adopt_dependents(entry& x, result& r) {
  if (!explains_others(x.inc))
    return;
  const std::string root_id = x.inc.root_cause.empty() ? x.inc.id : x.inc.root_cause;
  auto adopt = [&](entry& y) {
    if (y.inc.status != incident_status::open || !y.inc.root_cause.empty() || &y == &x
        || y.inc.id == root_id)
      return;
    std::vector<std::string> moved(y.symptoms.begin(), y.symptoms.end());
    attach(y, root_id);
    log_->info("incident-correlated id={} component={} root_cause={}", y.inc.id, y.inc.component,
               root_id);
    r.changed.push_back(y.inc);
    for (const auto& s : moved)
      if (entry* z = lookup(s); z != nullptr && z->inc.root_cause == root_id)
        r.changed.push_back(z->inc);
  };
  if (is_gateway_component(x.inc.component)) {
    const auto gateway = x.inc.component.substr(gateway_prefix.size());
    std::vector<entry*> found;
    for (auto& [id, y] : incidents_)
      if (auto g = device_gateway_.find(y.inc.component);
          g != device_gateway_.end() && g->second == gateway)
        found.push_back(&y);
    for (entry* y : found)
      adopt(*y);
    return;
  }
  if (is_node_component(x.inc.component)) {
    const auto node = x.inc.component.substr(node_prefix.size());
    if (node == settings_.node_id)
      return;
    std::vector<entry*> found;
    for (auto& [id, y] : incidents_)
      if (y.inc.component != x.inc.component) {
        auto r = settings_.runs_on.find(y.inc.component);
        if (y.inc.node == node || (r != settings_.runs_on.end() && r->second == node))
          found.push_back(&y);
      }
    for (entry* y : found)
      adopt(*y);
    return;
  }
  for (const auto& c : impact_scope(x.inc.component)) {
    auto i = components_.find(c);
    if (i == components_.end())
      continue;
    for (auto& ks : i->second.keys)
      if (ks.open != nullptr)
        adopt(*ks.open);
  }
}

void analyzer::note_close(key_state& ks, timestamp now) {
  auto& v = ks.closes;
  v.push_back(now);
  auto stale = std::find_if(v.begin(), v.end(),
                            [&](timestamp t) { return now - t < settings_.flap_window; });
  v.erase(v.begin(), stale);
  // Only the last flap_threshold closes matter for the decision.
  size_t keep = std::max<size_t>(settings_.flap_threshold, 1);
  if (v.size() > keep)
    v.erase(v.begin(), v.begin() + static_cast<std::ptrdiff_t>(v.size() - keep));
}

void analyzer::raise(entry& x, alert_kind kind, const std::string& detail, timestamp now,
                     result& r) {
  x.alerted |= kind;
  if (x.inc.acknowledged) {
    log_->debug("alert-skipped incident={} reason=acknowledged", x.inc.id);
    return;
  }
  x.last_alert = now;
  alert a;
  a.id = make_uuid();
  a.incident_id = x.inc.id;
  a.time = now;
  a.severity = x.inc.severity;
  a.component = x.inc.component;
  a.type = x.inc.type;
  a.node = x.inc.node;
  a.summary = std::string{to_string(x.inc.type)} + " on " + x.inc.component + " ("
              + std::string{to_string(x.inc.severity)} + "): " + detail;
  log_->debug("alert-decided incident={} alert={} summary={}", x.inc.id, a.id, a.summary);
  r.alerts.push_back(std::move(a));
}

void analyzer::check_alerts(entry& x, fault_severity before, bool opening, const fault_event& e,
                            result& r) {
  if (!x.inc.root_cause.empty())
    return; // symptoms are explained by their root's alert
  const auto now = clock_.now();
  const bool severe = x.inc.severity >= settings_.min_alert_severity;
  if (opening && severe && !(x.alerted & kind_opened)) {
    raise(x, kind_opened, describe(e), now, r);
    return;
  }
  if (severe && x.inc.severity > before && !(x.alerted & kind_escalated)) {
    raise(x, kind_escalated,
          "escalated from " + std::string{to_string(before)} + ": " + describe(e), now, r);
    return;
  }
  if (settings_.alert_threshold > 0 && x.inc.event_count >= settings_.alert_threshold
      && x.alerted == 0) {
    raise(x, kind_threshold, std::to_string(x.inc.event_count) + " events: " + describe(e), now,
          r);
  }
}

void analyzer::close(entry& x, const std::string& reason, timestamp now, result& r) {
  if (x.inc.status != incident_status::open)
    return;
  x.inc.status = incident_status::closed;
  x.inc.closed_at = now;
  x.inc.close_reason = reason;
  x.inc.flapping = false;
  if (key_state* ks = find_key(x.inc.component, x.inc.type); ks != nullptr && ks->open == &x) {
    ks->open = nullptr;
    ks->closed = &x;
  }
  if (!x.inc.root_cause.empty())
    if (entry* root = lookup(x.inc.root_cause); root != nullptr)
      root->symptoms.erase(x.inc.id);
  log_->debug("incident-closed id={} component={} type={} reason=\"{}\"", x.inc.id,
             x.inc.component, to_string(x.inc.type), reason);
  r.changed.push_back(x.inc);
  auto symptoms = std::move(x.symptoms);
  x.symptoms.clear();
  const auto why = "root cause " + x.inc.id + " closed";
  for (const auto& s : symptoms) {
    entry* y = lookup(s);
    if (y == nullptr)
      continue;
    if (!y->active.empty()) {
      // Its own detector still reports it: it stands on its own now.
      y->inc.root_cause.clear();
      log_->info("incident-detached id={} component={} active={}", y->inc.id, y->inc.component,
                 *y->active.begin());
      r.changed.push_back(y->inc);
      continue;
    }
    close(*y, why, now, r);
  }
}

result analyzer::on_event(const fault_event& e) {
  result r;
  const auto type_index = static_cast<size_t>(e.type);
  if (type_index >= type_count) {
    log_->warn("event-ignored id={} reason=\"unknown fault type {}\"", e.id, type_index);
    return r;
  }
  const auto now = clock_.now();
  // A device's gateway, for the gateway rule (the devices detector names it).
  if (e.component.compare(0, device_prefix.size(), device_prefix) == 0)
    if (auto g = e.details.find("gateway"); g != e.details.end() && !g->second.empty())
      device_gateway_[e.component] = g->second;

  const auto source = source_key(e);
  if (e.clears) {
    key_state* ks = find_key(e.component, e.type);
    if (ks == nullptr || ks->open == nullptr)
      return r;
    entry& x = *ks->open;
    r.incident_id = x.inc.id;
    x.active.erase(source);
    if (!x.active.empty()) {
      // Another source still reports the fault (a check still failing
      // while the process runs again): the incident stays open.
      log_->debug("incident-still-active id={} cleared_by={} active={}", x.inc.id, source,
                  *x.active.begin());
      return r;
    }
    if (x.inc.flapping) {
      note_close(*ks, now);
      ++x.inc.event_count;
      x.inc.last_seen_at = now;
      r.suppressed = true;
      r.changed.push_back(x.inc);
      return r;
    }
    note_close(*ks, now);
    if (settings_.flap_threshold > 0 && ks->closes.size() >= settings_.flap_threshold) {
      x.inc.flapping = true;
      ++x.inc.event_count;
      x.inc.last_seen_at = now;
      r.suppressed = true;
      log_->warn("incident-flapping id={} component={} type={} cycles={}", x.inc.id,
                 x.inc.component, to_string(x.inc.type), ks->closes.size());
      if (x.inc.root_cause.empty() && !(x.alerted & kind_flapping))
        raise(x, kind_flapping,
              "flapping, " + std::to_string(ks->closes.size()) + " open/close cycles within "
                + human_duration(settings_.flap_window),
              now, r);
      r.changed.push_back(x.inc);
      return r;
    }
    close(x, "cleared by " + (e.source.empty() ? std::string{"unknown"} : e.source), now, r);
    return r;
  }

  auto& ks = components_[e.component].keys[type_index];

  // Duplicate of an open fault: fold it in.
  if (ks.open != nullptr) {
    entry& x = *ks.open;
    const auto before = x.inc.severity;
    if (source_clears(source))
      x.active.insert(source);
    ++x.inc.event_count;
    x.inc.last_seen_at = now;
    x.inc.severity = std::max(x.inc.severity, e.severity);
    r.incident_id = x.inc.id;
    check_alerts(x, before, false, e, r);
    r.changed.push_back(x.inc);
    return r;
  }

  entry* x = nullptr;
  fault_severity before = e.severity;
  if (ks.closed != nullptr && ks.closed->inc.closed_at
      && now - *ks.closed->inc.closed_at < settings_.dedup_window) {
    x = ks.closed;
    before = x->inc.severity;
    x->inc.status = incident_status::open;
    x->inc.closed_at.reset();
    x->inc.close_reason.clear();
    x->inc.root_cause.clear();
    x->inc.flapping = false;
    x->inc.acknowledged = false; // a new occurrence asks for attention again
    ++x->inc.event_count;
    x->inc.last_seen_at = now;
    x->inc.severity = std::max(x->inc.severity, e.severity);
    ks.closed = nullptr;
    r.reopened = true;
    // It alerts again on reopening, unless it alerted within dedup_window.
    if (!x->last_alert || now - *x->last_alert >= settings_.dedup_window)
      x->alerted = 0;
  } else {
    incident inc;
    inc.id = make_uuid();
    inc.component = e.component;
    inc.type = e.type;
    inc.severity = e.severity;
    inc.status = incident_status::open;
    inc.node = e.node.empty() ? settings_.node_id : e.node;
    // Opened when the fault was observed, if that is known and not later
    // than now (a process exit is observed before the analyzer hears of it).
    inc.opened_at = e.time.time_since_epoch().count() > 0 && e.time < now ? e.time : now;
    inc.last_seen_at = now;
    inc.event_count = 1;
    inc.first_event_id = e.id;
    inc.impacted = impact_scope(e.component);
    auto id = inc.id;
    x = &incidents_.emplace(std::move(id), entry{std::move(inc), 0, {}, {}, std::nullopt}).first->second;
    r.opened = true;
  }
  ks.open = x;
  r.incident_id = x->inc.id;
  x->active.clear();
  if (source_clears(source))
    x->active.insert(source);

  if (auto root = find_root(x->inc.component, x->inc.node, x->inc.id); !root.empty())
    attach(*x, root);
  log_->debug("{} id={} component={} type={} severity={} node={} root_cause={}",
             r.opened ? "incident-opened" : "incident-reopened", x->inc.id, x->inc.component,
             to_string(x->inc.type), to_string(x->inc.severity), x->inc.node,
             x->inc.root_cause.empty() ? "-" : x->inc.root_cause);
  check_alerts(*x, before, true, e, r);
  r.changed.push_back(x->inc);
  adopt_dependents(*x, r);
  return r;
}

result analyzer::tick() {
  result r;
  const auto now = clock_.now();

  std::vector<std::string> flap_ended;
  std::vector<std::string> quiet;
  for (const auto& [id, x] : incidents_) {
    if (x.inc.status != incident_status::open)
      continue;
    const auto idle = now - x.inc.last_seen_at;
    if (x.inc.flapping) {
      if (idle >= settings_.flap_window)
        flap_ended.push_back(id);
    } else if (settings_.auto_close_after > duration::zero() && x.active.empty()
               && idle >= settings_.auto_close_after) {
      quiet.push_back(id);
    }
  }
  for (const auto& id : flap_ended)
    if (entry* x = lookup(id); x != nullptr && x->inc.status == incident_status::open) {
      if (key_state* ks = find_key(x->inc.component, x->inc.type); ks != nullptr)
        ks->closes.clear();
      if (!x->active.empty()) {  // quiet, but still reported: open, no longer flapping
        x->inc.flapping = false;
        r.changed.push_back(x->inc);
        continue;
      }
      close(*x, "flapping stopped", now, r);
    }
  const auto quiet_reason = "quiet for " + human_duration(settings_.auto_close_after);
  for (const auto& id : quiet)
    if (entry* x = lookup(id); x != nullptr)
      close(*x, quiet_reason, now, r);

  // Forget closed incidents past the dedup window.
  for (auto i = incidents_.begin(); i != incidents_.end();) {
    const auto& inc = i->second.inc;
    if (inc.status == incident_status::closed
        && (!inc.closed_at || now - *inc.closed_at >= settings_.dedup_window)) {
      if (key_state* ks = find_key(inc.component, inc.type);
          ks != nullptr && ks->closed == &i->second)
        ks->closed = nullptr;
      i = incidents_.erase(i);
    } else {
      ++i;
    }
  }
  // Forget flap history past the flap window, and keys with nothing left.
  for (auto i = components_.begin(); i != components_.end();) {
    bool empty = true;
    for (auto& ks : i->second.keys) {
      auto& v = ks.closes;
      v.erase(v.begin(), std::find_if(v.begin(), v.end(), [&](timestamp t) {
                return now - t < settings_.flap_window;
              }));
      if (ks.open != nullptr || ks.closed != nullptr || !v.empty())
        empty = false;
    }
    i = empty ? components_.erase(i) : std::next(i);
  }
  return r;
}

void analyzer::restore(std::vector<incident> open) {
  std::vector<entry*> restored;
  for (auto& inc : open) {
    const auto type_index = static_cast<size_t>(inc.type);
    if (inc.status != incident_status::open || type_index >= type_count
        || incidents_.count(inc.id) > 0)
      continue;
    auto& ks = components_[inc.component].keys[type_index];
    if (ks.open != nullptr) {
      log_->warn("incident-restore-skipped id={} component={} type={} open={}", inc.id,
                 inc.component, to_string(inc.type), ks.open->inc.id);
      continue;
    }
    auto id = inc.id;
    entry* x = &incidents_.emplace(std::move(id), entry{std::move(inc), 0, {}, {}, std::nullopt}).first->second;
    ks.open = x;
    restored.push_back(x);
  }
  for (entry* x : restored) {
    if (!x->inc.root_cause.empty()) {
      entry* root = lookup(x->inc.root_cause);
      if (root != nullptr && root->inc.status == incident_status::open
          && root->inc.root_cause.empty()) {
        root->symptoms.insert(x->inc.id);
        continue; // symptoms never alert
      }
      // Its root did not survive the restart: it stands on its own now.
      x->inc.root_cause.clear();
    }
    // Assume what would have alerted before the restart did.
    if (x->inc.severity >= settings_.min_alert_severity)
      x->alerted |= kind_opened;
    if (settings_.alert_threshold > 0 && x->inc.event_count >= settings_.alert_threshold)
      x->alerted |= kind_threshold;
    if (x->inc.flapping)
      x->alerted |= kind_flapping;
  }
  log_->debug("incidents-restored count={}", restored.size());
}

std::vector<incident> analyzer::open_incidents() const {
  std::vector<incident> out;
  for (const auto& [id, x] : incidents_)
    if (x.inc.status == incident_status::open)
      out.push_back(x.inc);
  std::sort(out.begin(), out.end(), [](const incident& a, const incident& b) {
    return a.opened_at != b.opened_at ? a.opened_at < b.opened_at : a.id < b.id;
  });
  return out;
}

std::map<std::pair<std::string, std::string>, uint64_t> analyzer::open_counts() const {
  std::map<std::pair<std::string, std::string>, uint64_t> out;
  for (const auto& [id, x] : incidents_)
    if (x.inc.status == incident_status::open)
      ++out[{std::string{to_string(x.inc.type)}, std::string{to_string(x.inc.severity)}}];
  return out;
}

const incident* analyzer::find(const std::string& id) const {
  auto i = incidents_.find(id);
  return i == incidents_.end() ? nullptr : &i->second.inc;
}

} // namespace faultd::analysis
