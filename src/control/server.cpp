#include "control/server.hpp"

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <deque>
#include <map>
#include <mutex>
#include <thread>
#include <vector>

#include <arpa/inet.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "control/codec.hpp"
#include "control/frame.hpp"
#include "faultd/log.hpp"
#include "faultd/util.hpp"

namespace faultd::control {

namespace {

using steady = std::chrono::steady_clock;

/// The largest frame a TCP client gets before it has shown its token.
constexpr size_t preauth_max_frame = 64u << 10;

std::string os_error(int e) {
  return std::strerror(e);
}

/// The listening socket for `a`, bound and listening; -1 and `error` set if not.
int open_unix(const std::string& path, std::optional<unsigned> group, std::string& error) {
  sockaddr_un sa{};
  if (path.size() >= sizeof(sa.sun_path)) {
    error = "control socket path is too long (" + std::to_string(path.size()) + " bytes, at most "
            + std::to_string(sizeof(sa.sun_path) - 1) + "): " + path;
    return -1;
  }
  sa.sun_family = AF_UNIX;
  std::memcpy(sa.sun_path, path.c_str(), path.size() + 1);
  // In a directory others may write to (and not sticky), the socket could be
  // swapped for a symlink between bind and chmod: refuse it.
  auto slash = path.rfind('/');
  auto dir = slash == std::string::npos ? std::string{"."}
             : slash == 0               ? std::string{"/"}
                                        : path.substr(0, slash);
  struct stat ds{};
  if (::stat(dir.c_str(), &ds) != 0) {
    error = "control socket directory " + dir + ": " + os_error(errno);
    return -1;
  }
  if ((ds.st_mode & S_IWOTH) != 0 && (ds.st_mode & S_ISVTX) == 0) {
    error = "control socket directory " + dir + " is writable by others; use a private directory";
    return -1;
  }
  int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) {
    error = "socket: " + os_error(errno);
    return -1;
  }
  struct stat st{};
  if (::lstat(path.c_str(), &st) == 0) {
    if (!S_ISSOCK(st.st_mode)) {
      error = path + " exists and is not a socket";
      ::close(fd);
      return -1;
    }
    // A socket someone still serves is not ours to take.
    int probe = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    bool served = probe >= 0
                  && ::connect(probe, reinterpret_cast<sockaddr*>(&sa), sizeof(sa)) == 0;
    if (probe >= 0)
      ::close(probe);
    if (served) {
      error = "another process serves the control socket " + path;
      ::close(fd);
      return -1;
    }
    ::unlink(path.c_str());
  }
  if (::bind(fd, reinterpret_cast<sockaddr*>(&sa), sizeof(sa)) != 0) {
    error = "bind " + path + ": " + os_error(errno);
    ::close(fd);
    return -1;
  }
  // Nobody can connect before listen(), so the mode is right before anyone can.
  mode_t mode = group ? 0660 : 0600;
  if ((group && ::lchown(path.c_str(), static_cast<uid_t>(-1), static_cast<gid_t>(*group)) != 0)
      || ::chmod(path.c_str(), mode) != 0) {
    error = "cannot set the owner or mode of " + path + ": " + os_error(errno);
    ::close(fd);
    ::unlink(path.c_str());
    return -1;
  }
  if (::listen(fd, 128) != 0) {
    error = "listen " + path + ": " + os_error(errno);
    ::close(fd);
    ::unlink(path.c_str());
    return -1;
  }
  return fd;
}

int open_tcp(const endpoint& ep, uint16_t& bound, std::string& error) {
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV;
  addrinfo* res = nullptr;
  auto port = std::to_string(ep.port);
  if (int rc = ::getaddrinfo(ep.host.c_str(), port.c_str(), &hints, &res); rc != 0) {
    error = "cannot resolve " + ep.to_string() + ": " + ::gai_strerror(rc);
    return -1;
  }
  int fd = -1;
  for (auto* ai = res; ai != nullptr; ai = ai->ai_next) {
    fd = ::socket(ai->ai_family, ai->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC, ai->ai_protocol);
    if (fd < 0)
      continue;
    int one = 1;
    ::setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    if (::bind(fd, ai->ai_addr, ai->ai_addrlen) == 0 && ::listen(fd, 128) == 0)
      break;
    error = "cannot listen on " + ep.to_string() + ": " + os_error(errno);
    ::close(fd);
    fd = -1;
  }
  ::freeaddrinfo(res);
  if (fd < 0) {
    if (error.empty())
      error = "cannot listen on " + ep.to_string();
    return -1;
  }
  sockaddr_storage ss{};
  socklen_t len = sizeof(ss);
  if (::getsockname(fd, reinterpret_cast<sockaddr*>(&ss), &len) == 0)
    bound = ntohs(ss.ss_family == AF_INET6 ? reinterpret_cast<sockaddr_in6*>(&ss)->sin6_port
                                           : reinterpret_cast<sockaddr_in*>(&ss)->sin_port);
  return fd;
}

std::string peer_name(int fd, bool tcp) {
  return tcp ? peer_address_text(fd) : "unix";
}

} // namespace

