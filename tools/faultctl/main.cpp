// faultctl: the command-line client of a faultd node. See `faultctl help`.

#include <cstdio>
#include <iostream>

#include <caf/all.hpp>
#include <caf/io/all.hpp>

#include "actors/type_ids.hpp"
#include "args.hpp"

namespace {

int fail(int code, const std::string& msg) {
  std::fprintf(stderr, "faultctl: %s\n", msg.c_str());
  return code;
}

} // namespace

int main(int argc, char** argv) {
  std::vector<std::string> args(argv + 1, argv + argc);
  std::string error;
  auto opts = faultctl::parse_args(args, error);
  if (!opts)
    return fail(2, error);
  if (opts->help) {
    std::fputs(faultctl::usage(), stdout);
    return 0;
  }
  caf::actor_system_config cfg;
  cfg.set("scheduler.max-threads", 1);
  cfg.load<caf::io::middleman>();
  caf::actor_system sys{cfg};
  auto target = opts->host + ":" + std::to_string(opts->port);
  auto node = sys.middleman().remote_actor(opts->host, opts->port);
  if (!node)
    return fail(1, "node " + target + " unreachable: " + sys.render(node.error()));
  auto bytes = faultd::control::encode_request(opts->req);
  caf::scoped_actor self{sys};
  int rc = 1;
  self->request(*node, opts->timeout, faultd::ctl_atom::value, std::move(bytes))
    .receive(
      [&](const std::string& reply_bytes) {
        faultd::control::reply rep;
        auto st = faultd::control::decode_reply(reply_bytes, rep);
        if (!st.ok()) {
          rc = fail(1, "node " + target + " sent a bad reply: " + st.message());
          return;
        }
        if (!rep.ok) {
          rc = fail(1, rep.error);
          return;
        }
        std::cout << (opts->json ? rep.json + "\n" : rep.text);
        rc = 0;
      },
      [&](const caf::error& err) {
        rc = fail(1, "request to " + target + " failed: " + sys.render(err));
      });
  return rc;
}
