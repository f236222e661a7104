#include "alerting/outbox.hpp"

#include <algorithm>

namespace faultd::alerting {

outbox::outbox(outbox_params params, recovery::random_source random)
  : params_(params), random_(random ? std::move(random) : recovery::default_random_source()) {
  params_.capacity = std::max<size_t>(params_.capacity, 1);
}

std::optional<delivery> outbox::push(std::string to, std::string body, std::string what,
                                     timestamp now) {
  std::optional<delivery> out;
  if (queue_.size() >= params_.capacity) {
    // The oldest one waiting goes (never the one in flight).
    auto victim = queue_.begin() + (in_flight_ ? 1 : 0);
    if (victim != queue_.end()) {
      out = std::move(*victim);
      queue_.erase(victim);
      ++dropped_;
    }
  }
  delivery d;
  d.to = std::move(to);
  d.body = std::move(body);
  d.what = std::move(what);
  d.queued_at = now;
  d.due = now;
  queue_.push_back(std::move(d));
  if (queue_.size() > params_.capacity) {  // capacity 1 with one in flight
    out = std::move(queue_.back());
    queue_.pop_back();
    ++dropped_;
  }
  return out;
}

const delivery* outbox::take(timestamp now) {
  if (in_flight_ || queue_.empty() || queue_.front().due > now)
    return nullptr;
  in_flight_ = true;
  auto& d = queue_.front();
  ++d.attempts;
  return &d;
}

outbox::outcome outbox::succeeded() {
  outcome o;
  if (!in_flight_)
    return o;
  in_flight_ = false;
  queue_.pop_front();
  ++sent_;
  failed_in_a_row_ = 0;
  if (down_) {
    down_ = false;
    o.came_up = true;
  }
  return o;
}

outbox::outcome outbox::failed(timestamp now, const std::string& error) {
  outcome o;
  if (!in_flight_)
    return o;
  in_flight_ = false;
  ++failures_;
  last_error_ = error;
  auto& d = queue_.front();
  d.last_error = error;
  if (++failed_in_a_row_ >= params_.down_after && !down_) {
    down_ = true;
    o.went_down = true;
  }
  if (d.attempts > params_.retries) {
    o.given_up = std::move(d);
    queue_.pop_front();
    ++dropped_;
    return o;
  }
  auto wait = std::min(recovery::exponential_delay(params_.backoff_initial, d.attempts),
                       params_.backoff_max);
  d.due = now + recovery::apply_jitter(wait, 0.2, random_());
  return o;
}

std::optional<timestamp> outbox::next_due() const {
  if (in_flight_ || queue_.empty())
    return std::nullopt;
  return queue_.front().due;
}

} // namespace faultd::alerting
