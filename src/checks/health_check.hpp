#pragma once

// Health checks of a service, measured for real: a TCP connect, an HTTP GET
// with an expected status, or a check command run the way Nagios runs its
// plugins. Each call blocks for at most the check's timeout (plus the time to
// reap a killed command), so it belongs on a detector's own thread, never on
// an actor scheduler's.

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "faultd/check.hpp"
#include "faultd/config.hpp"
#include "faultd/error.hpp"
#include "faultd/time.hpp"

namespace faultd::checks {

/// The outcome of http_post: `error` empty for a 2xx answer.
struct http_response {
  long status = 0;     ///< HTTP status (0: no answer)
  std::string error;   ///< "HTTP 500", "Timed out after 5s", "Couldn't connect to server: ..."
  std::string body;    ///< the answer's first bytes
};

/// POSTs `body` to `url` (http or https, no redirects) within `timeout`.
/// Blocks: call it from a thread of its own, never an actor scheduler's.
http_response http_post(const std::string& url, const std::string& body,
                        const std::string& content_type, duration timeout);


/// Bytes of a check command's output that are kept.
constexpr std::size_t exec_output_cap = 4096;
/// Bytes of an HTTP response body that are kept.
constexpr std::size_t http_body_cap = 1024;

/// Resolves `host` (getaddrinfo) and connects to `port` with a non-blocking
/// connect, waiting at most `timeout` in total. Ok once one address accepts
/// the connection (which is closed again at once); critical otherwise.
/// With `send` and/or `expect` (line protocols: redis "PING\r\n" /
/// "+PONG"): once connected, `send` is written and the answer read until it
/// contains `expect` (at most 4096 bytes), all within `timeout`; the answer
/// goes to `output`.
check_result run_tcp_check(const std::string& host, uint16_t port, duration timeout,
                           const std::string& send = "", const std::string& expect = "");

/// An MQTT broker answers: CONNACK (accepted) within the timeout, and with a
/// probe_topic, a message published to it (QoS 1) comes back through a
/// subscription, all within `timeout` (libmosquitto; TLS and credentials as
/// configured). A hung broker whose kernel still accepts TCP connections
/// fails here, where a tcp check passes.
check_result run_mqtt_check(const check_config& cfg);

/// GETs `url` with libcurl (no redirects followed, no signals, whole transfer
/// bounded by `timeout`). Ok iff the response status equals
/// `expected_status`; a different status or a transport error is critical.
check_result run_http_check(const std::string& url, int expected_status, duration timeout);

/// Runs `argv` (no shell; argv[0] is looked up in PATH when it has no '/')
/// in its own process group with stdin from /dev/null and stdout+stderr
/// captured, and waits at most `timeout`.
///
/// Outcome, as for Nagios plugins: exit code 0 = ok, 1 = warning,
/// 2 = critical; any other exit code (3 = "unknown" included), death by a
/// signal, a command that cannot be executed and a timeout are critical. On
/// timeout the whole process group is killed with SIGKILL and the command is
/// reaped. When the command exits, whatever it left running in its process
/// group is killed too, so a check never leaks processes. The message is the
/// first line of the output (or what went wrong).
check_result run_exec_check(const std::vector<std::string>& argv, duration timeout);

/// SIGKILLs the process group of every run_exec_check command still running
/// (they then return as failed). For shutdown: a command's own children
/// would otherwise outlive faultd (PDEATHSIG reaches only the command).
/// Returns how many groups were killed.
size_t kill_running_commands();

/// Runs the check `cfg` describes (dispatches on cfg.kind). A custom
/// check's function comes from the application (run_custom_check).
check_result run_check(const check_config& cfg);

/// Runs an application's check function for `cfg`, measuring its latency:
/// an exception it throws, or a run longer than cfg.timeout, is critical.
/// Its message is cut to its first line (at most 512 bytes), its output to
/// exec_output_cap bytes.
check_result run_custom_check(const check_function& fn, const check_config& cfg);

/// An application's check function run so that it cannot wedge its check:
/// each run() calls it on a thread of its own and waits at most the check's
/// timeout. A call that has not returned by then is critical ("did not
/// return within 2s"), and so is every run() while it still has not (no
/// second call is started beside it); its thread is left to finish on its
/// own, never joined, so a stuck function also cannot hold up a stop.
class guarded_check {
public:
  explicit guarded_check(check_function fn);
  ~guarded_check();
  guarded_check(const guarded_check&) = delete;
  guarded_check& operator=(const guarded_check&) = delete;

  check_result run(const check_config& cfg);

private:
  struct call;
  check_function fn_;
  std::shared_ptr<call> last_;  ///< the latest call (done or still running)
};

/// Whether `name` may name an application's check type: 1-64 letters,
/// digits, `_` and `-`, and not a built-in type's (nor "custom"); else why not.
status check_custom_check_name(const std::string& name);

} // namespace faultd::checks
