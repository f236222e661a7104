#include "alerting/payload.hpp"

#include <cstdio>

namespace faultd::alerting {

namespace {

/// Length of the valid UTF-8 sequence at s[i] (0: not valid).
size_t utf8_length(const std::string& s, size_t i) {
  auto c = static_cast<unsigned char>(s[i]);
  size_t n = c < 0x80 ? 1 : (c >> 5) == 0x6 ? 2 : (c >> 4) == 0xE ? 3 : (c >> 3) == 0x1E ? 4 : 0;
  if (n == 0 || i + n > s.size())
    return 0;
  for (size_t k = 1; k < n; ++k)
    if ((static_cast<unsigned char>(s[i + k]) & 0xC0) != 0x80)
      return 0;
  return n;
}

void add_field(std::string& out, const char* key, const std::string& value, bool& first) {
  if (!first)
    out += ',';
  first = false;
  out += json_string(key);
  out += ':';
  out += json_string(value);
}

std::string labels_json(const alert& a) {
  std::string out = "{";
  bool first = true;
  add_field(out, "alertname", "faultd_" + std::string{to_string(a.type)}, first);
  add_field(out, "severity", std::string{to_string(a.severity)}, first);
  add_field(out, "component", a.component, first);
  add_field(out, "node", a.node, first);
  add_field(out, "fault_type", std::string{to_string(a.type)}, first);
  add_field(out, "incident", a.incident_id, first);
  return out + "}";
}

} // namespace

std::string json_string(const std::string& s) {
  std::string out = "\"";
  for (size_t i = 0; i < s.size();) {
    auto c = static_cast<unsigned char>(s[i]);
    if (c == '"' || c == '\\') {
      out += '\\';
      out += static_cast<char>(c);
      ++i;
    } else if (c == '\n') {
      out += "\\n";
      ++i;
    } else if (c < 0x20 || c == 0x7F) {
      char buf[8];
      std::snprintf(buf, sizeof buf, "\\u%04x", c);
      out += buf;
      ++i;
    } else if (auto n = utf8_length(s, i); n > 0) {
      out.append(s, i, n);
      i += n;
    } else {
      out += "\\ufffd";  // not UTF-8: JSON cannot carry the byte
      ++i;
    }
  }
  return out + "\"";
}

std::string alertmanager_body(const std::vector<notice>& notices) {
  std::string out = "[";
  for (const auto& n : notices) {
    if (out.size() > 1)
      out += ',';
    out += "{\"labels\":" + labels_json(n.a);
    out += ",\"annotations\":{\"summary\":" + json_string(n.a.summary) + "}";
    out += ",\"startsAt\":" + json_string(format_timestamp(n.a.time));
    if (n.ends_at)
      out += ",\"endsAt\":" + json_string(format_timestamp(*n.ends_at));
    out += "}";
  }
  return out + "]";
}

std::string webhook_body(const notice& n) {
  std::string a = "{";
  bool first = true;
  add_field(a, "id", n.a.id, first);
  add_field(a, "incident", n.a.incident_id, first);
  add_field(a, "severity", std::string{to_string(n.a.severity)}, first);
  add_field(a, "component", n.a.component, first);
  add_field(a, "node", n.a.node, first);
  add_field(a, "fault_type", std::string{to_string(n.a.type)}, first);
  add_field(a, "summary", n.a.summary, first);
  add_field(a, "time", format_timestamp(n.a.time), first);
  a += "}";
  return "{\"kind\":" + json_string(n.resolved() ? "resolved" : "firing") + ",\"alert\":" + a
         + ",\"ends_at\":" + json_string(n.ends_at ? format_timestamp(*n.ends_at) : "") + "}";
}

std::string incident_body(const std::string& event, const incident& x) {
  std::string i = "{";
  bool first = true;
  add_field(i, "id", x.id, first);
  add_field(i, "component", x.component, first);
  add_field(i, "fault_type", std::string{to_string(x.type)}, first);
  add_field(i, "severity", std::string{to_string(x.severity)}, first);
  add_field(i, "status", std::string{to_string(x.status)}, first);
  add_field(i, "node", x.node, first);
  add_field(i, "opened_at", format_timestamp(x.opened_at), first);
  add_field(i, "closed_at", x.closed_at ? format_timestamp(*x.closed_at) : "", first);
  add_field(i, "close_reason", x.close_reason, first);
  add_field(i, "root_cause", x.root_cause, first);
  i += ",\"count\":" + std::to_string(x.event_count) + "}";
  return "{\"event\":" + json_string(event) + ",\"incident\":" + i + "}";
}

std::string alertmanager_key(const alert& a) {
  return labels_json(a);
}

std::string group_of(const alert& a) {
  return a.component + "|" + std::string{to_string(a.type)};
}

} // namespace faultd::alerting
