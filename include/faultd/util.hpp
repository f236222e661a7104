#pragma once

// Small helpers every part of faultd uses.

#include <string>
#include <string_view>

namespace faultd {

/// A random (version 4) UUID, lower-case, 36 characters.
std::string make_uuid();

/// Lower-case hex SHA-256 of `data`.
std::string sha256_hex(std::string_view data);

/// Lower-case hex SHA-256 of a file's contents; empty with `err` set if the
/// file cannot be read.
std::string sha256_file_hex(const std::string& path, std::string& err);

/// `errno` as text: "No such file or directory (2)".
std::string errno_text(int err);

/// Creates `path` and its parents (like mkdir -p). Returns "" or an error text.
std::string make_dirs(const std::string& path);

/// Resolves argv0 like execvp would, against `path_var` (a PATH value):
/// the first executable candidate, else the first existing one (exec will
/// then report EACCES), else the first candidate (ENOENT). argv0 with a '/'
/// is returned unchanged.
std::string resolve_command(const std::string& argv0, const std::string& path_var);

/// Whether `s` holds an ASCII control character (below 0x20, or DEL).
bool has_control_chars(std::string_view s);

/// Whether `s` may name an application's own action or check type: 1-64
/// ASCII letters, digits, `_` and `-`.
bool is_extension_name(std::string_view s);

/// Glob match with `*` and `?` (fnmatch semantics without special cases).
bool glob_match(std::string_view pattern, std::string_view text);

/// A socket address as people read it: "HOST:PORT", "[v6]:PORT"; "unknown"
/// for anything but IPv4 and IPv6. `addr` points to a sockaddr.
std::string socket_address_text(const void* addr);

/// The address of a connected socket's other end (getpeername), as above.
std::string peer_address_text(int fd);

} // namespace faultd
