#pragma once

// The node's registry: small named values that recovery actions change and
// applications read — a service's degradation level, its circuit state, the
// weights of its instances, who is primary. One file per key under
// <data_dir>/registry/ (written to a temporary file and renamed, so a reader
// never sees half a value), mirrored in memory. An application that embeds
// nothing can read e.g. <data_dir>/registry/degradation/gw-mqtt.
//
// The state-sync issue replicates these keys across nodes; until then they
// are local to the node.
//
// Keys: [A-Za-z0-9_.:-]+ segments separated by '/', no "..". Thread-safe.

#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "faultd/error.hpp"

namespace faultd::state {

class registry {
public:
  /// Keys live under `dir` (created if missing). Existing files are loaded.
  explicit registry(std::string dir);

  /// Ok, or why the directory or a file could not be read.
  const status& init_status() const { return init_; }

  /// Stores `value` under `key` (file first, then memory).
  status put(const std::string& key, const std::string& value);

  /// The value, or nullopt.
  std::optional<std::string> get(const std::string& key) const;

  /// Removes a key (no error if absent).
  status erase(const std::string& key);

  /// Puts back what a key held before a change: `previous` empty means the
  /// key did not exist, so it is erased. (How rollbacks undo a put.)
  status restore(const std::string& key, const std::string& previous);

  /// Every key starting with `prefix`, sorted.
  std::map<std::string, std::string> list(const std::string& prefix = "") const;

  /// True if `key` is acceptable (see above).
  static bool valid_key(const std::string& key);

  /// The directory the keys live in.
  const std::string& dir() const { return dir_; }

private:
  std::string dir_;
  status init_;
  mutable std::mutex mtx_;
  std::map<std::string, std::string> values_;
};

/// "a=70,b=30" <-> {a:70, b:30}. parse returns nullopt on bad syntax
/// (empty name, non-integer or negative weight, duplicate name).
std::optional<std::map<std::string, int>> parse_weights(const std::string& s);
std::string format_weights(const std::map<std::string, int>& w);

} // namespace faultd::state
