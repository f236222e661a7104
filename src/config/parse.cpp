// parse_config(): YAML text -> faultd::config, validating every section.
//
// Sections are read in document order with config_detail's readers; the
// first bad key or value unwinds as a parse_failure carrying the file, the
// 1-based line and a message naming the key path and value. Checks that
// need the whole document (depends_on targets, dependency cycles, action
// timeouts that default to recovery.action_execution_timeout) run after.

#include <algorithm>
#include <csignal>
#include <cstdlib>
#include <sys/stat.h>
#include <unistd.h>
#include <grp.h>
#include <pwd.h>
#include <functional>
#include <sstream>

#include "config/yaml_reader.hpp"
#include "devices/silence_detector.hpp"
#include "faultd/config.hpp"
#include "faultd/util.hpp"

namespace faultd {

namespace {

using config_detail::child_path;
using config_detail::describe;
using config_detail::map_reader;
using config_detail::quoted;
using config_detail::value;

template <class E>
std::string join_names(const std::vector<E>& all) {
  std::string out;
  for (auto e : all) {
    if (!out.empty())
      out += ", ";
    out += std::string(to_string(e));
  }
  return out;
}

const std::string& fault_type_names() {
  static const std::string s = join_names(all_fault_types());
  return s;
}

const std::string& severity_names() {
  static const std::string s = join_names(all_fault_severities());
  return s;
}

const std::string& action_type_names() {
  static const std::string s = join_names(all_action_types());
  return s;
}

const std::string restart_policy_names = "always, on-failure, never";
const std::string check_kind_names = "tcp, http, exec, mqtt";

fault_type as_fault_type(const value& v) {
  return v.as_enum<fault_type>(parse_fault_type, "fault type", fault_type_names());
}

fault_severity as_severity(const value& v) {
  return v.as_enum<fault_severity>(parse_fault_severity, "severity", severity_names());
}

/// A name used as an identifier (service, node): non-empty, no whitespace.
std::string as_name(const value& v) {
  auto s = v.as_nonempty_string();
  if (s.find_first_of(" \t\r\n") != std::string::npos)
    v.fail("must not contain whitespace, got " + quoted(s));
  return s;
}

uint32_t as_positive_u32(const value& v) {
  auto n = v.as_u32();
  if (n == 0)
    v.fail("must be at least 1, got 0");
  return n;
}

/// An MQTT topic to publish to: no wildcards.
std::string as_publish_topic(const value& v) {
  auto t = v.as_nonempty_string();
  if (t.find_first_of("+#") != std::string::npos || t.find('\0') != std::string::npos)
    v.fail("a topic to publish to has no wildcards (+ #), got " + quoted(t));
  return t;
}

/// A user name and its password (MQTT): the password needs the user.
void read_credentials(map_reader& m, const std::string& user_key, const std::string& pass_key,
                      std::string& user, std::string& pass) {
  m.with(user_key, [&](const value& x) { user = x.as_nonempty_string(); });
  m.with(pass_key, [&](const value& x) { pass = x.as_string(); });
  if (!pass.empty() && user.empty())
    m.get(pass_key)->fail("needs " + user_key);
}

std::string as_http_url(const value& v) {
  auto s = v.as_nonempty_string();
  auto scheme = s.rfind("https://", 0) == 0 ? 8u : s.rfind("http://", 0) == 0 ? 7u : 0u;
  if (scheme == 0 || s.size() == scheme || s[scheme] == '/')
    v.fail("expected an http:// or https:// URL with a host, got " + quoted(s));
  return s;
}

/// Fails unless `lo <= hi`; reported at `hi_value`.
template <class T>
void require_order(const value& at, const T& lo, const T& hi, const std::string& lo_name,
                   const std::string& lo_text) {
  if (hi < lo)
    at.fail("must not be less than " + lo_name + " (" + lo_text + ")");
}

/// A value for order checks: the key if present, else the map itself.
value at_or_self(const map_reader& m, const std::string& key) {
  if (auto v = m.get(key))
    return *v;
  return m.self();
}

class parser {
public:
  parser(const std::string& file, const parse_options& opts) : file_(file), opts_(opts) {
  }

  config run(const YAML::Node& doc) {
    config cfg;
    cfg.source = file_;
    cfg.strategies = builtin_strategies();
    map_reader top(config_detail::root_value(&file_, doc),
                   {"node", "cluster", "services", "fault_detection", "recovery", "state_sync",
                    "strategies", "alerting", "storage", "metrics", "devices"});
    for (const auto& [key, v] : top.entries()) {
      const auto& name = key.node().Scalar();
      if (name == "node")
        parse_node(v, cfg.node);
      else if (name == "cluster")
        parse_cluster(v, cfg.cluster);
      else if (name == "services")
        parse_services(v, cfg.services);
      else if (name == "fault_detection")
        parse_fault_detection(v, cfg.fault_detection);
      else if (name == "recovery")
        parse_recovery(v, cfg.recovery);
      else if (name == "state_sync")
        parse_state_sync(v, cfg.state_sync);
      else if (name == "strategies")
        parse_strategies(v, cfg.strategies);
      else if (name == "alerting")
        parse_alerting(v, cfg.alerting);
      else if (name == "storage")
        parse_storage(v, cfg.storage);
      else if (name == "metrics")
        parse_metrics(v, cfg.metrics);
      else if (name == "devices")
        parse_devices(v, cfg.devices);
    }
    check_dependencies(cfg.services);
    std::string key;
    if (auto problem = peer_port_problem(cfg, &key); !problem.empty()) {
      if (key == "node.listen" && listen_line_)
        listen_line_->fail(problem);
      if (seeds_line_)
        seeds_line_->fail(problem);
      config_detail::root_value(&file_, YAML::Node{}).fail(problem);
    }
    for (const auto& [id, index] : actions_without_timeout_)
      cfg.strategies[id].actions[index].timeout = cfg.recovery.action_execution_timeout;
    check_degradation_levels(cfg);
    // The seed's recovery and detection keys act as defaults and caps.
    for (const auto& id : strategies_without_rollback_)
      cfg.strategies[id].rollback_enabled = cfg.recovery.rollback_enabled;
    for (auto& [id, s] : cfg.strategies)
      s.timeout = std::min(s.timeout, cfg.recovery.max_recovery_time);
    if (detection_interval_set_) {
      const auto d = cfg.fault_detection.detection_interval;
      for (auto [svc, chk] : checks_without_interval_)
        cfg.services[svc].checks[chk].interval = d;
      if (!resources_interval_set_)
        cfg.fault_detection.resources.interval = d;
      if (!security_interval_set_)
        cfg.fault_detection.security.interval = d;
    }
    return cfg;
  }

private:
  // -- node, cluster ---------------------------------------------------------

