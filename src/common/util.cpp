#include "faultd/util.hpp"

#include <cctype>
#include <cerrno>
#include <cstring>
#include <fstream>
#include <random>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/evp.h>

namespace faultd {

std::string make_uuid() {
  thread_local std::mt19937_64 gen{std::random_device{}()};
  uint64_t hi = gen();
  uint64_t lo = gen();
  hi = (hi & 0xffffffffffff0fffULL) | 0x0000000000004000ULL; // version 4
  lo = (lo & 0x3fffffffffffffffULL) | 0x8000000000000000ULL; // variant 10
  char buf[37];
  std::snprintf(buf, sizeof(buf), "%08x-%04x-%04x-%04x-%012llx",
                static_cast<unsigned>(hi >> 32), static_cast<unsigned>((hi >> 16) & 0xffff),
                static_cast<unsigned>(hi & 0xffff), static_cast<unsigned>(lo >> 48),
                static_cast<unsigned long long>(lo & 0xffffffffffffULL));
  return buf;
}

namespace {

std::string to_hex(const unsigned char* p, size_t n) {
  static const char* digits = "0123456789abcdef";
  std::string out;
  out.reserve(n * 2);
  for (size_t i = 0; i < n; ++i) {
    out.push_back(digits[p[i] >> 4]);
    out.push_back(digits[p[i] & 0xf]);
  }
  return out;
}

} // namespace

std::string sha256_hex(std::string_view data) {
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  EVP_Digest(data.data(), data.size(), md, &len, EVP_sha256(), nullptr);
  return to_hex(md, len);
}

std::string sha256_file_hex(const std::string& path, std::string& err) {
  std::ifstream in{path, std::ios::binary};
  if (!in) {
    err = "cannot open " + path + ": " + errno_text(errno);
    return {};
  }
  EVP_MD_CTX* ctx = EVP_MD_CTX_new();
  EVP_DigestInit_ex(ctx, EVP_sha256(), nullptr);
  char buf[65536];
  while (in) {
    in.read(buf, sizeof(buf));
    if (in.gcount() > 0)
      EVP_DigestUpdate(ctx, buf, static_cast<size_t>(in.gcount()));
  }
  bool failed = in.bad();
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  EVP_DigestFinal_ex(ctx, md, &len);
  EVP_MD_CTX_free(ctx);
  if (failed) {
    err = "cannot read " + path;
    return {};
  }
  err.clear();
  return to_hex(md, len);
}

std::string errno_text(int err) {
  return std::string{std::strerror(err)} + " (" + std::to_string(err) + ")";
}

std::string make_dirs(const std::string& path) {
  if (path.empty())
    return "empty path";
  std::string cur;
  size_t pos = 0;
  while (pos != std::string::npos) {
    pos = path.find('/', pos + 1);
    cur = path.substr(0, pos);
    if (cur.empty())
      continue;
    if (::mkdir(cur.c_str(), 0755) != 0 && errno != EEXIST)
      return "cannot create directory " + cur + ": " + errno_text(errno);
  }
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0 || !S_ISDIR(st.st_mode))
    return path + " is not a directory";
  return {};
}

bool has_control_chars(std::string_view s) {
  for (unsigned char c : s)
    if (c < 0x20 || c == 0x7f)
      return true;
  return false;
}

bool is_extension_name(std::string_view s) {
  if (s.empty() || s.size() > 64)
    return false;
  for (char c : s)
    if (!std::isalnum(static_cast<unsigned char>(c)) && c != '_' && c != '-')
      return false;
  return true;
}

bool glob_match(std::string_view p, std::string_view t) {
  size_t pi = 0, ti = 0, star = std::string_view::npos, mark = 0;
  while (ti < t.size()) {
    if (pi < p.size() && (p[pi] == '?' || p[pi] == t[ti])) {
      ++pi;
      ++ti;
    } else if (pi < p.size() && p[pi] == '*') {
      star = pi++;
      mark = ti;
    } else if (star != std::string_view::npos) {
      pi = star + 1;
      ti = ++mark;
    } else {
      return false;
    }
  }
  while (pi < p.size() && p[pi] == '*')
    ++pi;
  return pi == p.size();
}

namespace {

bool is_exec_file(const std::string& path, bool& exists) {
  struct stat st;
  if (::stat(path.c_str(), &st) != 0)
    return false;
  exists = true;
  return S_ISREG(st.st_mode) && ::access(path.c_str(), X_OK) == 0;
}

} // namespace

std::string resolve_command(const std::string& argv0, const std::string& path_var) {
  if (argv0.find('/') != std::string::npos || argv0.empty())
    return argv0;
  std::string first, first_existing;
  size_t pos = 0;
  for (;;) {
    size_t end = path_var.find(':', pos);
    std::string dir = path_var.substr(pos, end == std::string::npos ? std::string::npos : end - pos);
    if (dir.empty())
      dir = ".";
    std::string candidate = dir + "/" + argv0;
    if (first.empty())
      first = candidate;
    bool exists = false;
    if (is_exec_file(candidate, exists))
      return candidate;
    if (exists && first_existing.empty())
      first_existing = candidate;
    if (end == std::string::npos)
      break;
    pos = end + 1;
  }
  return first_existing.empty() ? first : first_existing;
}

std::string socket_address_text(const void* addr) {
  char host[INET6_ADDRSTRLEN] = {0};
  auto* sa = static_cast<const sockaddr*>(addr);
  if (sa->sa_family == AF_INET) {
    auto* a = static_cast<const sockaddr_in*>(addr);
    ::inet_ntop(AF_INET, &a->sin_addr, host, sizeof(host));
    return std::string{host} + ":" + std::to_string(ntohs(a->sin_port));
  }
  if (sa->sa_family == AF_INET6) {
    auto* a = static_cast<const sockaddr_in6*>(addr);
    ::inet_ntop(AF_INET6, &a->sin6_addr, host, sizeof(host));
    return "[" + std::string{host} + "]:" + std::to_string(ntohs(a->sin6_port));
  }
  return "unknown";
}

std::string peer_address_text(int fd) {
  sockaddr_storage ss{};
  socklen_t len = sizeof(ss);
  if (fd < 0 || ::getpeername(fd, reinterpret_cast<sockaddr*>(&ss), &len) != 0)
    return "unknown";
  return socket_address_text(&ss);
}

} // namespace faultd
