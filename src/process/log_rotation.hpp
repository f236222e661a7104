#pragma once

// Size-based rotation of a service's output file, the way logrotate's
// copytruncate does it: the service keeps its file descriptor (opened with
// O_APPEND, so after the truncation it writes at the new end), faultd
// copies the file to <file>.1 (shifting .1 -> .2 ... up to `keep`) and
// truncates it. This works for processes faultd adopted after its own
// restart, whose output fd faultd never held. Lines written between the copy
// and the truncation (a few microseconds) are lost, and a file that grew
// past max_size between two checks keeps only its last max_size bytes in
// <file>.1: each file stays within max_size, whatever the writer does.

#include <cstdint>
#include <string>

#include "faultd/error.hpp"

namespace faultd::process {

/// If `path` is larger than `max_size`, rotates it (keeping `keep` old
/// files; 0 = just truncate) and returns true in `rotated`. A missing file
/// is not an error.
status rotate_if_larger(const std::string& path, uint64_t max_size, uint32_t keep,
                        bool* rotated = nullptr);

} // namespace faultd::process
