#include <doctest/doctest.h>

#include "control/codec.hpp"

using namespace faultd;
using namespace faultd::control;

TEST_CASE("every request kind survives encode and decode") {
  for (auto cmd : {command::status, command::faults, command::incidents, command::incident,
                   command::inject, command::strategies, command::services}) {
    request r;
    r.cmd = cmd;
    r.since_ns = 123;
    r.limit = 7;
    r.open_only = true;
    r.id = "abc";
    r.event.component = "gw";
    r.event.type = fault_type::network_timeout;
    r.event.details["k"] = "v";
    request back;
    REQUIRE(decode_request(encode_request(r), back).ok());
    CHECK(back.cmd == cmd);
    if (cmd == command::faults) {
      CHECK(back.since_ns == 123);
      CHECK(back.limit == 7);
    }
    if (cmd == command::incidents) {
      CHECK(back.limit == 7);
      CHECK(back.open_only);
    }
    if (cmd == command::incident)
      CHECK(back.id == "abc");
    if (cmd == command::inject) {
      CHECK(back.event.component == "gw");
      CHECK(back.event.type == fault_type::network_timeout);
      CHECK(back.event.details.at("k") == "v");
    }
  }
}

TEST_CASE("garbage and empty requests are malformed, bad field values are bad requests") {
  request out;
  CHECK(decode_request("\xff\xff\xff", out).code() == errc::malformed_payload);
  CHECK(decode_request("", out).code() == errc::malformed_payload);
  request inj;
  inj.cmd = command::inject; // no component
  CHECK(decode_request(encode_request(inj), out).code() == errc::bad_request);
  request inc;
  inc.cmd = command::incident; // no id
  CHECK(decode_request(encode_request(inc), out).code() == errc::bad_request);
}

TEST_CASE("empty lists still render as JSON documents with their key") {
  reply rep;
  REQUIRE(decode_reply(encode_incidents({}), rep).ok());
  CHECK(rep.ok);
  CHECK(rep.json == "{\"incidents\":[]}");
  REQUIRE(decode_reply(encode_faults({}), rep).ok());
  CHECK(rep.json == "{\"faults\":[]}");
  REQUIRE(decode_reply(encode_services({}), rep).ok());
  CHECK(rep.json == "{\"services\":[]}");
}

TEST_CASE("an incident renders with the public JSON field names") {
  incident x;
  x.id = "i-1";
  x.component = "gw";
  x.type = fault_type::service_unavailable;
  x.severity = fault_severity::critical;
  x.opened_at = from_unix_nanos(1'795'000'000'000'000'000);
  x.event_count = 3;
  action_execution a;
  a.action.type = action_type::restart_service;
  a.action.target = "gw";
  a.status = action_status::failed;
  a.attempts = 2;
  a.error = "boom";
  x.actions.push_back(a);
  reply rep;
  REQUIRE(decode_reply(encode_incidents({x}), rep).ok());
  for (auto key : {"\"id\":\"i-1\"", "\"component\":\"gw\"", "\"fault_type\":\"service_unavailable\"",
                   "\"severity\":\"critical\"", "\"status\":\"open\"", "\"strategy\":\"\"",
                   "\"opened_at\":\"2026-11-18T11:06:40.000Z\"", "\"closed_at\":\"\"",
                   "\"count\":3", "\"type\":\"restart_service\"", "\"target\":\"gw\"",
                   "\"status\":\"failed\"", "\"attempts\":2", "\"error\":\"boom\""})
    CHECK_MESSAGE(rep.json.find(key) != std::string::npos, key << " in " << rep.json);
  CHECK(rep.text.find("gw") != std::string::npos);
}

TEST_CASE("an error reply carries its code and message") {
  reply rep;
  REQUIRE(decode_reply(encode_error(errc::not_found, "no incident with id x"), rep).ok());
  CHECK_FALSE(rep.ok);
  CHECK(rep.code == errc::not_found);
  CHECK(rep.error == "no incident with id x");
  CHECK(decode_reply("\x01\x02garbage", rep).code() == errc::malformed_payload);
}
