#pragma once

// Reading a service's captured output (<data_dir>/logs/<service>.log) for
// faultctl logs: the last N lines, or what was appended since an offset
// (logs -f). Plain file reads; call it off the actor threads.

#include <cstdint>
#include <string>

#include "faultd/error.hpp"

namespace faultd::process {

struct log_chunk {
  std::string text;
  /// Where to read from next to get what is appended later.
  int64_t next_offset = 0;
};

/// The last `lines` lines of `path` (at most the last `max_bytes` of it).
/// A missing file is empty (the service has written nothing yet).
status tail_lines(const std::string& path, uint32_t lines, log_chunk& out,
                  size_t max_bytes = 1u << 20);

/// What `path` holds from byte `offset` on (at most `max_bytes`). A file
/// shorter than `offset` was rotated: reading starts over at 0.
status read_from(const std::string& path, int64_t offset, log_chunk& out,
                 size_t max_bytes = 1u << 20);

} // namespace faultd::process
