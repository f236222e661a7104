#pragma once

// Telling systemd how faultd is doing (Type=notify; libsystemd's
// sd_notify): READY=1 once the node serves, RELOADING=1 / READY=1 around a
// reload, STOPPING=1 when it stops, and WATCHDOG=1 from the node's
// heartbeat when the unit sets WatchdogSec. Without $NOTIFY_SOCKET (not
// started by systemd) every call does nothing.

#include <optional>
#include <string>

#include "faultd/time.hpp"

namespace faultd::systemd {

void ready(const std::string& status);
void reloading();
void stopping();

/// The watchdog's interval when the service manager asked for pings
/// ($WATCHDOG_USEC, for this process), else nullopt.
std::optional<duration> watchdog_interval();

/// One watchdog ping.
void watchdog();

} // namespace faultd::systemd
