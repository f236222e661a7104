#include "checks/health_check.hpp"

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <condition_variable>
#include <csignal>
#include <cstring>
#include <mutex>
#include <set>
#include <thread>

#include <curl/curl.h>
#include <fcntl.h>
#include <netdb.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <sys/prctl.h>
#include <unistd.h>

#include "faultd/log.hpp"
#include "faultd/util.hpp"

namespace faultd::checks {

namespace {

using steady = std::chrono::steady_clock;

double millis_since(steady::time_point start) {
  return std::chrono::duration<double, std::milli>(steady::now() - start).count();
}

/// Milliseconds left until `deadline` for poll(), at least 0.
int poll_millis(steady::time_point deadline) {
  auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - steady::now());
  // Round up so that a wait of 0.4 ms is not a busy poll(0).
  auto ms = left.count() + 1;
  if (left.count() < 0)
    return 0;
  return static_cast<int>(std::min<int64_t>(ms, 1 << 30));
}

/// strerror with a lower-case first letter: "connection refused".
std::string os_error(int err) {
  std::string s = std::strerror(err);
  if (!s.empty() && s[0] >= 'A' && s[0] <= 'Z')
    s[0] = static_cast<char>(s[0] - 'A' + 'a');
  return s;
}

std::string timed_out_text(duration timeout) {
  return "timed out after " + human_duration(timeout);
}

/// Closes a file descriptor when it goes out of scope.
class fd_guard {
public:
  explicit fd_guard(int fd = -1) : fd_(fd) {}
  ~fd_guard() { reset(); }
  fd_guard(const fd_guard&) = delete;
  fd_guard& operator=(const fd_guard&) = delete;
  int get() const { return fd_; }
  int release() {
    int fd = fd_;
    fd_ = -1;
    return fd;
  }
  void reset(int fd = -1) {
    if (fd_ >= 0)
      ::close(fd_);
    fd_ = fd;
  }

private:
  int fd_;
};

// -- tcp ----------------------------------------------------------------------

/// Connects to one resolved address. Returns 0 on success, the errno of the
/// failure, or ETIMEDOUT when the deadline passed. On success the connected
/// (non-blocking) socket goes to `keep` if given.
int connect_one(const addrinfo& ai, steady::time_point deadline, fd_guard* keep) {
  fd_guard fd(::socket(ai.ai_family, ai.ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC,
                       ai.ai_protocol));
  if (fd.get() < 0)
    return errno;
  auto connected = [&] {
    if (keep != nullptr)
      keep->reset(fd.release());
    return 0;
  };
  if (::connect(fd.get(), ai.ai_addr, ai.ai_addrlen) == 0)
    return connected();
  if (errno != EINPROGRESS)
    return errno;
  for (;;) {
    pollfd p{fd.get(), POLLOUT, 0};
    int n = ::poll(&p, 1, poll_millis(deadline));
    if (n < 0) {
      if (errno == EINTR)
        continue;
      return errno;
    }
    if (n == 0)
      return ETIMEDOUT;
    int so_error = 0;
    socklen_t len = sizeof(so_error);
    if (::getsockopt(fd.get(), SOL_SOCKET, SO_ERROR, &so_error, &len) != 0)
      return errno;
    return so_error == 0 ? connected() : so_error;
  }
}

/// `s` in quotes for a message: control characters as \r, \n, \xNN, at
/// most 64 bytes of it.
std::string quote_for_log(const std::string& s) {
  std::string out = "\"";
  for (size_t i = 0; i < s.size() && i < 64; ++i) {
    auto c = static_cast<unsigned char>(s[i]);
    if (c == '\r')
      out += "\\r";
    else if (c == '\n')
      out += "\\n";
    else if (c < 0x20 || c >= 0x7F || c == '"' || c == '\\') {
      char buf[8];
      std::snprintf(buf, sizeof buf, "\\x%02x", c);
      out += buf;
    } else {
      out += static_cast<char>(c);
    }
  }
  return out + (s.size() > 64 ? "...\"" : "\"");
}

/// Bytes of a tcp check's answer that are read at most.
constexpr size_t tcp_answer_cap = 4096;

/// Writes `send` to the connected socket, then reads until `expect` shows up
/// in the answer. "" when it did, else what went wrong.
std::string converse(int fd, const std::string& send, const std::string& expect,
                     steady::time_point deadline, duration timeout, std::string& got) {
  size_t sent = 0;
  while (sent < send.size()) {
    pollfd p{fd, POLLOUT, 0};
    int n = ::poll(&p, 1, poll_millis(deadline));
    if (n == 0)
      return "send " + timed_out_text(timeout);
    if (n < 0 && errno != EINTR)
      return "send: " + os_error(errno);
    auto w = ::send(fd, send.data() + sent, send.size() - sent, MSG_NOSIGNAL);
    if (w < 0 && errno != EAGAIN && errno != EINTR)
      return "send: " + os_error(errno);
    if (w > 0)
      sent += static_cast<size_t>(w);
  }
  if (expect.empty())
    return "";
  auto came = [&] { return " (got " + quote_for_log(got) + ")"; };
  char buf[1024];
  while (got.find(expect) == std::string::npos) {
    if (got.size() >= tcp_answer_cap)
      return "no " + quote_for_log(expect) + " in the first " + std::to_string(tcp_answer_cap)
             + " bytes of the answer";
    pollfd p{fd, POLLIN, 0};
    int n = ::poll(&p, 1, poll_millis(deadline));
    if (n == 0)
      return "no " + quote_for_log(expect) + " in the answer " + timed_out_text(timeout)
             + (got.empty() ? " (nothing came)" : came());
    if (n < 0 && errno != EINTR)
      return "read: " + os_error(errno);
    auto r = ::recv(fd, buf, std::min(sizeof buf, tcp_answer_cap - got.size()), 0);
    if (r == 0)
      return "the peer closed the connection before " + quote_for_log(expect)
             + (got.empty() ? std::string{} : came());
    if (r < 0 && errno != EAGAIN && errno != EINTR)
      return "read: " + os_error(errno);
    if (r > 0)
      got.append(buf, static_cast<size_t>(r));
  }
  return "";
}

// -- http ---------------------------------------------------------------------

void ensure_curl_global_init() {
  static std::once_flag once;
  std::call_once(once, [] {
    auto rc = curl_global_init(CURL_GLOBAL_DEFAULT);
    if (rc != CURLE_OK)
      log::get("checks")->error("curl-global-init-failed error={}", curl_easy_strerror(rc));
  });
}

size_t keep_body_prefix(char* data, size_t size, size_t nmemb, void* user) {
  auto* body = static_cast<std::string*>(user);
  size_t n = size * nmemb;
  if (body->size() < http_body_cap)
    body->append(data, std::min(n, http_body_cap - body->size()));
  return n; // the rest is read and dropped, so the transfer completes
}

/// Why a transfer failed: "timed out after 5s" or curl's text, with its
/// error buffer's detail.
std::string curl_failure(CURLcode rc, duration timeout, const char* errbuf) {
  std::string out = rc == CURLE_OPERATION_TIMEDOUT ? timed_out_text(timeout) : curl_easy_strerror(rc);
  if (errbuf[0] != '\0')
    out += std::string(": ") + errbuf;
  return out;
}

/// What every request of ours sets: no signals, a timeout, no redirects,
/// http(s) only, the body's first bytes kept in `body`.
bool setup_request(CURL* h, const std::string& url, duration timeout, const char* agent,
                   char* errbuf, std::string& body) {
  auto timeout_ms =
      std::max<long>(1, static_cast<long>(
                            std::chrono::duration_cast<std::chrono::milliseconds>(timeout).count()));
  return curl_easy_setopt(h, CURLOPT_URL, url.c_str()) == CURLE_OK
         && curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L) == CURLE_OK
         && curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, timeout_ms) == CURLE_OK
         && curl_easy_setopt(h, CURLOPT_FOLLOWLOCATION, 0L) == CURLE_OK
         && curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "http,https") == CURLE_OK
         && curl_easy_setopt(h, CURLOPT_USERAGENT, agent) == CURLE_OK
         && curl_easy_setopt(h, CURLOPT_ERRORBUFFER, errbuf) == CURLE_OK
         && curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, keep_body_prefix) == CURLE_OK
         && curl_easy_setopt(h, CURLOPT_WRITEDATA, &body) == CURLE_OK;
}

