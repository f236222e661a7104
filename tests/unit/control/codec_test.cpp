#include <doctest/doctest.h>

#include <sstream>
#include <string>
#include <vector>

#include "control/codec.hpp"

using namespace faultd;
using namespace faultd::control;

TEST_CASE("every request kind survives encode and decode") {
  for (auto cmd : {command::status, command::faults, command::incidents, command::incident,
                   command::inject, command::strategies, command::services, command::members}) {
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

TEST_CASE("a members request keeps its id and token through peek and decode") {
  request r;
  r.cmd = command::members;
  r.request_id = 77;
  r.token = "secret-token-0123456789";
  auto bytes = encode_request(r);
  uint64_t id = 0;
  std::string token;
  REQUIRE(peek_request(bytes, id, token).ok());
  CHECK(id == 77);
  CHECK(token == r.token);
  CHECK_FALSE(is_reload_request(bytes));
  request back;
  REQUIRE(decode_request(bytes, back).ok());
  CHECK(back.cmd == command::members);
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

namespace {

/// The whitespace-separated cells of the table row that starts with `id`.
std::vector<std::string> row_of(const std::string& text, const std::string& id) {
  std::istringstream lines{text};
  for (std::string line; std::getline(lines, line);) {
    if (line.rfind(id + " ", 0) != 0)
      continue;
    std::istringstream cells{line};
    std::vector<std::string> out;
    for (std::string c; cells >> c;)
      out.push_back(c);
    return out;
  }
  return {};
}

std::vector<member_status> three_members() {
  member_status me;
  me.id = "n1";
  me.address = "10.0.0.1:7401";
  me.incarnation = 2;
  me.self = true;
  member_status late;
  late.id = "n2";
  late.address = "10.0.0.2:7401";
  late.state = "suspect";
  late.phi = 9.46;
  late.last_heard_ms = 3200;
  late.incarnation = 1;
  late.connected = true;
  member_status rumoured; // suspected through gossip, never heard directly
  rumoured.id = "n3";
  rumoured.address = "10.0.0.3:7401";
  rumoured.state = "suspect";
  rumoured.incarnation = 4;
  return {me, late, rumoured};
}

} // namespace

TEST_CASE("members renders state, phi, last heard and incarnation, this node marked") {
  reply rep;
  REQUIRE(decode_reply(encode_members(three_members(), 0), rep).ok());
  REQUIRE(rep.ok);
  CHECK(rep.text.rfind("MEMBER", 0) == 0);
  for (auto col : {"ADDRESS", "STATE", "PHI", "LAST HEARD", "INCARNATION"})
    CHECK_MESSAGE(rep.text.find(col) != std::string::npos, col << " in " << rep.text);
  CHECK(rep.text.find("n1 (this node)") != std::string::npos);
  std::vector<std::string> n2{"n2", "10.0.0.2:7401", "suspect", "9.5", "3.2s", "1"};
  std::vector<std::string> n3{"n3", "10.0.0.3:7401", "suspect", "0.0", "-", "4"};
  CHECK(row_of(rep.text, "n2") == n2);
  CHECK(row_of(rep.text, "n3") == n3);
  CHECK(rep.text.find("local health") == std::string::npos);

  REQUIRE(decode_reply(encode_members(three_members(), 2), rep).ok());
  CHECK(rep.text.find("local health 2") != std::string::npos);
}

TEST_CASE("members JSON keeps every field, defaults included") {
  reply rep;
  REQUIRE(decode_reply(encode_members(three_members(), 0), rep).ok());
  // proto3 JSON writes 64-bit integers as strings.
  for (auto key : {"\"local_health\":0", "\"id\":\"n1\"", "\"state\":\"alive\"",
                   "\"phi\":0", "\"last_heard_ms\":\"-1\"", "\"incarnation\":\"2\"",
                   "\"self\":true", "\"connected\":false", "\"address\":\"10.0.0.2:7401\"",
                   "\"state\":\"suspect\"", "\"phi\":9.46", "\"last_heard_ms\":\"3200\""})
    CHECK_MESSAGE(rep.json.find(key) != std::string::npos, key << " in " << rep.json);
  REQUIRE(decode_reply(encode_members({}, 0), rep).ok());
  CHECK(rep.json == "{\"members\":[],\"local_health\":0}");
}

TEST_CASE("status carries the members' details") {
  node_info node;
  node.id = "n1";
  node.address = "10.0.0.1:7401";
  reply rep;
  REQUIRE(decode_reply(encode_status(node, three_members(), {}), rep).ok());
  CHECK(rep.json.find("\"last_heard_ms\":\"3200\"") != std::string::npos);
  CHECK(rep.json.find("\"self\":true") != std::string::npos);
  CHECK(rep.text.find("n1 (this node)") != std::string::npos);
  std::vector<std::string> n3{"n3", "10.0.0.3:7401", "suspect", "0.0", "-", "4"};
  CHECK(row_of(rep.text, "n3") == n3);
}
