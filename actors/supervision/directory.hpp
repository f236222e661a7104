#pragma once

// A node's directory of supervised actors by name. Supervisors put every
// child they (re)start under its name, so other actors and faultctl find the
// CURRENT incarnation of, e.g., "analyzer" after it was restarted, and see
// how often it was restarted. One instance per node, shared through
// std::shared_ptr; every method is safe to call from any thread.
//
// (CAF's own sys.registry() names actors with atoms of at most 10
// characters; this directory takes any string.)

#include <cstdint>
#include <deque>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include <caf/actor.hpp>
#include <caf/actor_addr.hpp>
#include <caf/message.hpp>

namespace faultd {

class actor_directory {
public:
  /// One named actor.
  struct entry {
    /// The name it is found under (the child_spec name).
    std::string name;
    /// The name of the supervisor that runs it ("" if none).
    std::string supervisor;
    /// How often its supervisor has restarted it (0 for the first incarnation).
    uint32_t restarts = 0;
    /// Whether it is itself a supervisor.
    bool is_supervisor = false;
    /// The current incarnation.
    caf::actor actor;
  };

  /// Adds or replaces the entry named e.name.
  void put(entry e);

  /// The current incarnation of `name`; an invalid handle if unknown.
  caf::actor get(const std::string& name) const;

  /// The whole entry of `name`, if known.
  std::optional<entry> find(const std::string& name) const;

  /// Removes `name`; false if it was unknown.
  bool erase(const std::string& name);

  /// Removes `name` only while it still refers to `incarnation` (so a stale
  /// remover cannot drop a newer incarnation); true if removed.
  bool erase_if_current(const std::string& name, const caf::actor_addr& incarnation);

  /// Every entry, ordered by name.
  std::vector<entry> list() const;

  /// Sends `msg` to the current incarnation of `name`; while there is none
  /// (it crashed and its supervisor has not restarted it yet) the message is
  /// held and delivered, in order, to the next incarnation put() here. At
  /// most max_held messages are held per name; past that the oldest is
  /// dropped and counted. Returns false only when a message was dropped.
  bool send_or_hold(const std::string& name, caf::message msg);

  /// Messages dropped because too many were held for an absent actor.
  uint64_t dropped() const;

  static constexpr size_t max_held = 100000;

private:
  mutable std::mutex mtx_;
  std::map<std::string, entry> entries_; // GUARDED_BY(mtx_)
  std::map<std::string, std::deque<caf::message>> held_; // GUARDED_BY(mtx_)
  uint64_t dropped_ = 0;                                 // GUARDED_BY(mtx_)
};

} // namespace faultd
