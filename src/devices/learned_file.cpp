#include "devices/learned_file.hpp"

#include <cerrno>
#include <charconv>
#include <climits>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <fstream>
#include <sstream>

#include "faultd/util.hpp"

namespace faultd::devices {

namespace {

/// Times as unix ms that still fit a nanosecond timestamp (until 2255).
constexpr int64_t max_time_ms = 9'000'000'000'000LL;

/// `field` is a whole number (nothing before or after it).
template <class T>
bool whole(const std::string& field, T& out) {
  const auto* end = field.data() + field.size();
  auto [ptr, ec] = std::from_chars(field.data(), end, out);
  return !field.empty() && ec == std::errc{} && ptr == end;
}

} // namespace

status save_learned(const std::string& path, const std::vector<silence_detector::learned>& xs) {
  auto tmp = path + ".tmp";
  {
    std::ofstream out(tmp, std::ios::trunc);
    out.precision(15);  // the learned mean and variance read back as they were
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
    // 6 fields as written before sleep and patterns were recorded, or 8;
    // each number whole and in range.
    bool ok = (f.size() == 6 || f.size() == 8) && !f[0].empty();
    int64_t samples = 0;
    if (ok) {
      x.id = f[0];
      x.gateway = f[1];
      ok = whole(f[2], x.last_seen_ms) && whole(f[3], x.mean_ms) && whole(f[4], x.var_ms2)
           && whole(f[5], samples) && (f.size() == 6 || whole(f[6], x.asleep_until_ms))
           && std::isfinite(x.mean_ms) && std::isfinite(x.var_ms2) && x.mean_ms >= 0
           && x.var_ms2 >= 0 && samples >= 0 && samples <= UINT32_MAX
           && std::abs(x.last_seen_ms) <= max_time_ms && x.asleep_until_ms >= 0
           && x.asleep_until_ms <= max_time_ms;
      x.samples = static_cast<uint32_t>(samples);
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
