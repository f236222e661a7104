#include <caf/all.hpp>

#include "actors/state_sync/state_sync_actor.hpp"
#include "actors/type_ids.hpp"

namespace faultd {

namespace {

using deadline = actions::state_access::deadline;

template <class... Ts>
status ask(caf::actor_system& sys, const actor_directory& dir, deadline until,
           replica::state_result& out, Ts... xs) {
  auto who = dir.get("state_sync");
  if (!who)
    return {errc::unavailable, "state_sync is not running"};
  auto left = until - std::chrono::steady_clock::now();
  if (left <= std::chrono::steady_clock::duration::zero())
    return {errc::timeout, "no time left to ask state_sync"};
  caf::scoped_actor self{sys};
  status st;
  self
    ->request(who, std::chrono::duration_cast<std::chrono::milliseconds>(left)
                     + std::chrono::milliseconds(1),
              xs...)
    .receive(
      [&](replica::state_result& r) {
        out = std::move(r);
        st = out.st;
      },
      [&](caf::error& err) {
        st = {err == caf::sec::request_timeout ? errc::timeout : errc::unavailable,
              "state_sync did not answer: " + sys.render(err)};
      });
  return st;
}

} // namespace

actions::state_access make_state_access(caf::actor_system& sys,
                                        std::shared_ptr<actor_directory> dir) {
  actions::state_access a;
  auto* s = &sys;
  a.sync = [s, dir](deadline until, uint64_t& peers) {
    replica::state_result r;
    auto st = ask(*s, *dir, until, r, ssync_atom::value);
    peers = r.count;
    return st;
  };
  a.snapshot = [s, dir](deadline until, std::string& id) {
    replica::state_result r;
    auto st = ask(*s, *dir, until, r, ssnap_atom::value);
    if (st.ok() && !r.snapshots.empty())
      id = r.snapshots.front().id;
    return st;
  };
  a.latest = [s, dir](deadline until, std::string& id) {
    replica::state_result r;
    auto st = ask(*s, *dir, until, r, ssnaps_atom::value);
    if (st.ok() && r.snapshots.empty())
      st = {errc::not_found, "no snapshot on this node (faultctl state snapshot)"};
    if (st.ok())
      id = r.snapshots.front().id;
    return st;
  };
  a.restore = [s, dir](const std::string& id, const std::string& prefix, deadline until,
                       std::string& note) {
    replica::state_result r;
    auto st = ask(*s, *dir, until, r, srestore_atom::value, id, prefix);
    if (st.ok())
      note = "restored " + (r.snapshots.empty() ? id : r.snapshots.front().id) + ": "
             + std::to_string(r.count) + " keys written, " + std::to_string(r.deleted)
             + " deleted";
    return st;
  };
  return a;
}

} // namespace faultd
