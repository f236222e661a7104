#include "membership/handshake_gate.hpp"

#include <algorithm>

namespace faultd::membership {

handshake_gate::verdict handshake_gate::admit(int fd, const std::string& host,
                                              const std::string& peer, time_point now) {
  // An fd number the gate still holds was closed behind its back (a socket
  // closed without a handshake step): that entry is stale.
  drop_fd(fd);
  if (entries_.size() >= limits_.max_pending) {
    ++refused_;
    return verdict::refused_full;
  }
  auto from_host = std::count_if(entries_.begin(), entries_.end(),
                                 [&](const entry& e) { return e.host == host; });
  if (static_cast<size_t>(from_host) >= limits_.max_pending_per_host) {
    ++refused_;
    return verdict::refused_host;
  }
  entries_.push_back(entry{fd, nullptr, host, peer, now, false});
  return verdict::admitted;
}

void handshake_gate::bind(int fd, const void* ssl) {
  for (auto& e : entries_)
    if (e.fd == fd && e.ssl == nullptr) {
      e.ssl = ssl;
      return;
    }
}

bool handshake_gate::done(const void* ssl) {
  bool overdue = false;
  entries_.erase(std::remove_if(entries_.begin(), entries_.end(),
                                [&](const entry& e) {
                                  if (e.ssl != ssl)
                                    return false;
                                  overdue = overdue || e.overdue;
                                  return true;
                                }),
                 entries_.end());
  return overdue;
}

void handshake_gate::drop_fd(int fd) {
  entries_.erase(std::remove_if(entries_.begin(), entries_.end(),
                                [&](const entry& e) { return e.fd == fd; }),
                 entries_.end());
}

std::vector<handshake_gate::overdue> handshake_gate::expire(time_point now) {
  std::vector<overdue> out;
  auto gone = [&](entry& e) {
    if (now - e.since < limits_.timeout)
      return false;
    if (!e.overdue) {
      e.overdue = true;
      ++timed_out_;
      out.push_back(overdue{e.fd, e.peer});
      return false;
    }
    // Named once already and still not reported closed: stop counting it
    // rather than let it hold a place forever.
    return now - e.since >= 2 * limits_.timeout;
  };
  entries_.erase(std::remove_if(entries_.begin(), entries_.end(), gone), entries_.end());
  return out;
}

} // namespace faultd::membership
