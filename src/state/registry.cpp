#include "state/registry.hpp"

#include <cerrno>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <unistd.h>

#include "faultd/log.hpp"
#include "faultd/util.hpp"

namespace faultd::state {

namespace fs = std::filesystem;

bool registry::valid_key(const std::string& key) {
  if (key.empty() || key.front() == '/' || key.back() == '/')
    return false;
  std::string seg;
  auto seg_ok = [](const std::string& s) { return !s.empty() && s != "." && s != ".."; };
  for (char c : key) {
    if (c == '/') {
      if (!seg_ok(seg))
        return false;
      seg.clear();
      continue;
    }
    bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9')
              || c == '_' || c == '.' || c == ':' || c == '-';
    if (!ok)
      return false;
    seg.push_back(c);
  }
  return seg_ok(seg);
}

registry::registry(std::string dir) : dir_(std::move(dir)) {
  if (auto err = make_dirs(dir_); !err.empty()) {
    init_ = {errc::io, err};
    return;
  }
  std::error_code ec;
  for (auto it = fs::recursive_directory_iterator(dir_, ec); !ec && it != fs::end(it);
       it.increment(ec)) {
    if (!it->is_regular_file())
      continue;
    auto rel = fs::relative(it->path(), dir_, ec).generic_string();
    if (ec || !valid_key(rel))
      continue; // temporary files (".tmp-*" are invalid keys) and strays
    std::ifstream in{it->path(), std::ios::binary};
    std::ostringstream ss;
    ss << in.rdbuf();
    values_[rel] = ss.str();
  }
  if (ec)
    init_ = {errc::io, "cannot read registry " + dir_ + ": " + ec.message()};
}

bool registry::replicated(const std::string& key) {
  for (const char* prefix :
       {"primary/", "placement/", "weights/", "degradation/", "circuit/", "circuit-hold/"})
    if (key.rfind(prefix, 0) == 0)
      return true;
  return false;
}

void registry::on_local_change(change_fn fn) {
  std::lock_guard<std::mutex> guard{mtx_};
  local_hook_ = std::move(fn);
}

void registry::on_replicated_change(change_fn fn) {
  std::lock_guard<std::mutex> guard{mtx_};
  replicated_hook_ = std::move(fn);
}

status registry::write(const std::string& key, const std::optional<std::string>& value,
                       bool& changed) {
  changed = false;
  if (!valid_key(key))
    return {errc::bad_request, "invalid registry key \"" + key + "\""};
  auto path = dir_ + "/" + key;
  auto i = values_.find(key);
  if (!value) {
    if (std::remove(path.c_str()) != 0 && errno != ENOENT)
      return {errc::io, "cannot remove " + path + ": " + errno_text(errno)};
    if (i != values_.end()) {
      values_.erase(i);
      changed = true;
    }
    return {};
  }
  if (i != values_.end() && i->second == *value)
    return {};
  auto slash = path.rfind('/');
  if (auto err = make_dirs(path.substr(0, slash)); !err.empty())
    return {errc::io, err};
  auto tmp = path.substr(0, slash) + "/.tmp-" + path.substr(slash + 1);
  FILE* f = std::fopen(tmp.c_str(), "wb");
  if (f == nullptr)
    return {errc::io, "cannot write " + tmp + ": " + errno_text(errno)};
  bool ok = std::fwrite(value->data(), 1, value->size(), f) == value->size();
  ok = std::fflush(f) == 0 && ok;
  ok = ::fsync(fileno(f)) == 0 && ok;
  ok = std::fclose(f) == 0 && ok;
  if (!ok || std::rename(tmp.c_str(), path.c_str()) != 0) {
    auto err = errno_text(errno);
    std::remove(tmp.c_str());
    return {errc::io, "cannot write " + path + ": " + err};
  }
  values_[key] = *value;
  changed = true;
  return {};
}

status registry::change(const std::string& key, const std::optional<std::string>& value,
                        bool local) {
  bool changed = false;
  change_fn hook;
  {
    std::lock_guard<std::mutex> guard{mtx_};
    if (auto st = write(key, value, changed); !st.ok())
      return st;
    if (changed)
      hook = local ? (replicated(key) ? local_hook_ : change_fn{}) : replicated_hook_;
  }
  if (hook)
    hook(key, value);
  return {};
}

status registry::put(const std::string& key, const std::string& value) {
  return change(key, value, true);
}

std::optional<std::string> registry::get(const std::string& key) const {
  std::lock_guard<std::mutex> guard{mtx_};
  auto i = values_.find(key);
  if (i == values_.end())
    return std::nullopt;
  return i->second;
}

status registry::erase(const std::string& key) {
  return change(key, std::nullopt, true);
}

status registry::apply_replicated(const std::string& key,
                                  const std::optional<std::string>& value) {
  return change(key, value, false);
}

status registry::restore(const std::string& key, const std::string& previous) {
  return previous.empty() ? erase(key) : put(key, previous);
}

std::map<std::string, std::string> registry::list(const std::string& prefix) const {
  std::lock_guard<std::mutex> guard{mtx_};
  std::map<std::string, std::string> out;
  for (auto i = values_.lower_bound(prefix); i != values_.end(); ++i) {
    if (i->first.compare(0, prefix.size(), prefix) != 0)
      break;
    out.insert(*i);
  }
  return out;
}

std::optional<std::map<std::string, int>> parse_weights(const std::string& s) {
  std::map<std::string, int> out;
  std::stringstream ss{s};
  std::string item;
  while (std::getline(ss, item, ',')) {
    auto eq = item.find('=');
    if (eq == std::string::npos || eq == 0 || eq + 1 >= item.size())
      return std::nullopt;
    auto name = item.substr(0, eq);
    auto num = item.substr(eq + 1);
    if (num.size() > 6 || num.find_first_not_of("0123456789") != std::string::npos)
      return std::nullopt;
    if (!out.emplace(name, std::stoi(num)).second)
      return std::nullopt;
  }
  if (out.empty())
    return std::nullopt;
  return out;
}

std::string format_weights(const std::map<std::string, int>& w) {
  std::string out;
  for (auto& [k, v] : w) {
    if (!out.empty())
      out += ',';
    out += k + "=" + std::to_string(v);
  }
  return out;
}

} // namespace faultd::state
