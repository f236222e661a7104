#include "actors/supervision/supervisor_actor.hpp"

#include <exception>
#include <optional>

#include <caf/all.hpp>

#include "actors/type_ids.hpp"
#include "faultd/log.hpp"

namespace faultd {

namespace {

constexpr const char* escalation_tag = "supervisor-escalated";

/// One child as its supervisor sees it.
struct child_slot {
  child_spec spec;
  /// The running incarnation; invalid once its down_msg arrived.
  caf::actor current;
  uint32_t restarts = 0;
  /// The supervisor sent it an exit and waits for its down_msg.
  bool stopping = false;
  /// To be started again once no child is stopping any more.
  bool pending_start = false;
};

struct supervisor_state {
  supervisor_spec spec;
  std::vector<child_slot> children;
  std::optional<supervision::restart_intensity> intensity;
  /// Set once the supervisor stops for good (asked to, or escalating).
  bool shutting_down = false;
  caf::error quit_reason;
  std::shared_ptr<spdlog::logger> log = log::get("supervision");
  static inline const char* name = "supervisor";
};

using self_ptr = caf::stateful_actor<supervisor_state>*;

void begin_shutdown(self_ptr self, caf::error reason);

std::optional<size_t> slot_of(self_ptr self, const caf::actor_addr& addr) {
  auto& cs = self->state.children;
  for (size_t i = 0; i < cs.size(); ++i)
    if (cs[i].current && cs[i].current.address() == addr)
      return i;
  return std::nullopt;
}

/// Spawns child i and registers it. False if the factory failed.
bool start_child(self_ptr self, size_t i) {
  auto& st = self->state;
  auto& slot = st.children[i];
  caf::actor a;
  try {
    a = slot.spec.start(self->system());
  } catch (const std::exception& e) {
    st.log->error("child-start-failed supervisor={} child={} error=\"{}\"", st.spec.name,
                  slot.spec.name, e.what());
    return false;
  }
  if (!a) {
    st.log->error("child-start-failed supervisor={} child={} error=\"factory returned no actor\"",
                  st.spec.name, slot.spec.name);
    return false;
  }
  self->monitor(a);
  slot.current = a;
  if (st.spec.directory)
    st.spec.directory->put(
      {slot.spec.name, st.spec.name, slot.restarts, slot.spec.is_supervisor, a});
  if (slot.restarts == 0)
    st.log->debug("child-started supervisor={} child={}", st.spec.name, slot.spec.name);
  else
    st.log->info("child-restarted supervisor={} child={} restarts={}", st.spec.name,
                 slot.spec.name, slot.restarts);
  return true;
}

/// Asks child i to stop; its down_msg is expected, not a crash.
void stop_child(self_ptr self, size_t i) {
  auto& slot = self->state.children[i];
  slot.stopping = true;
  self->send_exit(slot.current, caf::exit_reason::user_shutdown);
  self->delayed_send(self, slot.spec.shutdown_timeout, caf::timeout_atom::value,
                     slot.current.address());
}

void escalate(self_ptr self) {
  auto& st = self->state;
  st.log->error("supervisor-escalated supervisor={} max_restarts={} period={}", st.spec.name,
                st.intensity->max_restarts(), human_duration(st.intensity->period()));
  begin_shutdown(self, escalation_reason(st.spec.name));
}

/// Starts the children waiting for a restart, in start order, once no child
/// is stopping. A failed start counts as a restart and is retried within the
/// intensity.
void start_pending(self_ptr self) {
  auto& st = self->state;
  for (auto& c : st.children)
    if (c.stopping)
      return;
  for (size_t i = 0; i < st.children.size(); ++i) {
    auto& slot = st.children[i];
    if (!slot.pending_start)
      continue;
    slot.pending_start = false;
    ++slot.restarts;
    while (!start_child(self, i)) {
      if (!st.intensity->record_restart()) {
        escalate(self);
        return;
      }
      ++slot.restarts;
    }
  }
}

/// Stops the last running child and waits for it; quits when none is left.
void continue_shutdown(self_ptr self) {
  auto& st = self->state;
  for (auto& c : st.children)
    if (c.stopping)
      return;
  for (size_t i = st.children.size(); i-- > 0;)
    if (st.children[i].current) {
      stop_child(self, i);
      return;
    }
  st.log->info("supervisor-stopped supervisor={} reason={}", st.spec.name,
               self->system().render(st.quit_reason));
  self->quit(st.quit_reason);
}

void begin_shutdown(self_ptr self, caf::error reason) {
  auto& st = self->state;
  if (st.shutting_down)
    return;
  st.shutting_down = true;
  st.quit_reason = std::move(reason);
  for (auto& c : st.children)
    c.pending_start = false;
  continue_shutdown(self);
}

void on_down(self_ptr self, const caf::down_msg& dm) {
  auto& st = self->state;
  auto found = slot_of(self, dm.source);
  if (!found)
    return;
  auto i = *found;
  auto& slot = st.children[i];
  bool expected = slot.stopping;
  slot.current = nullptr;
  slot.stopping = false;
  if (st.shutting_down) {
    if (st.spec.directory)
      st.spec.directory->erase_if_current(slot.spec.name, dm.source);
    continue_shutdown(self);
    return;
  }
  if (expected) { // a sibling stopped for a restart
    start_pending(self);
    return;
  }
  bool abnormal = is_abnormal_exit(dm.reason);
  if (!supervision::should_restart(slot.spec.restart, abnormal)) {
    st.log->info("child-finished supervisor={} child={} reason={}", st.spec.name, slot.spec.name,
                 self->system().render(dm.reason));
    if (st.spec.directory)
      st.spec.directory->erase_if_current(slot.spec.name, dm.source);
    start_pending(self);
    return;
  }
  st.log->warn("child-failed supervisor={} child={} reason={} strategy={}", st.spec.name,
               slot.spec.name, self->system().render(dm.reason),
               supervision::to_string(st.spec.strategy));
  if (!st.intensity->record_restart()) {
    if (st.spec.directory)
      st.spec.directory->erase_if_current(slot.spec.name, dm.source);
    escalate(self);
    return;
  }
  // Until the new incarnation is put, messages for it are held, not sent
  // to the dead one.
  if (st.spec.directory)
    st.spec.directory->erase_if_current(slot.spec.name, dm.source);
  std::vector<bool> running;
  running.reserve(st.children.size());
  for (auto& c : st.children)
    running.push_back(c.current && !c.stopping);
  auto plan = supervision::plan_restart(st.spec.strategy, running, i);
  for (auto j : plan.start)
    st.children[j].pending_start = true;
  for (auto j : plan.stop)
    stop_child(self, j);
  start_pending(self);
}

caf::behavior supervisor_actor(self_ptr self, supervisor_spec spec) {
  auto& st = self->state;
  st.spec = std::move(spec);
  st.intensity.emplace(st.spec.max_restarts, st.spec.period,
                       st.spec.clock ? *st.spec.clock : system_clock_source());
  for (auto& c : st.spec.children)
    st.children.push_back(child_slot{c, {}, 0, false, false});
  st.spec.children.clear(); // the slots own them now
  self->set_down_handler([self](caf::down_msg& dm) { on_down(self, dm); });
  // Trap exits: stop the children first, then quit with the same reason.
  // A normal exit_msg is ignored, as CAF's default handler does.
  self->set_exit_handler([self](caf::exit_msg& em) {
    if (em.reason)
      begin_shutdown(self, em.reason);
  });
  self->set_error_handler([self](caf::error& err) {
    self->state.log->warn("supervisor-unexpected-error supervisor={} error={}",
                          self->state.spec.name, self->system().render(err));
  });
  for (size_t i = 0; i < st.children.size(); ++i)
    if (!start_child(self, i)) {
      begin_shutdown(self, caf::make_error(caf::sec::runtime_error, "child-start-failed",
                                           st.spec.name, st.children[i].spec.name));
      break;
    }
  if (!st.shutting_down)
    st.log->info("supervisor-started supervisor={} children={} strategy={}", st.spec.name,
                 st.children.size(), supervision::to_string(st.spec.strategy));
  return {
    [=](children_atom) {
      std::vector<std::string> names;
      for (auto& c : self->state.children)
        names.push_back(c.spec.name);
      return names;
    },
    [=](caf::get_atom, const std::string& name) -> caf::result<caf::actor> {
      for (auto& c : self->state.children)
        if (c.spec.name == name && c.current)
          return c.current;
      return caf::make_error(caf::sec::runtime_error, "no-such-child", name);
    },
    // A stop deadline (sent by this supervisor to itself in stop_child).
    [=](caf::timeout_atom, const caf::actor_addr& child) {
      if (caf::actor_cast<caf::actor_addr>(self->current_sender()) != self->address())
        return;
      auto i = slot_of(self, child);
      if (!i || !self->state.children[*i].stopping)
        return;
      auto& slot = self->state.children[*i];
      self->state.log->warn("child-stop-timeout supervisor={} child={} timeout={}",
                            self->state.spec.name, slot.spec.name,
                            human_duration(slot.spec.shutdown_timeout));
      self->send_exit(slot.current, caf::exit_reason::kill);
    },
  };
}

} // namespace

caf::actor spawn_supervisor(caf::actor_system& sys, supervisor_spec spec) {
  return sys.spawn(supervisor_actor, std::move(spec));
}

child_spec supervisor_child(supervisor_spec spec) {
  child_spec c;
  c.name = spec.name;
  c.is_supervisor = true;
  // A nested supervisor stops its own children one by one; give it time.
  c.shutdown_timeout = seconds_d(30);
  c.start = [spec = std::move(spec)](caf::actor_system& sys) { return spawn_supervisor(sys, spec); };
  return c;
}

caf::error escalation_reason(const std::string& supervisor) {
  return caf::make_error(caf::sec::runtime_error, escalation_tag, supervisor);
}

bool is_escalation(const caf::error& reason) {
  if (reason.category() != caf::atom("system")
      || reason.code() != static_cast<uint8_t>(caf::sec::runtime_error))
    return false;
  auto& ctx = reason.context();
  return ctx.size() >= 1 && ctx.match_element<std::string>(0)
         && ctx.get_as<std::string>(0) == escalation_tag;
}

bool is_abnormal_exit(const caf::error& reason) {
  return reason && reason != caf::exit_reason::user_shutdown;
}

void crash_actor(const caf::actor& target) {
  if (target)
    caf::anon_send_exit(target, caf::exit_reason::unhandled_exception);
}

} // namespace faultd
