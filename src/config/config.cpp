// The small parts of faultd/config.hpp: enums, endpoints, config lookups,
// error text, file loading and command-line overrides.

#include "faultd/config.hpp"

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <csignal>
#include <cstring>
#include <sys/stat.h>
#include <fstream>
#include <sstream>

#include "config/yaml_reader.hpp"
#include "faultd/util.hpp"

namespace faultd {

std::optional<uint64_t> parse_size(std::string_view s) {
  size_t i = 0;
  uint64_t n = 0;
  while (i < s.size() && s[i] >= '0' && s[i] <= '9') {
    uint64_t digit = static_cast<uint64_t>(s[i] - '0');
    if (n > (UINT64_MAX - digit) / 10)
      return std::nullopt;
    n = n * 10 + digit;
    ++i;
  }
  if (i == 0)
    return std::nullopt;
  auto unit = s.substr(i);
  static const std::pair<std::string_view, uint64_t> units[] = {
    {"", 1},           {"B", 1},           {"KB", 1000},       {"MB", 1000000},
    {"GB", 1000000000}, {"KiB", 1ull << 10}, {"MiB", 1ull << 20}, {"GiB", 1ull << 30},
  };
  for (auto [name, factor] : units) {
    if (unit != name)
      continue;
    if (n > UINT64_MAX / factor)
      return std::nullopt;
    return n * factor;
  }
  return std::nullopt;
}

namespace {

const std::pair<std::string_view, int> signal_names[] = {
  {"HUP", SIGHUP},   {"INT", SIGINT},   {"QUIT", SIGQUIT}, {"ABRT", SIGABRT},
  {"KILL", SIGKILL}, {"USR1", SIGUSR1}, {"USR2", SIGUSR2}, {"ALRM", SIGALRM},
  {"TERM", SIGTERM}, {"CONT", SIGCONT}, {"STOP", SIGSTOP}, {"WINCH", SIGWINCH},
  {"PWR", SIGPWR},
};

} // namespace

std::optional<int> parse_signal(std::string_view s) {
  std::string up;
  for (char c : s)
    up += static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  std::string_view name = up;
  if (name.substr(0, 3) == "SIG")
    name.remove_prefix(3);
  for (auto [n, sig] : signal_names)
    if (name == n)
      return sig;
  if (!name.empty() && name.size() <= 2
      && std::all_of(name.begin(), name.end(), [](char c) { return c >= '0' && c <= '9'; })) {
    int n = std::stoi(std::string{name});
    if (n >= 1 && n <= 31)
      return n;
  }
  return std::nullopt;
}

std::string signal_name(int sig) {
  for (auto [n, v] : signal_names)
    if (v == sig)
      return "SIG" + std::string{n};
  return "SIG" + std::to_string(sig);
}

std::string_view to_string(membership_mode m) {
  return m == membership_mode::swim ? "swim" : "mesh";
}

std::string_view to_string(restart_policy p) {
  switch (p) {
    case restart_policy::always:
      return "always";
    case restart_policy::on_failure:
      return "on-failure";
    case restart_policy::never:
      return "never";
  }
  return "?";
}

std::optional<restart_policy> parse_restart_policy(std::string_view s) {
  for (auto p : {restart_policy::always, restart_policy::on_failure, restart_policy::never})
    if (s == to_string(p))
      return p;
  return std::nullopt;
}

std::string_view to_string(check_kind k) {
  switch (k) {
    case check_kind::tcp:
      return "tcp";
    case check_kind::http:
      return "http";
    case check_kind::exec:
      return "exec";
    case check_kind::mqtt:
      return "mqtt";
    case check_kind::custom:
      return "custom";
  }
  return "?";
}

std::string check_type_name(const check_config& c) {
  return c.kind == check_kind::custom ? c.custom_type : std::string{to_string(c.kind)};
}

std::optional<check_kind> parse_check_kind(std::string_view s) {
  for (auto k : {check_kind::tcp, check_kind::http, check_kind::exec, check_kind::mqtt})
    if (s == to_string(k))
      return k;
  return std::nullopt;
}

std::string endpoint::to_string() const {
  auto p = std::to_string(port);
  if (host.find(':') != std::string::npos)
    return "[" + host + "]:" + p;
  return host + ":" + p;
}

std::string control_address::to_string() const {
  return is_unix() ? "unix:" + unix_path : tcp.to_string();
}

std::optional<control_address> parse_control_address(std::string_view s) {
  control_address a;
  if (s.substr(0, 5) == "unix:") {
    auto path = s.substr(5);
    // sockaddr_un holds 107 characters and a NUL.
    if (path.empty() || path.size() > 107 || path.find('\0') != std::string_view::npos)
      return std::nullopt;
    a.unix_path = std::string{path};
    return a;
  }
  auto ep = parse_endpoint(s);
  if (!ep)
    return std::nullopt;
  a.tcp = *ep;
  return a;
}

status read_token_file(const std::string& path, std::string& token) {
  struct stat st{};
  if (::stat(path.c_str(), &st) != 0)
    return {errc::config_invalid, "token file " + path + ": " + std::strerror(errno)};
  if (!S_ISREG(st.st_mode))
    return {errc::config_invalid, "token file " + path + " is not a regular file"};
  if ((st.st_mode & (S_IROTH | S_IWOTH)) != 0)
    return {errc::config_invalid, "token file " + path
                                    + " is readable or writable by others (chmod 600 or 640)"};
  std::ifstream in{path};
  std::string line;
  if (!in || !std::getline(in, line))
    return {errc::config_invalid, "token file " + path + " cannot be read or is empty"};
  auto b = line.find_first_not_of(" \t\r\n");
  if (b == std::string::npos)
    return {errc::config_invalid, "token file " + path + " is empty"};
  auto e = line.find_last_not_of(" \t\r\n");
  token = line.substr(b, e - b + 1);
  if (token.size() < 16)
    return {errc::config_invalid, "token file " + path + " holds a token of "
                                    + std::to_string(token.size())
                                    + " characters; use at least 16 (e.g. openssl rand -hex 32)"};
  return {};
}

std::optional<endpoint> parse_endpoint(std::string_view s) {
  std::string_view host;
  std::string_view port;
  if (!s.empty() && s.front() == '[') {
    auto close = s.find(']');
    if (close == std::string_view::npos || close + 1 >= s.size() || s[close + 1] != ':')
      return std::nullopt;
    host = s.substr(1, close - 1);
    port = s.substr(close + 2);
    if (host.find(':') == std::string_view::npos) // brackets are for IPv6 only
      return std::nullopt;
  } else {
    auto colon = s.rfind(':');
    if (colon == std::string_view::npos)
      return std::nullopt;
    host = s.substr(0, colon);
    port = s.substr(colon + 1);
    if (host.find(':') != std::string_view::npos) // bare IPv6 needs brackets
      return std::nullopt;
  }
  if (host.empty() || port.empty() || port.size() > 5)
    return std::nullopt;
  for (char c : host)
    if (c == ' ' || c == '\t' || c == '/' || c == '[' || c == ']' || c == ',' ||
        static_cast<unsigned char>(c) < 0x20)
      return std::nullopt;
  uint32_t p = 0;
  for (char c : port) {
    if (c < '0' || c > '9')
      return std::nullopt;
    p = p * 10 + static_cast<uint32_t>(c - '0');
  }
  if (p > 65535)
    return std::nullopt;
  endpoint e;
  e.host = std::string(host);
  e.port = static_cast<uint16_t>(p);
  return e;
}

std::string config::db_path() const {
  if (!storage.path.empty())
    return storage.path;
  auto dir = node.data_dir;
  while (dir.size() > 1 && dir.back() == '/')
    dir.pop_back();
  if (dir.empty())
    return "faultd.db";
  return dir == "/" ? "/faultd.db" : dir + "/faultd.db";
}

const service_config* config::find_service(const std::string& name) const {
  for (const auto& s : services)
    if (s.name == name)
      return &s;
  return nullptr;
}

std::string config_error::to_string() const {
  if (line <= 0)
    return file + ": " + message;
  return file + ":" + std::to_string(line) + ": " + message;
}

config_result load_config_file(const std::string& path, const parse_options& opts) {
  struct stat st;
  if (::stat(path.c_str(), &st) == 0 && S_ISDIR(st.st_mode)) {
    config_result r;
    r.error = config_error{path, 0, "is a directory, not a config file"};
    return r;
  }
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    int err = errno;
    config_result r;
    r.error = config_error{path, 0, "cannot read config file: " + errno_text(err)};
    return r;
  }
  std::ostringstream text;
  text << in.rdbuf();
  if (in.bad()) {
    int err = errno;
    config_result r;
    r.error = config_error{path, 0, "cannot read config file: " + errno_text(err)};
    return r;
  }
  return parse_config(text.str(), path, opts);
}