struct server::impl {
  struct connection {
    int fd = -1;
    bool tcp = false;
    std::string peer;
    frame_decoder in;
    std::string out;
    size_t out_pos = 0;
    size_t in_flight = 0;
    steady::time_point last_activity;
    steady::time_point frame_started;
    steady::time_point write_since;  ///< output waiting since (no progress)
    bool authenticated = false;      ///< TCP: a request carried the token
    bool close_after_flush = false;
    uint32_t events = 0; ///< what epoll watches now

    explicit connection(size_t max_frame) : in(max_frame) {}
    size_t buffered() const { return in.buffered() + (out.size() - out_pos); }
  };

  struct pending_reply {
    uint64_t conn;
    uint64_t request_id;
    std::string bytes;
  };

  server_options opts;
  request_fn on_request;
  refused_fn on_refused;
  std::shared_ptr<spdlog::logger> log = log::get("control");

  int listen_fd = -1;
  int epoll_fd = -1;
  int wake_fd = -1;
  uint16_t bound_port = 0;
  std::thread thread;

  mutable std::mutex mtx; ///< guards replies, stopping, stats
  std::deque<pending_reply> replies;
  bool stopping = false;
  server_stats st;

  // Owned by the server thread.
  std::optional<steady::time_point> accept_paused_until;
  std::map<uint64_t, connection> conns;
  uint64_t next_conn = 1;
  size_t buffered_total = 0;

  void count(uint64_t server_stats::*field) {
    std::lock_guard<std::mutex> guard{mtx};
    ++(st.*field);
  }

  /// Whether more requests are taken from `c` now: not while it has its
  /// share of requests in flight, nor while it leaves replies unread.
  bool reading(const connection& c) const {
    return c.in_flight < opts.limits.max_in_flight && !c.close_after_flush
           && c.out.size() - c.out_pos <= opts.limits.max_frame;
  }

  void watch(uint64_t id, connection& c) {
    uint32_t want = 0;
    if (reading(c))
      want |= EPOLLIN;
    if (c.out_pos < c.out.size())
      want |= EPOLLOUT;
    if (want == c.events)
      return;
    epoll_event ev{};
    ev.events = want;
    ev.data.u64 = id;
    ::epoll_ctl(epoll_fd, EPOLL_CTL_MOD, c.fd, &ev);
    c.events = want;
  }

  void close_conn(uint64_t id, const char* why, uint64_t server_stats::*field) {
    auto i = conns.find(id);
    if (i == conns.end())
      return;
    auto& c = i->second;
    if (field != nullptr) {
      count(field);
      log->warn("control-connection-closed peer={} reason=\"{}\"", c.peer, why);
    }
    buffered_total -= std::min(buffered_total, c.buffered());
    ::epoll_ctl(epoll_fd, EPOLL_CTL_DEL, c.fd, nullptr);
    ::close(c.fd);
    conns.erase(i);
    std::lock_guard<std::mutex> guard{mtx};
    st.open = conns.size();
  }

