#include <chrono>
#include <map>
#include <string>
#include <vector>

#include <doctest/doctest.h>
#include <sys/stat.h>
#include <unistd.h>

#include "checks/resources.hpp"
#include "support/support.hpp"

using namespace faultd;
using namespace faultd::checks;

namespace {

std::string stat_text(uint64_t user, uint64_t system, uint64_t idle, uint64_t iowait) {
  return "cpu  " + std::to_string(user) + " 0 " + std::to_string(system) + " "
         + std::to_string(idle) + " " + std::to_string(iowait) + " 0 0 0 0 0\n"
         + "cpu0 1 2 3 4 5 6 7 8 0 0\nintr 12345\nctxt 999\n";
}

/// A crafted /proc under a temp dir.
struct fake_proc {
  test::temp_dir dir;
  fake_proc() {
    REQUIRE(::mkdir(dir.file("self").c_str(), 0755) == 0);
    REQUIRE(::mkdir(dir.file("self/fd").c_str(), 0755) == 0);
  }
  proc_source source(uint64_t fd_limit = 0, unsigned cpus = 0) const {
    proc_source s;
    s.proc_root = dir.path();
    s.fd_limit = fd_limit;
    s.cpu_count = cpus;
    return s;
  }
  void write(const std::string& name, const std::string& text) const {
    test::write_file(dir.file(name), text);
  }
};

resources_config cpu_only(double warning, double critical, uint32_t fail, uint32_t succ) {
  resources_config cfg;
  cfg.cpu = resource_threshold{warning, critical, fail, succ, true};
  cfg.memory.enabled = false;
  cfg.disk.enabled = false;
  cfg.load.enabled = false;
  cfg.fds.enabled = false;
  return cfg;
}

} // namespace

TEST_CASE("cpu busy percent comes from the delta between two /proc/stat samples") {
  fake_proc proc;
  resource_sampler sampler(proc.source());
  proc.write("stat", stat_text(100, 100, 700, 100));
  std::string err;
  CHECK_FALSE(sampler.read_cpu(err));
  CHECK(err.empty());
  // busy +300 (user 100->250, system 100->250), idle+iowait +100.
  proc.write("stat", stat_text(250, 250, 750, 150));
  auto busy = sampler.read_cpu(err);
  REQUIRE(busy);
  CHECK(*busy == doctest::Approx(75.0));
  // Nothing moved: no value rather than a made-up one.
  CHECK_FALSE(sampler.read_cpu(err));
}

TEST_CASE("cpu counters going backwards give no value") {
  cpu_times a{1000, 1000};
  cpu_times b{500, 1200};
  CHECK_FALSE(cpu_busy_percent(a, b));
  CHECK(*cpu_busy_percent(b, cpu_times{600, 1300}) == doctest::Approx(50.0));
}

TEST_CASE("proc/stat without a cpu line is an error") {
  CHECK_FALSE(parse_proc_stat("intr 1\nctxt 2\n"));
  CHECK_FALSE(parse_proc_stat("cpu  1 2\n"));
  fake_proc proc;
  resource_sampler sampler(proc.source());
  proc.write("stat", "cpu0 1 2 3 4\n");
  std::string err;
  CHECK_FALSE(sampler.read_cpu(err));
  CHECK(err.find("no cpu line") != std::string::npos);
}

TEST_CASE("memory used percent is MemTotal minus MemAvailable") {
  fake_proc proc;
  proc.write("meminfo",
             "MemTotal:       16000000 kB\nMemFree:         1000000 kB\n"
             "MemAvailable:    4000000 kB\nBuffers:          100 kB\n");
  resource_sampler sampler(proc.source());
  std::string err;
  auto m = sampler.read_memory(err);
  REQUIRE(m);
  CHECK(m->total_kb == 16000000);
  CHECK(m->available_kb == 4000000);
  CHECK(m->used_percent == doctest::Approx(75.0));
}

TEST_CASE("memory falls back to free plus buffers plus cached without MemAvailable") {
  auto m = parse_meminfo("MemTotal: 1000 kB\nMemFree: 100 kB\nBuffers: 50 kB\nCached: 50 kB\n");
  REQUIRE(m);
  CHECK(m->used_percent == doctest::Approx(80.0));
  CHECK_FALSE(parse_meminfo("MemFree: 100 kB\n"));
}

TEST_CASE("load per core divides the 1-minute load average by the cpu count") {
  fake_proc proc;
  proc.write("loadavg", "3.00 2.50 1.25 3/456 7890\n");
  resource_sampler sampler(proc.source(0, 4));
  std::string err;
  auto l = sampler.read_load(err);
  REQUIRE(l);
  CHECK(l->load1 == doctest::Approx(3.0));
  CHECK(l->cpus == 4);
  CHECK(l->per_core == doctest::Approx(0.75));
}