// -- exec ---------------------------------------------------------------------

int open_pidfd(pid_t pid) {
#ifdef SYS_pidfd_open
  return static_cast<int>(::syscall(SYS_pidfd_open, pid, 0));
#else
  (void) pid;
  errno = ENOSYS;
  return -1;
#endif
}

/// Waits for `pid` without blocking; true once reaped (status in `st`).
bool try_reap(pid_t pid, int& st) {
  for (;;) {
    pid_t r = ::waitpid(pid, &st, WNOHANG);
    if (r == pid)
      return true;
    if (r < 0 && errno == EINTR)
      continue;
    if (r < 0) {
      // ECHILD: someone else reaped it (a SIGCHLD handler with SA_NOCLDWAIT);
      // report it as gone with an unknown status.
      st = -1;
      return true;
    }
    return false;
  }
}

void reap_blocking(pid_t pid, int& st) {
  while (::waitpid(pid, &st, 0) < 0) {
    if (errno != EINTR) {
      st = -1;
      return;
    }
  }
}

std::string first_line(const std::string& s) {
  auto begin = s.find_first_not_of(" \t\r\n");
  if (begin == std::string::npos)
    return {};
  auto end = s.find_first_of("\r\n", begin);
  auto line = s.substr(begin, end == std::string::npos ? std::string::npos : end - begin);
  while (!line.empty() && (line.back() == ' ' || line.back() == '\t'))
    line.pop_back();
  return line;
}

} // namespace