  /// Makes room for one more connection; false if none can be made.
  bool make_room() {
    if (conns.size() < opts.limits.max_connections)
      return true;
    // The connection idle the longest goes (none with a request in flight).
    uint64_t victim = 0;
    steady::time_point oldest = steady::time_point::max();
    for (auto& [id, c] : conns)
      if (c.in_flight == 0 && c.out_pos == c.out.size() && c.last_activity < oldest) {
        oldest = c.last_activity;
        victim = id;
      }
    if (victim == 0)
      return false;
    close_conn(victim, "evicted: too many connections", &server_stats::closed_capacity);
    return true;
  }

  void accept_all() {
    for (;;) {
      int fd = ::accept4(listen_fd, nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC);
      if (fd < 0) {
        if (errno == EINTR || errno == ECONNABORTED)
          continue;
        if (errno == EMFILE || errno == ENFILE || errno == ENOBUFS || errno == ENOMEM) {
          // Out of descriptors: stop accepting for a moment rather than spin.
          log->warn("control-accept-paused error=\"{}\" for=100ms", os_error(errno));
          epoll_event ev{};
          ev.events = 0;
          ev.data.u64 = 0;
          ::epoll_ctl(epoll_fd, EPOLL_CTL_MOD, listen_fd, &ev);
          accept_paused_until = steady::now() + std::chrono::milliseconds(100);
        } else if (errno != EAGAIN && errno != EWOULDBLOCK) {
          log->warn("control-accept-failed error=\"{}\"", os_error(errno));
        }
        return;
      }
      bool tcp = !opts.address.is_unix();
      if (!make_room()) {
        count(&server_stats::closed_capacity);
        log->warn("control-connection-refused peer={} reason=\"too many connections, all busy\"",
                  peer_name(fd, tcp));
        ::close(fd);
        continue;
      }
      if (tcp) {
        int one = 1;
        ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
      }
      auto id = next_conn++;
      // Before a TCP client has shown its token it gets small frames only.
      connection c{tcp ? std::min(opts.limits.max_frame, preauth_max_frame)
                       : opts.limits.max_frame};
      c.fd = fd;
      c.tcp = tcp;
      c.peer = peer_name(fd, tcp);
      c.last_activity = steady::now();
      c.events = EPOLLIN;
      epoll_event ev{};
      ev.events = EPOLLIN;
      ev.data.u64 = id;
      if (::epoll_ctl(epoll_fd, EPOLL_CTL_ADD, fd, &ev) != 0) {
        ::close(fd);
        continue;
      }
      conns.emplace(id, std::move(c));
      std::lock_guard<std::mutex> guard{mtx};
      ++st.accepted;
      st.open = conns.size();
    }
  }

  /// Queues a framed reply on `c` (already tagged with its request id).
  void send(connection& c, const std::string& response) {
    auto framed = encode_frame(response);
    if (c.out_pos == c.out.size())
      c.write_since = steady::now();
    c.out.append(framed);
    buffered_total += framed.size();
  }

  void refuse(uint64_t id, connection& c, uint64_t request_id, errc code, const std::string& why,
              uint64_t server_stats::*field) {
    send(c, tag_response(encode_error(code, why), request_id));
    c.close_after_flush = true;
    count(field);
    log->warn("control-request-refused peer={} reason=\"{}\"", c.peer, why);
    if (field == &server_stats::unauthorized && on_refused)
      on_refused(c.peer, why);
    flush(id, c);
  }

  /// Hands on the complete frames already read, while the connection takes
  /// requests. False if it was closed or refused.
  bool drain(uint64_t id, connection& c) {
    while (reading(c)) {
      auto payload = c.in.next();
      if (!payload)
        break;
      buffered_total -= std::min(buffered_total, payload->size() + frame_header_size);
      if (!handle(id, c, std::move(*payload)))
        return false;
    }
    return conns.count(id) > 0;
  }

