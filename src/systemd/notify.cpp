#include "systemd/notify.hpp"

#include <systemd/sd-daemon.h>

namespace faultd::systemd {

void ready(const std::string& status) {
  auto msg = "READY=1\nSTATUS=" + status;
  sd_notify(0, msg.c_str());
}

void reloading() {
  sd_notify(0, "RELOADING=1\nSTATUS=reloading the config");
}

void stopping() {
  sd_notify(0, "STOPPING=1\nSTATUS=stopping its services");
}

std::optional<duration> watchdog_interval() {
  uint64_t usec = 0;
  if (sd_watchdog_enabled(0, &usec) <= 0 || usec == 0)
    return std::nullopt;
  return std::chrono::microseconds(usec);
}

void watchdog() {
  sd_notify(0, "WATCHDOG=1");
}

} // namespace faultd::systemd
