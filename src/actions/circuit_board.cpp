#include "actions/circuit_board.hpp"

#include <cerrno>
#include <cstdlib>

#include "faultd/log.hpp"

namespace faultd::actions {

namespace {

bool same_limits(const recovery::circuit_breaker_config& a,
                 const recovery::circuit_breaker_config& b) {
  return a.failure_rate_threshold == b.failure_rate_threshold
         && a.minimum_calls == b.minimum_calls && a.window == b.window
         && a.window_size == b.window_size && a.window_duration == b.window_duration
         && a.open_wait == b.open_wait && a.half_open_probes == b.half_open_probes
         && a.probes_to_close == b.probes_to_close
         && a.half_open_on_success == b.half_open_on_success;
}

std::optional<uint32_t> parse_count(const std::string& s) {
  if (s.empty() || s.size() > 9 || s.find_first_not_of("0123456789") != std::string::npos)
    return std::nullopt;
  auto v = std::strtoul(s.c_str(), nullptr, 10);
  if (v < 1)
    return std::nullopt;
  return static_cast<uint32_t>(v);
}

std::optional<double> parse_fraction(const std::string& s) {
  if (s.empty())
    return std::nullopt;
  errno = 0;
  char* end = nullptr;
  double v = std::strtod(s.c_str(), &end);
  if (errno != 0 || end == nullptr || *end != '\0' || !(v > 0.0) || v > 1.0)
    return std::nullopt;
  return v;
}

} // namespace

std::string circuit_key(const std::string& target) {
  return "circuit/" + target;
}

std::optional<recovery::circuit_breaker_config>
parse_circuit_parameters(const std::map<std::string, std::string>& params,
                         const recovery::circuit_breaker_config& base, status& error,
                         bool* found) {
  auto cfg = base;
  bool any = false;
  auto lookup = [&](const char* name, const char* alias, std::string& key) -> const std::string* {
    for (const char* k : {name, alias}) {
      if (k == nullptr)
        continue;
      if (auto i = params.find(k); i != params.end()) {
        key = k;
        any = true;
        return &i->second;
      }
    }
    return nullptr;
  };
  auto bad = [&](const std::string& key, const std::string& value, const char* want) {
    error = status{errc::bad_request,
                   "bad circuit_breaker parameter " + key + "=\"" + value + "\": expected " + want};
    return std::nullopt;
  };
  std::string key;
  if (const auto* v = lookup("failure_rate_threshold", "failure_rate", key)) {
    auto x = parse_fraction(*v);
    if (!x)
      return bad(key, *v, "a fraction in (0, 1]");
    cfg.failure_rate_threshold = *x;
  }
  struct count_param {
    const char* name;
    uint32_t recovery::circuit_breaker_config::*field;
  };
  for (auto p : {count_param{"minimum_calls", &recovery::circuit_breaker_config::minimum_calls},
                 count_param{"window_size", &recovery::circuit_breaker_config::window_size},
                 count_param{"half_open_probes", &recovery::circuit_breaker_config::half_open_probes},
                 count_param{"probes_to_close", &recovery::circuit_breaker_config::probes_to_close}}) {
    if (const auto* v = lookup(p.name, nullptr, key)) {
      auto x = parse_count(*v);
      if (!x)
        return bad(key, *v, "an integer >= 1");
      cfg.*(p.field) = *x;
    }
  }
  if (const auto* v = lookup("open_wait", "open_for", key)) {
    auto d = parse_duration(*v);
    if (!d || d->count() <= 0)
      return bad(key, *v, "a positive duration such as 30s or 500ms");
    cfg.open_wait = *d;
  }
  if (const auto* v = lookup("half_open_on_success", nullptr, key)) {
    if (*v != "true" && *v != "false")
      return bad(key, *v, "true or false");
    cfg.half_open_on_success = *v == "true";
  }
  if (found != nullptr)
    *found = any;
  error = status::ok_status();
  return cfg;
}

std::string circuit_hold_key(const std::string& target) {
  return "circuit-hold/" + target;
}

circuit_board::circuit_board(state::registry* reg, const clock_source& clock,
                             recovery::circuit_breaker_config defaults)
  : reg_(reg), clock_(clock), defaults_(defaults) {
  if (reg_ == nullptr)
    return;
  // What the previous faultd left: a breaker that was open (or probing)
  // is open again, as of now; a hold stays a hold.
  const std::string prefix = circuit_key("");
  for (auto& [key, value] : reg_->list(prefix)) {
    auto target = key.substr(prefix.size());
    if (value != "open" && value != "half_open")
      continue;
    bool hold = reg_->get(circuit_hold_key(target)).value_or("") == "true";
    auto b = make(target, defaults_);
    breakers_.emplace(target, entry{defaults_, b});
    b->force_open(hold);
    log::get("actions")->info("circuit-restored target={} state=open hold={}", target, hold);
  }
  writer_ = std::make_unique<state::registry_writer>(*reg_);
  // A half_open left on disk reads open now, like faultctl says.
  for (auto& [target, e] : breakers_)
    mirror(target, recovery::circuit_state::open, e.breaker->stats().held_open);
}

circuit_board::~circuit_board() = default;

void circuit_board::flush() {
  if (writer_)
    writer_->flush();
}

namespace {
/// Set while follow() changes a breaker on this thread: its transitions are
/// not mirrored (they came from the registry).
thread_local bool following = false;
} // namespace

std::shared_ptr<recovery::circuit_breaker>
circuit_board::make(const std::string& target, const recovery::circuit_breaker_config& cfg) {
  auto b = std::make_shared<recovery::circuit_breaker>(target, cfg, clock_);
  std::weak_ptr<recovery::circuit_breaker> weak = b;
  b->set_listener([this, target, weak](recovery::circuit_state, recovery::circuit_state to) {
    // A breaker replaced by configure() no longer speaks for the target.
    auto self = weak.lock();
    {
      std::lock_guard<std::mutex> guard{mtx_};
      auto i = breakers_.find(target);
      if (!self || i == breakers_.end() || i->second.breaker != self)
        return;
    }
    mirror(target, to, self->stats().held_open);
  });
  return b;
}

std::shared_ptr<recovery::circuit_breaker> circuit_board::get(const std::string& target) {
  std::lock_guard<std::mutex> guard{mtx_};
  auto i = breakers_.find(target);
  if (i != breakers_.end())
    return i->second.breaker;
  auto b = make(target, defaults_);
  breakers_.emplace(target, entry{defaults_, b});
  return b;
}

void circuit_board::mirror(const std::string& target, recovery::circuit_state to, bool held) {
  if (!writer_ || following)
    return;
  // Queued in order under one lock, so the disk ends up as the last
  // transition left the breaker.
  std::lock_guard<std::mutex> guard{mirror_mtx_};
  writer_->put(circuit_key(target), std::string{recovery::to_string(to)});
  if (held)
    writer_->put(circuit_hold_key(target), "true");
  else
    writer_->erase(circuit_hold_key(target));
}

void circuit_board::configure(const std::string& target,
                              const recovery::circuit_breaker_config& cfg) {
  std::shared_ptr<recovery::circuit_breaker> old;
  std::shared_ptr<recovery::circuit_breaker> fresh;
  {
    std::lock_guard<std::mutex> guard{mtx_};
    auto i = breakers_.find(target);
    if (i != breakers_.end() && same_limits(i->second.cfg, cfg))
      return;
    fresh = make(target, cfg);
    if (i != breakers_.end()) {
      old = i->second.breaker;
      i->second = entry{cfg, fresh};
    } else {
      breakers_.emplace(target, entry{cfg, fresh});
    }
  }
  if (!old)
    return;
  auto was = old->stats();
  if (was.state != recovery::circuit_state::closed) {
    fresh->force_open(was.held_open);
    mirror(target, fresh->state(), was.held_open);
  }
}

void circuit_board::force_open(const std::string& target, bool hold) {
  auto b = get(target);
  b->force_open(hold);
  // force_open on an open breaker is no transition; mirror anyway so the
  // registry cannot lag behind an explicit command (or a new hold).
  mirror(target, b->state(), hold);
}

void circuit_board::follow(const std::string& target, bool open, bool hold) {
  auto b = get(target);
  following = true;
  if (open)
    b->force_open(hold);
  else
    b->force_close();
  following = false;
}

void circuit_board::force_close(const std::string& target) {
  auto b = get(target);
  b->force_close();
  mirror(target, b->state(), false);
}

void circuit_board::reset(const std::string& target) {
  {
    std::lock_guard<std::mutex> guard{mtx_};
    auto b = make(target, defaults_);
    breakers_[target] = entry{defaults_, b};
  }
  mirror(target, recovery::circuit_state::closed, false);
}

std::string circuit_board::state(const std::string& target) {
  std::shared_ptr<recovery::circuit_breaker> b;
  {
    std::lock_guard<std::mutex> guard{mtx_};
    auto i = breakers_.find(target);
    if (i == breakers_.end())
      return "closed";
    b = i->second.breaker;
  }
  return std::string{recovery::to_string(b->state())};
}

void circuit_board::record(const std::string& target, bool ok) {
  auto b = get(target);
  b->state(); // lets an expired open wait turn half_open first
  if (ok)
    b->on_success();
  else
    b->on_failure();
}

bool circuit_board::allow(const std::string& target) {
  return get(target)->try_acquire();
}

std::map<std::string, std::string> circuit_board::states() {
  std::map<std::string, std::shared_ptr<recovery::circuit_breaker>> copy;
  {
    std::lock_guard<std::mutex> guard{mtx_};
    for (auto& [name, e] : breakers_)
      copy.emplace(name, e.breaker);
  }
  std::map<std::string, std::string> out;
  for (auto& [name, b] : copy)
    out.emplace(name, std::string{recovery::to_string(b->state())});
  return out;
}

} // namespace faultd::actions