  /// Makes room under max_buffered for `n` more bytes by closing the
  /// connection that holds the most; false if `id` itself had to go.
  bool budget_for(uint64_t id, size_t n) {
    while (buffered_total + n > opts.limits.max_buffered) {
      uint64_t biggest = id;
      size_t most = 0;
      for (auto& [k, c] : conns)
        if (c.buffered() > most) {
          most = c.buffered();
          biggest = k;
        }
      close_conn(biggest, "over the memory budget for unfinished frames and unread replies",
                 &server_stats::closed_capacity);
      if (biggest == id)
        return false;
      if (most == 0)
        break;
    }
    return true;
  }

  /// Reads what arrived; may close the connection.
  void read_from(uint64_t id) {
    {
      auto& c = conns.at(id);
      if (!drain(id, c))
        return;
    }
    char buf[65536];
    for (;;) {
      auto& c = conns.at(id);
      if (!reading(c)) {
        watch(id, c);
        return;
      }
      ssize_t n = ::read(c.fd, buf, sizeof(buf));
      if (n < 0) {
        if (errno == EINTR)
          continue;
        if (errno == EAGAIN || errno == EWOULDBLOCK)
          return;
        close_conn(id, "read failed", nullptr);
        return;
      }
      if (n == 0) { // the client is done (or gone)
        close_conn(id, "closed by peer", nullptr);
        return;
      }
      auto now = steady::now();
      c.last_activity = now;
      if (!budget_for(id, static_cast<size_t>(n)))
        return;
      auto& cc = conns.at(id);
      bool was_mid = cc.in.mid_frame();
      buffered_total += static_cast<size_t>(n);
      if (!cc.in.feed(std::string_view{buf, static_cast<size_t>(n)})) {
        close_conn(id, cc.in.error().c_str(), &server_stats::closed_oversized);
        return;
      }
      auto before = cc.in.buffered();
      if (!drain(id, cc))
        return;
      auto& c2 = conns.at(id);
      if (c2.in.mid_frame() && (!was_mid || c2.in.buffered() != before))
        c2.frame_started = now;
    }
  }

  /// One complete payload: checked, then handed on. False when refused.
  bool handle(uint64_t id, connection& c, std::string payload) {
    uint64_t request_id = 0;
    std::string token;
    auto env = peek_request(payload, request_id, token);
    if (!env.ok()) {
      refuse(id, c, request_id, errc::malformed_payload, "malformed request: " + env.message(),
             &server_stats::closed_malformed);
      return false;
    }
    if (c.tcp && !token_matches(token, opts.token)) {
      refuse(id, c, request_id, errc::unauthorized,
             token.empty() ? "unauthorized: this endpoint needs a token"
                           : "unauthorized: wrong token",
             &server_stats::unauthorized);
      return false;
    }
    if (c.tcp && !c.authenticated) {
      c.authenticated = true;
      c.in.set_max(opts.limits.max_frame);
    }
    ++c.in_flight;
    count(&server_stats::requests);
    on_request(id, request_id, std::move(payload));
    if (!reading(c))
      watch(id, c);
    return true;
  }

  /// Writes what is queued; may close the connection.
  void flush(uint64_t id, connection& c) {
    while (c.out_pos < c.out.size()) {
      ssize_t n = ::send(c.fd, c.out.data() + c.out_pos, c.out.size() - c.out_pos, MSG_NOSIGNAL);
      if (n < 0) {
        if (errno == EINTR)
          continue;
        if (errno == EAGAIN || errno == EWOULDBLOCK)
          break;
        close_conn(id, "write failed", nullptr);
        return;
      }
      c.out_pos += static_cast<size_t>(n);
      buffered_total -= std::min(buffered_total, static_cast<size_t>(n));
      c.last_activity = steady::now();
      c.write_since = c.last_activity;
    }
    if (c.out_pos == c.out.size()) {
      c.out.clear();
      c.out_pos = 0;
      if (c.close_after_flush && c.in_flight == 0) {
        close_conn(id, "refused", nullptr);
        return;
      }
    }
    watch(id, c);
  }

