#include "control/frame.hpp"

namespace faultd::control {

namespace {

uint32_t read_length(const char* p) {
  auto b = reinterpret_cast<const unsigned char*>(p);
  return (uint32_t{b[0]} << 24) | (uint32_t{b[1]} << 16) | (uint32_t{b[2]} << 8) | uint32_t{b[3]};
}

} // namespace

std::string encode_frame(std::string_view payload) {
  std::string out;
  out.reserve(frame_header_size + payload.size());
  auto n = static_cast<uint32_t>(payload.size());
  out.push_back(static_cast<char>((n >> 24) & 0xff));
  out.push_back(static_cast<char>((n >> 16) & 0xff));
  out.push_back(static_cast<char>((n >> 8) & 0xff));
  out.push_back(static_cast<char>(n & 0xff));
  out.append(payload.data(), payload.size());
  return out;
}

bool frame_decoder::feed(std::string_view bytes) {
  if (!error_.empty())
    return false;
  // Drop what was handed out before growing the buffer.
  if (pos_ > 0 && (pos_ == buf_.size() || pos_ > (64u << 10))) {
    buf_.erase(0, pos_);
    pos_ = 0;
  }
  buf_.append(bytes.data(), bytes.size());
  // Check every complete header now, so an oversized length is refused
  // before its payload is buffered.
  size_t at = pos_;
  while (buf_.size() - at >= frame_header_size) {
    auto len = read_length(buf_.data() + at);
    if (len > max_) {
      error_ = "frame of " + std::to_string(len) + " bytes is over the maximum of "
               + std::to_string(max_);
      return false;
    }
    if (buf_.size() - at - frame_header_size < len)
      break;
    at += frame_header_size + len;
  }
  return true;
}

std::optional<std::string> frame_decoder::next() {
  if (!error_.empty() || buf_.size() - pos_ < frame_header_size)
    return std::nullopt;
  auto len = read_length(buf_.data() + pos_);
  if (buf_.size() - pos_ - frame_header_size < len)
    return std::nullopt;
  std::string out = buf_.substr(pos_ + frame_header_size, len);
  pos_ += frame_header_size + len;
  if (pos_ == buf_.size()) {
    buf_.clear();
    pos_ = 0;
    if (buf_.capacity() > (64u << 10))
      std::string{}.swap(buf_); // a big frame's memory goes with it
  }
  return out;
}

} // namespace faultd::control
