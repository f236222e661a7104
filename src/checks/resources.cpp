#include "checks/resources.hpp"

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <sstream>

#include <dirent.h>
#include <fcntl.h>
#include <sys/resource.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include "faultd/log.hpp"
#include "faultd/util.hpp"

namespace faultd::checks {

namespace {

/// Reads a whole (small) file; /proc files report size 0, so read to EOF.
std::optional<std::string> read_text(const std::string& path, std::string& error) {
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    error = "open " + path + ": " + errno_text(errno);
    return std::nullopt;
  }
  std::string out;
  char buf[4096];
  for (;;) {
    ssize_t n = ::read(fd, buf, sizeof(buf));
    if (n > 0) {
      out.append(buf, static_cast<size_t>(n));
      continue;
    }
    if (n < 0 && errno == EINTR)
      continue;
    if (n < 0) {
      error = "read " + path + ": " + errno_text(errno);
      ::close(fd);
      return std::nullopt;
    }
    break;
  }
  ::close(fd);
  return out;
}

std::string percent_text(double v) {
  char buf[32];
  std::snprintf(buf, sizeof(buf), "%.1f", v);
  return buf;
}

} // namespace

std::optional<cpu_times> parse_proc_stat(std::string_view text) {
  size_t pos = 0;
  while (pos < text.size()) {
    auto end = text.find('\n', pos);
    auto line = text.substr(pos, end == std::string_view::npos ? std::string_view::npos
                                                                : end - pos);
    if (line.size() > 4 && line.substr(0, 3) == "cpu" && (line[3] == ' ' || line[3] == '\t')) {
      std::istringstream in{std::string(line.substr(3))};
      uint64_t v[8] = {0, 0, 0, 0, 0, 0, 0, 0};
      int n = 0;
      while (n < 8 && (in >> v[n]))
        ++n;
      if (n < 4)
        return std::nullopt;
      // user nice system idle iowait irq softirq steal
      cpu_times t;
      t.busy = v[0] + v[1] + v[2] + v[5] + v[6] + v[7];
      t.idle = v[3] + v[4];
      return t;
    }
    if (end == std::string_view::npos)
      break;
    pos = end + 1;
  }
  return std::nullopt;
}

std::optional<double> cpu_busy_percent(const cpu_times& before, const cpu_times& after) {
  if (after.busy < before.busy || after.idle < before.idle)
    return std::nullopt;
  auto d_total = after.total() - before.total();
  if (d_total == 0)
    return std::nullopt;
  return 100.0 * static_cast<double>(after.busy - before.busy) / static_cast<double>(d_total);
}

std::optional<memory_usage> parse_meminfo(std::string_view text) {
  std::map<std::string, uint64_t> kv;
  std::istringstream in{std::string(text)};
  std::string line;
  while (std::getline(in, line)) {
    auto colon = line.find(':');
    if (colon == std::string::npos)
      continue;
    errno = 0;
    char* end = nullptr;
    auto v = std::strtoull(line.c_str() + colon + 1, &end, 10);
    if (errno != 0 || end == line.c_str() + colon + 1)
      continue;
    kv[line.substr(0, colon)] = v;
  }
  auto total = kv.find("MemTotal");
  if (total == kv.end() || total->second == 0)
    return std::nullopt;
  memory_usage m;
  m.total_kb = total->second;
  if (auto avail = kv.find("MemAvailable"); avail != kv.end()) {
    m.available_kb = avail->second;
  } else if (kv.count("MemFree") != 0) {
    m.available_kb = kv["MemFree"] + kv["Buffers"] + kv["Cached"];
  } else {
    return std::nullopt;
  }
  if (m.available_kb > m.total_kb)
    m.available_kb = m.total_kb;
  m.used_percent = 100.0 * static_cast<double>(m.total_kb - m.available_kb)
                   / static_cast<double>(m.total_kb);
  return m;
}

std::optional<double> parse_loadavg(std::string_view text) {
  std::string s(text);
  errno = 0;
  char* end = nullptr;
  double v = std::strtod(s.c_str(), &end);
  if (errno != 0 || end == s.c_str() || v < 0)
    return std::nullopt;
  return v;
}

