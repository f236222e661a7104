#include "membership/incarnation.hpp"

#include <chrono>
#include <cstdio>
#include <fstream>

#include "faultd/util.hpp"

namespace faultd::membership {

status next_incarnation(const std::string& path, uint64_t& out) {
  uint64_t stored = 0;
  {
    std::ifstream in(path);
    if (in)
      in >> stored; // an unreadable number counts as 0: the clock still moves on
  }
  auto now_ms = static_cast<uint64_t>(std::chrono::duration_cast<std::chrono::milliseconds>(
                                        std::chrono::system_clock::now().time_since_epoch())
                                        .count());
  out = std::max(stored + 1, now_ms);
  return store_incarnation(path, out);
}

status store_incarnation(const std::string& path, uint64_t value) {
  auto tmp = path + ".tmp";
  {
    std::ofstream f(tmp, std::ios::trunc);
    f << value << '\n';
    f.flush();
    if (!f)
      return {errc::io, "cannot write " + tmp + ": " + errno_text(errno)};
  }
  if (std::rename(tmp.c_str(), path.c_str()) != 0)
    return {errc::io, "cannot replace " + path + ": " + errno_text(errno)};
  return {};
}

} // namespace faultd::membership
