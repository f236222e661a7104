#include "actors/supervision/directory.hpp"

#include <caf/send.hpp>

namespace faultd {

void actor_directory::put(entry e) {
  std::lock_guard<std::mutex> guard{mtx_};
  auto key = e.name;
  auto actor = e.actor;
  entries_[key] = std::move(e);
  // What was sent while no incarnation existed goes to this one, first.
  if (auto h = held_.find(key); h != held_.end() && actor) {
    for (auto& msg : h->second)
      caf::anon_send(actor, std::move(msg));
    held_.erase(h);
  }
}

bool actor_directory::send_or_hold(const std::string& name, caf::message msg) {
  std::lock_guard<std::mutex> guard{mtx_};
  if (auto i = entries_.find(name); i != entries_.end() && i->second.actor) {
    caf::anon_send(i->second.actor, std::move(msg));
    return true;
  }
  auto& q = held_[name];
  q.push_back(std::move(msg));
  if (q.size() > max_held) {
    q.pop_front();
    ++dropped_;
    return false;
  }
  return true;
}

uint64_t actor_directory::dropped() const {
  std::lock_guard<std::mutex> guard{mtx_};
  return dropped_;
}

caf::actor actor_directory::get(const std::string& name) const {
  std::lock_guard<std::mutex> guard{mtx_};
  auto i = entries_.find(name);
  return i == entries_.end() ? caf::actor{} : i->second.actor;
}

std::optional<actor_directory::entry> actor_directory::find(const std::string& name) const {
  std::lock_guard<std::mutex> guard{mtx_};
  auto i = entries_.find(name);
  if (i == entries_.end())
    return std::nullopt;
  return i->second;
}

bool actor_directory::erase(const std::string& name) {
  std::lock_guard<std::mutex> guard{mtx_};
  return entries_.erase(name) > 0;
}

bool actor_directory::erase_if_current(const std::string& name,
                                       const caf::actor_addr& incarnation) {
  std::lock_guard<std::mutex> guard{mtx_};
  auto i = entries_.find(name);
  if (i == entries_.end() || i->second.actor.address() != incarnation)
    return false;
  entries_.erase(i);
  return true;
}

std::vector<actor_directory::entry> actor_directory::list() const {
  std::lock_guard<std::mutex> guard{mtx_};
  std::vector<entry> xs;
  xs.reserve(entries_.size());
  for (auto& kv : entries_)
    xs.push_back(kv.second);
  return xs;
}

} // namespace faultd
