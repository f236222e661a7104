#include "args.hpp"

#include <cstdlib>

#include "faultd/config.hpp"
#include "faultd/util.hpp"

namespace faultctl {

using namespace faultd;

const char* usage() {
  return R"(usage: faultctl [--node ADDR] [--token-file F] [--json] [--timeout DUR]
                COMMAND [ARGS]

Talks to the control endpoint of a faultd node. ADDR is unix:PATH (a Unix
socket; default $FAULTD_NODE, else unix:./faultd-data/control.sock) or
HOST:PORT / [v6]:PORT (TCP; then the node requires the token in the file
given by --token-file or $FAULTD_TOKEN_FILE). --timeout (default 5s) bounds
connecting, sending and the reply together.

commands:
  status                         node, members and services
  members                        the cluster's members: state, phi, last heard, incarnation
  services                       the managed services
  faults [--since DUR] [--limit N]
                                 recent fault events, newest first
  incidents [--limit N] [--open] incidents, newest first
  incident ID                    one incident with its actions
  incident ack ID                acknowledge it: no more alerts for it
  incident close ID [--reason TEXT]
                                 close it by hand (it reopens if the fault
                                 is seen again)
  checks [SERVICE]               every check: state, consecutive failures,
                                 last error
  alerts [--limit N]             recent alerts, newest first
  devices [--silent] [--gateway G]
                                 devices seen on the devices: topics: state
                                 (active, silent, asleep), last seen, learned
                                 interval, phi
  logs SERVICE [-n N] [-f]       the service's captured output: the last N
                                 lines (default 20); -f follows it
  start SERVICE | stop SERVICE | restart SERVICE
                                 a stop is not a fault, and the restart
                                 policy leaves the service down until start
  maintenance SERVICE on|off     detection goes on; recovery and alerts for
                                 the service pause (its restart policy stays)
  reload                         re-read the config file (as SIGHUP does):
                                 unchanged services keep running, changed
                                 ones restart, added ones start, removed ones
                                 stop; a bad file is refused with file:line
  circuit SERVICE open|close|reset
                                 open (held) or close its breaker; reset
                                 closes it with an empty window
  degradation SERVICE LEVEL      set its degradation level (one of its
                                 degradation_levels)
  failback SERVICE               move a failed-over service back to its home
                                 node (needs a quorum and the home alive)
  inject --type T --component C [--severity S] [--node ID]
         [--detail K=V]... [--metric K=NUM]...
         [--dry-run]             injects a fault; it takes the same path as a
                                 detected one (analyzer, storage, alerts);
                                 --dry-run shows the incident and strategy it
                                 would lead to and acts on nothing
  state get KEY                  one key of the replicated map: value,
                                 version, checksum, the node that wrote it
  state put KEY VALUE            writes it here; it spreads to every node
  state del KEY                  deletes it everywhere (a tombstone)
  state list [PREFIX]            the live keys, in key order
  state report                   compares this node's keys with every alive
                                 member's: consistency in percent, and per
                                 node the keys that agree, differ, are missing
  state snapshot                 records the live keys here as a snapshot
  state snapshots                the snapshots on this node, newest first
  state restore ID [--prefix P]  the keys (under P) become what snapshot ID
                                 holds, on every node; keys it lacks are
                                 deleted
  state sync                     an anti-entropy round with every peer now
  strategies                     the recovery strategies
  chaos list-actors              every supervised actor, its supervisor and
                                 how often it was restarted
  chaos crash-actor NAME         makes that actor fail as an unhandled error
                                 would; its supervisor restarts it
  help                           this text

fault types: network_timeout service_unavailable data_inconsistency
  resource_exhaustion security_violation hardware_failure software_error
severities: low medium high critical

--json prints one JSON document. Exit status: 0 ok, 1 the request failed
(node unreachable or silent past --timeout, unknown id, refused,
unauthorized), 2 bad usage.
)";
}

namespace {

bool parse_uint(const std::string& s, uint32_t& out) {
  if (s.empty() || s.size() > 9)
    return false;
  for (char c : s)
    if (c < '0' || c > '9')
      return false;
  out = static_cast<uint32_t>(std::stoul(s));
  return true;
}

bool split_kv(const std::string& s, std::string& k, std::string& v) {
  auto pos = s.find('=');
  if (pos == std::string::npos || pos == 0)
    return false;
  k = s.substr(0, pos);
  v = s.substr(pos + 1);
  return true;
}

} // namespace

