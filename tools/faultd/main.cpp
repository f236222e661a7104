// faultd: the node daemon. See `faultd --help`.

#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <pthread.h>
#include <string>
#include <thread>
#include <unistd.h>
#include <vector>

#include <caf/all.hpp>
#include <caf/io/all.hpp>

#include "actors/node/node.hpp"
#include "actors/type_ids.hpp"
#include "control/codec.hpp"
#include "faultd/config.hpp"
#include "faultd/log.hpp"
#include "faultd/util.hpp"
#include "process/data_dir_lock.hpp"
#include "systemd/notify.hpp"

namespace {

using faultd_signal_atom = caf::atom_constant<caf::atom("signal")>;

const char* usage_text = R"(usage: faultd [OPTIONS]

Runs one faultd node: starts the configured services, detects faults,
analyzes them into incidents and serves faultctl on its control endpoint.

options:
  --config FILE        YAML config (default: the embedded default config:
                       one node, data in ./faultd-data, faultctl over
                       ./faultd-data/control.sock, one demo service)
  --node-id ID         overrides node.id
  --control ADDR       overrides node.control, faultctl's endpoint:
                       unix:PATH (default unix:<data_dir>/control.sock, mode
                       0600) or HOST:PORT (needs node.control_token_file)
  --listen HOST:PORT   overrides node.listen, the peer port for other faultd
                       nodes (BASP; not opened unless set; off loopback it
                       needs cluster.tls or cluster.insecure_plaintext)
  --seeds H:P,...      overrides cluster.seeds, the nodes to join through
                       (needs a peer port)
  --data-dir DIR       overrides node.data_dir
  --check-config       validate the config and exit (0 ok, 2 invalid)
  --print-default-config
                       print the embedded default config and exit
  --log-level LEVEL    trace, debug, info (default), warn, error, off
  --version            print the version and exit
  --help               this text

SIGHUP re-reads the config (as faultctl reload does): unchanged services keep
running, changed ones restart, added ones start, removed ones stop; a bad
file is refused and the running config stays.

Services: a clean stop (SIGTERM/SIGINT) stops every service. A faultd that
is killed (SIGKILL, a crash) leaves its services running, and the next faultd
started on the same data dir adopts them (<data_dir>/run records pid, start
time and boot id): every service runs exactly once. Only one faultd may use a
data dir at a time (<data_dir>/faultd.lock).

Exit status: 0 after a clean shutdown (SIGTERM/SIGINT), 1 when the node
cannot start (another faultd holds the data dir, endpoint in use, data dir not
writable: found before any service starts) or its supervision tree
gave up (too many actor restarts a minute), 2 on bad usage or config.
)";

int usage_error(const std::string& msg) {
  std::fprintf(stderr, "faultd: %s (try faultd --help)\n", msg.c_str());
  return 2;
}

} // namespace