std::optional<disk_usage> read_disk_usage(const std::string& path, std::string& error) {
  struct statvfs st {};
  if (::statvfs(path.c_str(), &st) != 0) {
    error = "statvfs " + path + ": " + errno_text(errno);
    return std::nullopt;
  }
  uint64_t frsize = st.f_frsize != 0 ? st.f_frsize : st.f_bsize;
  disk_usage d;
  d.path = path;
  d.total_bytes = static_cast<uint64_t>(st.f_blocks) * frsize;
  uint64_t free_bytes = static_cast<uint64_t>(st.f_bfree) * frsize;
  d.available_bytes = static_cast<uint64_t>(st.f_bavail) * frsize;
  d.used_bytes = d.total_bytes >= free_bytes ? d.total_bytes - free_bytes : 0;
  auto denom = d.used_bytes + d.available_bytes;
  d.used_percent =
      denom == 0 ? 0.0 : 100.0 * static_cast<double>(d.used_bytes) / static_cast<double>(denom);
  return d;
}

resource_sampler::resource_sampler(proc_source src, std::vector<std::string> disk_paths)
    : src_(std::move(src)), disk_paths_(std::move(disk_paths)) {}

std::optional<double> resource_sampler::read_cpu(std::string& error) {
  auto path = src_.proc_root + "/stat";
  auto text = read_text(path, error);
  if (!text)
    return std::nullopt;
  auto now = parse_proc_stat(*text);
  if (!now) {
    error = "no cpu line in " + path;
    return std::nullopt;
  }
  auto prev = last_cpu_;
  last_cpu_ = now;
  if (!prev)
    return std::nullopt;
  return cpu_busy_percent(*prev, *now);
}

std::optional<memory_usage> resource_sampler::read_memory(std::string& error) {
  auto path = src_.proc_root + "/meminfo";
  auto text = read_text(path, error);
  if (!text)
    return std::nullopt;
  auto m = parse_meminfo(*text);
  if (!m)
    error = "no MemTotal/MemAvailable in " + path;
  return m;
}

std::optional<load_usage> resource_sampler::read_load(std::string& error) {
  auto path = src_.proc_root + "/loadavg";
  auto text = read_text(path, error);
  if (!text)
    return std::nullopt;
  auto l1 = parse_loadavg(*text);
  if (!l1) {
    error = "malformed " + path;
    return std::nullopt;
  }
  load_usage l;
  l.load1 = *l1;
  if (src_.cpu_count != 0) {
    l.cpus = src_.cpu_count;
  } else {
    long n = ::sysconf(_SC_NPROCESSORS_ONLN);
    l.cpus = n > 0 ? static_cast<unsigned>(n) : 1;
  }
  l.per_core = l.load1 / l.cpus;
  return l;
}

std::optional<fd_usage> resource_sampler::read_fds(std::string& error) {
  fd_usage u;
  if (src_.fd_limit != 0) {
    u.limit = src_.fd_limit;
  } else {
    rlimit rl{};
    if (::getrlimit(RLIMIT_NOFILE, &rl) != 0) {
      error = "getrlimit RLIMIT_NOFILE: " + errno_text(errno);
      return std::nullopt;
    }
    u.limit = rl.rlim_cur == RLIM_INFINITY ? 0 : static_cast<uint64_t>(rl.rlim_cur);
    if (u.limit == 0) {
      error = "RLIMIT_NOFILE is unlimited";
      return std::nullopt;
    }
  }
  auto path = src_.proc_root + "/self/fd";
  DIR* dir = ::opendir(path.c_str());
  if (dir == nullptr) {
    error = "opendir " + path + ": " + errno_text(errno);
    return std::nullopt;
  }
  // The directory stream has an fd of its own; in the real /proc/self/fd it
  // shows up as a symlink named after it and is not counted.
  auto own = std::to_string(::dirfd(dir));
  errno = 0;
  while (auto* e = ::readdir(dir)) {
    if (std::strcmp(e->d_name, ".") == 0 || std::strcmp(e->d_name, "..") == 0)
      continue;
    if (e->d_type == DT_LNK && own == e->d_name)
      continue;
    ++u.open;
  }
  int read_errno = errno;
  ::closedir(dir);
  if (read_errno != 0) {
    error = "readdir " + path + ": " + errno_text(read_errno);
    return std::nullopt;
  }
  u.used_percent = 100.0 * static_cast<double>(u.open) / static_cast<double>(u.limit);
  return u;
}

