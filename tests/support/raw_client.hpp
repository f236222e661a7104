#pragma once

// Hostile-client helpers for endpoint tests: a raw stream connection that
// sends whatever bytes it is given, random bytes, and a process's RSS.

#include <random>
#include <string>

namespace faultd::test {

/// A raw client connection (a Unix path, or 127.0.0.1:port when the path is
/// empty); fd is -1 if the connect failed.
struct raw_client {
  int fd = -1;
  raw_client(const std::string& unix_path, uint16_t port);
  raw_client(const raw_client&) = delete;
  raw_client& operator=(const raw_client&) = delete;
  ~raw_client();
  /// Sends without blocking (what does not fit is dropped).
  void send(const std::string& bytes);
};

/// A process's resident set in kB (from /proc), -1 if unknown.
long rss_kb(int pid);

std::string random_bytes(std::mt19937& rng, size_t n);

} // namespace faultd::test