  void parse_node(const value& v, node_config& out) {
    map_reader m(v, {"id", "listen", "data_dir", "control", "control_token_file",
                     "control_group", "control_max_frame"});
    m.with("id", [&](const value& x) { out.id = as_name(x); });
    m.with("listen", [&](const value& x) {
      out.listen = x.as_endpoint();
      listen_line_.emplace(x);
    });
    m.with("data_dir", [&](const value& x) { out.data_dir = x.as_nonempty_string(); });
    m.with("control_token_file", [&](const value& x) {
      out.control_token_file = x.as_nonempty_string();
      std::string token;
      if (opts_.check_environment)
        if (auto st = read_token_file(out.control_token_file, token); !st.ok())
          x.fail(st.message());
    });
    m.with("control", [&](const value& x) {
      auto a = parse_control_address(x.as_string());
      if (!a)
        x.fail("expected unix:PATH (at most 107 characters), HOST:PORT or [v6]:PORT, got "
               + quoted(x.as_string()));
      if (!a->is_unix() && out.control_token_file.empty())
        x.fail("a TCP control endpoint needs control_token_file (or use unix:PATH)");
      out.control = *a;
    });
    m.with("control_group", [&](const value& x) {
      out.control_group = x.as_nonempty_string();
      if (::getgrnam(out.control_group.c_str()) == nullptr)
        x.fail("unknown group " + quoted(out.control_group));
    });
    m.with("control_max_frame", [&](const value& x) {
      auto n = parse_size(x.as_string());
      if (!n || *n < 4096 || *n > (64u << 20))
        x.fail("expected a size between 4KiB and 64MiB such as 4MiB, got " + quoted(x.as_string()));
      out.control_max_frame = static_cast<size_t>(*n);
    });
  }

  /// A key whose feature has not landed: refused rather than accepted and
  /// ignored.
  [[noreturn]] static void not_supported(const value& x, const std::string& what) {
    x.fail("not supported yet (" + what + ")");
  }

  void parse_cluster(const value& v, cluster_config& out) {
    map_reader m(v, {"seeds", "membership", "heartbeat_interval", "phi_threshold",
                     "suspect_timeout", "min_std_deviation", "acceptable_heartbeat_pause",
                     "probe_interval", "probe_timeout", "gossip_interval", "push_pull_interval",
                     "quorum", "tls", "insecure_plaintext"});
    m.with("membership", [&](const value& x) {
      auto name = x.as_string();
      if (name == "mesh")
        out.membership = membership_mode::mesh;
      else if (name == "swim")
        out.membership = membership_mode::swim;
      else
        x.fail("expected mesh or swim, got " + quoted(name));
    });
    // Each mode's keys are refused under the other: they would not act.
    for (const char* key : {"heartbeat_interval", "phi_threshold", "suspect_timeout",
                            "min_std_deviation", "acceptable_heartbeat_pause"})
      if (out.membership == membership_mode::swim && m.has(key))
        m.field(key).fail("applies to membership: mesh only (swim probes instead of "
                          "heartbeats: see probe_interval)");
    for (const char* key : {"probe_interval", "probe_timeout", "gossip_interval",
                            "push_pull_interval"})
      if (out.membership == membership_mode::mesh && m.has(key))
        m.field(key).fail("applies to membership: swim only");
    m.with("probe_interval", [&](const value& x) {
      out.probe_interval = x.as_positive_duration();
      if (out.probe_interval < millis_d(50) || out.probe_interval > seconds_d(60))
        x.fail("expected between 50ms and 60s, got " + quoted(x.as_string()));
    });
    m.with("probe_timeout", [&](const value& x) {
      out.probe_timeout = x.as_positive_duration();
      if (out.probe_timeout < millis_d(10))
        x.fail("expected at least 10ms, got " + quoted(x.as_string()));
    });
    if (out.probe_timeout >= out.probe_interval)
      (m.has("probe_timeout") ? m.field("probe_timeout") : m.field("probe_interval"))
        .fail("probe_timeout (" + human_duration(out.probe_timeout)
              + ") must be shorter than probe_interval (" + human_duration(out.probe_interval)
              + "): the indirect probes run in between");
    m.with("gossip_interval", [&](const value& x) {
      out.gossip_interval = x.as_positive_duration();
      if (out.gossip_interval < millis_d(10) || out.gossip_interval > seconds_d(60))
        x.fail("expected between 10ms and 60s, got " + quoted(x.as_string()));
    });
    m.with("push_pull_interval", [&](const value& x) {
      out.push_pull_interval = x.as_positive_duration();
      if (out.push_pull_interval < seconds_d(1) || out.push_pull_interval > seconds_d(3600))
        x.fail("expected between 1s and 1h, got " + quoted(x.as_string()));
    });
    m.with("seeds", [&](const value& x) {
      out.seeds.clear();
      for (const auto& item : x.as_list())
        out.seeds.push_back(item.as_endpoint());
      seeds_line_.emplace(x);
    });
    m.with("heartbeat_interval", [&](const value& x) {
      out.heartbeat_interval = x.as_positive_duration();
      if (out.heartbeat_interval < millis_d(10) || out.heartbeat_interval > seconds_d(60))
        x.fail("expected between 10ms and 60s, got " + quoted(x.as_string()));
    });
    m.with("phi_threshold", [&](const value& x) {
      out.phi_threshold = x.as_double();
      if (out.phi_threshold <= 0)
        x.fail("must be greater than 0, got " + x.node().Scalar());
    });
    m.with("suspect_timeout",
           [&](const value& x) { out.suspect_timeout = x.as_positive_duration(); });
    m.with("min_std_deviation",
           [&](const value& x) { out.min_std_deviation = x.as_positive_duration(); });
    m.with("acceptable_heartbeat_pause",
           [&](const value& x) { out.acceptable_heartbeat_pause = x.as_duration(); });
    m.with("insecure_plaintext", [&](const value& x) { out.insecure_plaintext = x.as_bool(); });
    m.with("tls", [&](const value& x) {
      map_reader t(x, {"certificate", "key", "ca", "handshake_timeout", "max_pending_handshakes"});
      cluster_tls tls;
      for (const char* key : {"certificate", "key", "ca"}) {
        auto f = t.field(key);
        if (f.is_null())
          x.fail(std::string{"tls needs certificate, key and ca; "} + key + " is missing");
      }
      tls.certificate = t.field("certificate").as_nonempty_string();
      tls.key = t.field("key").as_nonempty_string();
      tls.ca = t.field("ca").as_nonempty_string();
      t.with("handshake_timeout", [&](const value& y) {
        tls.handshake_timeout = y.as_positive_duration();
        if (tls.handshake_timeout < millis_d(100) || tls.handshake_timeout > seconds_d(60))
          y.fail("expected between 100ms and 60s, got " + quoted(y.as_string()));
      });
      t.with("max_pending_handshakes", [&](const value& y) {
        tls.max_pending_handshakes = static_cast<uint32_t>(y.as_int(1, 10000));
      });
      if (opts_.check_environment)
        if (auto st = check_tls_files(tls); !st.ok())
          x.fail(st.message());
      out.tls = std::move(tls);
    });
    m.with("quorum", [&](const value& x) { out.quorum = static_cast<uint32_t>(x.as_int(1, 1000)); });
  }

