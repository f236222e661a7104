// faultctl: the command-line client of a faultd node. See `faultctl help`.
//
// It speaks the control protocol (src/control/frame.hpp) to the node's
// control endpoint; no CAF in here.

#include <cstdio>
#include <iostream>
#include <random>
#include <thread>

#include "args.hpp"
#include "control/client.hpp"

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
  auto target = opts->node.to_string();
  if (!opts->token_file.empty())
    if (auto st = faultd::read_token_file(opts->token_file, opts->req.token); !st.ok())
      return fail(2, st.message());
  std::mt19937_64 ids{std::random_device{}()};
  int rc = 0;
  for (;;) {
    opts->req.request_id = ids() | 1u;
    std::string reply_bytes;
    auto st = faultd::control::call(opts->node, faultd::control::encode_request(opts->req),
                                    opts->timeout, reply_bytes);
    if (!st.ok())
      return fail(1, st.message());
    faultd::control::reply rep;
    if (auto d = faultd::control::decode_reply(reply_bytes, rep); !d.ok())
      return fail(1, "node " + target + " sent a bad reply: " + d.message());
    if (rep.request_id != opts->req.request_id)
      return fail(1, "node " + target + " answered another request (id "
                       + std::to_string(rep.request_id) + ")");
    if (!rep.ok)
      return fail(1, rep.error);
    std::cout << (opts->json ? rep.json + "\n" : rep.text) << std::flush;
    if (!opts->follow)
      return rc;
    // logs -f: ask for what was appended since, twice a second.
    if (rep.next_offset < 0)
      return rc;
    opts->req.offset = rep.next_offset;
    std::this_thread::sleep_for(std::chrono::milliseconds(500));
  }
}
