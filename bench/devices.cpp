// Silent-device detection at scale, against a real mosquitto on loopback:
// a device simulator of our own (libmosquitto, many device ids over a few
// connections) plays `--devices` devices (default 100,000) in gateways of
// 1,000, each publishing QoS 0 to sites/g<k>/d<i>/telemetry at its own
// interval, 1 + 59 * u^1.3 seconds for a uniform u (so 1 s .. 60 s, about
// 10,000 messages/s for 100,000 devices), every interval jittered ±30%.
// One faultd (its devices: section on those topics, metrics on loopback)
// learns them.
//
// After `--warmup` (default 240 s: a 60 s device needs 3 intervals before
// it is judged) the bench stops `--stop` devices picked at random (default
// 1,000, none of gateway g0), 30 s later every device of gateway g0 at once,
// and measures for `--measure` more (default 240 s):
//   published_per_s, received_per_s   the simulator's rate and what faultd
//                                     counted (faultd_device_messages_total)
//   dropped                           faultd_device_messages_dropped_total
//   faultd_cpu_pct, faultd_rss_mb     of faultd over the measured window
//                                     (/proc, 100% = one core)
//   delay_intervals_p50/p99/max       for the stopped devices: from the last
//                                     message each sent until faultctl lists
//                                     it silent (polled every second), in
//                                     units of its own mean interval
//   detected                          stopped devices listed silent by the end
//   false_positives                   devices listed silent that never stopped
//   gateway_incident_s                from the first g0 device listed silent
//                                     until gateway:g0 is an open incident
//   gateway_alerts, device_alerts     alerts for gateway:g0 / for device:*
//   gateway_alert_s                   from the gateway:g0 incident's opening
//                                     to its alert (their recorded times)
//   fixed600_delay_intervals_p50/p99  the same stopped devices judged by a
//                                     fixed 600 s inactivity timeout checked
//                                     every 60 s (ThingsBoard's defaults):
//                                     computed from the same last-message
//                                     times, not a second daemon
//
//   bench_devices [--devices N] [--warmup S] [--measure S] [--stop K]
//                 [--connections C] [--keep]
//
// Needs /usr/sbin/mosquitto and curl (for /metrics). Prints one JSON object; exit 1 on a setup
// failure. Every process started dies with the bench (PR_SET_PDEATHSIG).

#include <fcntl.h>
#include <mosquitto.h>
#include <netinet/in.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cmath>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <map>
#include <mutex>
#include <optional>
#include <queue>
#include <random>
#include <set>
#include <sstream>
#include <string>
#include <thread>
#include <unordered_map>
#include <vector>

#include "faultd/time.hpp"

namespace {

using clk = std::chrono::steady_clock;

struct options {
  size_t devices = 100000;
  int warmup_s = 240;
  int measure_s = 240;
  size_t stop = 1000;
  size_t connections = 4;
  bool keep = false;
};

pid_t start_process(const std::vector<std::string>& argv, const std::string& log) {
  pid_t pid = ::fork();
  if (pid != 0)
    return pid;
  ::prctl(PR_SET_PDEATHSIG, SIGKILL);
  int fd = ::open(log.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
  ::dup2(fd, 1);
  ::dup2(fd, 2);
  std::vector<char*> args;
  for (auto& a : argv)
    args.push_back(const_cast<char*>(a.c_str()));
  args.push_back(nullptr);
  ::execv(args[0], args.data());
  ::_exit(127);
}

std::string output_of(const std::string& cmd) {
  std::string out;
  if (FILE* p = ::popen(cmd.c_str(), "r")) {
    char buf[65536];
    size_t n;
    while ((n = std::fread(buf, 1, sizeof buf, p)) > 0)
      out.append(buf, n);
    ::pclose(p);
  }
  return out;
}

uint16_t unused_port() {
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof a;
  ::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a);
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len);
  ::close(fd);
  return ntohs(a.sin_port);
}

/// utime + stime of `pid` in seconds, and its resident set in MB.
std::pair<double, double> usage_of(pid_t pid) {
  std::ifstream stat("/proc/" + std::to_string(pid) + "/stat");
  std::string line;
  std::getline(stat, line);
  auto rest = line.substr(line.rfind(')') + 2);
  std::istringstream f(rest);
  std::string field;
  double ticks = 0;
  for (int i = 3; i <= 15 && f >> field; ++i)
    if (i == 14 || i == 15)
      ticks += std::stod(field);
  std::ifstream status("/proc/" + std::to_string(pid) + "/status");
  double rss_kb = 0;
  while (std::getline(status, line))
    if (line.rfind("VmRSS:", 0) == 0)
      rss_kb = std::stod(line.substr(6));
  return {ticks / static_cast<double>(::sysconf(_SC_CLK_TCK)), rss_kb / 1024};
}

