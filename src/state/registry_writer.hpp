#pragma once

// Writes registry keys on a thread of its own, for callers that must not
// block on a file write and its fsync (CAF scheduler threads: check actors
// feeding circuit breakers, the service actor reading them).
//
// Writes are applied in the order they were queued; a key queued again
// before its earlier write ran is written once, with the latest value.
// flush() waits until everything queued so far is on disk; the destructor
// flushes, so nothing queued is lost at shutdown. A write that fails is
// logged (logger "state": registry-write-failed) and counted.
//
// Thread-safe.

#include <condition_variable>
#include <cstdint>
#include <deque>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <thread>

#include "state/registry.hpp"

namespace faultd::state {

class registry_writer {
public:
  /// REQUIRES: `reg` outlives the writer.
  explicit registry_writer(registry& reg);
  ~registry_writer();
  registry_writer(const registry_writer&) = delete;
  registry_writer& operator=(const registry_writer&) = delete;

  /// Queues registry::put(key, value).
  void put(const std::string& key, const std::string& value);

  /// Queues registry::erase(key).
  void erase(const std::string& key);

  /// Waits until every write queued before the call has been applied.
  void flush();

  /// Writes that failed so far.
  uint64_t failures() const;

private:
  void queue(const std::string& key, std::optional<std::string> value);
  void loop();

  registry& reg_;
  mutable std::mutex mtx_;
  std::condition_variable wake_;
  std::condition_variable done_;
  std::deque<std::string> order_;                           // GUARDED_BY(mtx_)
  std::map<std::string, std::optional<std::string>> next_;  // GUARDED_BY(mtx_)
  uint64_t queued_ = 0;   ///< writes queued so far      GUARDED_BY(mtx_)
  uint64_t applied_ = 0;  ///< of those, applied so far  GUARDED_BY(mtx_)
  uint64_t failures_ = 0; // GUARDED_BY(mtx_)
  bool stopping_ = false; // GUARDED_BY(mtx_)
  std::thread thread_;
};

} // namespace faultd::state
