#pragma once

// Framing of the control protocol: every message, in both directions, is
//
//   +-----------------------------+------------------------------+
//   | length: 4 bytes, big endian | payload: `length` bytes      |
//   +-----------------------------+------------------------------+
//
// where the payload is a serialized faultd.v1.ControlRequest (client to
// node) or ControlResponse (node to client). A length above the receiver's
// maximum frame size (default 4 MiB) ends the connection. See the README,
// "Control protocol".
//
// frame_decoder is the receiving side: it is fed whatever bytes arrive and
// hands out complete payloads. It never allocates more than it was given:
// a length field is checked against the maximum before anything is
// buffered for it.

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace faultd::control {

/// The default maximum payload size of a frame.
inline constexpr size_t default_max_frame = 4u << 20;

/// Bytes of the length prefix.
inline constexpr size_t frame_header_size = 4;

/// `payload` with its length prefix.
std::string encode_frame(std::string_view payload);

class frame_decoder {
public:
  explicit frame_decoder(size_t max_frame = default_max_frame) : max_(max_frame) {}

  /// Appends received bytes. False once the stream is invalid (a length
  /// above the maximum): the connection must be closed; error() says why.
  bool feed(std::string_view bytes);

  /// The next complete payload, if one has arrived.
  std::optional<std::string> next();

  /// True while part of a frame (header or payload) is buffered.
  bool mid_frame() const { return pos_ < buf_.size(); }

  /// Bytes buffered and not yet handed out.
  size_t buffered() const { return buf_.size() - pos_; }

  /// Why the stream is invalid ("" while it is fine).
  const std::string& error() const { return error_; }

  /// Changes the maximum frame size for what arrives from now on (e.g.
  /// raised once a client has authenticated).
  void set_max(size_t max_frame) { max_ = max_frame; }

private:
  size_t max_;
  std::string buf_;
  size_t pos_ = 0; ///< start of the first frame not yet handed out
  std::string error_;
};

} // namespace faultd::control
