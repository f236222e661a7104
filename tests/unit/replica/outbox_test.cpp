#include <doctest/doctest.h>

#include "replica/outbox.hpp"

using namespace faultd;
using namespace faultd::replica;
using std::chrono::seconds;

namespace {

std::vector<state_entry> entries(int n, size_t value_size) {
  std::vector<state_entry> out;
  for (int i = 0; i < n; ++i) {
    state_entry e;
    e.key = "k" + std::to_string(i);
    e.value = std::string(value_size, 'x');
    e.origin_node = "n1";
    e.checksum = std::string(64, 'c');
    out.push_back(e);
  }
  return out;
}

std::vector<state_entry> one(const std::string& key) {
  state_entry e;
  e.key = key;
  return {e};
}

} // namespace

TEST_CASE("chunks stay under the message size and keep every entry in order") {
  auto all = entries(100, 1000);
  auto chunks = chunk(all, 16 * 1024);
  size_t total = 0;
  for (auto& c : chunks) {
    size_t bytes = message_overhead;
    for (auto& e : c)
      bytes += encoded_size(e);
    CHECK(bytes <= 16 * 1024);
    for (auto& e : c)
      CHECK(e.key == "k" + std::to_string(total++));
  }
  CHECK(total == 100);
  CHECK(chunks.size() >= 100 * 1000 / (16 * 1024));
  // An entry larger than a message travels alone.
  auto big = chunk(entries(3, 20000), 16 * 1024);
  CHECK(big.size() == 3);
  CHECK(chunk({}, 1024).empty());
}

TEST_CASE("the send window keeps at most `window` chunks in flight and resends on timeout") {
  window_params p;
  p.window = 2;
  p.timeout = seconds{5};
  p.retries = 1;
  send_window w{p};
  for (auto k : {"a", "b", "c", "d"})
    w.push(one(k));
  std::chrono::steady_clock::time_point t0{};
  auto first = w.due(t0);
  REQUIRE(first.size() == 2);
  CHECK((*first[0].entries)[0].key == "a");
  CHECK((*first[1].entries)[0].key == "b");
  CHECK(w.due(t0 + seconds{1}).empty()); // the window is full: no flood
  w.ack(first[0].seq);
  auto next = w.due(t0 + seconds{2});
  REQUIRE(next.size() == 1);
  CHECK((*next[0].entries)[0].key == "c");
  CHECK_FALSE(next[0].retry);
  // "b" is not acknowledged: sent again after the timeout, once.
  auto again = w.due(t0 + seconds{5});
  REQUIRE(again.size() == 1);
  CHECK(again[0].retry);
  CHECK(again[0].seq == first[1].seq);
  // Still nothing after its retry: given up, counted, and room for "d".
  w.ack(next[0].seq);
  auto last = w.due(t0 + seconds{10});
  REQUIRE(last.size() == 1);
  CHECK((*last[0].entries)[0].key == "d");
  CHECK(w.dropped() == 1);
  CHECK(w.in_flight() == 1);
}

TEST_CASE("the queue is bounded: the oldest chunk is dropped and counted") {
  window_params p;
  p.window = 1;
  p.max_queued = 3;
  send_window w{p};
  for (auto k : {"a", "b", "c", "d", "e"})
    w.push(one(k));
  CHECK(w.queued() == 3);
  CHECK(w.dropped() == 2);
  auto out = w.due({});
  REQUIRE(out.size() == 1);
  CHECK((*out[0].entries)[0].key == "c");
  w.clear();
  CHECK(w.queued() == 0);
  CHECK(w.in_flight() == 0);
}
