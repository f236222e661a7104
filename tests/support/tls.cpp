#include "support/tls.hpp"

#include <stdexcept>

#include "support/support.hpp"

namespace faultd::test {

namespace {

void must(const std::vector<std::string>& argv) {
  auto r = run(argv);
  if (r.status != 0)
    throw std::runtime_error("openssl failed: " + r.err);
}

} // namespace

std::string make_ca(const std::string& dir, const std::string& name) {
  auto key = dir + "/" + name + "-ca.key";
  auto pem = dir + "/" + name + "-ca.pem";
  must({"openssl", "ecparam", "-name", "prime256v1", "-genkey", "-noout", "-out", key});
  must({"openssl", "req", "-x509", "-new", "-key", key, "-days", "2", "-subj",
        "/CN=" + name + " test CA", "-out", pem});
  return pem;
}

cluster_tls make_node_cert(const std::string& dir, const std::string& ca_name,
                           const std::string& node) {
  cluster_tls t;
  t.key = dir + "/" + node + ".key";
  t.certificate = dir + "/" + node + ".pem";
  t.ca = dir + "/" + ca_name + "-ca.pem";
  auto csr = dir + "/" + node + ".csr";
  must({"openssl", "ecparam", "-name", "prime256v1", "-genkey", "-noout", "-out", t.key});
  must({"openssl", "req", "-new", "-key", t.key, "-subj", "/CN=" + node, "-out", csr});
  must({"openssl", "x509", "-req", "-in", csr, "-CA", t.ca, "-CAkey",
        dir + "/" + ca_name + "-ca.key", "-CAcreateserial", "-days", "2", "-out", t.certificate});
  return t;
}

} // namespace faultd::test
