#include "replica/report.hpp"

#include <algorithm>

namespace faultd::replica {

state_report make_report(std::vector<peer_comparison> nodes, std::vector<std::string> unanswered) {
  state_report r;
  std::sort(nodes.begin(), nodes.end(),
            [](const peer_comparison& a, const peer_comparison& b) { return a.id < b.id; });
  std::sort(unanswered.begin(), unanswered.end());
  uint64_t agree = 0;
  uint64_t total = 0;
  for (auto& n : nodes) {
    agree += n.agree;
    total += n.agree + n.differ + n.missing;
  }
  r.consistency_percentage = total == 0 ? 100.0 : 100.0 * static_cast<double>(agree)
                                                     / static_cast<double>(total);
  r.nodes = std::move(nodes);
  r.unanswered = std::move(unanswered);
  return r;
}

} // namespace faultd::replica
