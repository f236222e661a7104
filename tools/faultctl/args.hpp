#pragma once

// faultctl's command line (no CAF in here).

#include <chrono>
#include <optional>
#include <string>
#include <vector>

#include "control/codec.hpp"
#include "faultd/config.hpp"

namespace faultctl {

struct options {
  /// The node's control endpoint (--node, $FAULTD_NODE).
  faultd::control_address node;
  /// --token-file / $FAULTD_TOKEN_FILE: the token a TCP endpoint requires.
  std::string token_file;
  bool json = false;
  std::chrono::milliseconds timeout{5000};
  faultd::control::request req;
  bool help = false;
  /// logs -f: keep asking for what was appended.
  bool follow = false;
};

/// Parses argv (without argv[0]). On bad usage returns nullopt and sets
/// `error` to one line.
std::optional<options> parse_args(const std::vector<std::string>& args, std::string& error);

/// The --help text.
const char* usage();

} // namespace faultctl
