#pragma once

// This node's incarnation across restarts: a restarted node must rejoin
// with a higher one than the cluster buried it with. The file keeps the
// last one used; the next is above both it and the wall clock in
// milliseconds (so a wiped data dir still moves forward).

#include <cstdint>
#include <string>

#include "faultd/error.hpp"

namespace faultd::membership {

/// Reads `path` (missing = 0), picks the next incarnation and stores it.
status next_incarnation(const std::string& path, uint64_t& out);

/// Stores `value` (after a refutation raised it).
status store_incarnation(const std::string& path, uint64_t value);

} // namespace faultd::membership
