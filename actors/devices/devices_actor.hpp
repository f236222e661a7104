#pragma once

// The devices detector (the `devices:` section): subscribes to the
// configured topic patterns on an MQTT broker and scores every device it
// sees with src/devices/silence_detector.hpp. A device whose silence passes
// its threshold raises network_timeout on component "device:<id>" (details:
// gateway, last seen, usual interval, phi), cleared by its next message.
//
// One actor and one MQTT connection for all devices: no actor or timer per
// device. libmosquitto's own network thread puts each message's topic and
// arrival time into a bounded buffer (past 200,000 waiting, messages are
// dropped and counted); the actor takes the buffer every 250 ms, feeds the
// detector and scans it. Learned rhythms are saved to <data_dir>/devices.tsv
// every minute and at stop, and read at start.
//
// Interface ("devices"):
//   (devices_atom, bool silent_only, std::string gateway) -> std::vector<devices::device_view>

#include <memory>

#include <caf/fwd.hpp>

#include "actors/node/context.hpp"

namespace faultd {

caf::actor spawn_devices_actor(caf::actor_system& sys, std::shared_ptr<node_context> ctx);

} // namespace faultd
