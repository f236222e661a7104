#include <doctest/doctest.h>

#include <random>
#include <string>
#include <vector>

#include "control/codec.hpp"
#include "control/frame.hpp"

using namespace faultd;
using namespace faultd::control;

TEST_CASE("a frame is a 4-byte big-endian length and the payload") {
  auto f = encode_frame("abc");
  REQUIRE(f.size() == 7);
  CHECK(f.substr(0, 4) == std::string{"\0\0\0\3", 4});
  CHECK(f.substr(4) == "abc");
  CHECK(encode_frame("").size() == 4);
}

TEST_CASE("the decoder hands out frames however the bytes are split") {
  std::string stream = encode_frame("first") + encode_frame("") + encode_frame(std::string(70000, 'x'));
  for (size_t chunk : {size_t{1}, size_t{3}, size_t{4}, size_t{7}, size_t{4096}, stream.size()}) {
    frame_decoder d;
    std::vector<std::string> got;
    for (size_t i = 0; i < stream.size(); i += chunk) {
      REQUIRE(d.feed(std::string_view{stream}.substr(i, chunk)));
      while (auto f = d.next())
        got.push_back(*f);
    }
    REQUIRE(got.size() == 3);
    CHECK(got[0] == "first");
    CHECK(got[1].empty());
    CHECK(got[2].size() == 70000);
    CHECK_FALSE(d.mid_frame());
    CHECK(d.buffered() == 0);
  }
}

TEST_CASE("a length above the maximum is refused before its payload is buffered") {
  frame_decoder d{1024};
  CHECK(d.feed(std::string{"\x7f\xff\xff\xff", 4}) == false);
  CHECK(d.error().find("over the maximum of 1024") != std::string::npos);
  CHECK(d.buffered() <= 4);
  CHECK_FALSE(d.next());
  CHECK_FALSE(d.feed("more"));

  frame_decoder exact{1024};
  CHECK(exact.feed(encode_frame(std::string(1024, 'a'))));
  CHECK(exact.next()->size() == 1024);
}

TEST_CASE("a truncated frame waits and is reported as mid-frame") {
  frame_decoder d;
  auto f = encode_frame("hello");
  REQUIRE(d.feed(f.substr(0, 6)));
  CHECK(d.mid_frame());
  CHECK_FALSE(d.next());
  REQUIRE(d.feed(f.substr(6)));
  CHECK(*d.next() == "hello");
  CHECK_FALSE(d.mid_frame());
}

TEST_CASE("fuzz: 100k random and mutated frames never crash the decoder or the request parser") {
  std::mt19937_64 rng{20261201};
  control::request valid;
  valid.cmd = control::command::inject;
  valid.event.component = "gw";
  valid.event.details["k"] = "v";
  valid.request_id = 7;
  auto good = encode_frame(encode_request(valid));
  size_t frames = 0;
  size_t parsed = 0;
  size_t refused = 0;
  frame_decoder d{64 * 1024};
  // Every complete frame goes through the envelope scan and the parser.
  auto take_frames = [&](frame_decoder& dec) {
    while (auto f = dec.next()) {
      ++frames;
      uint64_t id = 0;
      std::string token;
      control::request r;
      if (peek_request(*f, id, token).ok() && decode_request(*f, r).ok())
        ++parsed;
    }
  };
  for (int i = 0; i < 100000; ++i) {
    std::string bytes;
    switch (rng() % 4) {
      case 0: { // random bytes
        bytes.resize(rng() % 64);
        for (auto& c : bytes)
          c = static_cast<char>(rng());
        break;
      }
      case 1: { // a good frame with bytes flipped
        bytes = good;
        for (int k = 0, n = 1 + static_cast<int>(rng() % 4); k < n; ++k)
          bytes[rng() % bytes.size()] ^= static_cast<char>(1u << (rng() % 8));
        break;
      }
      case 2: // a good frame cut short
        bytes = good.substr(0, rng() % good.size());
        break;
      default: // a good frame with random payload bytes behind a sane length
        bytes = encode_frame(std::string(rng() % 200, static_cast<char>(rng())));
        break;
    }
    // Alone, as the first bytes of a connection...
    frame_decoder alone{64 * 1024};
    if (alone.feed(bytes))
      take_frames(alone);
    // ... and as part of one long stream.
    if (!d.feed(bytes)) {
      ++refused;
      CHECK(d.buffered() <= 64 * 1024 + 4 + bytes.size());
      d = frame_decoder{64 * 1024}; // the connection would be closed
      continue;
    }
    take_frames(d);
    if (d.buffered() > 64 * 1024 + 4) {
      FAIL("the decoder buffers more than one maximal frame");
      break;
    }
  }
  MESSAGE("frames: " << frames << ", parsed as requests: " << parsed << ", streams refused: "
                     << refused);
  CHECK(frames > 40000);
  CHECK(parsed > 1000);
  CHECK(refused > 1000);
}
