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
          << x.var_ms2 << '\t' << x.samples << '\t' << x.asleep_until_ms << '\t' << x.pattern
          << '\n';
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
    std::vector<std::string> f;
    std::istringstream fields(line);
    for (std::string x; std::getline(fields, x, '\t');)
      f.push_back(std::move(x));
    if (!line.empty() && line.back() == '\t')
      f.emplace_back();  // an empty last field (no pattern)
    silence_detector::learned x;
    // 6 fields as written before sleep and patterns were recorded, or 8.
    bool ok = (f.size() == 6 || f.size() == 8) && !f[0].empty();
    if (ok) {
      x.id = f[0];
      x.gateway = f[1];
      std::istringstream nums(f[2] + ' ' + f[3] + ' ' + f[4] + ' ' + f[5] + ' '
                              + (f.size() == 8 ? f[6] : "0"));
      std::string extra;
      ok = (nums >> x.last_seen_ms >> x.mean_ms >> x.var_ms2 >> x.samples >> x.asleep_until_ms)
           && !(nums >> extra) && x.mean_ms >= 0 && x.var_ms2 >= 0 && x.asleep_until_ms >= 0;
      if (f.size() == 8)
        x.pattern = f[7];
    }
    if (!ok) {
      ++bad;
      continue;
    }
    out.push_back(std::move(x));
  }
  return {};
}

} // namespace faultd::devices