  void take_replies() {
    uint64_t drained = 0;
    (void) !::read(wake_fd, &drained, sizeof(drained));
    std::deque<pending_reply> ready;
    {
      std::lock_guard<std::mutex> guard{mtx};
      ready.swap(replies);
    }
    for (auto& r : ready) {
      auto i = conns.find(r.conn);
      if (i == conns.end())
        continue; // the client left before its answer
      auto& c = i->second;
      if (c.in_flight > 0)
        --c.in_flight;
      send(c, tag_response(r.bytes, r.request_id));
      flush(r.conn, c);
      if (conns.count(r.conn) > 0 && reading(c))
        read_from(r.conn); // reading may have paused; frames may be waiting
    }
  }

  /// Closes connections past their timeouts; returns the time to the next one.
  std::chrono::milliseconds expire() {
    auto now = steady::now();
    auto next = std::chrono::milliseconds(1000);
    if (accept_paused_until) {
      if (now >= *accept_paused_until) {
        accept_paused_until.reset();
        epoll_event ev{};
        ev.events = EPOLLIN;
        ev.data.u64 = 0;
        ::epoll_ctl(epoll_fd, EPOLL_CTL_MOD, listen_fd, &ev);
      } else {
        next = std::chrono::milliseconds(10);
      }
    }
    std::vector<std::pair<uint64_t, int>> late; // id, 1 slow frame, 2 unread replies, 0 idle
    for (auto& [id, c] : conns) {
      if (c.out_pos < c.out.size()) {
        // Replies it does not read: closed after the read timeout without progress.
        auto due = c.write_since + 2 * opts.limits.read_timeout;
        if (now >= due)
          late.emplace_back(id, 2);
        else
          next = std::min(next, std::chrono::duration_cast<std::chrono::milliseconds>(due - now)
                                  + std::chrono::milliseconds(1));
        continue;
      }
      if (c.in.mid_frame() && reading(c)) {
        auto due = c.frame_started + opts.limits.read_timeout;
        if (now >= due)
          late.emplace_back(id, 1);
        else
          next = std::min(next, std::chrono::duration_cast<std::chrono::milliseconds>(due - now)
                                  + std::chrono::milliseconds(1));
      } else if (c.in_flight == 0 && c.out_pos == c.out.size()) {
        auto due = c.last_activity + opts.limits.idle_timeout;
        if (now >= due)
          late.emplace_back(id, 0);
        else
          next = std::min(next, std::chrono::duration_cast<std::chrono::milliseconds>(due - now)
                                  + std::chrono::milliseconds(1));
      }
    }
    for (auto& [id, why] : late)
      if (why == 1)
        close_conn(id, "a frame did not arrive within the read timeout",
                   &server_stats::closed_slow);
      else if (why == 2)
        close_conn(id, "it does not read its replies", &server_stats::closed_slow);
      else
        close_conn(id, "idle", &server_stats::closed_idle);
    return next;
  }

  void loop() {
    std::vector<epoll_event> events(256);
    auto wait = std::chrono::milliseconds(1000);
    for (;;) {
      int n = ::epoll_wait(epoll_fd, events.data(), static_cast<int>(events.size()),
                           static_cast<int>(wait.count()));
      if (n < 0 && errno != EINTR) {
        log->error("control-epoll-failed error=\"{}\"", os_error(errno));
        std::this_thread::sleep_for(std::chrono::milliseconds(10));
      }
      {
        std::lock_guard<std::mutex> guard{mtx};
        if (stopping)
          break;
      }
      for (int k = 0; k < n; ++k) {
        auto id = events[k].data.u64;
        if (id == 0) {
          accept_all();
          continue;
        }
        if (id == UINT64_MAX) {
          take_replies();
          continue;
        }
        auto i = conns.find(id);
        if (i == conns.end())
          continue;
        if (events[k].events & (EPOLLERR | EPOLLHUP)) {
          // HUP with unread data still lets read() see the data first.
          if (!(events[k].events & EPOLLIN)) {
            close_conn(id, "hung up", nullptr);
            continue;
          }
        }
        if (events[k].events & EPOLLOUT)
          flush(id, i->second);
        if (conns.count(id) > 0 && (events[k].events & EPOLLIN))
          read_from(id);
      }
      wait = expire();
    }
    for (auto& [id, c] : conns)
      ::close(c.fd);
    conns.clear();
  }
};

