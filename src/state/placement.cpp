#include "state/placement.hpp"

#include <charconv>

namespace faultd::state {

std::string placement_key(const std::string& service) {
  return "placement/" + service;
}

std::optional<placement> parse_placement(const std::string& value) {
  const std::string e = "epoch=", n = " node=";
  if (value.rfind(e, 0) != 0)
    return std::nullopt;
  auto sep = value.find(n);
  if (sep == std::string::npos)
    return std::nullopt;
  placement p;
  auto digits = value.substr(e.size(), sep - e.size());
  auto [end, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), p.epoch);
  if (digits.empty() || ec != std::errc{} || end != digits.data() + digits.size())
    return std::nullopt;
  p.node = value.substr(sep + n.size());
  if (p.node.empty() || p.node.find_first_of(" \n/") != std::string::npos)
    return std::nullopt;
  return p;
}

std::string format_placement(const placement& p) {
  return "epoch=" + std::to_string(p.epoch) + " node=" + p.node;
}

std::optional<placement> placement_of(const registry& reg, const std::string& service) {
  auto v = reg.get(placement_key(service));
  return v ? parse_placement(*v) : std::nullopt;
}

std::string owner_of(const service_config& svc, const registry& reg) {
  if (svc.node.empty())
    return "";
  if (auto p = placement_of(reg, svc.name))
    return p->node;
  return svc.node;
}

bool runs_here(const service_config& svc, const std::string& self, const registry& reg) {
  if (svc.node.empty())
    return true;
  return owner_of(svc, reg) == self;
}

uint32_t quorum_needed(uint32_t configured, size_t known) {
  if (configured > 0)
    return configured;
  return static_cast<uint32_t>(known / 2 + 1);
}

} // namespace faultd::state