std::optional<options> parse_args(const std::vector<std::string>& args, std::string& error) {
  options o;
  o.node.unix_path = "./faultd-data/control.sock";
  auto node_address = [&](const std::string& what, const std::string& v) {
    auto a = parse_control_address(v);
    if (!a || (!a->is_unix() && a->tcp.port == 0)) {
      error = what + ": expected unix:PATH, HOST:PORT or [v6]:PORT, got \"" + v + "\"";
      return false;
    }
    o.node = *a;
    return true;
  };
  if (const char* env = std::getenv("FAULTD_NODE"); env && *env)
    if (!node_address("FAULTD_NODE", env))
      return std::nullopt;
  if (const char* env = std::getenv("FAULTD_TOKEN_FILE"); env && *env)
    o.token_file = env;
  size_t i = 0;
  auto value = [&](const std::string& flag) -> std::optional<std::string> {
    if (i + 1 >= args.size()) {
      error = flag + " needs a value";
      return std::nullopt;
    }
    return args[++i];
  };
  // Global options come before the command.
  for (; i < args.size(); ++i) {
    auto& a = args[i];
    if (a == "--node") {
      auto v = value(a);
      if (!v)
        return std::nullopt;
      if (!node_address("--node", *v))
        return std::nullopt;
    } else if (a == "--token-file") {
      auto v = value(a);
      if (!v)
        return std::nullopt;
      if (v->empty()) {
        error = "--token-file: needs a file name";
        return std::nullopt;
      }
      o.token_file = *v;
    } else if (a == "--json") {
      o.json = true;
    } else if (a == "--timeout") {
      auto v = value(a);
      if (!v)
        return std::nullopt;
      auto d = parse_duration(*v);
      if (!d || d->count() == 0) {
        error = "--timeout: expected a duration like 5s or 500ms, got \"" + *v + "\"";
        return std::nullopt;
      }
      o.timeout = std::chrono::duration_cast<std::chrono::milliseconds>(*d);
    } else if (a == "--help" || a == "-h" || a == "help") {
      o.help = true;
      return o;
    } else if (!a.empty() && a[0] == '-') {
      error = "unknown option " + a;
      return std::nullopt;
    } else {
      break;
    }
  }
  if (i >= args.size()) {
    error = "missing command (try faultctl help)";
    return std::nullopt;
  }
  auto cmd = args[i++];
  auto& r = o.req;
  auto no_more = [&]() -> bool {
    if (i < args.size()) {
      error = cmd + ": unexpected argument " + args[i];
      return false;
    }
    return true;
  };
  if (cmd == "reload") {
    r.cmd = control::command::reload;
    if (!no_more())
      return std::nullopt;
    return o;
  }
  if (cmd == "status" || cmd == "members" || cmd == "services" || cmd == "strategies") {
    r.cmd = cmd == "status"     ? control::command::status
            : cmd == "members"  ? control::command::members
            : cmd == "services" ? control::command::services
                                : control::command::strategies;
    if (!no_more())
      return std::nullopt;
    return o;
  }
  auto operand = [&](const std::string& what) -> bool {
    if (i >= args.size() || args[i].empty() || args[i][0] == '-') {
      error = cmd + ": missing " + what;
      return false;
    }
    return true;
  };
  if (cmd == "incident") {
    r.cmd = control::command::incident;
    if (!operand("ID"))
      return std::nullopt;
    if ((args[i] == "ack" || args[i] == "close") && i + 1 < args.size()) {
      auto sub = args[i++];
      r.cmd = sub == "ack" ? control::command::incident_ack : control::command::incident_close;
      if (!operand("ID"))
        return std::nullopt;
      r.id = args[i++];
      if (sub == "close" && i < args.size() && args[i] == "--reason") {
        auto v = value("incident close --reason");
        if (!v)
          return std::nullopt;
        r.reason = *v;
        ++i;
      }
      if (!no_more())
        return std::nullopt;
      return o;
    }
    r.id = args[i++];
    if (!no_more())
      return std::nullopt;
    return o;
  }
  if (cmd == "state") {
    r.cmd = control::command::state;
    if (!operand("operation (get, put, del, list, report, snapshot, snapshots, restore, sync)"))
      return std::nullopt;
    r.op = args[i++];
    auto& op = r.op;
    if (op == "get" || op == "del" || op == "put") {
      if (!operand("KEY"))
        return std::nullopt;
      r.key = args[i++];
      if (op == "put") {
        if (i >= args.size()) { // a value may begin with '-' or be empty
          error = "state put: missing VALUE";
          return std::nullopt;
        }
        r.value = args[i++];
      }
    } else if (op == "list") {
      if (i < args.size() && !args[i].empty() && args[i][0] != '-')
        r.prefix = args[i++];
    } else if (op == "restore") {
      if (!operand("snapshot ID"))
        return std::nullopt;
      r.id = args[i++];
      if (i < args.size() && args[i] == "--prefix") {
        auto v = value("state restore --prefix");
        if (!v)
          return std::nullopt;
        r.prefix = *v;
        ++i;
      }
    } else if (op != "report" && op != "snapshot" && op != "snapshots" && op != "sync") {
      error = "state: unknown operation " + op
              + " (expected get, put, del, list, report, snapshot, snapshots, restore, sync)";
      return std::nullopt;
    }
    if (!no_more())
      return std::nullopt;
    return o;
  }
  if (cmd == "checks") {
    r.cmd = control::command::checks;
    if (i < args.size() && !args[i].empty() && args[i][0] != '-')
      r.service = args[i++];
    if (!no_more())
      return std::nullopt;
    return o;
  }
  if (cmd == "devices") {
    r.cmd = control::command::devices;
    for (; i < args.size(); ++i) {
      if (args[i] == "--silent") {
        r.on = true;
      } else if (args[i] == "--gateway") {
        auto v = value("devices --gateway");
        if (!v)
          return std::nullopt;
        r.service = *v;
      } else {
        error = "devices: unknown argument " + args[i];
        return std::nullopt;
      }
    }
    return o;
  }
  if (cmd == "alerts") {
    r.cmd = control::command::alerts;
    for (; i < args.size(); ++i) {
      if (args[i] != "--limit") {
        error = "alerts: unknown argument " + args[i];
        return std::nullopt;
      }
      auto v = value("alerts --limit");
      if (!v)
        return std::nullopt;
      if (!parse_uint(*v, r.limit) || r.limit == 0) {
        error = "alerts --limit: expected a positive integer, got \"" + *v + "\"";
        return std::nullopt;
      }
    }
    return o;
  }
  if (cmd == "logs") {
    r.cmd = control::command::logs;
    if (!operand("SERVICE"))
      return std::nullopt;
    r.service = args[i++];
    r.lines = 20;
    for (; i < args.size(); ++i) {
      if (args[i] == "-f" || args[i] == "--follow") {
        o.follow = true;
      } else if (args[i] == "-n" || args[i] == "--lines") {
        auto v = value("logs -n");
        if (!v)
          return std::nullopt;
        if (!parse_uint(*v, r.lines) || r.lines == 0 || r.lines > 100000) {
          error = "logs -n: expected an integer from 1 to 100000, got \"" + *v + "\"";
          return std::nullopt;
        }
      } else {
        error = "logs: unknown argument " + args[i];
        return std::nullopt;
      }
    }
    return o;
  }
  if (cmd == "start" || cmd == "stop" || cmd == "restart") {
    r.cmd = control::command::service_command;
    r.op = cmd;
    if (!operand("SERVICE"))
      return std::nullopt;
    r.service = args[i++];
    if (!no_more())
      return std::nullopt;
    return o;
  }
  if (cmd == "maintenance") {
    r.cmd = control::command::maintenance;
    if (!operand("SERVICE"))
      return std::nullopt;
    r.service = args[i++];
    if (i >= args.size() || (args[i] != "on" && args[i] != "off")) {
      error = "maintenance: expected SERVICE on|off";
      return std::nullopt;
    }
    r.on = args[i++] == "on";
    if (!no_more())
      return std::nullopt;
    return o;
  }
  if (cmd == "circuit") {
    r.cmd = control::command::circuit;
    if (!operand("SERVICE"))
      return std::nullopt;
    r.service = args[i++];
    if (i >= args.size() || (args[i] != "open" && args[i] != "close" && args[i] != "reset")) {
      error = "circuit: expected SERVICE open|close|reset";
      return std::nullopt;
    }
    r.op = args[i++];
    if (!no_more())
      return std::nullopt;
    return o;
  }
  if (cmd == "failback") {
    r.cmd = control::command::failback;
    if (!operand("SERVICE"))
      return std::nullopt;
    r.service = args[i++];
    if (!no_more())
      return std::nullopt;
    return o;
  }
  if (cmd == "degradation") {
    r.cmd = control::command::degradation;
    if (!operand("SERVICE"))
      return std::nullopt;
    r.service = args[i++];
    if (!operand("LEVEL"))
      return std::nullopt;
    r.level = args[i++];
    if (!no_more())
      return std::nullopt;
    return o;
  }
  if (cmd == "faults" || cmd == "incidents") {
    r.cmd = cmd == "faults" ? control::command::faults : control::command::incidents;
    for (; i < args.size(); ++i) {
      auto& a = args[i];
      if (a == "--limit") {
        auto v = value(cmd + " --limit");
        if (!v)
          return std::nullopt;
        if (!parse_uint(*v, r.limit) || r.limit == 0) {
          error = cmd + " --limit: expected a positive integer, got \"" + *v + "\"";
          return std::nullopt;
        }
      } else if (a == "--since" && cmd == "faults") {
        auto v = value("faults --since");
        if (!v)
          return std::nullopt;
        auto d = parse_duration(*v);
        if (!d) {
          error = "faults --since: expected a duration like 10m, got \"" + *v + "\"";
          return std::nullopt;
        }
        r.since_ns = to_unix_nanos(system_clock_source().now() - *d);
      } else if (a == "--open" && cmd == "incidents") {
        r.open_only = true;
      } else {
        error = cmd + ": unknown argument " + a;
        return std::nullopt;
      }
    }
    return o;
  }
  if (cmd == "chaos") {
    if (i >= args.size()) {
      error = "chaos: missing subcommand (list-actors or crash-actor NAME)";
      return std::nullopt;
    }
    auto sub = args[i++];
    if (sub == "list-actors") {
      r.cmd = control::command::chaos_list_actors;
    } else if (sub == "crash-actor") {
      r.cmd = control::command::chaos_crash_actor;
      if (i >= args.size() || args[i].empty() || args[i][0] == '-') {
        error = "chaos crash-actor: missing actor NAME (see faultctl chaos list-actors)";
        return std::nullopt;
      }
      r.id = args[i++];
    } else {
      error = "chaos: unknown subcommand \"" + sub + "\" (expected list-actors or crash-actor)";
      return std::nullopt;
    }
    if (!no_more())
      return std::nullopt;
    return o;
  }
  if (cmd == "inject") {
    r.cmd = control::command::inject;
    auto& e = r.event;
    e.severity = fault_severity::high;
    e.source = "inject";
    bool have_type = false;
    for (; i < args.size(); ++i) {
      auto& a = args[i];
      if (a == "--dry-run") {
        r.dry_run = true;
        continue;
      }
      auto v = value("inject " + a);
      if (!v)
        return std::nullopt;
      if (a == "--type") {
        auto t = parse_fault_type(*v);
        if (!t) {
          error = "inject --type: unknown fault type \"" + *v + "\"";
          return std::nullopt;
        }
        e.type = *t;
        have_type = true;
      } else if (a == "--component") {
        e.component = *v;
      } else if (a == "--severity") {
        auto s = parse_fault_severity(*v);
        if (!s) {
          error = "inject --severity: unknown severity \"" + *v
                  + "\" (expected low, medium, high, critical)";
          return std::nullopt;
        }
        e.severity = *s;
      } else if (a == "--node") {
        e.node = *v;
      } else if (a == "--detail") {
        std::string k, val;
        if (!split_kv(*v, k, val)) {
          error = "inject --detail: expected K=V, got \"" + *v + "\"";
          return std::nullopt;
        }
        e.details[k] = val;
      } else if (a == "--metric") {
        std::string k, val;
        char* end = nullptr;
        double num = 0;
        if (split_kv(*v, k, val))
          num = std::strtod(val.c_str(), &end);
        if (k.empty() || val.empty() || end == nullptr || *end != '\0') {
          error = "inject --metric: expected K=NUMBER, got \"" + *v + "\"";
          return std::nullopt;
        }
        e.metrics[k] = num;
      } else {
        error = "inject: unknown argument " + a;
        return std::nullopt;
      }
    }
    if (!have_type || e.component.empty()) {
      error = "inject: --type and --component are required";
      return std::nullopt;
    }
    return o;
  }
  error = "unknown command \"" + cmd + "\" (try faultctl help)";
  return std::nullopt;
}

} // namespace faultctl
