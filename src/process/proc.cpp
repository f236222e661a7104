#include "process/proc.hpp"

#include <dirent.h>
#include <unistd.h>

#include <algorithm>
#include <fstream>
#include <map>
#include <set>
#include <sstream>

namespace faultd::process {

namespace {

std::string slurp(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in)
    return {};
  std::ostringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

std::vector<int> numeric_entries(const std::string& dir) {
  std::vector<int> out;
  DIR* d = ::opendir(dir.c_str());
  if (d == nullptr)
    return out;
  while (auto* e = ::readdir(d)) {
    const char* n = e->d_name;
    if (*n < '1' || *n > '9')
      continue;
    char* end = nullptr;
    long v = std::strtol(n, &end, 10);
    if (end != nullptr && *end == '\0' && v > 0 && v <= INT32_MAX)
      out.push_back(static_cast<int>(v));
  }
  ::closedir(d);
  return out;
}

bool environ_has(const std::string& path, const std::string& entry) {
  auto env = slurp(path);
  size_t pos = 0;
  while (pos < env.size()) {
    auto end = env.find('\0', pos);
    if (end == std::string::npos)
      end = env.size();
    if (env.compare(pos, end - pos, entry) == 0)
      return true;
    pos = end + 1;
  }
  return false;
}

} // namespace

std::optional<proc_stat> parse_proc_stat(const std::string& text) {
  // pid (comm) state ppid pgrp session tty tpgid flags minflt cminflt majflt
  // cmajflt utime stime cutime cstime priority nice threads itrealvalue
  // starttime vsize rss ... (52 fields; exit_code last)
  auto open = text.find('(');
  auto close = text.rfind(')');
  if (open == std::string::npos || close == std::string::npos || close < open)
    return std::nullopt;
  proc_stat st;
  try {
    st.pid = std::stoi(text.substr(0, open));
  } catch (...) {
    return std::nullopt;
  }
  st.comm = text.substr(open + 1, close - open - 1);
  std::istringstream rest(text.substr(close + 1));
  std::vector<std::string> f;  // f[0] = state (field 3)
  std::string tok;
  while (rest >> tok)
    f.push_back(tok);
  if (f.size() < 22)
    return std::nullopt;
  auto num = [&](size_t field) -> uint64_t {  // 1-based field number of stat(5)
    const auto& s = f[field - 3];
    uint64_t v = 0;
    for (char c : s) {
      if (c < '0' || c > '9')
        return 0;
      v = v * 10 + static_cast<uint64_t>(c - '0');
    }
    return v;
  };
  st.state = f[0].empty() ? '?' : f[0][0];
  st.ppid = static_cast<int>(num(4));
  st.pgid = static_cast<int>(num(5));
  st.sid = static_cast<int>(num(6));
  st.utime_ticks = num(14);
  st.stime_ticks = num(15);
  st.start_ticks = num(22);
  st.rss_pages = num(24);
  if (f.size() >= 50)
    st.exit_code = static_cast<int>(num(52));
  return st;
}

std::optional<proc_stat> read_proc_stat(int pid, const std::string& proc_root) {
  auto text = slurp(proc_root + "/" + std::to_string(pid) + "/stat");
  if (text.empty())
    return std::nullopt;
  return parse_proc_stat(text);
}

std::string boot_id(const std::string& proc_root) {
  auto id = slurp(proc_root + "/sys/kernel/random/boot_id");
  while (!id.empty() && (id.back() == '\n' || id.back() == ' '))
    id.pop_back();
  return id;
}

std::vector<proc_stat> process_tree(int root, const std::string& token, token_scope scope,
                                    const std::string& proc_root) {
  const int self = static_cast<int>(::getpid());
  const std::string marker = std::string{instance_env} + "=" + token;
  std::multimap<int, int> children;  // ppid -> pid
  std::map<int, proc_stat> stats;
  std::set<int> members;
  for (int pid : numeric_entries(proc_root)) {
    if (pid == self)
      continue;
    auto st = read_proc_stat(pid, proc_root);
    if (!st)
      continue;
    children.emplace(st->ppid, pid);
    // Group members count even as zombies (their pgid stays readable, and
    // a pgid is never handed out again while a member exists).
    if (root > 0 && (pid == root || st->pgid == root))
      members.insert(pid);
    else if (!token.empty() && st->state != 'Z'
             && (scope == token_scope::everywhere || st->ppid == self)
             && environ_has(proc_root + "/" + std::to_string(pid) + "/environ", marker))
      members.insert(pid);
    stats.emplace(pid, std::move(*st));
  }
  std::vector<int> todo(members.begin(), members.end());
  while (!todo.empty()) {
    int p = todo.back();
    todo.pop_back();
    auto [lo, hi] = children.equal_range(p);
    for (auto it = lo; it != hi; ++it)
      if (it->second != self && members.insert(it->second).second)
        todo.push_back(it->second);
  }
  std::vector<proc_stat> out;
  out.reserve(members.size());
  for (int pid : members)
    out.push_back(stats.at(pid));
  return out;
}

std::optional<uint64_t> count_fds(int pid, const std::string& proc_root) {
  DIR* d = ::opendir((proc_root + "/" + std::to_string(pid) + "/fd").c_str());
  if (d == nullptr)
    return std::nullopt;
  uint64_t n = 0;
  while (auto* e = ::readdir(d))
    if (e->d_name[0] != '.')
      ++n;
  ::closedir(d);
  return n;
}

} // namespace faultd::process