  // -- services --------------------------------------------------------------

  void parse_services(const value& v, std::vector<service_config>& out) {
    out.clear();
    std::map<std::string, int> first_line;
    for (const auto& item : v.as_list()) {
      map_reader m(item, {"name", "command", "env", "working_dir", "restart", "checks",
                          "depends_on", "node", "backup_node", "runs_on", "degradation_levels",
                          "stop_signal",
                          "user", "group", "log_max_size", "log_keep", "limits",
                          "ready_after", "failback", "failback_after"});
      service_config s;
      std::optional<value> program;  // the command's first element, for errors
      auto name = m.field("name");
      if (name.is_null())
        name.fail("required");
      s.name = as_name(name);
      auto [it, inserted] = first_line.emplace(s.name, name.line());
      if (!inserted)
        name.fail("duplicate service name " + quoted(s.name) + " (first at line " +
                  std::to_string(it->second) + ")");
      m.with("command", [&](const value& x) {
        auto list = x.as_list();
        if (list.empty())
          x.fail("must not be empty (leave `command` out for a service faultd only checks)");
        for (const auto& arg : list)
          s.command.push_back(arg.as_string());
        if (s.command.front().empty())
          list.front().fail("the program must not be empty");
        program.emplace(list.front());
      });
      m.with("env", [&](const value& x) { s.env = x.as_string_map(); });
      if (program && opts_.check_environment)
        check_program(*program, s);
      m.with("working_dir", [&](const value& x) {
        s.working_dir = x.as_string();
        struct stat st;
        if (opts_.check_environment
            && (::stat(s.working_dir.c_str(), &st) != 0 || !S_ISDIR(st.st_mode)))
          x.fail("directory " + quoted(s.working_dir) + " does not exist");
      });
      m.with("restart", [&](const value& x) { s.restart = parse_restart(x); });
      m.with("stop_signal", [&](const value& x) {
        auto sig = parse_signal(x.as_string());
        if (!sig || *sig == SIGSTOP || *sig == SIGCONT)
          x.fail("unknown or unusable stop signal " + quoted(x.as_string())
                 + " (expected a name such as SIGTERM, SIGQUIT, SIGINT, SIGHUP, or a number)");
        s.stop_signal = *sig;
      });
      m.with("user", [&](const value& x) {
        s.user = x.as_nonempty_string();
        if (::getpwnam(s.user.c_str()) == nullptr)
          x.fail("unknown user " + quoted(s.user));
      });
      m.with("group", [&](const value& x) {
        s.group = x.as_nonempty_string();
        if (::getgrnam(s.group.c_str()) == nullptr)
          x.fail("unknown group " + quoted(s.group));
      });
      m.with("log_max_size", [&](const value& x) {
        auto n = parse_size(x.as_string());
        if (!n || *n < 4096)
          x.fail("expected a size of at least 4KiB such as 10MiB or 500KB, got "
                 + quoted(x.as_string()));
        s.log_max_size = *n;
      });
      m.with("log_keep", [&](const value& x) {
        s.log_keep = static_cast<uint32_t>(x.as_int(0, 100));
      });
      m.with("limits", [&](const value& x) { s.limits = parse_limits(x); });
      current_service_ = out.size();
      m.with("checks", [&](const value& x) { s.checks = parse_checks(x); });
      std::vector<value> deps;
      m.with("ready_after", [&](const value& x) { s.ready_after = x.as_duration(); });
      m.with("depends_on", [&](const value& x) {
        for (const auto& d : x.as_list()) {
          s.depends_on.push_back(as_name(d));
          deps.push_back(d);
        }
      });
      m.with("node", [&](const value& x) {
        s.node = as_name(x);
        if (!program)
          x.fail("node is where faultd runs this service's command; a service faultd only "
                 "checks names its node with runs_on");
      });
      m.with("failback", [&](const value& x) {
        auto v = x.as_string();
        if (v != "manual" && v != "auto")
          x.fail("expected manual or auto, got " + quoted(v));
        if (s.node.empty())
          x.fail("failback is for a service with a home node (node:)");
        s.failback_auto = v == "auto";
      });
      m.with("failback_after", [&](const value& x) {
        s.failback_after = x.as_positive_duration();
        if (s.node.empty())
          x.fail("failback_after is for a service with a home node (node:)");
      });
      m.with("backup_node", [&](const value& x) {
        s.backup_node = as_name(x);
        if (!s.node.empty() && s.backup_node == s.node)
          x.fail("the backup node must not be the service's own node " + quoted(s.node));
      });
      m.with("runs_on", [&](const value& x) {
        s.runs_on = as_name(x);
        if (program)
          x.fail("a service with a command runs on this node; runs_on is for a service "
                 "faultd only checks");
      });
      m.with("degradation_levels", [&](const value& x) {
        s.degradation_levels.clear();
        auto list = x.as_list();
        if (list.empty())
          x.fail("must not be empty");
        for (const auto& level : list) {
          auto l = level.as_nonempty_string();
          if (std::find(s.degradation_levels.begin(), s.degradation_levels.end(), l) !=
              s.degradation_levels.end())
            level.fail("duplicate degradation level " + quoted(l));
          s.degradation_levels.push_back(l);
        }
      });
      out.push_back(std::move(s));
      dependency_values_.push_back(std::move(deps));
    }
  }

  /// The program of `s` must exist and be executable, as exec would find it
  /// (the service's own PATH, else faultd's).
  void check_program(const value& at, const service_config& s) {
    std::string path_var = "/usr/local/bin:/usr/bin:/bin";
    if (auto i = s.env.find("PATH"); i != s.env.end())
      path_var = i->second;
    else if (const char* p = std::getenv("PATH"))
      path_var = p;
    auto path = resolve_command(s.command.front(), path_var);
    struct stat st;
    if (::stat(path.c_str(), &st) != 0)
      at.fail("program " + quoted(s.command.front()) + " not found"
              + (s.command.front().find('/') == std::string::npos ? " in PATH " + path_var : ""));
    if (!S_ISREG(st.st_mode) || ::access(path.c_str(), X_OK) != 0)
      at.fail("program " + quoted(path) + " is not executable");
  }

  service_limits parse_limits(const value& v) {
    service_limits l;
    map_reader m(v, {"memory", "cpu", "fds", "failure_threshold", "success_threshold"});
    m.with("memory", [&](const value& x) {
      auto n = parse_size(x.as_string());
      if (!n || *n == 0)
        x.fail("expected a size such as 512MiB or 2GB, got " + quoted(x.as_string()));
      l.memory = *n;
    });
    m.with("cpu", [&](const value& x) {
      auto text = x.as_string();
      if (!text.empty() && text.back() == '%')
        text.pop_back();
      double pct = 0;
      try {
        size_t used = 0;
        pct = std::stod(text, &used);
        if (used != text.size())
          pct = -1;
      } catch (...) {
        pct = -1;
      }
      if (!(pct > 0) || pct > 100000)
        x.fail("expected a percentage of one core such as 90% or 250%, got "
               + quoted(x.as_string()));
      l.cpu = pct;
    });
    m.with("fds", [&](const value& x) { l.fds = as_positive_u32(x); });
    m.with("failure_threshold", [&](const value& x) { l.failure_threshold = as_positive_u32(x); });
    m.with("success_threshold", [&](const value& x) { l.success_threshold = as_positive_u32(x); });
    if (!l.any())
      v.fail("names no limit (memory, cpu or fds)");
    return l;
  }

