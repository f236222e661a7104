#include "mqtt/client.hpp"

#include <mosquitto.h>

#include <algorithm>
#include <cerrno>
#include <mutex>

#include "faultd/util.hpp"

namespace faultd::mqtt {

void init_library() {
  static std::once_flag once;
  std::call_once(once, [] { mosquitto_lib_init(); });
}

client::client(client_options opts) : opts_(std::move(opts)) {
  init_library();
  m_ = mosquitto_new(opts_.client_id.empty() ? nullptr : opts_.client_id.c_str(), true, this);
  if (m_ == nullptr)
    return;
  mosquitto_connect_callback_set(m_, [](mosquitto*, void* self, int rc) {
    static_cast<client*>(self)->on_connect(rc);
  });
  mosquitto_disconnect_callback_set(m_, [](mosquitto*, void* self, int rc) {
    static_cast<client*>(self)->on_disconnect(rc);
  });
  mosquitto_publish_callback_set(m_, [](mosquitto*, void* self, int mid) {
    static_cast<client*>(self)->on_publish(mid);
  });
  mosquitto_subscribe_callback_set(m_, [](mosquitto*, void* self, int mid, int, const int*) {
    static_cast<client*>(self)->on_subscribe(mid);
  });
  mosquitto_message_callback_set(m_, [](mosquitto*, void* self, const mosquitto_message* msg) {
    static_cast<client*>(self)->on_message(
      msg->topic == nullptr ? std::string{} : std::string{msg->topic},
      std::string(static_cast<const char*>(msg->payload), static_cast<size_t>(msg->payloadlen)));
  });
  int rc = MOSQ_ERR_SUCCESS;
  if (!opts_.username.empty())
    rc = mosquitto_username_pw_set(m_, opts_.username.c_str(),
                                   opts_.password.empty() ? nullptr : opts_.password.c_str());
  if (rc == MOSQ_ERR_SUCCESS && !opts_.tls_ca.empty())
    rc = mosquitto_tls_set(m_, opts_.tls_ca.c_str(), nullptr,
                           opts_.tls_certificate.empty() ? nullptr : opts_.tls_certificate.c_str(),
                           opts_.tls_key.empty() ? nullptr : opts_.tls_key.c_str(), nullptr);
  if (rc != MOSQ_ERR_SUCCESS)
    setup_error_ = std::string{"TLS or credentials not usable: "} + mosquitto_strerror(rc);
}

client::~client() {
  if (m_ != nullptr) {
    if (connected_)
      mosquitto_disconnect(m_);
    mosquitto_destroy(m_);
  }
}

void client::on_connect(int rc) {
  connack_ = rc;
  connecting_ = false;
  connected_ = rc == 0;
  if (rc != 0)
    lost_ = std::string{"the broker refused the connection: "} + mosquitto_connack_string(rc);
}

void client::on_disconnect(int rc) {
  connected_ = false;
  connecting_ = false;
  lost_ = rc == 0 ? "disconnected" : std::string{"connection lost: "} + mosquitto_strerror(rc);
}

void client::on_publish(int mid) {
  acked_.insert(mid);
}

void client::on_subscribe(int mid) {
  acked_.insert(mid);
}

void client::on_message(std::string topic, std::string payload) {
  received_.emplace_back(std::move(topic), std::move(payload));
  if (received_.size() > 64)
    received_.pop_front();
}

template <class Pred>
bool client::loop_until(Pred done, std::chrono::steady_clock::time_point deadline,
                        std::string& why) {
  while (!done()) {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
      deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0)
      return false;
    int rc = mosquitto_loop(m_, static_cast<int>(std::min<int64_t>(left.count(), 100)), 1);
    if (rc != MOSQ_ERR_SUCCESS) {
      connected_ = false;
      connecting_ = false;
      why = rc == MOSQ_ERR_ERRNO ? "connection lost" : mosquitto_strerror(rc);
      return false;
    }
    if (!connected_ && !connecting_) {
      why = lost_.empty() ? "connection lost" : lost_;
      return false;
    }
  }
  return true;
}