resource_sample resource_sampler::sample() {
  resource_sample s;
  auto note = [&s](std::string& err) {
    if (!err.empty()) {
      s.errors.push_back(err);
      err.clear();
    }
  };
  std::string err;
  s.cpu_percent = read_cpu(err);
  note(err);
  s.memory = read_memory(err);
  note(err);
  for (const auto& p : disk_paths_) {
    if (auto d = read_disk_usage(p, err))
      s.disks.push_back(*d);
    note(err);
  }
  s.load = read_load(err);
  note(err);
  s.fds = read_fds(err);
  note(err);
  for (const auto& e : s.errors)
    log::get("resources")->warn("resource-read-failed error={}", e);
  return s;
}

// -- thresholds ---------------------------------------------------------------

resource_monitor::resource_monitor(const resources_config& cfg, std::string node,
                                   const clock_source& clock)
    : cfg_(cfg), node_(std::move(node)), clock_(&clock) {}

const resource_threshold* resource_monitor::threshold_for(const std::string& resource) const {
  if (resource == "cpu")
    return &cfg_.cpu;
  if (resource == "memory")
    return &cfg_.memory;
  if (resource == "load")
    return &cfg_.load;
  if (resource == "fds")
    return &cfg_.fds;
  if (resource.rfind("disk:", 0) == 0)
    return &cfg_.disk;
  return nullptr;
}

health_state resource_monitor::state(const std::string& resource) const {
  auto i = trackers_.find(resource);
  return i == trackers_.end() ? health_state::unknown : i->second.state();
}

std::optional<fault_event> resource_monitor::observe_value(const std::string& resource,
                                                           double value) {
  const auto* th = threshold_for(resource);
  if (th == nullptr || !th->enabled)
    return std::nullopt;
  double warning = th->warning > 0 ? th->warning : th->critical;
  double critical = th->critical > 0 ? th->critical : 0;
  if (warning <= 0)
    return std::nullopt;
  auto outcome = check_outcome::ok;
  if (critical > 0 && value >= critical)
    outcome = check_outcome::critical;
  else if (value >= warning)
    outcome = check_outcome::warning;

  auto it = trackers_.find(resource);
  if (it == trackers_.end())
    it = trackers_.emplace(resource, health_tracker(th->failure_threshold, th->success_threshold))
             .first;
  auto t = it->second.record(outcome);
  if (!t || (t->to == health_state::healthy && t->from != health_state::unhealthy))
    return std::nullopt;

  fault_event ev;
  ev.id = make_uuid();
  ev.time = clock_->now();
  ev.type = fault_type::resource_exhaustion;
  ev.component = "resource:" + resource;
  ev.node = node_;
  ev.source = "resources";
  ev.details["resource"] = resource;
  ev.metrics["value"] = value;
  ev.metrics["warning"] = warning;
  ev.metrics["critical"] = critical;
  ev.metrics["consecutive_failures"] = static_cast<double>(t->consecutive_failures);
  if (t->to == health_state::healthy) {
    ev.clears = true;
    ev.severity = fault_severity::low;
    ev.details["message"] = resource + " " + percent_text(value) + " back below warning "
                            + percent_text(warning);
    log::get("resources")->info("resource-recovered resource={} value={:.1f}", resource, value);
  } else {
    bool crit = t->level == check_outcome::critical;
    ev.severity = crit ? fault_severity::critical : fault_severity::medium;
    ev.details["message"] = resource + " " + percent_text(value) + " >= "
                            + (crit ? "critical " + percent_text(critical)
                                    : "warning " + percent_text(warning));
    if (t->escalated())
      ev.details["escalated"] = "true";
    log::get("resources")->warn("resource-exhausted resource={} value={:.1f} severity={}",
                                resource, value, to_string(ev.severity));
  }
  return ev;
}

std::vector<fault_event> resource_monitor::observe(const resource_sample& s) {
  std::vector<fault_event> out;
  if (!cfg_.enabled)
    return out;
  auto add = [&out](std::optional<fault_event> ev) {
    if (ev)
      out.push_back(std::move(*ev));
  };
  if (s.cpu_percent)
    add(observe_value("cpu", *s.cpu_percent));
  if (s.memory)
    add(observe_value("memory", s.memory->used_percent));
  for (const auto& d : s.disks)
    add(observe_value("disk:" + d.path, d.used_percent));
  if (s.load)
    add(observe_value("load", s.load->per_core));
  if (s.fds)
    add(observe_value("fds", s.fds->used_percent));
  return out;
}

} // namespace faultd::checks