  restart_config parse_restart(const value& v) {
    restart_config r;
    if (v.node().IsScalar()) {
      r.policy = v.as_enum<restart_policy>(parse_restart_policy, "restart policy",
                                           restart_policy_names);
      return r;
    }
    if (!v.node().IsMap())
      v.fail("expected a policy name (" + restart_policy_names + ") or a map, got " +
             describe(v.node()));
    map_reader m(v, {"policy", "burst", "period", "backoff_initial", "backoff_max",
                     "backoff_jitter", "stop_grace"});
    m.with("policy", [&](const value& x) {
      r.policy = x.as_enum<restart_policy>(parse_restart_policy, "restart policy",
                                           restart_policy_names);
    });
    m.with("burst", [&](const value& x) { r.burst = as_positive_u32(x); });
    m.with("period", [&](const value& x) { r.period = x.as_positive_duration(); });
    m.with("backoff_initial", [&](const value& x) { r.backoff_initial = x.as_duration(); });
    m.with("backoff_max", [&](const value& x) { r.backoff_max = x.as_duration(); });
    m.with("backoff_jitter", [&](const value& x) {
      r.backoff_jitter = x.as_double();
      if (r.backoff_jitter < 0 || r.backoff_jitter > 1)
        x.fail("must be between 0 and 1, got " + x.node().Scalar());
    });
    m.with("stop_grace", [&](const value& x) { r.stop_grace = x.as_duration(); });
    require_order(at_or_self(m, "backoff_max"), r.backoff_initial, r.backoff_max,
                  "backoff_initial", format_duration(r.backoff_initial));
    return r;
  }

  std::vector<check_config> parse_checks(const value& v) {
    std::vector<check_config> out;
    std::map<std::string, int> first_line;
    for (const auto& item : v.as_list()) {
      map_reader m(item, {"type", "name", "host", "port", "url", "expected_status", "command",
                          "send", "expect", "probe_topic", "username", "password", "tls",
                          "parameters", "interval", "timeout", "failure_threshold",
                          "success_threshold", "fault", "severity"});
      check_config c;
      auto type = m.field("type");
      std::string custom_names;  // ", name, ..." of the application's check types
      for (const auto& n : opts_.check_types)
        custom_names += ", " + n;
      if (type.is_null())
        type.fail("required (" + check_kind_names + custom_names + ")");
      if (auto builtin = parse_check_kind(type.as_string())) {
        c.kind = *builtin;
      } else if (opts_.check_types.count(type.as_string()) > 0) {
        c.kind = check_kind::custom;
        c.custom_type = type.as_string();
      } else {
        c.kind = type.as_enum<check_kind>(parse_check_kind, "check type",
                                          check_kind_names + custom_names);
      }
      auto kind_name = check_type_name(c);

      // Keys that belong to another kind of check are a mistake, not noise.
      const std::map<std::string, std::vector<check_kind>> kinds_of_key = {
        {"host", {check_kind::tcp, check_kind::mqtt}},
        {"port", {check_kind::tcp, check_kind::mqtt}},
        {"url", {check_kind::http}},
        {"expected_status", {check_kind::http}},
        {"command", {check_kind::exec}},
        {"send", {check_kind::tcp}},
        {"expect", {check_kind::tcp}},
        {"probe_topic", {check_kind::mqtt}},
        {"username", {check_kind::mqtt}},
        {"password", {check_kind::mqtt}},
        {"tls", {check_kind::mqtt}},
      };
      for (const auto& [key, kinds] : kinds_of_key)
        if (std::find(kinds.begin(), kinds.end(), c.kind) == kinds.end())
          m.with(key, [&, ks = kinds](const value& x) {
            std::string names;
            for (auto k : ks)
              names += (names.empty() ? "" : " and ") + std::string(to_string(k));
            x.fail("not valid for a " + kind_name + " check (only for " + names + " checks)");
          });
      if (c.kind != check_kind::custom)
        m.with("parameters", [&](const value& x) {
          x.fail("not valid for a " + kind_name
                 + " check (only for an application's own check types)");
        });

      auto name = m.field("name");
      c.name = name.is_null() ? kind_name : as_name(name);
      auto [it, inserted] = first_line.emplace(c.name, name.line());
      if (!inserted)
        name.fail("duplicate check name " + quoted(c.name) + " (first at line " +
                  std::to_string(it->second) + "; give each check a distinct name)");

      switch (c.kind) {
        case check_kind::tcp: {
          m.with("host", [&](const value& x) { c.host = x.as_nonempty_string(); });
          auto port = m.field("port");
          if (port.is_null())
            port.fail("required for tcp checks");
          auto p = port.as_int(0, 65535);
          if (p == 0)
            port.fail("must be between 1 and 65535, got 0");
          c.port = static_cast<uint16_t>(p);
          m.with("send", [&](const value& x) { c.send = x.as_nonempty_string(); });
          m.with("expect", [&](const value& x) { c.expect = x.as_nonempty_string(); });
          break;
        }
        case check_kind::mqtt: {
          m.with("host", [&](const value& x) { c.host = x.as_nonempty_string(); });
          m.with("tls", [&](const value& x) {
            map_reader t(x, {"ca", "certificate", "key"});
            auto ca = t.field("ca");
            if (ca.is_null())
              ca.fail("required: the CA file the broker's certificate is checked with");
            c.tls_ca = ca.as_nonempty_string();
            t.with("certificate", [&](const value& y) { c.tls_certificate = y.as_nonempty_string(); });
            t.with("key", [&](const value& y) { c.tls_key = y.as_nonempty_string(); });
            if (c.tls_certificate.empty() != c.tls_key.empty())
              x.fail("certificate and key go together");
          });
          c.port = c.tls_ca.empty() ? 1883 : 8883;
          m.with("port", [&](const value& x) {
            auto p = x.as_int(1, 65535);
            c.port = static_cast<uint16_t>(p);
          });
          m.with("probe_topic", [&](const value& x) { c.probe_topic = as_publish_topic(x); });
          read_credentials(m, "username", "password", c.username, c.password);
          break;
        }
        case check_kind::http: {
          auto url = m.field("url");
          if (url.is_null())
            url.fail("required for http checks");
          c.url = as_http_url(url);
          m.with("expected_status", [&](const value& x) {
            c.expected_status = static_cast<int>(x.as_int(100, 599));
          });
          break;
        }
        case check_kind::exec: {
          auto cmd = m.field("command");
          if (cmd.is_null())
            cmd.fail("required for exec checks");
          auto list = cmd.as_list();
          for (const auto& arg : list)
            c.command.push_back(arg.as_string());
          if (c.command.empty())
            cmd.fail("must not be empty");
          if (c.command.front().empty())
            list.front().fail("the program must not be empty");
          break;
        }
        case check_kind::custom:
          m.with("parameters", [&](const value& x) { c.parameters = x.as_string_map(); });
          break;
      }
      m.with("interval", [&](const value& x) { c.interval = x.as_positive_duration(); });
      if (!m.has("interval"))
        checks_without_interval_.emplace_back(current_service_, out.size());
      m.with("timeout", [&](const value& x) { c.timeout = x.as_positive_duration(); });
      m.with("failure_threshold", [&](const value& x) { c.failure_threshold = as_positive_u32(x); });
      m.with("success_threshold", [&](const value& x) { c.success_threshold = as_positive_u32(x); });
      m.with("fault", [&](const value& x) { c.fault = as_fault_type(x); });
      m.with("severity", [&](const value& x) { c.severity = as_severity(x); });
      out.push_back(std::move(c));
    }
    return out;
  }

