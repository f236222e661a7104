#include "devices/learned_file.hpp"

#include <cerrno>
#include <cstdio>
#include <fstream>
#include <sstream>

#include "faultd/util.hpp"

namespace faultd::devices {

status save_learned(const std::string& path, const std::vector<silence_detector::learned>& xs) {
  auto tmp = path + ".tmp";
  {
    std::ofstream out(tmp, std::ios::trunc);
    if (!out)
      return {errc::io, "cannot write " + tmp + ": " + errno_text(errno)};
    for (const auto& x : xs)
      out << x.id << '\t' << x.gateway << '\t' << x.last_seen_ms << '\t' << x.mean_ms << '\t'
          << x.var_ms2 << '\t' << x.samples << '\n';
    out.flush();
    if (!out)
      return {errc::io, "cannot write " + tmp + ": " + errno_text(errno)};
  }
  if (std::rename(tmp.c_str(), path.c_str()) != 0)
    return {errc::io, "cannot rename " + tmp + " to " + path + ": " + errno_text(errno)};
  return {};
}

status load_learned(const std::string& path, std::vector<silence_detector::learned>& out,
                    size_t& bad) {
  bad = 0;
  std::ifstream in(path);
  if (!in)
    return errno == ENOENT ? status{} : status{errc::io, "cannot read " + path + ": " + errno_text(errno)};
  std::string line;
  while (std::getline(in, line)) {
    std::istringstream fields(line);
    silence_detector::learned x;
    std::string extra;
    if (!std::getline(fields, x.id, '\t') || !std::getline(fields, x.gateway, '\t')
        || !(fields >> x.last_seen_ms >> x.mean_ms >> x.var_ms2 >> x.samples) || (fields >> extra)
        || x.id.empty() || x.mean_ms < 0 || x.var_ms2 < 0) {
      ++bad;
      continue;
    }
    out.push_back(std::move(x));
  }
  return {};
}

} // namespace faultd::devices