server::server(server_options opts, request_fn on_request, refused_fn on_refused)
  : impl_(std::make_unique<impl>()) {
  impl_->opts = std::move(opts);
  impl_->on_request = std::move(on_request);
  impl_->on_refused = std::move(on_refused);
}

server::~server() {
  stop();
}

status server::start() {
  auto& im = *impl_;
  std::string error;
  if (im.opts.address.is_unix()) {
    im.listen_fd = open_unix(im.opts.address.unix_path, im.opts.group, error);
  } else {
    if (im.opts.token.empty())
      return {errc::config_invalid, "the TCP control endpoint " + im.opts.address.to_string()
                                      + " needs a token (node.control_token_file)"};
    im.listen_fd = open_tcp(im.opts.address.tcp, im.bound_port, error);
  }
  if (im.listen_fd < 0)
    return {errc::io, error};
  im.epoll_fd = ::epoll_create1(EPOLL_CLOEXEC);
  im.wake_fd = ::eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
  if (im.epoll_fd < 0 || im.wake_fd < 0)
    return {errc::io, "epoll/eventfd: " + os_error(errno)};
  epoll_event ev{};
  ev.events = EPOLLIN;
  ev.data.u64 = 0;
  ::epoll_ctl(im.epoll_fd, EPOLL_CTL_ADD, im.listen_fd, &ev);
  ev.data.u64 = UINT64_MAX;
  ::epoll_ctl(im.epoll_fd, EPOLL_CTL_ADD, im.wake_fd, &ev);
  im.thread = std::thread{[&im] { im.loop(); }};
  im.log->info("control-listening address={}", bound_address());
  return {};
}

void server::reply(uint64_t conn, uint64_t request_id, std::string response) {
  auto& im = *impl_;
  std::lock_guard<std::mutex> guard{im.mtx}; // stop() closes wake_fd under it
  if (im.stopping || im.wake_fd < 0)
    return;
  im.replies.push_back({conn, request_id, std::move(response)});
  uint64_t one = 1;
  (void) !::write(im.wake_fd, &one, sizeof(one));
}

void server::stop() {
  auto& im = *impl_;
  {
    std::lock_guard<std::mutex> guard{im.mtx};
    im.stopping = true;
  }
  {
    std::lock_guard<std::mutex> guard{im.mtx};
    if (im.wake_fd >= 0) {
      uint64_t one = 1;
      (void) !::write(im.wake_fd, &one, sizeof(one));
    }
  }
  if (im.thread.joinable())
    im.thread.join();
  if (im.listen_fd >= 0) {
    ::close(im.listen_fd);
    im.listen_fd = -1;
    if (im.opts.address.is_unix())
      ::unlink(im.opts.address.unix_path.c_str());
  }
  if (im.epoll_fd >= 0) {
    ::close(im.epoll_fd);
    im.epoll_fd = -1;
  }
  if (im.wake_fd >= 0) {
    std::lock_guard<std::mutex> guard{im.mtx};
    ::close(im.wake_fd);
    im.wake_fd = -1;
  }
}

std::string server::bound_address() const {
  auto& a = impl_->opts.address;
  if (a.is_unix())
    return a.to_string();
  endpoint ep = a.tcp;
  ep.port = impl_->bound_port;
  return ep.to_string();
}

server_stats server::stats() const {
  std::lock_guard<std::mutex> guard{impl_->mtx};
  return impl_->st;
}

bool token_matches(const std::string& presented, const std::string& expected) {
  if (expected.empty())
    return false;
  // Compare every byte of the expected token whatever was presented, so the
  // time taken says nothing about where they differ.
  unsigned char diff = presented.size() == expected.size() ? 0 : 1;
  for (size_t i = 0; i < expected.size(); ++i) {
    unsigned char p = i < presented.size() ? static_cast<unsigned char>(presented[i]) : 0;
    diff |= static_cast<unsigned char>(p ^ static_cast<unsigned char>(expected[i]));
  }
  return diff == 0;
}

} // namespace faultd::control