  /// depends_on names known services, no service depends on itself, no cycles.
  void check_dependencies(const std::vector<service_config>& services) {
    std::map<std::string, size_t> index;
    for (size_t i = 0; i < services.size(); ++i)
      index[services[i].name] = i;
    for (size_t i = 0; i < services.size(); ++i)
      for (size_t j = 0; j < services[i].depends_on.size(); ++j) {
        const auto& dep = services[i].depends_on[j];
        const auto& at = dependency_values_[i][j];
        if (!index.count(dep))
          at.fail("unknown service " + quoted(dep));
        if (dep == services[i].name)
          at.fail("service " + quoted(dep) + " cannot depend on itself");
      }
    // Depth-first search; a back edge closes a cycle.
    enum class mark { none, active, done };
    std::vector<mark> marks(services.size(), mark::none);
    std::vector<std::string> stack;
    std::function<void(size_t)> visit = [&](size_t i) {
      marks[i] = mark::active;
      stack.push_back(services[i].name);
      for (size_t j = 0; j < services[i].depends_on.size(); ++j) {
        auto k = index[services[i].depends_on[j]];
        if (marks[k] == mark::active) {
          std::string cycle;
          auto from = std::find(stack.begin(), stack.end(), services[k].name);
          for (auto it = from; it != stack.end(); ++it)
            cycle += *it + " -> ";
          cycle += services[k].name;
          dependency_values_[i][j].fail("dependency cycle: " + cycle);
        }
        if (marks[k] == mark::none)
          visit(k);
      }
      stack.pop_back();
      marks[i] = mark::done;
    };
    for (size_t i = 0; i < services.size(); ++i)
      if (marks[i] == mark::none)
        visit(i);
  }

  // -- fault detection -------------------------------------------------------

  void parse_fault_detection(const value& v, fault_detection_config& out) {
    map_reader m(v, {"detection_interval", "event_retention_hours", "alert_threshold",
                     "dedup_window", "flap_threshold", "flap_window", "auto_close_after",
                     "resources", "security"});
    m.with("detection_interval", [&](const value& x) {
      out.detection_interval = x.as_positive_duration();
      detection_interval_set_ = true;
    });
    m.with("event_retention_hours",
           [&](const value& x) { out.event_retention_hours = x.as_u32(); });
    m.with("alert_threshold", [&](const value& x) { out.alert_threshold = as_positive_u32(x); });
    m.with("dedup_window", [&](const value& x) { out.dedup_window = x.as_duration(); });
    m.with("flap_threshold", [&](const value& x) { out.flap_threshold = as_positive_u32(x); });
    m.with("flap_window", [&](const value& x) { out.flap_window = x.as_positive_duration(); });
    m.with("auto_close_after",
           [&](const value& x) { out.auto_close_after = x.as_positive_duration(); });
    m.with("resources", [&](const value& x) { parse_resources(x, out.resources); });
    m.with("security", [&](const value& x) { parse_security(x, out.security); });
  }

  void parse_resources(const value& v, resources_config& out) {
    resources_interval_set_ = map_reader(v, {}).has("interval");
    map_reader m(v, {"enabled", "interval", "cpu", "memory", "disk", "load", "fds", "disk_paths"});
    m.with("enabled", [&](const value& x) { out.enabled = x.as_bool(); });
    m.with("interval", [&](const value& x) { out.interval = x.as_positive_duration(); });
    m.with("cpu", [&](const value& x) { parse_threshold(x, out.cpu); });
    m.with("memory", [&](const value& x) { parse_threshold(x, out.memory); });
    m.with("disk", [&](const value& x) { parse_threshold(x, out.disk); });
    m.with("load", [&](const value& x) { parse_threshold(x, out.load); });
    m.with("fds", [&](const value& x) { parse_threshold(x, out.fds); });
    m.with("disk_paths", [&](const value& x) {
      out.disk_paths.clear();
      for (const auto& p : x.as_list())
        out.disk_paths.push_back(p.as_nonempty_string());
    });
  }

  void parse_threshold(const value& v, resource_threshold& out) {
    map_reader m(v, {"warning", "critical", "failure_threshold", "success_threshold", "enabled"});
    auto non_negative = [](const value& x) {
      auto d = x.as_double();
      if (d < 0)
        x.fail("must not be negative, got " + x.node().Scalar());
      return d;
    };
    m.with("warning", [&](const value& x) { out.warning = non_negative(x); });
    m.with("critical", [&](const value& x) { out.critical = non_negative(x); });
    m.with("failure_threshold", [&](const value& x) { out.failure_threshold = as_positive_u32(x); });
    m.with("success_threshold", [&](const value& x) { out.success_threshold = as_positive_u32(x); });
    m.with("enabled", [&](const value& x) { out.enabled = x.as_bool(); });
    if (out.critical < out.warning) {
      std::ostringstream w;
      w << out.warning;
      at_or_self(m, "critical").fail("must not be less than warning (" + w.str() + ")");
    }
  }

  void parse_security(const value& v, security_config& out) {
    security_interval_set_ = map_reader(v, {}).has("interval");
    map_reader m(v, {"enabled", "interval", "watch_files", "certificates", "cert_warning",
                     "cert_critical"});
    m.with("enabled", [&](const value& x) { out.enabled = x.as_bool(); });
    m.with("interval", [&](const value& x) { out.interval = x.as_positive_duration(); });
    auto paths = [](const value& x) {
      std::vector<std::string> out;
      for (const auto& p : x.as_list())
        out.push_back(p.as_nonempty_string());
      return out;
    };
    m.with("watch_files", [&](const value& x) { out.watch_files = paths(x); });
    m.with("certificates", [&](const value& x) { out.certificates = paths(x); });
    m.with("cert_warning", [&](const value& x) { out.cert_warning = x.as_duration(); });
    m.with("cert_critical", [&](const value& x) { out.cert_critical = x.as_duration(); });
    require_order(at_or_self(m, "cert_warning"), out.cert_critical, out.cert_warning,
                  "cert_critical", format_duration(out.cert_critical));
  }

