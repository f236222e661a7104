#pragma once

// Named spdlog loggers, one per component ("process", "analyzer", ...).
// Messages start with a stable kebab-case event id:
//   log::get("process")->info("service-restarted name={} pid={}", n, p);

#include <memory>
#include <string>

#include <spdlog/spdlog.h>

namespace faultd::log {

/// The logger for `component`, created on first use with the shared sinks.
std::shared_ptr<spdlog::logger> get(const std::string& component);

/// Sets the level of every faultd logger ("trace".."off"); false if unknown.
bool set_level(const std::string& level);

/// Also writes every logger to `path` (appending). "" or error text.
std::string add_file_sink(const std::string& path);

} // namespace faultd::log
