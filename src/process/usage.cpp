#include "process/usage.hpp"

#include <dirent.h>
#include <unistd.h>

#include <algorithm>
#include <fstream>
#include <sstream>

#include "process/proc.hpp"

namespace faultd::process {

namespace {

long page_size() {
  static const long ps = ::sysconf(_SC_PAGESIZE);
  return ps > 0 ? ps : 4096;
}

std::string service_of(const std::string& root, int pid) {
  std::ifstream in(root + "/" + std::to_string(pid) + "/environ", std::ios::binary);
  std::string entry;
  const std::string key = "FAULTD_SERVICE=";
  while (std::getline(in, entry, '\0'))
    if (entry.compare(0, key.size(), key) == 0)
      return entry.substr(key.size());
  return {};
}

} // namespace

long clock_ticks_per_second() {
  static const long hz = ::sysconf(_SC_CLK_TCK);
  return hz > 0 ? hz : 100;
}

tree_usage measure_tree(int root, const std::string& token, const std::string& proc_root) {
  tree_usage u;
  for (const auto& st : process_tree(root, token, token_scope::everywhere, proc_root)) {
    if (st.state == 'Z')
      continue;
    ++u.processes;
    u.rss_bytes += st.rss_pages * static_cast<uint64_t>(page_size());
    u.cpu_ticks += st.utime_ticks + st.stime_ticks;
    if (auto fds = count_fds(st.pid, proc_root))
      u.fds += *fds;
  }
  return u;
}

std::string consumer::label() const {
  std::string s = name + "(pid " + std::to_string(pid);
  if (!service.empty())
    s += ", service " + service;
  return s + ")";
}

void consumer_tracker::scan() {
  auto now = std::chrono::steady_clock::now();
  double elapsed = prev_at_ == std::chrono::steady_clock::time_point{}
                     ? 0
                     : std::chrono::duration<double>(now - prev_at_).count();
  std::map<int, seen> current;
  std::vector<consumer> out;
  DIR* d = ::opendir(root_.c_str());
  if (d == nullptr)
    return;
  while (auto* e = ::readdir(d)) {
    char* end = nullptr;
    long pid = std::strtol(e->d_name, &end, 10);
    if (end == e->d_name || *end != '\0' || pid <= 0)
      continue;
    auto st = read_proc_stat(static_cast<int>(pid), root_);
    if (!st || st->state == 'Z')
      continue;
    consumer c;
    c.pid = st->pid;
    c.name = st->comm;
    c.rss_bytes = st->rss_pages * static_cast<uint64_t>(page_size());
    uint64_t ticks = st->utime_ticks + st->stime_ticks;
    if (auto p = prev_.find(c.pid);
        p != prev_.end() && p->second.start_ticks == st->start_ticks && elapsed > 0
        && ticks >= p->second.cpu_ticks)
      c.cpu_percent = 100.0 * static_cast<double>(ticks - p->second.cpu_ticks)
                      / static_cast<double>(clock_ticks_per_second()) / elapsed;
    current[c.pid] = seen{st->start_ticks, ticks};
    out.push_back(std::move(c));
  }
  ::closedir(d);
  prev_ = std::move(current);
  prev_at_ = now;
  last_ = std::move(out);
}

std::vector<consumer> consumer_tracker::top(size_t n, bool by_cpu) const {
  auto all = last_;
  auto key = [by_cpu](const consumer& c) {
    return by_cpu ? c.cpu_percent : static_cast<double>(c.rss_bytes);
  };
  n = std::min(n, all.size());
  std::partial_sort(all.begin(), all.begin() + static_cast<std::ptrdiff_t>(n), all.end(),
                    [&](const consumer& a, const consumer& b) { return key(a) > key(b); });
  all.resize(n);
  for (auto& c : all)
    c.service = service_of(root_, c.pid);
  return all;
}

std::vector<consumer> consumer_tracker::top_memory(size_t n) const {
  return top(n, false);
}

std::vector<consumer> consumer_tracker::top_cpu(size_t n) const {
  return top(n, true);
}

} // namespace faultd::process
