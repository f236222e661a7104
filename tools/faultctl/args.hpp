#pragma once

// faultctl's command line (no CAF in here).

#include <chrono>
#include <optional>
#include <string>
#include <vector>

#include "control/codec.hpp"

namespace faultctl {

struct options {
  std::string host = "127.0.0.1";
  uint16_t port = 7400;
  bool json = false;
  std::chrono::milliseconds timeout{5000};
  faultd::control::request req;
  bool help = false;
};

/// Parses argv (without argv[0]). On bad usage returns nullopt and sets
/// `error` to one line.
std::optional<options> parse_args(const std::vector<std::string>& args, std::string& error);

/// The --help text.
const char* usage();

} // namespace faultctl
