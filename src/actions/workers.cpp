#include "actions/workers.hpp"

#include <exception>
#include <thread>

namespace faultd::actions {

namespace {

bool same_key(const worker_key& a, const worker_key& b) {
  return a.execution_id == b.execution_id && a.rollback == b.rollback && a.index == b.index;
}

} // namespace

uint64_t action_workers::start(const worker_key& key, clock::time_point deadline, uint64_t owner,
                               deliver_fn deliver, work_fn work) {
  uint64_t ticket = 0;
  {
    std::lock_guard<std::mutex> guard{mtx_};
    ticket = next_ticket_++;
    entries_.emplace(ticket, entry{key, deadline, owner, std::move(deliver), std::nullopt});
    ++running_;
  }
  try {
    std::thread{[self = shared_from_this(), ticket, work = std::move(work)]() mutable {
      worker_outcome out;
      try {
        out = work();
      } catch (const std::exception& e) {
        out = worker_outcome{};
        out.error = std::string{"executor threw: "} + e.what();
      } catch (...) {
        out = worker_outcome{};
        out.error = "executor threw a non-standard exception";
      }
      // What the call holds (it may be the last owner of the node's
      // objects) goes before the worker counts as ended: whoever waits for
      // idle may tear the process down.
      work = nullptr;
      self->finished(ticket, std::move(out));
    }}.detach();
  } catch (const std::exception& e) { // no thread to be had: a failed attempt
    worker_outcome out;
    out.error = std::string{"cannot start a worker thread: "} + e.what();
    finished(ticket, std::move(out));
  }
  return ticket;
}

void action_workers::finished(uint64_t ticket, worker_outcome out) {
  std::lock_guard<std::mutex> guard{mtx_};
  --running_;
  idle_.notify_all();
  auto i = entries_.find(ticket);
  if (i == entries_.end())
    return; // released: nobody waits for it any more
  if (i->second.deliver)
    i->second.deliver(ticket, out);
  i->second.outcome = std::move(out);
}

std::optional<action_workers::attached>
action_workers::attach(const worker_key& key, uint64_t owner, deliver_fn deliver) {
  std::lock_guard<std::mutex> guard{mtx_};
  for (auto& [ticket, e] : entries_) {
    if (!same_key(e.key, key))
      continue;
    e.owner = owner;
    e.deliver = std::move(deliver);
    if (e.outcome && e.deliver)
      e.deliver(ticket, *e.outcome);
    return attached{ticket, e.deadline};
  }
  return std::nullopt;
}

bool action_workers::pending(const worker_key& key) const {
  std::lock_guard<std::mutex> guard{mtx_};
  for (auto& [ticket, e] : entries_)
    if (same_key(e.key, key))
      return true;
  return false;
}

void action_workers::release(uint64_t ticket, uint64_t owner) {
  std::lock_guard<std::mutex> guard{mtx_};
  auto i = entries_.find(ticket);
  if (i != entries_.end() && i->second.owner == owner)
    entries_.erase(i);
}

void action_workers::detach(uint64_t owner) {
  std::lock_guard<std::mutex> guard{mtx_};
  for (auto& [ticket, e] : entries_)
    if (e.owner == owner) {
      e.owner = 0;
      e.deliver = nullptr;
    }
}

size_t action_workers::running() const {
  std::lock_guard<std::mutex> guard{mtx_};
  return running_;
}

bool action_workers::wait_idle(clock::time_point until) const {
  std::unique_lock<std::mutex> guard{mtx_};
  return idle_.wait_until(guard, until, [this] { return running_ == 0; });
}

action_workers::work_fn executor_call(std::shared_ptr<action_executor> ex, recovery_action a,
                                      action_context ctx, bool rollback,
                                      std::string rollback_data) {
  return [ex = std::move(ex), a = std::move(a), ctx = std::move(ctx), rollback,
          data = std::move(rollback_data)] {
    worker_outcome out;
    if (!ex) {
      out.error = "no executor registered for " + std::string{action_name(a)};
      return out;
    }
    if (rollback) {
      auto st = ex->rollback(a, ctx, data);
      out.ok = st.ok();
      out.error = st.ok() ? "" : st.message();
      return out;
    }
    auto res = ex->execute(a, ctx);
    out.ok = res.st.ok();
    out.error = res.st.ok() ? "" : res.st.message();
    out.rollback_data = std::move(res.rollback_data);
    out.note = std::move(res.note);
    return out;
  };
}

} // namespace faultd::actions
