#include "process/run_state.hpp"

#include <cerrno>
#include <cstdio>
#include <dirent.h>
#include <fcntl.h>
#include <unistd.h>

#include <fstream>
#include <sstream>

#include "faultd/util.hpp"
#include "process/proc.hpp"

namespace faultd::process {

namespace {

/// Service names may hold '/', which a file name cannot.
std::string file_name(const std::string& service) {
  std::string out;
  for (char c : service) {
    if (c == '/' || c == '%') {
      char buf[4];
      std::snprintf(buf, sizeof(buf), "%%%02X", static_cast<unsigned char>(c));
      out += buf;
    } else {
      out += c;
    }
  }
  return out;
}

} // namespace

std::string command_hash(const std::vector<std::string>& argv) {
  std::string joined;
  for (const auto& a : argv) {
    joined += a;
    joined += '\0';
  }
  return sha256_hex(joined);
}

std::string format_run_record(const run_record& r) {
  std::ostringstream out;
  out << "service=" << r.service << "\n"
      << "pid=" << r.pid << "\n"
      << "start_ticks=" << r.start_ticks << "\n"
      << "boot_id=" << r.boot_id << "\n"
      << "token=" << r.token << "\n"
      << "command_hash=" << r.command_hash << "\n"
      << "stop_signal=" << r.stop_signal << "\n";
  return out.str();
}

std::optional<run_record> parse_run_record(const std::string& text) {
  run_record r;
  std::istringstream in(text);
  std::string line;
  bool have_pid = false, have_ticks = false;
  try {
    while (std::getline(in, line)) {
      auto eq = line.find('=');
      if (eq == std::string::npos)
        return std::nullopt;
      auto key = line.substr(0, eq);
      auto val = line.substr(eq + 1);
      if (key == "service") {
        r.service = val;
      } else if (key == "pid") {
        r.pid = std::stoi(val);
        have_pid = r.pid > 1;
      } else if (key == "start_ticks") {
        r.start_ticks = std::stoull(val);
        have_ticks = true;
      } else if (key == "boot_id") {
        r.boot_id = val;
      } else if (key == "token") {
        r.token = val;
      } else if (key == "command_hash") {
        r.command_hash = val;
      } else if (key == "stop_signal") {
        r.stop_signal = std::stoi(val);
      }
    }
  } catch (...) {
    return std::nullopt;
  }
  if (r.service.empty() || !have_pid || !have_ticks || r.token.empty())
    return std::nullopt;
  return r;
}

std::string run_dir::file_of(const std::string& service) const {
  return dir_ + "/" + file_name(service);
}

status run_dir::write(const run_record& r) const {
  if (dir_.empty())
    return {};
  if (auto err = make_dirs(dir_); !err.empty())
    return {errc::io, "run dir " + dir_ + ": " + err};
  auto path = file_of(r.service);
  auto tmp = path + ".tmp";
  auto text = format_run_record(r);
  int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  if (fd < 0)
    return {errc::io, "open " + tmp + ": " + errno_text(errno)};
  bool ok = ::write(fd, text.data(), text.size()) == static_cast<ssize_t>(text.size());
  int err = errno;
  ::close(fd);
  if (!ok || ::rename(tmp.c_str(), path.c_str()) != 0) {
    err = ok ? errno : err;
    ::unlink(tmp.c_str());
    return {errc::io, "write " + path + ": " + errno_text(err)};
  }
  return {};
}

void run_dir::remove(const std::string& service) const {
  if (!dir_.empty())
    ::unlink(file_of(service).c_str());
}

std::optional<run_record> run_dir::read(const std::string& service) const {
  if (dir_.empty())
    return std::nullopt;
  std::ifstream in(file_of(service));
  if (!in)
    return std::nullopt;
  std::ostringstream ss;
  ss << in.rdbuf();
  auto r = parse_run_record(ss.str());
  if (!r || r->service != service)
    return std::nullopt;
  return r;
}

std::vector<run_record> run_dir::read_all(std::vector<std::string>* bad) const {
  std::vector<run_record> out;
  if (dir_.empty())
    return out;
  DIR* d = ::opendir(dir_.c_str());
  if (d == nullptr)
    return out;
  while (auto* e = ::readdir(d)) {
    std::string name = e->d_name;
    if (name == "." || name == ".." || (name.size() > 4 && name.substr(name.size() - 4) == ".tmp"))
      continue;
    std::ifstream in(dir_ + "/" + name);
    std::ostringstream ss;
    ss << in.rdbuf();
    if (auto r = parse_run_record(ss.str()))
      out.push_back(std::move(*r));
    else if (bad != nullptr)
      bad->push_back(name);
  }
  ::closedir(d);
  return out;
}

bool still_running(const run_record& r, const std::string& proc_root) {
  if (r.boot_id != boot_id(proc_root))
    return false;
  auto st = read_proc_stat(r.pid, proc_root);
  return st && st->state != 'Z' && st->start_ticks == r.start_ticks;
}

} // namespace faultd::process
