#include <doctest/doctest.h>

#include "faultd/util.hpp"
#include "replica/replica_map.hpp"

using namespace faultd;
using namespace faultd::replica;

namespace {

/// A wall clock the test sets, also backwards (manual_clock only advances).
class settable_clock final : public clock_source {
public:
  timestamp now() const override { return now_; }
  std::chrono::steady_clock::time_point steady_now() const override { return {}; }
  void set_ms(int64_t ms) { now_ = from_unix_nanos(ms * 1'000'000); }

private:
  timestamp now_ = from_unix_nanos(1'700'000'000'000'000'000);
};

map_params node(const std::string& id) {
  map_params p;
  p.self = id;
  return p;
}

state_entry written(replica_map& m, const std::string& key, const std::string& value) {
  state_entry e;
  REQUIRE(m.put(key, value, e).ok());
  return e;
}

/// Runs one anti-entropy exchange from a to b and back, as the actor does.
void exchange(replica_map& a, replica_map& b) {
  auto buckets = a.differing(b.digest());
  auto c = a.compare(buckets, b.versions(buckets));
  for (auto& kv : c.send)
    b.apply(*a.find(kv.key));
  for (auto& key : c.want)
    a.apply(*b.find(key));
}

} // namespace

TEST_CASE("hlc versions never go back, stay above what was observed, and follow the wall clock") {
  settable_clock clock;
  clock.set_ms(1000);
  hlc h{clock};
  auto v1 = h.next();
  CHECK(hlc::ms_of(v1) == 1000);
  auto v2 = h.next(); // same millisecond: the counter
  CHECK(v2 == v1 + 1);
  clock.set_ms(900); // the wall clock stepped back
  auto v3 = h.next();
  CHECK(v3 > v2);
  h.observe(hlc::pack(5000, 7)); // a node ahead of us
  CHECK(h.next() == hlc::pack(5000, 8));
  clock.set_ms(6000);
  CHECK(h.next() == hlc::pack(6000, 0));
}

TEST_CASE("the later version wins, equal versions go to the larger node id, and everyone agrees") {
  CHECK(newer(5, "a", 4, "z"));
  CHECK_FALSE(newer(4, "z", 5, "a"));
  CHECK(newer(5, "b", 5, "a"));
  CHECK_FALSE(newer(5, "a", 5, "a"));

  settable_clock clock;
  replica_map a{node("n1"), clock};
  replica_map b{node("n2"), clock};
  // Both write one key in the same millisecond: n2's write wins on both.
  auto ea = written(a, "svc/primary", "n1");
  auto eb = written(b, "svc/primary", "n2");
  CHECK(ea.version == eb.version);
  CHECK(a.apply(eb) == apply_result::applied);
  CHECK(b.apply(ea) == apply_result::stale);
  CHECK(a.get("svc/primary")->value == "n2");
  CHECK(b.get("svc/primary")->value == "n2");
  CHECK(a.digest() == b.digest());
  // A write after reading the other's is ordered after it, whatever the
  // wall clocks say.
  clock.set_ms(1'699'999'000'000);
  auto later = written(a, "svc/primary", "n1-again");
  CHECK(later.version > eb.version);
  CHECK(b.apply(later) == apply_result::applied);
  CHECK(b.get("svc/primary")->value == "n1-again");
}

