#pragma once

// Learned device rhythms on disk (<data_dir>/devices.tsv), so that a
// restarted faultd judges every device at once by the rhythm it had, with
// no blind spot while it learns again. One line per device:
//   id \t gateway \t last_seen_ms \t mean_ms \t variance_ms2 \t samples
//      \t asleep_until_ms \t topic pattern
// written to a temporary file and renamed. Files of six fields (before
// sleep and patterns were recorded) still load.

#include <string>
#include <vector>

#include "devices/silence_detector.hpp"
#include "faultd/error.hpp"

namespace faultd::devices {

status save_learned(const std::string& path, const std::vector<silence_detector::learned>& xs);

/// Reads what save_learned wrote; lines that do not parse are skipped and
/// counted in `bad`. A missing file is no error (nothing learned yet).
status load_learned(const std::string& path, std::vector<silence_detector::learned>& out,
                    size_t& bad);

} // namespace faultd::devices
