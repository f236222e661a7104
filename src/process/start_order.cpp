#include "process/start_order.hpp"

namespace faultd::process {

start_order::start_order(std::vector<service_config> services)
  : all_(std::move(services)), started_(all_.size(), false) {
  for (size_t i = 0; i < all_.size(); ++i)
    waiting_.push_back(i);
}

size_t start_order::index_of(const std::string& name) const {
  for (size_t i = 0; i < all_.size(); ++i)
    if (all_[i].name == name)
      return i;
  return all_.size();
}

std::vector<service_config>
start_order::next(const std::function<bool(const service_config&)>& ready) {
  std::vector<service_config> out;
  std::vector<size_t> still;
  for (auto i : waiting_) {
    bool go = true;
    for (const auto& dep : all_[i].depends_on) {
      auto d = index_of(dep);
      if (d == all_.size())
        continue; // not a service of this node: nothing to wait for
      if (!started_[d] || !ready(all_[d])) {
        go = false;
        break;
      }
    }
    if (go)
      out.push_back(all_[i]);
    else
      still.push_back(i);
  }
  // Marked started only now: a dependency returned in this round is not
  // ready within the same round.
  for (auto& s : out)
    started_[index_of(s.name)] = true;
  waiting_ = std::move(still);
  return out;
}

std::vector<std::pair<std::string, std::vector<std::string>>> start_order::waiting() const {
  std::vector<std::pair<std::string, std::vector<std::string>>> out;
  for (auto i : waiting_)
    out.emplace_back(all_[i].name, all_[i].depends_on);
  return out;
}

} // namespace faultd::process
