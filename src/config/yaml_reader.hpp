#pragma once

// Typed, position-aware reading of a yaml-cpp tree for the config loader.
//
// Every value carries its key path ("services[0].restart") and its position,
// so that each conversion can fail with a config_error that names the file,
// the 1-based line, the key and the offending value. The first failure
// unwinds to parse_config() as a `parse_failure`, which parse_config() turns
// into its result; it never leaves the config library.

#include <cstdint>
#include <functional>
#include <initializer_list>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <yaml-cpp/yaml.h>

#include "faultd/config.hpp"

namespace faultd::config_detail {

/// The first error found; thrown by the readers, caught by parse_config().
struct parse_failure {
  config_error error;
};

/// "a" + "b" -> "a.b"; "" + "b" -> "b".
std::string child_path(const std::string& parent, const std::string& key);

/// "a" + 3 -> "a[3]".
std::string index_path(const std::string& parent, size_t index);

/// Describes a node for "got ..." in messages: `"abc"`, `a map`, `a list`, `null`.
std::string describe(const YAML::Node& node);

/// Quotes a string for a message: `"abc"`.
std::string quoted(std::string_view s);

/// One YAML value with the path and line it came from.
class value {
public:
  /// `line` is 1-based (0 if unknown).
  value(const std::string* file, YAML::Node node, std::string path, int line);

  const std::string& file() const { return *file_; }
  const YAML::Node& node() const { return node_; }
  const std::string& path() const { return path_; }
  int line() const { return line_; }
  bool is_null() const { return node_.IsNull(); }

  /// Fails with "<path>: <message>" at this value's line.
  [[noreturn]] void fail(const std::string& message) const;

  /// A scalar (quoted or not); anything else fails.
  std::string as_string() const;
  /// A non-empty scalar.
  std::string as_nonempty_string() const;
  /// An integer in [min, max]; negative values of a count fail as "must not be negative".
  int64_t as_int(int64_t min, int64_t max) const;
  uint32_t as_u32() const;
  uint64_t as_u64() const;
  /// A finite number.
  double as_double() const;
  /// true/false (also yes/no, on/off).
  bool as_bool() const;
  /// `250ms`, `30s`, `5m` or a bare number of seconds (faultd::parse_duration).
  duration as_duration() const;
  /// Like as_duration but zero fails.
  duration as_positive_duration() const;
  /// "HOST:PORT".
  endpoint as_endpoint() const;

  /// The elements of a list (null = empty list); anything else fails.
  std::vector<value> as_list() const;
  /// A list of strings.
  std::vector<std::string> as_string_list() const;
  /// A map from string to scalar text (null = empty). Values of any scalar
  /// kind are taken as their text; lists and maps fail.
  std::map<std::string, std::string> as_string_map() const;

  /// An enum value parsed by `parse`; fails with `unknown <what> "x" (expected <names>)`.
  template <class E, class Parse>
  E as_enum(Parse parse, const char* what, const std::string& names) const {
    auto s = as_string();
    if (auto e = parse(s))
      return *e;
    fail("unknown " + std::string(what) + " " + quoted(s) + " (expected " + names + ")");
  }

private:
  void require_scalar(const char* expected) const;

  const std::string* file_;
  YAML::Node node_;
  std::string path_;
  int line_;
};

/// A YAML map whose keys are checked against a fixed set (or any key when
/// `allowed` is empty), with duplicate keys rejected.
class map_reader {
public:
  /// Fails if `v` is neither a map nor null (null reads as an empty map), on
  /// a duplicate key, and on a key not in `allowed` (unless `allowed` is empty).
  map_reader(const value& v, std::vector<std::string> allowed);

  /// The map itself (for errors about the whole map, e.g. a missing key).
  const value& self() const { return self_; }

  /// The value at `key`, if present.
  std::optional<value> get(const std::string& key) const;
  bool has(const std::string& key) const { return index_.count(key) > 0; }

  /// The value at `key`, or (if absent) a null value with the key's path at
  /// the map's line, for errors such as "required".
  value field(const std::string& key) const;

  /// Calls `assign(value)` if `key` is present.
  template <class F>
  void with(const std::string& key, F&& assign) const {
    if (auto v = get(key))
      assign(*v);
  }

  /// Every (key, value) in document order; the key as a value for its line.
  const std::vector<std::pair<value, value>>& entries() const { return entries_; }

private:
  value self_;
  std::vector<std::pair<value, value>> entries_;
  std::map<std::string, size_t> index_;
};

/// Wraps a whole document (the top level).
value root_value(const std::string* file, const YAML::Node& node);

} // namespace faultd::config_detail