  // -- recovery, state sync, alerting, storage -------------------------------

  void parse_recovery(const value& v, recovery_config& out) {
    map_reader m(v, {"max_recovery_time", "strategy_selection_timeout",
                     "action_execution_timeout", "rollback_enabled", "max_concurrent_cluster",
                     "cluster_jitter"});
    m.with("max_recovery_time",
           [&](const value& x) { out.max_recovery_time = x.as_positive_duration(); });
    m.with("strategy_selection_timeout",
           [&](const value& x) { out.strategy_selection_timeout = x.as_positive_duration(); });
    m.with("action_execution_timeout",
           [&](const value& x) { out.action_execution_timeout = x.as_positive_duration(); });
    m.with("rollback_enabled", [&](const value& x) { out.rollback_enabled = x.as_bool(); });
    m.with("max_concurrent_cluster", [&](const value& x) { out.max_concurrent_cluster = x.as_u32(); });
    m.with("cluster_jitter", [&](const value& x) {
      out.cluster_jitter = x.as_duration();
      if (out.cluster_jitter > std::chrono::minutes(10))
        x.fail("must be at most 10m, got " + x.node().Scalar());
    });
  }

  void parse_state_sync(const value& v, state_sync_config& out) {
    map_reader m(v, {"sync_interval", "max_message_size", "retry_count", "timeout", "fanout",
                     "tombstone_grace"});
    m.with("sync_interval", [&](const value& x) { out.sync_interval = x.as_positive_duration(); });
    m.with("max_message_size", [&](const value& x) {
      out.max_message_size = x.as_u64();
      if (out.max_message_size < 1024 || out.max_message_size > (64u << 20))
        x.fail("must be from 1024 to 67108864 bytes (64 MiB), got " + x.node().Scalar());
    });
    m.with("retry_count", [&](const value& x) { out.retry_count = x.as_u32(); });
    m.with("timeout", [&](const value& x) { out.timeout = x.as_positive_duration(); });
    m.with("fanout", [&](const value& x) { out.fanout = as_positive_u32(x); });
    m.with("tombstone_grace",
           [&](const value& x) { out.tombstone_grace = x.as_positive_duration(); });
  }

  void parse_devices(const value& v, devices_config& out) {
    map_reader m(v, {"broker", "topics", "phi_threshold", "min_interval", "max_silence",
                     "min_samples", "severity", "username", "password", "gateway_silence_ratio",
                     "gateway_min_devices", "sleep"});
    auto broker = m.field("broker");
    if (broker.is_null())
      broker.fail("required: the MQTT broker (HOST:PORT) the devices publish to");
    out.broker = broker.as_endpoint();
    auto topics = m.field("topics");
    if (topics.is_null())
      topics.fail("required: topic patterns such as sites/+gateway/+device/telemetry");
    for (const auto& t : topics.as_list())
      out.topics.push_back(device_topic_of(t));
    if (out.topics.empty())
      topics.fail("must not be empty");
    m.with("phi_threshold", [&](const value& x) {
      out.phi_threshold = x.as_double();
      if (out.phi_threshold < 1 || out.phi_threshold > 30)
        x.fail("must be from 1 to 30, got " + x.node().Scalar());
    });
    m.with("min_interval", [&](const value& x) { out.min_interval = x.as_duration(); });
    m.with("max_silence", [&](const value& x) { out.max_silence = x.as_positive_duration(); });
    m.with("min_samples", [&](const value& x) { out.min_samples = as_positive_u32(x); });
    m.with("severity", [&](const value& x) { out.severity = as_severity(x); });
    read_credentials(m, "username", "password", out.username, out.password);
    m.with("gateway_silence_ratio", [&](const value& x) {
      out.gateway_silence_ratio = x.as_double();
      if (!(out.gateway_silence_ratio > 0 && out.gateway_silence_ratio <= 1))
        x.fail("must be above 0 and at most 1, got " + x.node().Scalar());
    });
    m.with("gateway_min_devices",
           [&](const value& x) { out.gateway_min_devices = as_positive_u32(x); });
    m.with("sleep", [&](const value& x) { parse_device_sleep(x, out); });
  }

  /// A topic pattern with a +device level.
  static std::string device_pattern_of(const value& v) {
    auto text = v.as_nonempty_string();
    if (has_control_chars(text))
      v.fail("must not contain control characters");
    std::string err;
    if (!devices::topic_pattern::parse(text, err))
      v.fail(err);
    return text;
  }

  /// "sites/+gateway/+device/telemetry", or {pattern, min_interval, max_silence}.
  static device_topic device_topic_of(const value& v) {
    device_topic t;
    if (!v.node().IsMap()) {
      t.pattern = device_pattern_of(v);
      return t;
    }
    map_reader m(v, {"pattern", "min_interval", "max_silence"});
    auto pattern = m.field("pattern");
    if (pattern.is_null())
      pattern.fail("required: the topic pattern, such as sites/+gateway/+device/telemetry");
    t.pattern = device_pattern_of(pattern);
    m.with("min_interval", [&](const value& x) { t.min_interval = x.as_duration(); });
    m.with("max_silence", [&](const value& x) { t.max_silence = x.as_positive_duration(); });
    return t;
  }

  /// "HH:MM" as minutes after midnight.
  static int minute_of_day(const value& v) {
    auto s = v.as_string();
    auto digit = [&](size_t i) { return s[i] >= '0' && s[i] <= '9' ? s[i] - '0' : -100; };
    int h = -1, mi = -1;
    if (s.size() == 5 && s[2] == ':') {
      h = digit(0) * 10 + digit(1);
      mi = digit(3) * 10 + digit(4);
    }
    if (h < 0 || h > 23 || mi < 0 || mi > 59)
      v.fail("must be a time of day HH:MM (00:00 .. 23:59), got " + quoted(s));
    return h * 60 + mi;
  }

  static void parse_device_sleep(const value& v, devices_config& out) {
    map_reader m(v, {"topics", "schedule"});
    m.with("topics", [&](const value& x) {
      for (const auto& t : x.as_list())
        out.sleep_topics.push_back(device_pattern_of(t));
    });
    m.with("schedule", [&](const value& x) {
      for (const auto& e : x.as_list()) {
        map_reader w(e, {"devices", "from", "to"});
        device_sleep_window win;
        auto devs = w.field("devices");
        if (devs.is_null())
          devs.fail("required: the device ids (globs such as meter-*) that sleep in this window");
        win.devices = devs.as_string_list();
        if (win.devices.empty())
          devs.fail("must not be empty");
        for (auto key : {"from", "to"}) {
          auto t = w.field(key);
          if (t.is_null())
            t.fail("required: a time of day HH:MM (the node's local time)");
        }
        win.from_minute = minute_of_day(w.field("from"));
        win.to_minute = minute_of_day(w.field("to"));
        if (win.from_minute == win.to_minute)
          w.field("to").fail("must differ from `from` (a window of no time, or of the whole day?)");
        out.sleep_schedule.push_back(std::move(win));
      }
    });
    if (out.sleep_topics.empty() && out.sleep_schedule.empty())
      m.self().fail("set topics (sleep announcements) and/or schedule (daily sleep windows)");
    // Announcements are matched first: a sleep pattern that also takes the
    // telemetry would make every message an (unreadable) announcement.
    if (auto topics = m.get("topics"))
      for (const auto& t : out.topics) {
        std::string sample;  // a topic the telemetry pattern takes
        std::istringstream levels(t.pattern);
        for (std::string l; std::getline(levels, l, '/');)
          sample += (sample.empty() ? "" : "/") + (l == "#" || l[0] == '+' ? std::string{"x"} : l);
        std::string err, device, gateway;
        for (const auto& s : out.sleep_topics)
          if (devices::topic_pattern::parse(s, err)->match(sample, device, gateway))
            topics->fail("sleep topic " + quoted(s) + " also takes the telemetry of "
                         + quoted(t.pattern) + " (" + sample + "): they must differ");
      }
  }

