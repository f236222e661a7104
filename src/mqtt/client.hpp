#pragma once

// A blocking MQTT client for one thread (libmosquitto): connect and wait
// for the broker's CONNACK, publish and wait for its PUBACK (QoS 1), each
// within a timeout. It reconnects on the next call after the connection
// broke. The alerting actor's MQTT sink publishes through it from a
// detached actor; it never runs on an actor scheduler's thread.

#include <cstdint>
#include <deque>
#include <set>
#include <string>
#include <utility>

#include "faultd/error.hpp"
#include "faultd/time.hpp"

struct mosquitto;

namespace faultd::mqtt {

/// libmosquitto's global set-up, once per process (it is not thread-safe
/// itself); every client of ours, and the devices detector's, calls it.
void init_library();

struct client_options {
  std::string host = "127.0.0.1";
  uint16_t port = 1883;
  std::string client_id;  ///< "" = one the library makes up
  std::string username;   ///< "" = none
  std::string password;
  duration keepalive = seconds_d(30);
  std::string tls_ca;           ///< set: TLS, the broker's certificate checked against it
  std::string tls_certificate;  ///< client certificate (with tls_key)
  std::string tls_key;
};

class client {
public:
  explicit client(client_options opts);
  ~client();
  client(const client&) = delete;
  client& operator=(const client&) = delete;

  /// Connected (CONNACK accepted) within `timeout`, or why not.
  status connect(duration timeout);

  /// Publishes `payload` to `topic` with `qos` (0 or 1) and, for QoS 1,
  /// waits for the PUBACK; connects first if needed. All within `timeout`.
  /// `retain`: the broker keeps it for later subscribers (an empty payload
  /// removes what it kept).
  status publish(const std::string& topic, const std::string& payload, int qos,
                 duration timeout, bool retain = false);

  /// Subscribes to `filter` and waits for the SUBACK within `timeout`.
  status subscribe(const std::string& filter, int qos, duration timeout);

  /// Waits until a message with exactly `payload` arrives on `topic`.
  status wait_for(const std::string& topic, const std::string& payload, duration timeout);

  bool connected() const { return connected_; }

  /// Called by libmosquitto's callbacks (on this thread, inside its loop).
  void on_connect(int rc);
  void on_disconnect(int rc);
  void on_publish(int mid);
  void on_subscribe(int mid);
  void on_message(std::string topic, std::string payload);

private:
  /// Runs the network loop until `done()` or the deadline; false on timeout
  /// or a broken connection.
  template <class Pred>
  bool loop_until(Pred done, std::chrono::steady_clock::time_point deadline, std::string& why);

  /// Connects if needed, runs `send(&mid)` (a libmosquitto call) and waits
  /// for the broker's `ack` of message `mid`; "<verb> <name>" in errors.
  template <class Send>
  status acknowledged(const char* verb, const std::string& name, const char* ack,
                      duration timeout, Send send);

  client_options opts_;
  mosquitto* m_ = nullptr;
  bool connected_ = false;
  bool connecting_ = false;
  int connack_ = -1;
  std::string lost_;     ///< why the connection broke ("" = it did not)
  std::set<int> acked_;  ///< message ids the broker acknowledged
  std::string setup_error_;  ///< a TLS or credential setting libmosquitto refused
  std::deque<std::pair<std::string, std::string>> received_;  ///< at most 64
};

} // namespace faultd::mqtt