status client::connect(duration timeout) {
  if (m_ == nullptr)
    return {errc::io, "cannot create an MQTT client"};
  if (!setup_error_.empty())
    return {errc::bad_request, setup_error_};
  if (connected_)
    return {};
  auto deadline = std::chrono::steady_clock::now()
                  + std::chrono::duration_cast<std::chrono::steady_clock::duration>(timeout);
  auto where = opts_.host + ":" + std::to_string(opts_.port);
  connack_ = -1;
  lost_.clear();
  connecting_ = true;
  auto keepalive = static_cast<int>(
    std::max<int64_t>(5, std::chrono::duration_cast<std::chrono::seconds>(opts_.keepalive).count()));
  int rc = mosquitto_connect_async(m_, opts_.host.c_str(), opts_.port, keepalive);
  if (rc != MOSQ_ERR_SUCCESS) {
    connecting_ = false;
    return {errc::unavailable, "connect to " + where + ": "
                                 + (rc == MOSQ_ERR_ERRNO ? errno_text(errno) : mosquitto_strerror(rc))};
  }
  std::string why;
  if (!loop_until([&] { return connack_ >= 0; }, deadline, why)) {
    connecting_ = false;
    mosquitto_disconnect(m_);
    return {errc::timeout, why.empty() ? "no CONNACK from " + where + " within " + human_duration(timeout)
                                       : "connect to " + where + ": " + why};
  }
  if (connack_ != 0)
    return {errc::unavailable, where + ": " + lost_};
  return {};
}

template <class Send>
status client::acknowledged(const char* verb, const std::string& name, const char* ack,
                            duration timeout, Send send) {
  const auto what = std::string{verb} + " " + name;
  auto start = std::chrono::steady_clock::now();
  if (auto st = connect(timeout); !st.ok())
    return st;
  auto deadline = start + std::chrono::duration_cast<std::chrono::steady_clock::duration>(timeout);
  int mid = 0;
  int rc = send(&mid);
  if (rc != MOSQ_ERR_SUCCESS) {
    if (rc == MOSQ_ERR_NO_CONN || rc == MOSQ_ERR_CONN_LOST)
      connected_ = false;
    return {errc::unavailable, what + ": " + mosquitto_strerror(rc)};
  }
  std::string why;
  if (!loop_until([&] { return acked_.erase(mid) > 0; }, deadline, why))
    return {errc::timeout, why.empty() ? "no " + std::string{ack} + " for " + name + " within "
                                           + human_duration(timeout)
                                       : what + ": " + why};
  return {};
}

status client::publish(const std::string& topic, const std::string& payload, int qos,
                       duration timeout, bool retain) {
  return acknowledged("publish to", topic, "PUBACK", timeout, [&](int* mid) {
    return mosquitto_publish(m_, mid, topic.c_str(), static_cast<int>(payload.size()),
                             payload.data(), qos, retain);
  });
}

status client::subscribe(const std::string& filter, int qos, duration timeout) {
  return acknowledged("subscribe to", filter, "SUBACK", timeout, [&](int* mid) {
    return mosquitto_subscribe(m_, mid, filter.c_str(), qos);
  });
}

status client::wait_for(const std::string& topic, const std::string& payload, duration timeout) {
  auto deadline = std::chrono::steady_clock::now()
                  + std::chrono::duration_cast<std::chrono::steady_clock::duration>(timeout);
  auto arrived = [&] {
    for (auto& [t, p] : received_)
      if (t == topic && p == payload)
        return true;
    return false;
  };
  std::string why;
  if (!loop_until(arrived, deadline, why))
    return {errc::timeout, why.empty() ? "the probe message did not come back on " + topic
                                           + " within " + human_duration(timeout)
                                       : "waiting for the probe on " + topic + ": " + why};
  return {};
}

} // namespace faultd::mqtt