  void parse_metrics(const value& v, metrics_config& out) {
    map_reader m(v, {"listen"});
    m.with("listen", [&](const value& x) { out.listen = x.as_endpoint(); });
  }

  void parse_alerting(const value& v, alerting_config& out) {
    map_reader m(v, {"log", "min_severity", "webhooks", "alertmanager_url", "mqtt_broker",
                     "mqtt_topic", "mqtt_incident_topic", "mqtt_username", "mqtt_password",
                     "timeout", "retries", "retry_delay", "queue_size", "repeat_interval"});
    m.with("log", [&](const value& x) { out.log = x.as_bool(); });
    m.with("min_severity", [&](const value& x) { out.min_severity = as_severity(x); });
    m.with("webhooks", [&](const value& x) {
      for (const auto& u : x.as_list())
        out.webhooks.push_back(as_http_url(u));
    });
    m.with("alertmanager_url", [&](const value& x) {
      out.alertmanager_url = as_http_url(x);
      while (out.alertmanager_url.size() > 1 && out.alertmanager_url.back() == '/')
        out.alertmanager_url.pop_back();
    });
    m.with("timeout", [&](const value& x) { out.timeout = x.as_positive_duration(); });
    m.with("retries", [&](const value& x) { out.retries = x.as_u32(); });
    m.with("retry_delay", [&](const value& x) { out.retry_delay = x.as_positive_duration(); });
    m.with("queue_size", [&](const value& x) { out.queue_size = as_positive_u32(x); });
    m.with("repeat_interval", [&](const value& x) { out.repeat_interval = x.as_duration(); });
    m.with("mqtt_broker", [&](const value& x) { out.mqtt_broker = x.as_endpoint(); });
    m.with("mqtt_topic", [&](const value& x) { out.mqtt_topic = as_publish_topic(x); });
    m.with("mqtt_incident_topic",
           [&](const value& x) { out.mqtt_incident_topic = as_publish_topic(x); });
    read_credentials(m, "mqtt_username", "mqtt_password", out.mqtt_username, out.mqtt_password);
  }

  void parse_storage(const value& v, storage_config& out) {
    map_reader m(v, {"path", "busy_timeout"});
    m.with("path", [&](const value& x) { out.path = x.as_string(); });
    m.with("busy_timeout", [&](const value& x) { out.busy_timeout = x.as_duration(); });
  }

  // -- strategies ------------------------------------------------------------

  void parse_strategies(const value& v, std::map<std::string, recovery_strategy>& out) {
    map_reader m(v, {});
    const auto builtins = builtin_strategies();
    for (const auto& [id_value, body] : m.entries()) {
      auto id = as_name(id_value);
      auto b = builtins.find(id);
      recovery_strategy s = b != builtins.end() ? b->second : recovery_strategy{};
      s.id = id;
      parse_strategy(id_value, body, b != builtins.end(), s);
      out[id] = std::move(s);
    }
  }

  void parse_strategy(const value& id_value, const value& v, bool builtin, recovery_strategy& s) {
    map_reader m(v, {"name", "description", "fault_types", "severity_levels", "component",
                     "priority", "timeout", "rollback_enabled", "actions"});
    // Errors about absent keys of a strategy given as `id:` alone point at the id.
    auto missing = [&](const std::string& key) {
      return value(&file_, YAML::Node(YAML::NodeType::Null), child_path(v.path(), key),
                   v.is_null() ? id_value.line() : v.line());
    };
    m.with("name", [&](const value& x) { s.name = x.as_nonempty_string(); });
    if (!builtin && !m.has("name"))
      s.name = s.id;
    m.with("description", [&](const value& x) { s.description = x.as_string(); });
    if (auto x = m.get("fault_types")) {
      s.fault_types.clear();
      for (const auto& t : x->as_list()) {
        auto ft = as_fault_type(t);
        if (std::find(s.fault_types.begin(), s.fault_types.end(), ft) == s.fault_types.end())
          s.fault_types.push_back(ft);
      }
      if (s.fault_types.empty())
        x->fail("must not be empty");
    } else if (!builtin) {
      auto ft = parse_fault_type(s.id);
      if (!ft)
        missing("fault_types").fail("required (the id " + quoted(s.id) +
                                    " is not a fault type; expected a list of " +
                                    fault_type_names() + ")");
      s.fault_types = {*ft};
    }
    if (auto x = m.get("severity_levels")) {
      s.severity_levels.clear();
      for (const auto& t : x->as_list()) {
        auto sev = as_severity(t);
        if (std::find(s.severity_levels.begin(), s.severity_levels.end(), sev) ==
            s.severity_levels.end())
          s.severity_levels.push_back(sev);
      }
      if (s.severity_levels.empty())
        x->fail("must not be empty");
    } else if (!builtin) {
      s.severity_levels = all_fault_severities();
    }
    m.with("component", [&](const value& x) { s.component_pattern = x.as_string(); });
    m.with("priority", [&](const value& x) { s.priority = x.as_u32(); });
    m.with("timeout", [&](const value& x) { s.timeout = x.as_positive_duration(); });
    m.with("rollback_enabled", [&](const value& x) { s.rollback_enabled = x.as_bool(); });
    if (!builtin && !m.has("rollback_enabled"))
      strategies_without_rollback_.push_back(s.id);
    if (auto x = m.get("actions")) {
      s.actions.clear();
      for (const auto& a : x->as_list()) {
        bool has_timeout = false;
        s.actions.push_back(parse_action(a, has_timeout));
        if (!has_timeout)
          actions_without_timeout_.emplace_back(s.id, s.actions.size() - 1);
      }
      if (s.actions.empty())
        x->fail("must not be empty (a strategy needs at least one action)");
    } else if (!builtin) {
      missing("actions").fail("required (a strategy needs at least one action)");
    }
  }

