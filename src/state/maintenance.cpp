#include "state/maintenance.hpp"

namespace faultd::state {

namespace {

const std::string prefix = "maintenance/";

} // namespace

maintenance_set::maintenance_set(registry* reg) {
  if (reg == nullptr)
    return;
  for (auto& [key, value] : reg->list(prefix))
    if (value == "on")
      on_.insert(key.substr(prefix.size()));
  writer_ = std::make_unique<registry_writer>(*reg);
}

bool maintenance_set::set(const std::string& service, bool on) {
  std::lock_guard<std::mutex> guard{mtx_};
  bool changed = on ? on_.insert(service).second : on_.erase(service) > 0;
  if (changed && writer_) {
    if (on)
      writer_->put(prefix + service, "on");
    else
      writer_->erase(prefix + service);
  }
  return changed;
}

bool maintenance_set::contains(const std::string& service) const {
  std::lock_guard<std::mutex> guard{mtx_};
  return on_.count(service) > 0;
}

std::set<std::string> maintenance_set::list() const {
  std::lock_guard<std::mutex> guard{mtx_};
  return on_;
}

void maintenance_set::flush() {
  if (writer_)
    writer_->flush();
}

} // namespace faultd::state
