// How fast a write to the replicated map reaches every node of a three-node
// faultd cluster on 127.0.0.1 (issue target: p50 < 100 ms).
//
// Three faultd processes (default cluster timing, state_sync defaults: push
// to fanout 3, anti-entropy every 10s) are started in a scratch directory
// and joined through the first. Once every node lists the two others alive,
// each trial writes a fresh key on node 1 through its control endpoint (the
// protocol faultctl speaks, without a process per query) and then asks
// nodes 2 and 3 for the key in turn, back to back, until both return the new
// value. put_ack_ms is the write's round trip (committed to node 1's
// state.db); visible_ms is the time from before the write until the later
// of the two nodes returned the value (so one get late at most: get_p50_ms
// says how long one takes). Prints one JSON object per line.
//
// Usage: bench_state [--trials N] (default 200)

#include <algorithm>
#include <chrono>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <fcntl.h>
#include <spawn.h>
#include <string>
#include <sys/socket.h>
#include <sys/wait.h>
#include <netinet/in.h>
#include <thread>
#include <unistd.h>
#include <vector>

#include "control/client.hpp"
#include "control/codec.hpp"

extern char** environ;

using namespace faultd;
using steady = std::chrono::steady_clock;

namespace {

double ms(steady::duration d) {
  return std::chrono::duration<double, std::milli>(d).count();
}

double pct(std::vector<double> v, double p) {
  if (v.empty())
    return 0;
  std::sort(v.begin(), v.end());
  return v[std::min(v.size() - 1, static_cast<size_t>(p * static_cast<double>(v.size())))];
}

uint16_t free_tcp_port() {
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a);
  socklen_t len = sizeof a;
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len);
  ::close(fd);
  return ntohs(a.sin_port);
}

struct node {
  std::string id;
  std::string dir;
  uint16_t port = 0;
  pid_t pid = -1;
  control_address ctl;
};

bool start(node& n, uint16_t seed) {
  std::string yaml = "node:\n  id: " + n.id + "\n  data_dir: " + n.dir + "\n  listen: 127.0.0.1:"
                     + std::to_string(n.port) + "\ncluster:\n  seeds: [127.0.0.1:"
                     + std::to_string(seed) + "]\nservices: []\nfault_detection:\n  resources: "
                     + "{enabled: false}\n  security: {enabled: false}\n";
  auto cfg = n.dir + ".yaml";
  if (FILE* f = std::fopen(cfg.c_str(), "w")) {
    std::fputs(yaml.c_str(), f);
    std::fclose(f);
  } else {
    return false;
  }
  posix_spawn_file_actions_t fa;
  posix_spawn_file_actions_init(&fa);
  auto out = n.dir + ".out";
  posix_spawn_file_actions_addopen(&fa, 1, out.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
  posix_spawn_file_actions_adddup2(&fa, 1, 2);
  std::string bin = FAULTD_BIN;
  std::vector<char*> argv{bin.data(), const_cast<char*>("--config"), cfg.data(), nullptr};
  int rc = posix_spawn(&n.pid, bin.c_str(), &fa, nullptr, argv.data(), environ);
  posix_spawn_file_actions_destroy(&fa);
  n.ctl.unix_path = n.dir + "/control.sock";
  return rc == 0;
}

bool ask(const node& n, const control::request& req, control::reply& rep) {
  std::string bytes;
  if (!control::call(n.ctl, control::encode_request(req), std::chrono::milliseconds(2000), bytes)
         .ok())
    return false;
  return control::decode_reply(bytes, rep).ok() && rep.ok;
}

size_t alive_seen(const node& n) {
  control::request req;
  req.cmd = control::command::members;
  control::reply rep;
  if (!ask(n, req, rep))
    return 0;
  size_t count = 0;
  for (size_t at = rep.json.find("\"state\":\"alive\""); at != std::string::npos;
       at = rep.json.find("\"state\":\"alive\"", at + 1))
    ++count;
  return count;
}

control::request state_req(const std::string& op, const std::string& key,
                           const std::string& value = "") {
  control::request r;
  r.cmd = control::command::state;
  r.op = op;
  r.key = key;
  r.value = value;
  return r;
}

} // namespace