/// A metric's value in /metrics text (0 if absent).
/// A metric's value in a scrape, summed over its labels.
double metric(const std::string& text, const std::string& name) {
  double sum = 0;
  for (auto at = text.find("\n" + name); at != std::string::npos;
       at = text.find("\n" + name, at + 1)) {
    auto next = text[at + 1 + name.size()];
    if (next != ' ' && next != '{')
      continue;  // another metric whose name starts with this one
    auto eol = text.find('\n', at + 1);
    auto space = text.rfind(' ', eol);
    sum += std::stod(text.substr(space + 1, eol - space - 1));
  }
  return sum;
}

double percentile(std::vector<double> v, double p) {
  if (v.empty())
    return -1;
  std::sort(v.begin(), v.end());
  return v[std::min(v.size() - 1, static_cast<size_t>(p * static_cast<double>(v.size())))];
}

/// The simulated devices and the connections they publish over.
class simulator {
public:
  simulator(const options& o, uint16_t port) : rng_(42), devices_(o.devices) {
    std::uniform_real_distribution<double> u(0, 1);
    for (auto& d : devices_)
      d.mean_s = 1 + 59 * std::pow(u(rng_), 1.3);
    mosquitto_lib_init();
    for (size_t i = 0; i < o.connections; ++i) {
      auto* m = mosquitto_new(nullptr, true, nullptr);
      mosquitto_connect(m, "127.0.0.1", port, 30);
      mosquitto_loop_start(m);
      clients_.push_back(m);
    }
    auto now = clk::now();
    for (size_t i = 0; i < devices_.size(); ++i)
      queue_.push({now + std::chrono::milliseconds(static_cast<int64_t>(
                           devices_[i].mean_s * 1000 * u(rng_))),
                   i});
    thread_ = std::thread([this] { run(); });
  }
  ~simulator() {
    stop_ = true;
    thread_.join();
    for (auto* m : clients_) {
      mosquitto_disconnect(m);
      mosquitto_loop_stop(m, true);
      mosquitto_destroy(m);
    }
  }
  size_t size() const { return devices_.size(); }
  double mean_s(size_t i) const { return devices_[i].mean_s; }
  static std::string id(size_t i) { return "d" + std::to_string(i); }
  static size_t gateway(size_t i) { return i / 1000; }
  /// Device i publishes no more.
  void halt(size_t i) {
    std::lock_guard<std::mutex> g{mtx_};
    devices_[i].stopped = true;
  }
  clk::time_point last_sent(size_t i) {
    std::lock_guard<std::mutex> g{mtx_};
    return devices_[i].last;
  }
  uint64_t published() const { return published_; }

private:
  struct device {
    double mean_s = 1;
    bool stopped = false;
    clk::time_point last{};
  };
  struct due {
    clk::time_point at;
    size_t index;
    bool operator>(const due& o) const { return at > o.at; }
  };
  void run() {
    std::uniform_real_distribution<double> jitter(0.7, 1.3);
    while (!stop_) {
      auto now = clk::now();
      while (!queue_.empty() && queue_.top().at <= now) {
        auto d = queue_.top();
        queue_.pop();
        auto& dev = devices_[d.index];
        {
          std::lock_guard<std::mutex> g{mtx_};
          if (dev.stopped)
            continue;
          dev.last = now;
        }
        auto topic = "sites/g" + std::to_string(gateway(d.index)) + "/" + id(d.index) + "/telemetry";
        mosquitto_publish(clients_[d.index % clients_.size()], nullptr, topic.c_str(), 4, "21.5",
                          0, false);
        ++published_;
        queue_.push({now + std::chrono::milliseconds(static_cast<int64_t>(
                             dev.mean_s * 1000 * jitter(rng_))),
                     d.index});
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(2));
    }
  }
  std::mt19937_64 rng_;
  std::vector<device> devices_;
  std::vector<mosquitto*> clients_;
  std::priority_queue<due, std::vector<due>, std::greater<due>> queue_;
  std::mutex mtx_;
  std::atomic<uint64_t> published_{0};
  std::atomic<bool> stop_{false};
  std::thread thread_;
};

/// Every "id" in `faultctl --json devices --silent`.
std::set<std::string> silent_ids(const std::string& json) {
  std::set<std::string> out;
  const std::string key = "\"id\":\"";
  for (auto at = json.find(key); at != std::string::npos; at = json.find(key, at + 1)) {
    auto from = at + key.size();
    out.insert(json.substr(from, json.find('"', from) - from));
  }
  return out;
}

