#pragma once

// The client side of the control protocol (frame.hpp): one request, one
// response, over a fresh connection, all of it within a deadline. faultctl
// and the tests use it; any other client can be written from the README's
// description of the framing.

#include <chrono>
#include <string>

#include "control/frame.hpp"
#include "faultd/config.hpp"
#include "faultd/error.hpp"

namespace faultd::control {

/// Connects to `addr`, sends `request` (a serialized ControlRequest) as one
/// frame and reads one frame back into `response`. Connecting, sending and
/// receiving together take at most `timeout`: errc::timeout past it, errc::io
/// when the endpoint cannot be reached or closes the connection first,
/// errc::malformed_payload for a reply frame above `max_frame`.
status call(const control_address& addr, const std::string& request,
            std::chrono::milliseconds timeout, std::string& response,
            size_t max_frame = default_max_frame);

} // namespace faultd::control