std::string_view to_string(check_outcome o) {
  switch (o) {
    case check_outcome::ok:
      return "ok";
    case check_outcome::warning:
      return "warning";
    case check_outcome::critical:
      return "critical";
  }
  return "critical";
}

check_result run_tcp_check(const std::string& host, uint16_t port, duration timeout,
                           const std::string& send, const std::string& expect) {
  auto start = steady::now();
  auto deadline = start + timeout;
  check_result r;
  auto where = host + ":" + std::to_string(port);

  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  hints.ai_flags = AI_NUMERICSERV;
  addrinfo* res = nullptr;
  int gai = ::getaddrinfo(host.c_str(), std::to_string(port).c_str(), &hints, &res);
  if (gai != 0) {
    r.code = gai == EAI_SYSTEM ? errno : 0;
    r.message = "cannot resolve " + host + ": " + ::gai_strerror(gai);
    r.latency_ms = millis_since(start);
    return r;
  }
  int last_err = ETIMEDOUT;
  fd_guard conn;
  const bool talk = !send.empty() || !expect.empty();
  for (auto* ai = res; ai != nullptr; ai = ai->ai_next) {
    last_err = connect_one(*ai, deadline, talk ? &conn : nullptr);
    if (last_err == 0 || last_err == ETIMEDOUT)
      break;
  }
  ::freeaddrinfo(res);
  std::string problem;
  if (last_err == 0 && talk)
    problem = converse(conn.get(), send, expect, deadline, timeout, r.output);
  r.latency_ms = millis_since(start);
  r.code = last_err;
  if (last_err == 0 && !problem.empty()) {
    r.message = where + ": " + problem;
  } else if (last_err == 0) {
    r.outcome = check_outcome::ok;
    r.message = talk && !expect.empty() ? where + " answered " + quote_for_log(expect)
                                        : "connected to " + where;
  } else if (last_err == ETIMEDOUT) {
    r.message = "connect to " + where + " " + timed_out_text(timeout);
  } else {
    r.message = "connect to " + where + ": " + os_error(last_err);
  }
  return r;
}

check_result run_http_check(const std::string& url, int expected_status, duration timeout) {
  ensure_curl_global_init();
  auto start = steady::now();
  check_result r;
  CURL* h = curl_easy_init();
  if (h == nullptr) {
    r.message = "cannot create a curl handle";
    return r;
  }
  char errbuf[CURL_ERROR_SIZE] = {0};
  if (!setup_request(h, url, timeout, "faultd-check", errbuf, r.output)) {
    curl_easy_cleanup(h);
    r.message = "cannot set up the request for " + url;
    r.latency_ms = millis_since(start);
    return r;
  }
  CURLcode rc = curl_easy_perform(h);
  long status = 0;
  if (curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &status) != CURLE_OK)
    status = 0;
  curl_easy_cleanup(h);
  r.latency_ms = millis_since(start);
  r.code = static_cast<int>(status);
  if (rc != CURLE_OK) {
    r.message = curl_failure(rc, timeout, errbuf);
    return r;
  }
  if (status == expected_status) {
    r.outcome = check_outcome::ok;
    r.message = "HTTP " + std::to_string(status);
  } else {
    r.message = "HTTP " + std::to_string(status) + ", expected " + std::to_string(expected_status);
  }
  return r;
}