TEST_CASE("a received entry is verified: checksum, key, origin, and clock skew") {
  settable_clock clock;
  replica_map a{node("n1"), clock};
  replica_map b{node("n2"), clock};
  auto e = written(a, "k", "value");
  auto bad = e;
  bad.value = "valuf";
  CHECK(b.apply(bad) == apply_result::bad_checksum);
  CHECK(b.find("k") == nullptr);
  auto no_origin = e;
  no_origin.origin_node.clear();
  CHECK(b.apply(no_origin) == apply_result::bad_entry);
  auto bad_key = e;
  bad_key.key = "../etc";
  CHECK(b.apply(bad_key) == apply_result::bad_entry);
  auto ahead = e;
  ahead.version = hlc::pack(hlc::ms_of(e.version) + 61'000, 0);
  CHECK(b.apply(ahead) == apply_result::too_far_ahead);
  CHECK(b.clock().last() < ahead.version); // and it did not drag the clock along
  CHECK(b.apply(e) == apply_result::applied);
  CHECK(b.get("k")->value == "value");
  state_entry out;
  CHECK(a.put("bad key", "x", out).code() == errc::bad_request);
  map_params small = node("n3");
  small.max_value_size = 4;
  replica_map c{small, clock};
  CHECK(c.put("k", "12345", out).code() == errc::bad_request);
}

TEST_CASE("digests find the differing buckets, and an exchange moves only what differs") {
  settable_clock clock;
  replica_map a{node("n1"), clock};
  replica_map b{node("n2"), clock};
  for (int i = 0; i < 1000; ++i) {
    auto e = written(a, "key/" + std::to_string(i), "v" + std::to_string(i));
    b.apply(e);
  }
  CHECK(a.digest() == b.digest());
  CHECK(a.differing(b.digest()).empty());
  // Three changes on a, one key only on b, one deleted on b.
  written(a, "key/1", "new1");
  written(a, "key/500", "new500");
  written(a, "key/999", "new999");
  written(b, "only/b", "b");
  REQUIRE(b.erase("key/7"));
  auto buckets = a.differing(b.digest());
  CHECK(buckets.size() <= 5);
  auto c = a.compare(buckets, b.versions(buckets));
  CHECK(c.send.size() == 3);
  CHECK(c.want.size() == 2); // only/b and key/7's tombstone
  CHECK(c.differ == 4);
  CHECK(c.missing == 1);
  exchange(a, b);
  CHECK(a.digest() == b.digest());
  CHECK(a.get("key/7") == nullptr);
  CHECK(b.get("key/500")->value == "new500");
  CHECK(a.get("only/b")->value == "b");
  CHECK(a.live_count() == 1000); // 1000 - key/7 + only/b
}

TEST_CASE("tombstones are kept for the grace period, then collected") {
  settable_clock clock;
  clock.set_ms(1'000'000);
  map_params p = node("n1");
  p.tombstone_grace = seconds_d(60);
  replica_map a{p, clock};
  written(a, "gone", "x");
  written(a, "kept", "y");
  auto before = a.digest();
  REQUIRE(a.erase("gone"));
  CHECK_FALSE(a.erase("gone")); // deleted already
  CHECK(a.get("gone") == nullptr);
  CHECK(a.find("gone")->tombstone);
  clock.set_ms(1'000'000 + 59'000);
  CHECK(a.collect_tombstones().empty());
  clock.set_ms(1'000'000 + 61'000);
  CHECK(a.collect_tombstones() == std::vector<std::string>{"gone"});
  CHECK(a.find("gone") == nullptr);
  CHECK(a.entries().size() == 1);
  CHECK(a.digest() != before); // the digest dropped it too
  replica_map fresh{node("n2"), clock};
  fresh.apply(*a.find("kept"));
  CHECK(fresh.digest() == a.digest());
}

TEST_CASE("list gives live entries under a prefix in key order") {
  settable_clock clock;
  replica_map a{node("n1"), clock};
  written(a, "svc/b/primary", "1");
  written(a, "svc/a/primary", "2");
  written(a, "svcx", "3");
  written(a, "svc/c", "4");
  a.erase("svc/c");
  auto l = a.list("svc/");
  REQUIRE(l.size() == 2);
  CHECK(l[0].key == "svc/a/primary");
  CHECK(l[1].key == "svc/b/primary");
  CHECK(l[0].checksum == sha256_hex("2"));
  CHECK(l[0].origin_node == "n1");
}
