#pragma once

// The membership as other threads see it: the membership actor publishes
// its table's view after every change and tick; `faultctl status` and
// `faultctl members` (the control actor) and failover (whether a backup
// node is alive) read it. Thread-safe.

#include <cstdint>
#include <mutex>
#include <string>
#include <vector>

#include "membership/members.hpp"

namespace faultd::membership {

class member_board {
public:
  void publish(std::vector<member_view> view, uint32_t local_health) {
    std::lock_guard<std::mutex> guard{mtx_};
    view_ = std::move(view);
    health_ = local_health;
  }

  /// This node first, then the others by id (empty before the first publish).
  std::vector<member_view> snapshot() const {
    std::lock_guard<std::mutex> guard{mtx_};
    return view_;
  }

  /// Lifeguard's local health multiplier (0 = healthy).
  uint32_t local_health() const {
    std::lock_guard<std::mutex> guard{mtx_};
    return health_;
  }

  /// Whether `id` is a member seen alive now (this node included).
  bool alive(const std::string& id) const {
    std::lock_guard<std::mutex> guard{mtx_};
    for (const auto& m : view_)
      if (m.id == id)
        return m.state == member_state::alive;
    return false;
  }

private:
  mutable std::mutex mtx_;
  std::vector<member_view> view_;
  uint32_t health_ = 0;
};

} // namespace faultd::membership