http_response http_post(const std::string& url, const std::string& body,
                        const std::string& content_type, duration timeout) {
  ensure_curl_global_init();
  http_response r;
  CURL* h = curl_easy_init();
  if (h == nullptr) {
    r.error = "cannot create a curl handle";
    return r;
  }
  char errbuf[CURL_ERROR_SIZE] = {0};
  auto header = "Content-Type: " + content_type;
  curl_slist* headers = curl_slist_append(nullptr, header.c_str());
  bool setup_ok = headers != nullptr
                  && setup_request(h, url, timeout, "faultd-alerting", errbuf, r.body)
                  && curl_easy_setopt(h, CURLOPT_POST, 1L) == CURLE_OK
                  && curl_easy_setopt(h, CURLOPT_POSTFIELDS, body.data()) == CURLE_OK
                  && curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE_LARGE,
                                      static_cast<curl_off_t>(body.size())) == CURLE_OK
                  && curl_easy_setopt(h, CURLOPT_HTTPHEADER, headers) == CURLE_OK;
  if (!setup_ok) {
    curl_easy_cleanup(h);
    curl_slist_free_all(headers);
    r.error = "cannot set up the request for " + url;
    return r;
  }
  CURLcode rc = curl_easy_perform(h);
  if (curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &r.status) != CURLE_OK)
    r.status = 0;
  curl_easy_cleanup(h);
  curl_slist_free_all(headers);
  if (rc != CURLE_OK) {
    r.error = curl_failure(rc, timeout, errbuf);
  } else if (r.status < 200 || r.status > 299) {
    r.error = "HTTP " + std::to_string(r.status);
  }
  return r;
}

namespace {

/// The process groups of the commands running now.
std::mutex running_mtx;
std::set<pid_t> running_groups; // GUARDED_BY(running_mtx)

} // namespace

size_t kill_running_commands() {
  std::lock_guard<std::mutex> guard{running_mtx};
  for (auto pgid : running_groups)
    ::kill(-pgid, SIGKILL);
  return running_groups.size();
}

