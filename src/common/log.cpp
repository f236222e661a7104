#include "faultd/log.hpp"

#include <csignal>
#include <mutex>

#include <pthread.h>
#include <vector>

#include <spdlog/sinks/basic_file_sink.h>
#include <spdlog/spdlog.h>
#include <spdlog/sinks/stdout_color_sinks.h>

namespace faultd::log {

namespace {

struct registry {
  std::mutex mtx;
  std::vector<spdlog::sink_ptr> sinks;
  std::vector<std::shared_ptr<spdlog::logger>> loggers;
  spdlog::level::level_enum level = spdlog::level::info;

  registry() {
    sinks.push_back(std::make_shared<spdlog::sinks::stderr_color_sink_mt>());
  }
};

registry& reg() {
  static registry r;
  return r;
}

} // namespace

std::shared_ptr<spdlog::logger> get(const std::string& component) {
  auto& r = reg();
  std::lock_guard<std::mutex> guard{r.mtx};
  for (auto& l : r.loggers)
    if (l->name() == component)
      return l;
  auto l = std::make_shared<spdlog::logger>(component, r.sinks.begin(), r.sinks.end());
  l->set_level(r.level);
  l->set_pattern("%Y-%m-%dT%H:%M:%S.%e %^%-5l%$ [%n] %v");
  l->flush_on(spdlog::level::warn);
  try {
    spdlog::register_logger(l); // for flush_every (add_file_sink)
  } catch (const spdlog::spdlog_ex&) {
  }
  r.loggers.push_back(l);
  return l;
}

bool set_level(const std::string& level) {
  auto lvl = spdlog::level::from_str(level);
  if (lvl == spdlog::level::off && level != "off")
    return false;
  auto& r = reg();
  std::lock_guard<std::mutex> guard{r.mtx};
  r.level = lvl;
  for (auto& l : r.loggers)
    l->set_level(lvl);
  return true;
}

std::string add_file_sink(const std::string& path) {
  auto& r = reg();
  std::lock_guard<std::mutex> guard{r.mtx};
  try {
    auto sink = std::make_shared<spdlog::sinks::basic_file_sink_mt>(path);
    sink->set_pattern("%Y-%m-%dT%H:%M:%S.%e %-5l [%n] %v");
    r.sinks.push_back(sink);
    for (auto& l : r.loggers)
      l->sinks().push_back(sink);
    // Info lines reach the file within a second (warnings and errors at
    // once), so an operator tailing it sees what happens as it happens.
    // The flushing thread takes no signal: they are the main program's
    // (faultd waits for SIGTERM with sigwait; a thread that could take it
    // would die of it instead).
    sigset_t all, old;
    sigfillset(&all);
    pthread_sigmask(SIG_BLOCK, &all, &old);
    spdlog::flush_every(std::chrono::seconds(1));
    pthread_sigmask(SIG_SETMASK, &old, nullptr);
  } catch (const spdlog::spdlog_ex& e) {
    return e.what();
  }
  return {};
}

} // namespace faultd::log
