#pragma once

// A real mosquitto broker for tests, started on 127.0.0.1 on a free port
// (anonymous, no persistence) and stopped with the object; and a
// subscriber (libmosquitto, its own network thread) that records what
// arrives on a topic filter.

#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "support/support.hpp"

struct mosquitto;

namespace faultd::test {

class mqtt_broker {
public:
  mqtt_broker();
  uint16_t port() const { return port_; }
  std::string address() const { return "127.0.0.1:" + std::to_string(port_); }
  /// SIGSTOP / SIGCONT: a hung broker keeps accepting TCP connections.
  void freeze();
  void thaw();

private:
  temp_dir dir_;
  uint16_t port_ = 0;
  std::unique_ptr<child_process> proc_;
};

class mqtt_subscriber {
public:
  struct message {
    std::string topic;
    std::string payload;
  };

  /// Connected and subscribed (QoS 1) once the constructor returns.
  mqtt_subscriber(uint16_t port, const std::string& filter);
  ~mqtt_subscriber();
  mqtt_subscriber(const mqtt_subscriber&) = delete;
  mqtt_subscriber& operator=(const mqtt_subscriber&) = delete;

  std::vector<message> messages() const;
  void on_message(std::string topic, std::string payload);

private:
  mosquitto* m_ = nullptr;
  mutable std::mutex mtx_;
  std::vector<message> messages_;
};

} // namespace faultd::test
