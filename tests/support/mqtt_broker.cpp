#include "support/mqtt_broker.hpp"

#include <mosquitto.h>

#include <csignal>
#include <stdexcept>

namespace faultd::test {

mqtt_broker::mqtt_broker() : port_(free_port()) {
  write_file(dir_.file("mosquitto.conf"), "listener " + std::to_string(port_)
                                            + " 127.0.0.1\nallow_anonymous true\n"
                                              "persistence false\n");
  proc_ = std::make_unique<child_process>(
    std::vector<std::string>{"/usr/sbin/mosquitto", "-c", dir_.file("mosquitto.conf")},
    dir_.file("mosquitto.log"));
  // Up once a client can connect.
  if (!wait_until([&] {
        auto* m = mosquitto_new(nullptr, true, nullptr);
        bool ok = mosquitto_connect(m, "127.0.0.1", port_, 5) == MOSQ_ERR_SUCCESS;
        if (ok)
          mosquitto_disconnect(m);
        mosquitto_destroy(m);
        return ok;
      }))
    throw std::runtime_error("mosquitto did not start: " + read_file(dir_.file("mosquitto.log")));
}

void mqtt_broker::freeze() {
  proc_->signal(SIGSTOP);
}

void mqtt_broker::thaw() {
  proc_->signal(SIGCONT);
}

mqtt_subscriber::mqtt_subscriber(uint16_t port, const std::string& filter) {
  mosquitto_lib_init();
  m_ = mosquitto_new(nullptr, true, this);
  mosquitto_message_callback_set(m_, [](mosquitto*, void* self, const mosquitto_message* msg) {
    static_cast<mqtt_subscriber*>(self)->on_message(
      msg->topic, std::string(static_cast<const char*>(msg->payload),
                              static_cast<size_t>(msg->payloadlen)));
  });
  if (mosquitto_connect(m_, "127.0.0.1", port, 30) != MOSQ_ERR_SUCCESS)
    throw std::runtime_error("mqtt_subscriber: cannot connect");
  int mid = 0;
  if (mosquitto_subscribe(m_, &mid, filter.c_str(), 1) != MOSQ_ERR_SUCCESS)
    throw std::runtime_error("mqtt_subscriber: cannot subscribe");
  // The SUBACK comes through the loop; a few rounds are enough on loopback.
  for (int i = 0; i < 10; ++i)
    mosquitto_loop(m_, 50, 1);
  mosquitto_loop_start(m_);
}

mqtt_subscriber::~mqtt_subscriber() {
  mosquitto_disconnect(m_);
  mosquitto_loop_stop(m_, true);
  mosquitto_destroy(m_);
}

void mqtt_subscriber::on_message(std::string topic, std::string payload) {
  std::lock_guard<std::mutex> guard{mtx_};
  messages_.push_back({std::move(topic), std::move(payload)});
}

std::vector<mqtt_subscriber::message> mqtt_subscriber::messages() const {
  std::lock_guard<std::mutex> guard{mtx_};
  return messages_;
}

} // namespace faultd::test
