#include "config/yaml_reader.hpp"

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstdlib>
#include <limits>

namespace faultd::config_detail {

namespace {

int line_of(const YAML::Node& n) {
  auto m = n.Mark();
  return m.is_null() ? 0 : m.line + 1;
}

/// Levenshtein distance, for "did you mean" on unknown keys.
size_t edit_distance(std::string_view a, std::string_view b) {
  std::vector<size_t> prev(b.size() + 1), cur(b.size() + 1);
  for (size_t j = 0; j <= b.size(); ++j)
    prev[j] = j;
  for (size_t i = 1; i <= a.size(); ++i) {
    cur[0] = i;
    for (size_t j = 1; j <= b.size(); ++j) {
      auto subst = prev[j - 1] + (a[i - 1] == b[j - 1] ? 0 : 1);
      cur[j] = std::min({prev[j] + 1, cur[j - 1] + 1, subst});
    }
    std::swap(prev, cur);
  }
  return prev[b.size()];
}

std::string suggestion(const std::string& key, const std::vector<std::string>& allowed) {
  std::string best;
  size_t best_d = 3; // only close misspellings
  for (const auto& a : allowed) {
    auto d = edit_distance(key, a);
    if (d < best_d) {
      best_d = d;
      best = a;
    }
  }
  return best.empty() ? "" : " (did you mean " + best + "?)";
}

} // namespace

std::string child_path(const std::string& parent, const std::string& key) {
  return parent.empty() ? key : parent + "." + key;
}

std::string index_path(const std::string& parent, size_t index) {
  return parent + "[" + std::to_string(index) + "]";
}

std::string quoted(std::string_view s) {
  std::string out = "\"";
  for (char c : s) {
    if (c == '"' || c == '\\')
      out += '\\';
    out += c;
  }
  out += '"';
  return out;
}

std::string describe(const YAML::Node& node) {
  switch (node.Type()) {
    case YAML::NodeType::Map:
      return "a map";
    case YAML::NodeType::Sequence:
      return "a list";
    case YAML::NodeType::Scalar:
      return quoted(node.Scalar());
    case YAML::NodeType::Null:
      return "null";
    case YAML::NodeType::Undefined:
      break;
  }
  return "nothing";
}

value::value(const std::string* file, YAML::Node node, std::string path, int line)
  : file_(file), node_(std::move(node)), path_(std::move(path)), line_(line) {
}

void value::fail(const std::string& message) const {
  throw parse_failure{
    config_error{*file_, line_, (path_.empty() ? "top level" : path_) + ": " + message}};
}

void value::require_scalar(const char* expected) const {
  if (!node_.IsScalar())
    fail(std::string("expected ") + expected + ", got " + describe(node_));
}

std::string value::as_string() const {
  require_scalar("a string");
  return node_.Scalar();
}

std::string value::as_nonempty_string() const {
  auto s = as_string();
  if (s.empty())
    fail("must not be empty");
  return s;
}

int64_t value::as_int(int64_t min, int64_t max) const {
  require_scalar("an integer");
  const auto& s = node_.Scalar();
  size_t i = 0;
  bool negative = false;
  if (i < s.size() && (s[i] == '-' || s[i] == '+')) {
    negative = s[i] == '-';
    ++i;
  }
  if (i == s.size() || s.find_first_not_of("0123456789", i) != std::string::npos)
    fail("expected an integer, got " + quoted(s));
  if (negative && min >= 0 && s.find_first_not_of('0', i) != std::string::npos)
    fail("must not be negative, got " + s);
  errno = 0;
  long long v = std::strtoll(s.c_str(), nullptr, 10);
  if (errno == ERANGE || v < min || v > max)
    fail("out of range, got " + s + " (expected " + std::to_string(min) + ".." +
         std::to_string(max) + ")");
  return v;
}

uint32_t value::as_u32() const {
  return static_cast<uint32_t>(as_int(0, std::numeric_limits<uint32_t>::max()));
}

uint64_t value::as_u64() const {
  return static_cast<uint64_t>(as_int(0, std::numeric_limits<int64_t>::max()));
}

double value::as_double() const {
  require_scalar("a number");
  const auto& s = node_.Scalar();
  char* end = nullptr;
  errno = 0;
  double d = s.empty() ? 0 : std::strtod(s.c_str(), &end);
  if (s.empty() || end != s.c_str() + s.size() || errno == ERANGE || !std::isfinite(d))
    fail("expected a number, got " + quoted(s));
  return d;
}

bool value::as_bool() const {
  require_scalar("true or false");
  auto s = node_.Scalar();
  std::string lower;
  for (char c : s)
    lower += static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  if (lower == "true" || lower == "yes" || lower == "on")
    return true;
  if (lower == "false" || lower == "no" || lower == "off")
    return false;
  fail("expected true or false, got " + quoted(s));
}

duration value::as_duration() const {
  require_scalar("a duration");
  const auto& s = node_.Scalar();
  if (auto d = parse_duration(s))
    return *d;
  if (duration_too_large(s))
    fail("duration " + quoted(s) + " is too large (at most 106751d)");
  fail("bad duration " + quoted(s) + " (expected e.g. 250ms, 30s, 5m or a number of seconds)");
}

duration value::as_positive_duration() const {
  auto d = as_duration();
  if (d.count() <= 0)
    fail("must be greater than 0, got " + node_.Scalar());
  return d;
}

endpoint value::as_endpoint() const {
  require_scalar("HOST:PORT");
  const auto& s = node_.Scalar();
  if (auto e = parse_endpoint(s))
    return *e;
  fail("bad endpoint " + quoted(s) + " (expected HOST:PORT)");
}

std::vector<value> value::as_list() const {
  std::vector<value> out;
  if (node_.IsNull())
    return out;
  if (!node_.IsSequence())
    fail("expected a list, got " + describe(node_));
  size_t i = 0;
  for (const auto& item : node_) {
    int line = line_of(item);
    out.emplace_back(file_, item, index_path(path_, i), line ? line : line_);
    ++i;
  }
  return out;
}

std::vector<std::string> value::as_string_list() const {
  std::vector<std::string> out;
  for (const auto& item : as_list())
    out.push_back(item.as_string());
  return out;
}

std::map<std::string, std::string> value::as_string_map() const {
  std::map<std::string, std::string> out;
  map_reader m(*this, {});
  for (const auto& [k, v] : m.entries()) {
    if (v.is_null())
      out[k.node().Scalar()] = "";
    else
      out[k.node().Scalar()] = v.as_string();
  }
  return out;
}

map_reader::map_reader(const value& v, std::vector<std::string> allowed) : self_(v) {
  const auto& node = v.node();
  if (node.IsNull())
    return;
  if (!node.IsMap())
    v.fail("expected a map, got " + describe(node));
  for (auto it = node.begin(); it != node.end(); ++it) {
    int key_line = line_of(it->first);
    if (key_line == 0)
      key_line = v.line();
    if (!it->first.IsScalar())
      value(&v.file(), it->first, v.path(), key_line)
        .fail("keys must be strings, got " + describe(it->first));
    const auto& key = it->first.Scalar();
    auto path = child_path(v.path(), key);
    value key_value(&v.file(), it->first, path, key_line);
    if (!allowed.empty() && std::find(allowed.begin(), allowed.end(), key) == allowed.end())
      key_value.fail("unknown key" + suggestion(key, allowed));
    if (index_.count(key))
      key_value.fail("duplicate key (first at line " +
                     std::to_string(entries_[index_[key]].first.line()) + ")");
    // A null value (`key:` with nothing after it) has the position of the
    // next token; report it at its key instead.
    int value_line = it->second.IsNull() ? key_line : line_of(it->second);
    index_[key] = entries_.size();
    entries_.emplace_back(key_value,
                          value(&v.file(), it->second, path, value_line ? value_line : key_line));
  }
}

std::optional<value> map_reader::get(const std::string& key) const {
  auto it = index_.find(key);
  if (it == index_.end())
    return std::nullopt;
  return entries_[it->second].second;
}

value map_reader::field(const std::string& key) const {
  if (auto v = get(key))
    return *v;
  return value(&self_.file(), YAML::Node(YAML::NodeType::Null), child_path(self_.path(), key),
               self_.line());
}

value root_value(const std::string* file, const YAML::Node& node) {
  int line = line_of(node);
  return value(file, node, "", line ? line : 1);
}

} // namespace faultd::config_detail
