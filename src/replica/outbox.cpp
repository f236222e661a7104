#include "replica/outbox.hpp"

#include <algorithm>

namespace faultd::replica {

size_t encoded_size(const state_entry& e) {
  // Each field's bytes plus its tag and length (≤ 6 bytes), the varints at
  // their widest, and the entry's own tag and length.
  return e.key.size() + e.value.size() + e.origin_node.size() + e.checksum.size() + 4 * 6
         + 11 /* version */ + 2 /* tombstone */ + 11 /* updated_at */ + 6;
}

std::vector<std::vector<state_entry>> chunk(std::vector<state_entry> entries, size_t max_bytes) {
  std::vector<std::vector<state_entry>> out;
  size_t budget = max_bytes > message_overhead ? max_bytes - message_overhead : 1;
  size_t used = 0;
  for (auto& e : entries) {
    auto size = encoded_size(e);
    if (out.empty() || (used + size > budget && !out.back().empty())) {
      out.emplace_back();
      used = 0;
    }
    used += size;
    out.back().push_back(std::move(e));
  }
  return out;
}

void send_window::push(std::vector<state_entry> entries, bool rumor) {
  if (entries.empty())
    return;
  if (queue_.size() >= p_.max_queued) {
    queue_.pop_front();
    ++dropped_;
  }
  queue_.push_back(waiting{std::move(entries), rumor});
}

std::vector<send_window::outgoing> send_window::due(time_point now) {
  // Chunks sent once and retried `retries` times without an ack are given up.
  auto given_up = [&](const flying& f) {
    return now - f.sent_at >= p_.timeout && f.attempts > p_.retries;
  };
  auto before = flight_.size();
  flight_.erase(std::remove_if(flight_.begin(), flight_.end(), given_up), flight_.end());
  dropped_ += before - flight_.size();
  std::vector<outgoing> out;
  for (auto& f : flight_)
    if (now - f.sent_at >= p_.timeout) {
      f.sent_at = now;
      ++f.attempts;
      out.push_back(outgoing{f.seq, &f.entries, true, f.rumor});
    }
  // deque::push_back keeps references to the elements already listed.
  while (flight_.size() < p_.window && !queue_.empty()) {
    auto& w = queue_.front();
    flight_.push_back(flying{next_seq_++, std::move(w.entries), w.rumor, now, 1});
    queue_.pop_front();
    auto& f = flight_.back();
    out.push_back(outgoing{f.seq, &f.entries, false, f.rumor});
  }
  return out;
}

void send_window::ack(uint64_t seq) {
  flight_.erase(std::remove_if(flight_.begin(), flight_.end(),
                               [&](const flying& f) { return f.seq == seq; }),
                flight_.end());
}

void send_window::clear() {
  queue_.clear();
  flight_.clear();
}

} // namespace faultd::replica