check_result run_exec_check(const std::vector<std::string>& argv, duration timeout) {
  auto start = steady::now();
  auto deadline = start + timeout;
  check_result r;
  r.code = -1;
  if (argv.empty() || argv[0].empty()) {
    r.message = "empty check command";
    r.code = 127;
    return r;
  }
  // Everything the child needs is prepared before fork(): after it only
  // async-signal-safe calls are made.
  std::vector<char*> args;
  for (const auto& a : argv)
    args.push_back(const_cast<char*>(a.c_str()));
  args.push_back(nullptr);

  int out_pipe[2];
  int err_pipe[2]; // carries exec's errno if exec fails; closed by a successful exec
  if (::pipe2(out_pipe, O_CLOEXEC) != 0) {
    r.message = "pipe: " + os_error(errno);
    return r;
  }
  fd_guard out_r(out_pipe[0]);
  fd_guard out_w(out_pipe[1]);
  if (::pipe2(err_pipe, O_CLOEXEC) != 0) {
    r.message = "pipe: " + os_error(errno);
    return r;
  }
  fd_guard err_r(err_pipe[0]);
  fd_guard err_w(err_pipe[1]);
  fd_guard devnull(::open("/dev/null", O_RDONLY | O_CLOEXEC));
  if (devnull.get() < 0) {
    r.message = "open /dev/null: " + os_error(errno);
    return r;
  }

  pid_t parent = ::getpid();
  pid_t pid = ::fork();
  if (pid < 0) {
    r.message = "fork: " + os_error(errno);
    return r;
  }
  if (pid == 0) {
    ::setpgid(0, 0);
    // A check (or recovery command) must not outlive faultd: if faultd is
    // killed, the command is killed with it, not left to act on its own.
    ::prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (::getppid() != parent)
      ::_exit(127);
    sigset_t none;
    sigemptyset(&none);
    ::sigprocmask(SIG_SETMASK, &none, nullptr);
    ::signal(SIGPIPE, SIG_DFL);
    if (::dup2(devnull.get(), STDIN_FILENO) < 0 || ::dup2(out_w.get(), STDOUT_FILENO) < 0
        || ::dup2(out_w.get(), STDERR_FILENO) < 0) {
      int e = errno;
      (void) !::write(err_w.get(), &e, sizeof(e));
      ::_exit(127);
    }
    ::execvp(args[0], args.data());
    int e = errno;
    (void) !::write(err_w.get(), &e, sizeof(e));
    ::_exit(127);
  }
  // Both sides set the group, so killpg works whichever runs first.
  if (::setpgid(pid, pid) != 0 && errno != EACCES && errno != ESRCH)
    log::get("checks")->warn("exec-check-setpgid-failed pid={} error={}", pid, os_error(errno));
  {
    std::lock_guard<std::mutex> guard{running_mtx};
    running_groups.insert(pid);
  }
  out_w.reset();
  err_w.reset();

  int exec_errno = 0;
  {
    // Closed by exec (CLOEXEC) or written to on failure: never blocks long.
    ssize_t n;
    do {
      n = ::read(err_r.get(), &exec_errno, sizeof(exec_errno));
    } while (n < 0 && errno == EINTR);
    if (n != static_cast<ssize_t>(sizeof(exec_errno)))
      exec_errno = 0;
  }

  fd_guard pidfd(open_pidfd(pid));
  bool out_open = true;
  bool reaped = false;
  bool timed_out = false;
  int st = 0;
  char buf[4096];
  while (!reaped) {
    pollfd fds[2];
    nfds_t nfds = 0;
    if (out_open)
      fds[nfds++] = pollfd{out_r.get(), POLLIN, 0};
    int pid_index = -1;
    if (pidfd.get() >= 0) {
      pid_index = static_cast<int>(nfds);
      fds[nfds++] = pollfd{pidfd.get(), POLLIN, 0};
    }
    int wait_ms = poll_millis(deadline);
    if (pidfd.get() < 0)
      wait_ms = std::min(wait_ms, 10); // no pidfd: look at the child now and then
    int n = nfds > 0 ? ::poll(fds, nfds, wait_ms) : ::poll(nullptr, 0, wait_ms);
    if (n < 0 && errno != EINTR) {
      log::get("checks")->error("exec-check-poll-failed pid={} error={}", pid, os_error(errno));
      timed_out = true; // cannot wait properly: treat as a timeout and clean up
      break;
    }
    if (n > 0 && out_open && (fds[0].revents & (POLLIN | POLLHUP | POLLERR))) {
      ssize_t got = ::read(out_r.get(), buf, sizeof(buf));
      if (got > 0) {
        if (r.output.size() < exec_output_cap)
          r.output.append(buf, std::min<size_t>(static_cast<size_t>(got),
                                                exec_output_cap - r.output.size()));
      } else if (got == 0 || (errno != EINTR && errno != EAGAIN)) {
        out_open = false;
      }
    }
    bool child_ready = pid_index < 0 || (n > 0 && (fds[pid_index].revents & POLLIN));
    if (child_ready && try_reap(pid, st)) {
      reaped = true;
      break;
    }
    if (steady::now() >= deadline) {
      timed_out = true;
      break;
    }
  }
  // Kill what is left of the group: everything on timeout, stray background
  // children of a command that exited.
  if (::kill(-pid, SIGKILL) != 0 && errno != ESRCH)
    log::get("checks")->warn("exec-check-kill-failed pgid={} error={}", pid, os_error(errno));
  {
    std::lock_guard<std::mutex> guard{running_mtx};
    running_groups.erase(pid);
  }
  if (!reaped)
    reap_blocking(pid, st);
  // Drain what the command wrote before it ended (the group is dead now, so
  // this reaches EOF unless an escaped process holds the pipe: bounded by a
  // non-blocking read).
  if (out_open && ::fcntl(out_r.get(), F_SETFL, O_NONBLOCK) == 0) {
    ssize_t got;
    while ((got = ::read(out_r.get(), buf, sizeof(buf))) > 0) {
      if (r.output.size() < exec_output_cap)
        r.output.append(buf, std::min<size_t>(static_cast<size_t>(got),
                                              exec_output_cap - r.output.size()));
    }
  }
  r.latency_ms = millis_since(start);

  if (exec_errno != 0) {
    r.code = 127;
    r.message = "cannot execute " + argv[0] + ": " + os_error(exec_errno);
    return r;
  }
  if (timed_out) {
    r.code = -1;
    r.message = timed_out_text(timeout);
    return r;
  }
  auto line = first_line(r.output);
  if (st != -1 && WIFEXITED(st)) {
    r.code = WEXITSTATUS(st);
    switch (r.code) {
      case 0:
        r.outcome = check_outcome::ok;
        break;
      case 1:
        r.outcome = check_outcome::warning;
        break;
      default:
        r.outcome = check_outcome::critical;
    }
    r.message = line.empty() ? "exit code " + std::to_string(r.code) : line;
  } else if (st != -1 && WIFSIGNALED(st)) {
    r.code = -1;
    r.message = std::string("killed by signal ") + std::to_string(WTERMSIG(st));
    if (!line.empty())
      r.message += ": " + line;
  } else {
    r.code = -1;
    r.message = "exit status unknown";
  }
  return r;
}