size_t count_of(const std::string& text, const std::string& part) {
  size_t n = 0;
  for (auto at = text.find(part); at != std::string::npos; at = text.find(part, at + 1))
    ++n;
  return n;
}

int usage() {
  std::fprintf(stderr, "usage: bench_devices [--devices N] [--warmup S] [--measure S] "
                       "[--stop K] [--connections C] [--keep]\n");
  return 2;
}

} // namespace

int main(int argc, char** argv) {
  options o;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    auto number = [&](auto& out) {
      if (i + 1 >= argc)
        return false;
      out = static_cast<std::decay_t<decltype(out)>>(std::atoll(argv[++i]));
      return out > 0;
    };
    if (a == "--keep")
      o.keep = true;
    else if (!((a == "--devices" && number(o.devices)) || (a == "--warmup" && number(o.warmup_s))
               || (a == "--measure" && number(o.measure_s)) || (a == "--stop" && number(o.stop))
               || (a == "--connections" && number(o.connections))))
      return usage();
  }
  if (o.devices < 2000 || o.stop + 1000 > o.devices) {
    std::fprintf(stderr, "bench_devices: needs at least 2,000 devices and more than --stop + 1,000\n");
    return 2;
  }
  char tmpl[] = "/tmp/bench-devices-XXXXXX";
  std::string dir = ::mkdtemp(tmpl);
  auto broker_port = unused_port();
  auto metrics_port = unused_port();
  {
    std::ofstream c(dir + "/mosquitto.conf");
    c << "listener " << broker_port << " 127.0.0.1\nallow_anonymous true\npersistence false\n"
      << "max_queued_messages 100000\n";
  }
  auto broker = start_process({"/usr/sbin/mosquitto", "-c", dir + "/mosquitto.conf"},
                              dir + "/mosquitto.log");
  {
    std::ofstream c(dir + "/faultd.yaml");
    c << "node: {id: bench, data_dir: " << dir << "/data}\nservices: []\n"
      << "fault_detection: {resources: {enabled: false}, security: {enabled: false}}\n"
      << "metrics: {listen: 127.0.0.1:" << metrics_port << "}\n"
      << "devices:\n  broker: 127.0.0.1:" << broker_port
      << "\n  topics: [\"sites/+gateway/+device/telemetry\"]\n";
  }
  std::this_thread::sleep_for(std::chrono::milliseconds(500));
  auto faultd = start_process({FAULTD_BIN, "--config", dir + "/faultd.yaml"}, dir + "/faultd.out");
  const std::string ctl = std::string{FAULTCTL_BIN} + " --node unix:" + dir + "/data/control.sock";
  const std::string scrape = "curl -s http://127.0.0.1:" + std::to_string(metrics_port) + "/metrics";
  for (int i = 0; i < 100 && output_of(ctl + " status 2>/dev/null").empty(); ++i)
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  if (output_of(ctl + " status 2>/dev/null").empty()) {
    std::fprintf(stderr, "bench_devices: faultd did not start (see %s/faultd.out)\n", dir.c_str());
    return 1;
  }
  simulator sim{o, broker_port};
  std::fprintf(stderr, "bench_devices: %zu devices, warming up for %ds\n", o.devices, o.warmup_s);
  std::this_thread::sleep_for(std::chrono::seconds(o.warmup_s));

  // The measured window.
  auto t0 = clk::now();
  auto [cpu0, rss0] = usage_of(faultd);
  auto m0 = output_of(scrape);
  auto pub0 = sim.published();
  std::mt19937_64 rng(7);
  std::uniform_int_distribution<size_t> pick(1000, o.devices - 1);  // never gateway g0
  std::set<size_t> stopped;
  while (stopped.size() < o.stop)
    stopped.insert(pick(rng));
  for (auto i : stopped)
    sim.halt(i);
  std::map<std::string, size_t> index_of;
  for (auto i : stopped)
    index_of[simulator::id(i)] = i;
  bool gateway_stopped = false;
  std::map<std::string, clk::time_point> seen_silent;
  std::set<std::string> false_positive;
  std::optional<clk::time_point> first_g0_silent, gateway_open;
  double rss_max = rss0;
  auto end = t0 + std::chrono::seconds(o.measure_s);
  while (clk::now() < end) {
    auto now = clk::now();
    if (!gateway_stopped && now - t0 >= std::chrono::seconds(30)) {
      for (size_t i = 0; i < 1000; ++i) {
        sim.halt(i);
        index_of[simulator::id(i)] = i;
        stopped.insert(i);
      }
      gateway_stopped = true;
    }
    for (auto& id : silent_ids(output_of(ctl + " --json devices --silent"))) {
      if (seen_silent.count(id))
        continue;
      seen_silent[id] = clk::now();
      auto it = index_of.find(id);
      if (it == index_of.end())
        false_positive.insert(id);
      else if (it->second < 1000 && !first_g0_silent)
        first_g0_silent = clk::now();
    }
    if (first_g0_silent && !gateway_open
        && output_of(ctl + " --json incidents --open").find("\"component\":\"gateway:g0\"")
             != std::string::npos)
      gateway_open = clk::now();
    rss_max = std::max(rss_max, usage_of(faultd).second);
    std::this_thread::sleep_for(std::chrono::milliseconds(1000));
  }
  auto t1 = clk::now();
  auto [cpu1, rss1] = usage_of(faultd);
  auto m1 = output_of(scrape);
  auto pub1 = sim.published();
  double window_s = std::chrono::duration<double>(t1 - t0).count();

  std::vector<double> delays, fixed;
  std::uniform_real_distribution<double> check_phase(0, 60);
  for (auto& [id, i] : index_of) {
    auto last = sim.last_sent(i);
    // A fixed 600 s timeout checked every 60 s flags it 600..660 s after.
    fixed.push_back((600 + check_phase(rng)) / sim.mean_s(i));
    auto s = seen_silent.find(id);
    if (s != seen_silent.end())
      delays.push_back(std::chrono::duration<double>(s->second - last).count() / sim.mean_s(i));
  }
  auto alerts = output_of(ctl + " --json alerts --limit 10000");
  // The gateway incident's opened_at (it follows its component) and its
  // alert's time (it precedes it).
  double gateway_alert_s = -1;
  {
    auto incidents = output_of(ctl + " --json incidents --limit 100000");
    auto quoted_after = [](const std::string& text, size_t at) {
      auto from = text.find('"', text.find(':', at) + 1) + 1;
      return text.substr(from, text.find('"', from) - from);
    };
    const std::string gw = "\"component\":\"gateway:g0\"";
    auto i = incidents.find(gw);
    auto a = alerts.find(gw);
    if (i != std::string::npos && a != std::string::npos) {
      auto opened = faultd::parse_timestamp(quoted_after(incidents, incidents.find("\"opened_at\"", i)));
      auto alerted = faultd::parse_timestamp(quoted_after(alerts, alerts.rfind("\"time\"", a)));
      if (opened && alerted)
        gateway_alert_s = std::chrono::duration<double>(*alerted - *opened).count();
    }
  }
  std::printf(
    "{\"bench\":\"devices\",\"devices\":%zu,\"window_s\":%.0f,\"published_per_s\":%.0f,"
    "\"received_per_s\":%.0f,\"dropped\":%.0f,\"faultd_cpu_pct\":%.1f,\"faultd_rss_mb\":%.1f,"
    "\"stopped\":%zu,\"detected\":%zu,\"delay_intervals_p50\":%.2f,\"delay_intervals_p99\":%.2f,"
    "\"delay_intervals_max\":%.2f,\"false_positives\":%zu,\"gateway_incident_s\":%.1f,"
    "\"gateway_alerts\":%zu,\"gateway_alert_s\":%.3f,\"device_alerts\":%zu,"
    "\"fixed600_delay_intervals_p50\":%.1f,"
    "\"fixed600_delay_intervals_p99\":%.1f}\n",
    o.devices, window_s, static_cast<double>(pub1 - pub0) / window_s,
    (metric(m1, "faultd_device_messages_total") - metric(m0, "faultd_device_messages_total"))
      / window_s,
    metric(m1, "faultd_device_messages_dropped_total"), 100 * (cpu1 - cpu0) / window_s, rss_max,
    stopped.size(), delays.size(), percentile(delays, 0.5), percentile(delays, 0.99),
    percentile(delays, 1.0), false_positive.size(),
    gateway_open && first_g0_silent
      ? std::chrono::duration<double>(*gateway_open - *first_g0_silent).count()
      : -1.0,
    count_of(alerts, "\"component\":\"gateway:g0\""), gateway_alert_s,
    count_of(alerts, "\"component\":\"device:"),
    percentile(fixed, 0.5), percentile(fixed, 0.99));
  std::fflush(stdout);
  ::kill(faultd, SIGTERM);
  ::waitpid(faultd, nullptr, 0);
  ::kill(broker, SIGTERM);
  ::waitpid(broker, nullptr, 0);
  if (!o.keep)
    std::system(("rm -rf " + dir).c_str());
  return 0;
}
