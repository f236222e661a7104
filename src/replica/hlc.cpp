#include "replica/hlc.hpp"

namespace faultd::replica {

int64_t hlc::wall_ms() const {
  auto ns = to_unix_nanos(clock_->now());
  return ns < 0 ? 0 : ns / 1'000'000;
}

uint64_t hlc::next() {
  auto now = pack(wall_ms(), 0);
  // The wall clock moved past everything seen: take it. Otherwise (the same
  // millisecond, a clock stepped back, or a version from a node ahead of us)
  // count up from the last one.
  last_ = now > last_ ? now : last_ + 1;
  return last_;
}

void hlc::observe(uint64_t version) {
  if (version > last_)
    last_ = version;
}

} // namespace faultd::replica