TEST_CASE("open fds are counted as a percent of the limit") {
  fake_proc proc;
  for (int i = 100; i < 130; ++i)
    proc.write("self/fd/" + std::to_string(i), "");
  resource_sampler sampler(proc.source(120));
  std::string err;
  auto f = sampler.read_fds(err);
  REQUIRE(f);
  CHECK(f->open == 30);
  CHECK(f->limit == 120);
  CHECK(f->used_percent == doctest::Approx(25.0));
}

TEST_CASE("a missing proc file is reported, not fatal") {
  fake_proc proc;
  resource_sampler sampler(proc.source(), {proc.dir.file("no-such-dir")});
  auto s = sampler.sample();
  CHECK_FALSE(s.cpu_percent);
  CHECK_FALSE(s.memory);
  CHECK_FALSE(s.load);
  CHECK(s.disks.empty());
  // stat, meminfo, disk, loadavg fail; the empty fd dir reads as 0 open fds.
  CHECK(s.errors.size() == 4);
  REQUIRE(s.fds);
  CHECK(s.fds->open == 0);
}

TEST_CASE("real /proc gives sane values") {
  test::temp_dir dir;
  resource_sampler sampler({}, {dir.path()});
  auto first = sampler.sample();
  CHECK(first.errors.empty());
  CHECK_FALSE(first.cpu_percent);
  // Burn a little CPU so that the counters surely move between the samples
  // (/proc/stat counts in 10 ms ticks).
  volatile uint64_t spin = 0;
  auto until = std::chrono::steady_clock::now() + std::chrono::milliseconds(50);
  while (std::chrono::steady_clock::now() < until)
    spin = spin + 1;
  auto s = sampler.sample();
  CHECK(s.errors.empty());
  REQUIRE(s.cpu_percent);
  CHECK(*s.cpu_percent >= 0.0);
  CHECK(*s.cpu_percent <= 100.0);
  REQUIRE(s.memory);
  CHECK(s.memory->total_kb > 0);
  CHECK(s.memory->used_percent > 0.0);
  CHECK(s.memory->used_percent <= 100.0);
  REQUIRE(s.load);
  CHECK(s.load->cpus >= 1);
  CHECK(s.load->per_core >= 0.0);
  REQUIRE(s.fds);
  CHECK(s.fds->open >= 3);
  CHECK(s.fds->limit > 0);
  REQUIRE(s.disks.size() == 1);
  CHECK(s.disks[0].total_bytes > 0);
  CHECK(s.disks[0].used_percent >= 0.0);
  CHECK(s.disks[0].used_percent <= 100.0);
}

TEST_CASE("real open fd count follows the descriptors this process opens") {
  resource_sampler sampler;
  std::string err;
  auto before = sampler.read_fds(err);
  REQUIRE(before);
  std::vector<int> fds;
  for (int i = 0; i < 10; ++i) {
    int p[2];
    REQUIRE(::pipe(p) == 0);
    fds.push_back(p[0]);
    fds.push_back(p[1]);
  }
  auto after = sampler.read_fds(err);
  for (int fd : fds)
    ::close(fd);
  REQUIRE(after);
  CHECK(after->open == before->open + 20);
}

TEST_CASE("disk usage agrees with df") {
  test::temp_dir dir;
  std::string err;
  auto d = read_disk_usage(dir.path(), err);
  REQUIRE(d);
  auto df = test::run({"df", "--output=pcent", dir.path()});
  REQUIRE(df.status == 0);
  // "Use%\n 42%\n": df rounds up.
  auto pct_pos = df.out.find_first_of("0123456789");
  REQUIRE(pct_pos != std::string::npos);
  double df_pct = std::stod(df.out.substr(pct_pos));
  CHECK(d->used_percent <= df_pct + 0.5);
  CHECK(d->used_percent >= df_pct - 1.5);
  CHECK_FALSE(read_disk_usage("/no/such/path/for/faultd", err));
  CHECK(err.find("statvfs") != std::string::npos);
}

TEST_CASE("cpu above warning opens a medium fault only after failure_threshold samples") {
  manual_clock clock;
  resource_monitor mon(cpu_only(80, 95, 3, 2), "n1", clock);
  CHECK_FALSE(mon.observe_value("cpu", 85));
  CHECK_FALSE(mon.observe_value("cpu", 90));
  auto ev = mon.observe_value("cpu", 88);
  REQUIRE(ev);
  CHECK(ev->type == fault_type::resource_exhaustion);
  CHECK(ev->severity == fault_severity::medium);
  CHECK(ev->component == "resource:cpu");
  CHECK(ev->node == "n1");
  CHECK(ev->source == "resources");
  CHECK_FALSE(ev->clears);
  CHECK(ev->metrics.at("value") == doctest::Approx(88));
  CHECK(ev->metrics.at("warning") == doctest::Approx(80));
  CHECK(mon.state("cpu") == health_state::unhealthy);
  // Staying high reports nothing more.
  CHECK_FALSE(mon.observe_value("cpu", 89));
}

