// The peer port's rules and cluster.tls's files (README, "Ports and trust").

#include <cerrno>
#include <cstdio>
#include <memory>

#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509_vfy.h>

#include "faultd/config.hpp"
#include "faultd/util.hpp"

namespace faultd {

bool is_loopback_host(const std::string& host) {
  return host == "localhost" || host == "::1" || host == "[::1]" || host.rfind("127.", 0) == 0;
}

std::string peer_port_problem(const config& cfg, std::string* key) {
  auto name = [key](const char* k) {
    if (key != nullptr)
      *key = k;
  };
  const auto& c = cfg.cluster;
  if (!c.seeds.empty() && !cfg.node.listen) {
    name("cluster.seeds");
    return "a node with seeds needs node.listen (its peer port: the seeds connect back to it)";
  }
  if (cfg.node.listen && !c.tls && !c.insecure_plaintext
      && !is_loopback_host(cfg.node.listen->host)) {
    name("node.listen");
    return "peer port " + cfg.node.listen->to_string()
           + " is off loopback: set cluster.tls (certificate, key, ca) for mutual TLS, or "
             "cluster.insecure_plaintext: true to accept plaintext BASP on the network";
  }
  return "";
}

namespace {

struct file_closer {
  void operator()(FILE* f) const { std::fclose(f); }
};
using file_ptr = std::unique_ptr<FILE, file_closer>;

status open_pem(const std::string& path, const char* what, file_ptr& out) {
  out.reset(std::fopen(path.c_str(), "r"));
  if (!out)
    return {errc::config_invalid, std::string{what} + " " + path
                                    + " cannot be read: " + errno_text(errno)};
  return {};
}

} // namespace

status check_tls_files(const cluster_tls& tls) {
  file_ptr f;
  if (auto st = open_pem(tls.certificate, "certificate", f); !st.ok())
    return st;
  std::unique_ptr<X509, decltype(&X509_free)> cert{PEM_read_X509(f.get(), nullptr, nullptr, nullptr),
                                                   &X509_free};
  if (!cert)
    return {errc::config_invalid,
            "certificate " + tls.certificate + " holds no PEM certificate"};
  if (auto st = open_pem(tls.key, "key", f); !st.ok())
    return st;
  std::unique_ptr<EVP_PKEY, decltype(&EVP_PKEY_free)> key{
    PEM_read_PrivateKey(f.get(), nullptr, nullptr, nullptr), &EVP_PKEY_free};
  if (!key)
    return {errc::config_invalid, "key " + tls.key
                                    + " holds no PEM private key (or it needs a passphrase)"};
  if (X509_check_private_key(cert.get(), key.get()) != 1)
    return {errc::config_invalid,
            "key " + tls.key + " does not belong to certificate " + tls.certificate};
  if (auto st = open_pem(tls.ca, "ca", f); !st.ok())
    return st;
  std::unique_ptr<X509_STORE, decltype(&X509_STORE_free)> store{X509_STORE_new(),
                                                                 &X509_STORE_free};
  int cas = 0;
  while (X509* ca = PEM_read_X509(f.get(), nullptr, nullptr, nullptr)) {
    X509_STORE_add_cert(store.get(), ca);
    X509_free(ca);
    ++cas;
  }
  if (cas == 0)
    return {errc::config_invalid, "ca " + tls.ca + " holds no PEM certificate"};
  std::unique_ptr<X509_STORE_CTX, decltype(&X509_STORE_CTX_free)> ctx{X509_STORE_CTX_new(),
                                                                      &X509_STORE_CTX_free};
  X509_STORE_CTX_init(ctx.get(), store.get(), cert.get(), nullptr);
  if (X509_verify_cert(ctx.get()) != 1)
    return {errc::config_invalid,
            "certificate " + tls.certificate + " is not signed by ca "
              + tls.ca + ": "
              + X509_verify_cert_error_string(X509_STORE_CTX_get_error(ctx.get()))};
  return {};
}

} // namespace faultd
