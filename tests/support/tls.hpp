#pragma once

// Throwaway certificates for TLS tests, made with the openssl command line
// tool (EC P-256 keys: quick to make).

#include <string>

#include "faultd/config.hpp"

namespace faultd::test {

/// A CA in `dir`: <dir>/<name>-ca.pem and <dir>/<name>-ca.key.
std::string make_ca(const std::string& dir, const std::string& name);

/// A node certificate signed by the CA `ca_name` made in `dir`; returns the
/// cluster.tls to use it (certificate, key, and that CA).
cluster_tls make_node_cert(const std::string& dir, const std::string& ca_name,
                           const std::string& node);

/// The bytes of a real TLS ClientHello (what a TLS client sends first), to
/// mutate in hostile-client tests.
std::string client_hello();

} // namespace faultd::test