TEST_CASE("a dip below warning resets the count") {
  manual_clock clock;
  resource_monitor mon(cpu_only(80, 95, 3, 2), "n1", clock);
  CHECK_FALSE(mon.observe_value("cpu", 85));
  CHECK_FALSE(mon.observe_value("cpu", 85));
  CHECK_FALSE(mon.observe_value("cpu", 50));
  CHECK_FALSE(mon.observe_value("cpu", 85));
  CHECK_FALSE(mon.observe_value("cpu", 85));
  CHECK(mon.observe_value("cpu", 85));
}

TEST_CASE("critical samples give a critical fault and recovery needs success_threshold samples") {
  manual_clock clock;
  resource_monitor mon(cpu_only(80, 95, 2, 3), "n1", clock);
  CHECK_FALSE(mon.observe_value("cpu", 99));
  auto ev = mon.observe_value("cpu", 97);
  REQUIRE(ev);
  CHECK(ev->severity == fault_severity::critical);
  CHECK_FALSE(mon.observe_value("cpu", 10));
  CHECK_FALSE(mon.observe_value("cpu", 10));
  CHECK_FALSE(mon.observe_value("cpu", 85)); // above warning again: no recovery yet
  CHECK_FALSE(mon.observe_value("cpu", 10));
  CHECK_FALSE(mon.observe_value("cpu", 10));
  auto clear = mon.observe_value("cpu", 12);
  REQUIRE(clear);
  CHECK(clear->clears);
  CHECK(clear->component == "resource:cpu");
  CHECK(clear->type == fault_type::resource_exhaustion);
  CHECK(clear->metrics.at("value") == doctest::Approx(12));
  CHECK(mon.state("cpu") == health_state::healthy);
}

TEST_CASE("a warning fault escalates once the samples stay critical") {
  manual_clock clock;
  resource_monitor mon(cpu_only(80, 95, 2, 2), "n1", clock);
  mon.observe_value("cpu", 85);
  auto open = mon.observe_value("cpu", 85);
  REQUIRE(open);
  CHECK(open->severity == fault_severity::medium);
  CHECK_FALSE(mon.observe_value("cpu", 99));
  auto esc = mon.observe_value("cpu", 99);
  REQUIRE(esc);
  CHECK(esc->severity == fault_severity::critical);
  CHECK_FALSE(esc->clears);
}

TEST_CASE("disabled thresholds and a disabled monitor report nothing") {
  manual_clock clock;
  auto cfg = cpu_only(80, 95, 1, 1);
  cfg.cpu.enabled = false;
  resource_monitor mon(cfg, "n1", clock);
  CHECK_FALSE(mon.observe_value("cpu", 100));
  resources_config load_default; // load is disabled with 0/0 by default
  load_default.load.enabled = true;
  resource_monitor mon2(load_default, "n1", clock);
  CHECK_FALSE(mon2.observe_value("load", 50));
  auto off = cpu_only(80, 95, 1, 1);
  off.enabled = false;
  resource_monitor mon3(off, "n1", clock);
  resource_sample s;
  s.cpu_percent = 100;
  CHECK(mon3.observe(s).empty());
}

TEST_CASE("a crafted sample series drives events for every resource") {
  fake_proc proc;
  manual_clock clock;
  resources_config cfg;
  cfg.cpu = {70, 90, 1, 1, true};
  cfg.memory = {70, 90, 1, 1, true};
  cfg.load = {1.0, 2.0, 1, 1, true};
  cfg.fds = {50, 90, 1, 1, true};
  cfg.disk.enabled = false;
  resource_monitor mon(cfg, "edge-1", clock);
  resource_sampler sampler(proc.source(10, 2));
  proc.write("stat", stat_text(0, 0, 0, 0));
  proc.write("meminfo", "MemTotal: 1000 kB\nMemAvailable: 50 kB\n");
  proc.write("loadavg", "5.0 1.0 1.0 1/1 1\n");
  for (int i = 100; i < 106; ++i)
    proc.write("self/fd/" + std::to_string(i), "");
  auto first = mon.observe(sampler.sample());
  // No cpu value yet; memory 95% critical, load 2.5/core critical, fds 60% medium.
  REQUIRE(first.size() == 3);
  std::map<std::string, fault_severity> sev;
  for (const auto& e : first)
    sev[e.component] = e.severity;
  CHECK(sev.at("resource:memory") == fault_severity::critical);
  CHECK(sev.at("resource:load") == fault_severity::critical);
  CHECK(sev.at("resource:fds") == fault_severity::medium);

  proc.write("stat", stat_text(80, 0, 20, 0));
  proc.write("meminfo", "MemTotal: 1000 kB\nMemAvailable: 900 kB\n");
  auto second = mon.observe(sampler.sample());
  REQUIRE(second.size() == 2);
  CHECK(second[0].component == "resource:cpu");
  CHECK(second[0].severity == fault_severity::medium);
  CHECK(second[0].metrics.at("value") == doctest::Approx(80.0));
  CHECK(second[1].component == "resource:memory");
  CHECK(second[1].clears);
}