check_result run_check(const check_config& cfg) {
  switch (cfg.kind) {
    case check_kind::tcp:
      return run_tcp_check(cfg.host, cfg.port, cfg.timeout, cfg.send, cfg.expect);
    case check_kind::mqtt:
      return run_mqtt_check(cfg);
    case check_kind::http:
      return run_http_check(cfg.url, cfg.expected_status, cfg.timeout);
    case check_kind::exec:
      return run_exec_check(cfg.command, cfg.timeout);
    case check_kind::custom:
      break;  // the node runs it with the application's function
  }
  check_result r;
  r.message = "no check function for type " + check_type_name(cfg);
  return r;
}

check_result run_custom_check(const check_function& fn, const check_config& cfg) {
  auto started = std::chrono::steady_clock::now();
  check_result r;
  try {
    r = fn(cfg);
  } catch (const std::exception& e) {
    r = check_result{};
    r.message = check_type_name(cfg) + " check threw: " + e.what();
  } catch (...) {
    r = check_result{};
    r.message = check_type_name(cfg) + " check threw";
  }
  auto took = std::chrono::steady_clock::now() - started;
  r.latency_ms = std::chrono::duration<double, std::milli>(took).count();
  r.message = first_line(r.message).substr(0, 512);
  if (r.output.size() > exec_output_cap)
    r.output.resize(exec_output_cap);
  if (took > cfg.timeout) {
    r.outcome = check_outcome::critical;
    r.message = "took " + format_duration(std::chrono::duration_cast<duration>(took))
                + ", over its timeout of " + format_duration(cfg.timeout)
                + (r.message.empty() ? "" : " (" + r.message + ")");
  }
  return r;
}

struct guarded_check::call {
  std::mutex m;
  std::condition_variable cv;
  bool done = false;
  check_result result;
  std::chrono::steady_clock::time_point started;
};

guarded_check::guarded_check(check_function fn) : fn_(std::move(fn)) {}

guarded_check::~guarded_check() = default;  // a call still running keeps its own state

check_result guarded_check::run(const check_config& cfg) {
  if (last_) {
    std::lock_guard<std::mutex> g{last_->m};
    if (!last_->done) {
      check_result r;
      r.message = "the run started "
                  + format_duration(std::chrono::duration_cast<duration>(
                      std::chrono::steady_clock::now() - last_->started))
                  + " ago has not returned";
      return r;
    }
  }
  auto c = std::make_shared<call>();
  c->started = std::chrono::steady_clock::now();
  last_ = c;
  std::thread{[c, fn = fn_, cfg] {
    auto r = run_custom_check(fn, cfg);
    std::lock_guard<std::mutex> g{c->m};
    c->result = std::move(r);
    c->done = true;
    c->cv.notify_all();
  }}.detach();
  std::unique_lock<std::mutex> g{c->m};
  if (c->cv.wait_for(g, cfg.timeout, [&] { return c->done; }))
    return c->result;
  check_result r;
  r.message = "did not return within " + format_duration(cfg.timeout);
  r.latency_ms = std::chrono::duration<double, std::milli>(cfg.timeout).count();
  return r;
}

status check_custom_check_name(const std::string& name) {
  if (!is_extension_name(name) || name == "custom" || parse_check_kind(name))
    return {errc::bad_request, "custom check type \"" + name
                                 + "\": a name of letters, digits, _ and - that no built-in "
                                   "type has"};
  return {};
}

} // namespace faultd::checks