int main(int argc, char** argv) {
  std::vector<std::string> args(argv + 1, argv + argc);
  std::string config_file;
  faultd::config_overrides ov;
  bool check_only = false;
  std::string log_level = "info";
  for (size_t i = 0; i < args.size(); ++i) {
    auto& a = args[i];
    auto value = [&](std::string& out) -> bool {
      if (i + 1 >= args.size())
        return false;
      out = args[++i];
      return true;
    };
    std::string v;
    if (a == "--help" || a == "-h") {
      std::fputs(usage_text, stdout);
      return 0;
    } else if (a == "--version") {
      std::printf("faultd 0.1.0\n");
      return 0;
    } else if (a == "--print-default-config") {
      std::fputs(faultd::default_config_yaml().c_str(), stdout);
      return 0;
    } else if (a == "--check-config") {
      check_only = true;
    } else if (a == "--config" || a == "--node-id" || a == "--listen" || a == "--seeds"
               || a == "--data-dir" || a == "--log-level" || a == "--control") {
      if (!value(v))
        return usage_error(a + " needs a value");
      if (a == "--config")
        config_file = v;
      else if (a == "--node-id")
        ov.node_id = v;
      else if (a == "--listen")
        ov.listen = v;
      else if (a == "--control")
        ov.control = v;
      else if (a == "--seeds")
        ov.seeds = v;
      else if (a == "--data-dir")
        ov.data_dir = v;
      else
        log_level = v;
    } else {
      return usage_error("unknown argument " + a);
    }
  }
  if (!faultd::log::set_level(log_level))
    return usage_error("--log-level: unknown level \"" + log_level + "\"");

  // Reads the config as given on the command line: at start, and again on
  // SIGHUP or faultctl reload.
  auto load = [&](faultd::config& out) -> std::optional<faultd::config_error> {
    faultd::parse_options popts;
    popts.check_environment = true;  // programs and working dirs must exist here
    auto loaded = config_file.empty()
                    ? faultd::parse_config(faultd::default_config_yaml(), "<embedded default>", popts)
                    : faultd::load_config_file(config_file, popts);
    if (!loaded)
      return *loaded.error;
    if (auto err = faultd::apply_overrides(*loaded.value, ov))
      return err;
    out = std::move(*loaded.value);
    return std::nullopt;
  };
  faultd::config cfg;
  if (auto err = load(cfg)) {
    std::fprintf(stderr, "faultd: %s\n", err->to_string().c_str());
    return 2;
  }
  if (check_only) {
    std::printf("config ok: %s (node %s, %zu services, %zu strategies)\n", cfg.source.c_str(),
                cfg.node.id.c_str(), cfg.services.size(), cfg.strategies.size());
    return 0;
  }
  auto log = faultd::log::get("faultd");
  if (auto err = faultd::make_dirs(cfg.node.data_dir); !err.empty()) {
    log->error("data-dir-unusable path={} error={}", cfg.node.data_dir, err);
    return 1;
  }
  // One faultd per data dir, decided before anything is started or logged
  // to the data dir: a second one would start every service a second time.
  faultd::process::data_dir_lock lock;
  if (auto st = lock.acquire(cfg.node.data_dir); !st.ok()) {
    log->error("data-dir-locked error=\"{}\"", st.message());
    return 1;
  }
  if (auto err = faultd::log::add_file_sink(cfg.node.data_dir + "/faultd.log"); !err.empty())
    log->warn("log-file-unusable error={}", err);

  // Block the shutdown signals before CAF starts its threads, so that only
  // the sigwait below receives them.
  sigset_t sigs;
  sigemptyset(&sigs);
  sigaddset(&sigs, SIGTERM);
  sigaddset(&sigs, SIGINT);
  sigaddset(&sigs, SIGHUP);
  pthread_sigmask(SIG_BLOCK, &sigs, nullptr);

  caf::actor_system_config caf_cfg;
  faultd::prepare_actor_system(caf_cfg, cfg);
  caf::actor_system sys{caf_cfg};
  faultd::node_runtime node;
  // The main thread reloads (faultctl reload reaches it as reload_atom).
  caf::scoped_actor self{sys};
  if (auto st = faultd::start_node(sys, cfg, node, caf::actor_cast<caf::actor>(self)); !st.ok()) {
    log->error("node-start-failed error={}", st.to_string());
    return 1;
  }
  log->info("faultd-ready node={} control={} peer_port={} data_dir={} services={} pid={}",
            cfg.node.id, cfg.node.control_endpoint().to_string(),
            cfg.node.listen ? cfg.node.listen->to_string() : std::string{"none"},
            cfg.node.data_dir, cfg.services.size(), getpid());
  faultd::systemd::ready("node " + cfg.node.id + " serving on "
                         + cfg.node.control_endpoint().to_string());
  // Wait for a shutdown signal, or for the supervision tree's root to give
  // up (its restart intensity was exceeded): then the node cannot heal
  // itself, and exiting non-zero lets the service manager restart faultd.
  // SIGHUP and faultctl reload re-read the config and go on.
  self->monitor(node.root);
  std::thread signals{[&sigs, handle = caf::actor_cast<caf::actor>(self)] {
    for (;;) {
      int sig = 0;
      sigwait(&sigs, &sig);
      caf::anon_send(handle, faultd_signal_atom::value, sig);
      if (sig != SIGHUP)
        return;
    }
  }};
  // One reload: its reply (a ControlResponse) for faultctl, logged either way.
  auto reload = [&]() -> std::string {
    faultd::systemd::reloading();
    // READY=1 again whatever the outcome: the node serves on either config.
    struct ready_again {
      const faultd::config& cfg;
      ~ready_again() { faultd::systemd::ready("node " + cfg.node.id + " serving"); }
    } again{cfg};
    faultd::config next;
    if (auto err = load(next)) {
      log->error("reload-refused error=\"{}\" (the running config stays)", err->to_string());
      return faultd::control::encode_error(faultd::errc::config_invalid,
                                           err->to_string() + " (the running config stays)");
    }
    faultd::control::reload_summary sum;
    auto old_root = node.root;
    auto st = faultd::reload_node(sys, node, next, sum);
    if (node.root != old_root)
      self->monitor(node.root);
    if (!st.ok()) {
      log->error("reload-refused error=\"{}\"", st.message());
      return faultd::control::encode_error(st.code(), st.message());
    }
    cfg = std::move(next);
    return faultd::control::encode_reload(sum);
  };
  int rc = 0;
  for (bool running = true; running;) {
    self->receive(
      [&](faultd_signal_atom, int sig) {
        if (sig == SIGHUP) {
          log->info("faultd-reloading signal=SIGHUP");
          reload();
          return;
        }
        log->info("faultd-stopping signal={}", strsignal(sig));
        faultd::systemd::stopping();
        running = false;
      },
      [&](faultd::reload_atom) -> std::string {
        log->info("faultd-reloading by=faultctl");
        return reload();
      },
      [&](const caf::down_msg& dm) {
        if (dm.source != node.root.address())
          return; // a tree replaced by a reload
        log->error("node-root-stopped reason={}; exiting", sys.render(dm.reason));
        rc = 1;
        running = false;
        pthread_kill(signals.native_handle(), SIGTERM); // ends the sigwait
      });
  }
  signals.join();
  faultd::stop_node(sys, node);
  log->info("faultd-stopped node={} status={}", cfg.node.id, rc);
  if (node.workers_left > 0) {
    // A recovery action that ignores its deadline still runs on its thread:
    // do not wait for it, nor tear down what it uses under it.
    spdlog::apply_all([](const std::shared_ptr<spdlog::logger>& l) { l->flush(); });
    std::fflush(nullptr);
    std::_Exit(rc);
  }
  return rc;
}
