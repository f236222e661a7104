#pragma once

// The replicated key/value map of one node: what the state-sync actor
// gossips. A plain class on an injected clock, not thread-safe (its actor
// owns it).
//
// Every entry carries a version (hlc.hpp) and the id of the node that wrote
// it, a SHA-256 of its value, and a tombstone flag for deletes.
//
// **Conflict rule: the last writer wins, by version.** Of two writes to one
// key, the one with the higher version wins; equal versions (two nodes in
// the same millisecond and counter) are ordered by node id, the larger id
// winning. Every node applies the same rule to the same two entries, so all
// converge to one value. The loser is a write that was acknowledged to its
// client and is then overwritten: on the two sides of a partition, the
// write made earlier (by the writers' hybrid clocks) is lost.
//
// Deletes are tombstones, kept for `tombstone_grace` after their version's
// time and then collected. A node that was away for longer than the grace
// may bring a deleted key back: make the grace longer than any partition
// you expect to heal.
//
// Anti-entropy compares digests: keys hash into 256 buckets, each with an
// order-independent sum of its entries' (key, version, node, tombstone)
// hashes, so two nodes first find the buckets that differ, then the keys in
// them, then move only those entries.

#include <array>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "faultd/domain.hpp"
#include "faultd/error.hpp"
#include "faultd/time.hpp"
#include "replica/hlc.hpp"

namespace faultd::replica {

struct map_params {
  std::string self;                          ///< this node's id
  duration tombstone_grace = seconds_d(86400); ///< how long a delete is remembered
  /// A version further ahead than this of both the wall clock and the
  /// newest version taken so far is refused.
  duration max_clock_skew = seconds_d(60);
  size_t max_value_size = 1 << 20;           ///< larger values are refused at put
};

/// Which of two writes to one key wins (see above).
bool newer(uint64_t version_a, const std::string& node_a, uint64_t version_b,
           const std::string& node_b);

/// A key's version as digests list it.
struct key_version {
  std::string key;
  uint64_t version = 0;
  std::string origin;
  bool tombstone = false;
};

constexpr size_t bucket_count = 256;
using bucket_digest = std::array<uint64_t, bucket_count>;

/// The bucket of a key (stable across nodes and versions of faultd).
uint32_t bucket_of(const std::string& key);

enum class apply_result {
  applied,       ///< the entry was newer and is now stored
  stale,         ///< an equal or newer write was already here
  bad_checksum,  ///< the value does not match its SHA-256: dropped
  bad_entry,     ///< an invalid key, no origin, or a tombstone with a value
  too_far_ahead, ///< its version is beyond the clock skew allowed
};
std::string_view to_string(apply_result r);

/// What comparing this node's keys with a peer's found, for the buckets
/// compared.
struct comparison {
  std::vector<key_version> send;  ///< ours is newer, or they lack it
  std::vector<std::string> want;  ///< theirs is newer, or we lack it
  size_t agree = 0;               ///< same version on both
  size_t differ = 0;              ///< both have it, versions differ
  size_t missing = 0;             ///< one side lacks it
};

class replica_map {
public:
  /// REQUIRES: `clock` outlives the map.
  replica_map(map_params params, const clock_source& clock);

  /// A local write: `out` is the entry to store and spread; bad_request for
  /// an invalid key or a value that is too large.
  status put(const std::string& key, std::string value, state_entry& out);

  /// A local delete: the tombstone to store and spread; nullopt if the key
  /// is absent or deleted already.
  std::optional<state_entry> erase(const std::string& key);

  /// A write from elsewhere (gossip, anti-entropy, a restore). Nothing is
  /// changed unless the result is `applied`.
  apply_result apply(const state_entry& e);

  /// The live entry of a key (nullptr if absent or deleted).
  const state_entry* get(const std::string& key) const;

  /// The entry of a key, tombstone included.
  const state_entry* find(const std::string& key) const;

  /// Live entries whose key starts with `prefix`, in key order.
  std::vector<state_entry> list(const std::string& prefix = "") const;

  /// Every entry, tombstones included (for persistence and snapshots).
  const std::map<std::string, state_entry>& entries() const { return entries_; }

  size_t live_count() const;

  const bucket_digest& digest() const { return digest_; }

  /// Buckets whose digest differs from `theirs`.
  std::vector<uint32_t> differing(const bucket_digest& theirs) const;

  /// The versions of every key in `buckets`.
  std::vector<key_version> versions(const std::vector<uint32_t>& buckets) const;

  /// Compares our keys in `buckets` with `theirs` (their versions of the
  /// keys in the same buckets).
  comparison compare(const std::vector<uint32_t>& buckets,
                     const std::vector<key_version>& theirs) const;

  /// Removes tombstones older than the grace; their keys.
  std::vector<std::string> collect_tombstones();

  hlc& clock() { return hlc_; }
  const map_params& params() const { return params_; }

private:
  void store(state_entry e);
  static uint64_t entry_hash(const state_entry& e);

  map_params params_;
  const clock_source* clock_;
  hlc hlc_;
  std::map<std::string, state_entry> entries_;
  bucket_digest digest_{};
};

} // namespace faultd::replica