  /// A degradation_level for an action that names a configured service must
  /// be one of that service's levels (a placeholder target is checked when
  /// it acts). Checked once every service is known, at the level's line.
  void check_degradation_levels(const config& cfg) {
    for (const auto& [target, at] : level_checks_) {
      const auto* svc = cfg.find_service(target);
      if (svc == nullptr)
        continue;
      const auto& levels = svc->degradation_levels;
      auto level = at.as_string();
      if (std::find(levels.begin(), levels.end(), level) != levels.end())
        continue;
      std::string list;
      for (const auto& l : levels)
        list += (list.empty() ? "" : ", ") + l;
      at.fail("level " + quoted(level) + " is not one of " + target + "'s degradation_levels ("
              + list + ")");
    }
  }

  /// The parameters each built-in action reads; any other key would be
  /// accepted and ignored, so it is refused.
  static const std::vector<std::string>& known_parameters(action_type t) {
    static const std::map<action_type, std::vector<std::string>> known{
      {action_type::restart_service, {"command"}},
      {action_type::service_degradation, {"degradation_level", "level"}},
      {action_type::circuit_breaker,
       {"hold", "failure_rate_threshold", "failure_rate", "minimum_calls", "window_size",
        "half_open_probes", "probes_to_close", "open_wait", "open_for", "half_open_on_success"}},
      {action_type::failover, {"backup_node"}},
      {action_type::load_balancing, {"weights", "load_distribution", "drain", "instances"}},
      {action_type::state_sync, {}},
      {action_type::data_restore, {"snapshot", "prefix"}},
    };
    static const std::vector<std::string> none;
    auto i = known.find(t);
    return i == known.end() ? none : i->second;
  }

  /// Parameters that cannot work are refused where they are written.
  void check_parameters(const recovery_action& a, const map_reader& m) {
    if (a.type == action_type::custom)
      return;  // the application's executor reads (and checks) its own
    const auto& known = known_parameters(a.type);
    for (const auto& [key, val] : m.entries()) {
      const auto& k = key.node().Scalar();
      if (std::find(known.begin(), known.end(), k) == known.end()) {
        std::string list;
        for (const auto& n : known)
          list += (list.empty() ? "" : ", ") + n;
        val.fail("unknown parameter " + quoted(k) + " for " + std::string{to_string(a.type)}
                 + (list.empty() ? " (it takes none)" : " (expected " + list + ")"));
      }
    }
    if (auto w = m.get("weights")) {
      // name=weight,name=weight with integer weights 0..100.
      std::stringstream in(w->as_string());
      std::string item;
      bool any = false;
      while (std::getline(in, item, ',')) {
        auto eq = item.find('=');
        auto name = item.substr(0, eq == std::string::npos ? 0 : eq);
        auto num = eq == std::string::npos ? std::string{} : item.substr(eq + 1);
        auto trim = [](std::string s) {
          while (!s.empty() && s.front() == ' ')
            s.erase(s.begin());
          while (!s.empty() && s.back() == ' ')
            s.pop_back();
          return s;
        };
        name = trim(name);
        num = trim(num);
        bool digits = !num.empty() && num.size() <= 3
                      && std::all_of(num.begin(), num.end(), [](char c) { return c >= '0' && c <= '9'; });
        if (name.empty() || !digits || std::stoi(num) > 100)
          w->fail("malformed weights " + quoted(w->as_string())
                  + " (expected name=weight,... with weights 0..100, e.g. a=70,b=30)");
        any = true;
      }
      if (!any)
        w->fail("malformed weights \"\" (expected name=weight,...)");
    }
    if (a.type == action_type::service_degradation)
      for (const char* k : {"degradation_level", "level"})
        if (auto l = m.get(k))
          level_checks_.emplace_back(a.target, *l);
    if (auto d = m.get("load_distribution"); d && d->as_string() != "round_robin")
      d->fail("unknown load_distribution " + quoted(d->as_string()) + " (supported: round_robin)");
  }

  /// ", name, ..." of the application's custom action types ("" if none).
  std::string custom_action_names() const {
    std::string out;
    for (const auto& n : opts_.action_types)
      out += ", " + n;
    return out;
  }

  recovery_action parse_action(const value& v, bool& has_timeout) {
    map_reader m(v, {"type", "target", "parameters", "timeout", "retry_count", "retry_delay"});
    recovery_action a;
    auto type = m.field("type");
    if (type.is_null())
      type.fail("required (" + action_type_names() + custom_action_names() + ")");
    if (auto name = type.as_string(); opts_.action_types.count(name) > 0) {
      a.type = action_type::custom;
      a.custom_type = name;
    } else {
      a.type = type.as_enum<action_type>(parse_action_type, "action type",
                                         action_type_names() + custom_action_names());
    }
    m.with("target", [&](const value& x) { a.target = x.as_string(); });
    m.with("parameters", [&](const value& x) {
      a.parameters = x.as_string_map();
      check_parameters(a, map_reader(x, {}));
    });
    has_timeout = m.has("timeout");
    m.with("timeout", [&](const value& x) { a.timeout = x.as_positive_duration(); });
    m.with("retry_count", [&](const value& x) { a.retry_count = x.as_u32(); });
    m.with("retry_delay", [&](const value& x) { a.retry_delay = x.as_duration(); });
    return a;
  }

  const std::string& file_;
  parse_options opts_;
  std::optional<value> listen_line_; ///< node.listen, for errors
  std::optional<value> seeds_line_;  ///< cluster.seeds, for errors
  /// services[i].depends_on[j] as read, for errors found after all services.
  std::vector<std::vector<value>> dependency_values_;
  /// (strategy id, action index) whose timeout defaults to
  /// recovery.action_execution_timeout, which may come later in the file.
  std::vector<std::pair<std::string, size_t>> actions_without_timeout_;
  /// (action target, its degradation_level value), checked after parsing.
  std::vector<std::pair<std::string, value>> level_checks_;
  /// New strategies that leave rollback_enabled to recovery.rollback_enabled.
  std::vector<std::string> strategies_without_rollback_;
  /// (service index, check index) of checks without their own interval.
  std::vector<std::pair<size_t, size_t>> checks_without_interval_;
  size_t current_service_ = 0;  ///< index of the service being parsed
  bool detection_interval_set_ = false;
  bool resources_interval_set_ = false;
  bool security_interval_set_ = false;
};

} // namespace

config_result parse_config(const std::string& yaml, const std::string& file,
                           const parse_options& opts) {
  config_result r;
  try {
    auto docs = YAML::LoadAll(yaml);
    if (docs.size() > 1) {
      auto mark = docs[1].Mark();
      int line = mark.is_null() ? 0 : mark.line + 1;
      r.error = config_error{file, line, "a second YAML document: a config file holds one"};
      return r;
    }
    YAML::Node doc = docs.empty() ? YAML::Node{} : docs.front();
    r.value = parser(file, opts).run(doc);
  } catch (const config_detail::parse_failure& f) {
    r.error = f.error;
  } catch (const YAML::Exception& e) {
    // Syntax errors (and anything else yaml-cpp rejects) at its position.
    int line = e.mark.is_null() ? 0 : e.mark.line + 1;
    r.error = config_error{file, line, "invalid YAML: " + e.msg};
  }
  return r;
}

} // namespace faultd