namespace {

config_error override_error(const char* flag, const std::string& message) {
  return config_error{flag, 0, message};
}

} // namespace

std::optional<config_error> apply_overrides(config& cfg, const config_overrides& o) {
  using config_detail::quoted;
  // Validate everything first so that a bad flag leaves `cfg` untouched.
  config next = cfg;
  if (o.node_id) {
    if (o.node_id->empty() || o.node_id->find_first_of(" \t\r\n") != std::string::npos)
      return override_error("--node-id", "bad node id " + quoted(*o.node_id) +
                                           " (expected a non-empty name without spaces)");
    next.node.id = *o.node_id;
  }
  if (o.listen) {
    auto e = parse_endpoint(*o.listen);
    if (!e)
      return override_error("--listen", "bad endpoint " + quoted(*o.listen) + " (expected HOST:PORT)");
    next.node.listen = *e;
  }
  if (o.control) {
    auto a = parse_control_address(*o.control);
    if (!a)
      return override_error("--control", "bad address " + quoted(*o.control)
                                           + " (expected unix:PATH, HOST:PORT or [v6]:PORT)");
    if (!a->is_unix() && next.node.control_token_file.empty())
      return override_error("--control", "a TCP control endpoint needs node.control_token_file "
                                         "(or use unix:PATH)");
    next.node.control = *a;
  }
  if (o.seeds) {
    next.cluster.seeds.clear();
    const auto& s = *o.seeds;
    if (!s.empty()) {
      size_t start = 0;
      while (true) {
        auto comma = s.find(',', start);
        auto item = s.substr(start, comma == std::string::npos ? std::string::npos : comma - start);
        auto e = parse_endpoint(item);
        if (!e)
          return override_error("--seeds", "bad endpoint " + quoted(item) +
                                             " (expected HOST:PORT,HOST:PORT,...)");
        next.cluster.seeds.push_back(*e);
        if (comma == std::string::npos)
          break;
        start = comma + 1;
      }
    }
  }
  if (o.data_dir) {
    if (o.data_dir->empty())
      return override_error("--data-dir", "must not be empty");
    next.node.data_dir = *o.data_dir;
  }
  std::string key;
  if (auto problem = peer_port_problem(next, &key); !problem.empty() && (o.listen || o.seeds))
    return override_error(o.listen && key == "node.listen" ? "--listen" : "--seeds", problem);
  cfg = std::move(next);
  return std::nullopt;
}

} // namespace faultd
