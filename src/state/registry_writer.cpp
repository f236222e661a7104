#include "state/registry_writer.hpp"

#include "faultd/log.hpp"

namespace faultd::state {

registry_writer::registry_writer(registry& reg) : reg_(reg) {
  thread_ = std::thread{[this] { loop(); }};
}

registry_writer::~registry_writer() {
  {
    std::lock_guard<std::mutex> guard{mtx_};
    stopping_ = true;
  }
  wake_.notify_all();
  thread_.join();
}

void registry_writer::put(const std::string& key, const std::string& value) {
  queue(key, value);
}

void registry_writer::erase(const std::string& key) {
  queue(key, std::nullopt);
}

void registry_writer::queue(const std::string& key, std::optional<std::string> value) {
  {
    std::lock_guard<std::mutex> guard{mtx_};
    auto [it, fresh] = next_.insert_or_assign(key, std::move(value));
    (void) it;
    if (fresh)
      order_.push_back(key);
    ++queued_;
  }
  wake_.notify_all();
}

void registry_writer::flush() {
  std::unique_lock<std::mutex> guard{mtx_};
  auto target = queued_;
  done_.wait(guard, [&] { return applied_ >= target; });
}

uint64_t registry_writer::failures() const {
  std::lock_guard<std::mutex> guard{mtx_};
  return failures_;
}

void registry_writer::loop() {
  std::unique_lock<std::mutex> guard{mtx_};
  for (;;) {
    wake_.wait(guard, [&] { return stopping_ || !order_.empty(); });
    if (order_.empty())
      return; // stopping, and everything is written
    auto key = std::move(order_.front());
    order_.pop_front();
    auto value = std::move(next_[key]);
    next_.erase(key);
    // Every write queued up to now for this key is covered by this one.
    auto covered = queued_;
    guard.unlock();
    auto st = value ? reg_.put(key, *value) : reg_.erase(key);
    if (!st.ok())
      log::get("state")->error("registry-write-failed key={} error=\"{}\"", key, st.to_string());
    guard.lock();
    if (!st.ok())
      ++failures_;
    if (order_.empty())
      applied_ = covered > applied_ ? covered : applied_;
    done_.notify_all();
  }
}

} // namespace faultd::state
