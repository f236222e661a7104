#pragma once

// The node's registry: small named values that recovery actions change and
// applications read — a service's degradation level, its circuit state, the
// weights of its instances, who is primary. One file per key under
// <data_dir>/registry/ (written to a temporary file and renamed, so a reader
// never sees half a value), mirrored in memory. An application that embeds
// nothing can read e.g. <data_dir>/registry/degradation/gw-mqtt.
//
// The cluster-wide facts (keys under primary/, placement/, weights/,
// degradation/, circuit/ and circuit-hold/) are replicated: a local change goes to the
// replication hook (the node sends it to the state-sync actor, which keeps
// them in the replicated map as registry/<key>), and a change another node
// made comes back through apply_replicated(), so these files are every
// node's read-only mirror of the map. Other keys (maintenance/) stay local.
//
// Keys: [A-Za-z0-9_.:-]+ segments separated by '/', no "..". Thread-safe.

#include <functional>
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

  /// True if `key` is a cluster-wide fact that is replicated.
  static bool replicated(const std::string& key);

  /// A change to a key: its new value, or nullopt when it was erased.
  using change_fn =
    std::function<void(const std::string& key, const std::optional<std::string>& value)>;

  /// Called after a local put, erase or restore of a replicated key changed
  /// it (a put of the value it already holds is no change), on the caller's
  /// thread, without the registry's lock held.
  void on_local_change(change_fn fn);

  /// Called after apply_replicated() changed a key.
  void on_replicated_change(change_fn fn);

  /// Takes in a change that came through the replicated map (another
  /// node's, or the map's verdict between two writes): written like put or
  /// erase, without calling the local-change hook. A value already held is
  /// not written again.
  status apply_replicated(const std::string& key, const std::optional<std::string>& value);

  /// The directory the keys live in.
  const std::string& dir() const { return dir_; }

private:
  /// Writes or erases under the lock; `changed` says whether it was a change.
  status write(const std::string& key, const std::optional<std::string>& value, bool& changed);
  /// write(), then the hook of a change: local_hook_ for a local change of
  /// a replicated key, replicated_hook_ for one from the map.
  status change(const std::string& key, const std::optional<std::string>& value, bool local);

  std::string dir_;
  status init_;
  mutable std::mutex mtx_;
  std::map<std::string, std::string> values_;
  change_fn local_hook_;     // GUARDED_BY(mtx_)
  change_fn replicated_hook_; // GUARDED_BY(mtx_)
};

/// "a=70,b=30" <-> {a:70, b:30}. parse returns nullopt on bad syntax
/// (empty name, non-integer or negative weight, duplicate name).
std::optional<std::map<std::string, int>> parse_weights(const std::string& s);
std::string format_weights(const std::map<std::string, int>& w);

} // namespace faultd::state
