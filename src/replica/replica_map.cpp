#include "replica/replica_map.hpp"

#include <algorithm>
#include <set>

#include "faultd/util.hpp"
#include "state/registry.hpp"

namespace faultd::replica {

namespace {

/// FNV-1a, 64 bit: stable across platforms and faultd versions (digests
/// travel between nodes).
uint64_t fnv1a(uint64_t h, std::string_view bytes) {
  for (unsigned char c : bytes) {
    h ^= c;
    h *= 1099511628211ull;
  }
  return h;
}

constexpr uint64_t fnv_basis = 14695981039346656037ull;

const std::string& empty_checksum() {
  static const std::string sum = sha256_hex("");
  return sum;
}

} // namespace

bool newer(uint64_t version_a, const std::string& node_a, uint64_t version_b,
           const std::string& node_b) {
  if (version_a != version_b)
    return version_a > version_b;
  return node_a > node_b;
}

uint32_t bucket_of(const std::string& key) {
  return static_cast<uint32_t>(fnv1a(fnv_basis, key) % bucket_count);
}

std::string_view to_string(apply_result r) {
  switch (r) {
    case apply_result::applied: return "applied";
    case apply_result::stale: return "stale";
    case apply_result::bad_checksum: return "bad_checksum";
    case apply_result::bad_entry: return "bad_entry";
    case apply_result::too_far_ahead: return "too_far_ahead";
  }
  return "unknown";
}

replica_map::replica_map(map_params params, const clock_source& clock)
    : params_(std::move(params)), clock_(&clock), hlc_(clock) {}

uint64_t replica_map::entry_hash(const state_entry& e) {
  auto h = fnv1a(fnv_basis, e.key);
  h = fnv1a(h, std::string_view{"\0", 1});
  char v[8];
  for (int i = 0; i < 8; ++i)
    v[i] = static_cast<char>((e.version >> (8 * i)) & 0xff);
  h = fnv1a(h, std::string_view{v, 8});
  h = fnv1a(h, e.origin_node);
  h = fnv1a(h, e.tombstone ? std::string_view{"\1", 1} : std::string_view{"\0", 1});
  return h;
}

void replica_map::store(state_entry e) {
  auto b = bucket_of(e.key);
  auto it = entries_.find(e.key);
  if (it != entries_.end()) {
    digest_[b] -= entry_hash(it->second);
    it->second = std::move(e);
    digest_[b] += entry_hash(it->second);
  } else {
    digest_[b] += entry_hash(e);
    auto key = e.key;
    entries_.emplace(std::move(key), std::move(e));
  }
}

status replica_map::put(const std::string& key, std::string value, state_entry& out) {
  if (!state::registry::valid_key(key))
    return {errc::bad_request, "invalid key \"" + key + "\" (segments of [A-Za-z0-9_.:-] "
                               "separated by '/')"};
  if (value.size() > params_.max_value_size)
    return {errc::bad_request, "value of " + std::to_string(value.size()) + " bytes for " + key
                                 + " is larger than " + std::to_string(params_.max_value_size)};
  state_entry e;
  e.key = key;
  e.checksum = sha256_hex(value);
  e.value = std::move(value);
  e.version = hlc_.next();
  e.origin_node = params_.self;
  e.updated_at = clock_->now();
  store(e);
  out = std::move(e);
  return {};
}

std::optional<state_entry> replica_map::erase(const std::string& key) {
  auto it = entries_.find(key);
  if (it == entries_.end() || it->second.tombstone)
    return std::nullopt;
  state_entry e;
  e.key = key;
  e.tombstone = true;
  e.checksum = empty_checksum();
  e.version = hlc_.next();
  e.origin_node = params_.self;
  e.updated_at = clock_->now();
  store(e);
  return e;
}

apply_result replica_map::apply(const state_entry& e) {
  if (!state::registry::valid_key(e.key) || e.origin_node.empty()
      || (e.tombstone && !e.value.empty()))
    return apply_result::bad_entry;
  if (sha256_hex(e.value) != e.checksum)
    return apply_result::bad_checksum;
  auto skew_ms = std::chrono::duration_cast<std::chrono::milliseconds>(params_.max_clock_skew);
  // Ahead of both our wall clock and every version we already took: a
  // version close to one we accepted is not suspicious, only a jump is.
  auto horizon = std::max(hlc_.wall_ms(), hlc::ms_of(hlc_.last()));
  if (hlc::ms_of(e.version) > horizon + skew_ms.count())
    return apply_result::too_far_ahead;
  hlc_.observe(e.version);
  if (auto* mine = find(e.key);
      mine != nullptr && !newer(e.version, e.origin_node, mine->version, mine->origin_node))
    return apply_result::stale;
  auto copy = e;
  copy.updated_at = clock_->now();
  store(std::move(copy));
  return apply_result::applied;
}

const state_entry* replica_map::find(const std::string& key) const {
  auto it = entries_.find(key);
  return it == entries_.end() ? nullptr : &it->second;
}

const state_entry* replica_map::get(const std::string& key) const {
  auto* e = find(key);
  return e != nullptr && !e->tombstone ? e : nullptr;
}

std::vector<state_entry> replica_map::list(const std::string& prefix) const {
  std::vector<state_entry> out;
  for (auto it = entries_.lower_bound(prefix);
       it != entries_.end() && it->first.compare(0, prefix.size(), prefix) == 0; ++it)
    if (!it->second.tombstone)
      out.push_back(it->second);
  return out;
}

size_t replica_map::live_count() const {
  return static_cast<size_t>(std::count_if(entries_.begin(), entries_.end(),
                                           [](const auto& kv) { return !kv.second.tombstone; }));
}

std::vector<uint32_t> replica_map::differing(const bucket_digest& theirs) const {
  std::vector<uint32_t> out;
  for (uint32_t b = 0; b < bucket_count; ++b)
    if (digest_[b] != theirs[b])
      out.push_back(b);
  return out;
}

std::vector<key_version> replica_map::versions(const std::vector<uint32_t>& buckets) const {
  std::set<uint32_t> wanted(buckets.begin(), buckets.end());
  std::vector<key_version> out;
  for (auto& [key, e] : entries_)
    if (wanted.count(bucket_of(key)) != 0)
      out.push_back(key_version{key, e.version, e.origin_node, e.tombstone});
  return out;
}

comparison replica_map::compare(const std::vector<uint32_t>& buckets,
                                const std::vector<key_version>& theirs) const {
  comparison c;
  std::set<uint32_t> in(buckets.begin(), buckets.end());
  std::map<std::string, const key_version*> other;
  for (auto& kv : theirs)
    if (in.count(bucket_of(kv.key)) != 0) // only what they may speak for
      other.emplace(kv.key, &kv);
  for (auto& [key, e] : entries_) {
    if (in.count(bucket_of(key)) == 0)
      continue;
    auto it = other.find(key);
    if (it == other.end()) {
      ++c.missing;
      c.send.push_back(key_version{key, e.version, e.origin_node, e.tombstone});
      continue;
    }
    const auto& t = *it->second;
    if (t.version == e.version && t.origin == e.origin_node) {
      ++c.agree;
    } else {
      ++c.differ;
      if (newer(e.version, e.origin_node, t.version, t.origin))
        c.send.push_back(key_version{key, e.version, e.origin_node, e.tombstone});
      else
        c.want.push_back(key);
    }
    other.erase(it);
  }
  for (auto& [key, kv] : other) {
    ++c.missing;
    c.want.push_back(key);
  }
  return c;
}

std::vector<std::string> replica_map::collect_tombstones() {
  auto grace_ms = std::chrono::duration_cast<std::chrono::milliseconds>(params_.tombstone_grace);
  auto cutoff = hlc_.wall_ms() - grace_ms.count();
  std::vector<std::string> n;
  for (auto it = entries_.begin(); it != entries_.end();) {
    if (it->second.tombstone && hlc::ms_of(it->second.version) < cutoff) {
      digest_[bucket_of(it->first)] -= entry_hash(it->second);
      n.push_back(it->first);
      it = entries_.erase(it);
    } else {
      ++it;
    }
  }
  return n;
}

} // namespace faultd::replica