int main(int argc, char** argv) {
  int trials = 200;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    if (a == "--trials" && i + 1 < argc) {
      trials = std::atoi(argv[++i]);
    } else {
      std::fprintf(stderr, "usage: bench_state [--trials N]\n");
      return 2;
    }
  }
  if (trials <= 0) {
    std::fprintf(stderr, "bench_state: --trials must be positive\n");
    return 2;
  }
  char tmpl[] = "/tmp/faultd-bench-state-XXXXXX";
  if (::mkdtemp(tmpl) == nullptr) {
    std::perror("mkdtemp");
    return 1;
  }
  std::string root = tmpl;
  std::vector<node> nodes(3);
  for (size_t i = 0; i < nodes.size(); ++i) {
    nodes[i].id = "n" + std::to_string(i + 1);
    nodes[i].dir = root + "/" + nodes[i].id;
    nodes[i].port = free_tcp_port();
  }
  int status = 0;
  auto stop_all = [&] {
    for (auto& n : nodes)
      if (n.pid > 0)
        ::kill(n.pid, SIGTERM);
    for (auto& n : nodes)
      if (n.pid > 0)
        ::waitpid(n.pid, nullptr, 0);
    std::string rm = "rm -rf " + root;
    if (std::system(rm.c_str()) != 0)
      std::fprintf(stderr, "bench_state: could not remove %s\n", root.c_str());
  };
  for (auto& n : nodes)
    if (!start(n, nodes[0].port)) {
      std::printf("{\"bench\":\"state_put_visible\",\"error\":\"cannot start faultd\"}\n");
      stop_all();
      return 1;
    }
  auto deadline = steady::now() + std::chrono::seconds(30);
  while (!std::all_of(nodes.begin(), nodes.end(), [](const node& n) { return alive_seen(n) == 3; })) {
    if (steady::now() > deadline) {
      std::printf("{\"bench\":\"state_put_visible\",\"error\":\"the cluster did not form in "
                  "30s (see %s/*.out)\"}\n",
                  root.c_str());
      stop_all();
      return 1;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  std::this_thread::sleep_for(std::chrono::seconds(1));
  std::vector<double> ack, visible, get_rtt;
  int failed = 0;
  for (int t = 0; t < trials; ++t) {
    auto key = "bench/k" + std::to_string(t);
    auto value = "v" + std::to_string(t);
    control::reply rep;
    auto t0 = steady::now();
    if (!ask(nodes[0], state_req("put", key, value), rep)) {
      ++failed;
      continue;
    }
    ack.push_back(ms(steady::now() - t0));
    bool seen[2] = {false, false};
    auto limit = t0 + std::chrono::seconds(15);
    while (!(seen[0] && seen[1]) && steady::now() < limit)
      for (int k = 0; k < 2; ++k) {
        if (seen[k])
          continue;
        auto g0 = steady::now();
        control::reply got;
        bool ok = ask(nodes[1 + k], state_req("get", key), got);
        get_rtt.push_back(ms(steady::now() - g0));
        seen[k] = ok && got.json.find("\"value\":\"" + value + "\"") != std::string::npos;
      }
    if (seen[0] && seen[1])
      visible.push_back(ms(steady::now() - t0));
    else
      ++failed;
  }
  std::printf("{\"bench\":\"state_put_visible\",\"nodes\":3,\"trials\":%d,\"failed\":%d,"
              "\"visible_p50_ms\":%.2f,\"visible_p99_ms\":%.2f,\"visible_max_ms\":%.2f,"
              "\"put_ack_p50_ms\":%.2f,\"put_ack_p99_ms\":%.2f,\"get_p50_ms\":%.2f,"
              "\"target_p50_ms\":100}\n",
              trials, failed, pct(visible, 0.5), pct(visible, 0.99), pct(visible, 1.0),
              pct(ack, 0.5), pct(ack, 0.99), pct(get_rtt, 0.5));
  if (failed > 0)
    status = 1;
  stop_all();
  return status;
}
