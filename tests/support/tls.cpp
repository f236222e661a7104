#include "support/tls.hpp"

#include <openssl/ssl.h>

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

std::string client_hello() {
  SSL_CTX* ctx = SSL_CTX_new(TLS_client_method());
  SSL* ssl = SSL_new(ctx);
  BIO* in = BIO_new(BIO_s_mem());
  BIO* out = BIO_new(BIO_s_mem());
  SSL_set_bio(ssl, in, out); // the SSL owns both now
  SSL_set_connect_state(ssl);
  SSL_do_handshake(ssl); // writes the hello, then wants to read
  std::string hello(static_cast<size_t>(BIO_pending(out)), '\0');
  if (!hello.empty())
    BIO_read(out, hello.data(), static_cast<int>(hello.size()));
  SSL_free(ssl);
  SSL_CTX_free(ctx);
  if (hello.empty())
    throw std::runtime_error("OpenSSL wrote no ClientHello");
  return hello;
}

} // namespace faultd::test
