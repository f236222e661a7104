#include <chrono>
#include <cstdio>
#include <ctime>
#include <memory>
#include <string>

#include <doctest/doctest.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <sys/stat.h>
#include <unistd.h>

#include "checks/security.hpp"
#include "faultd/util.hpp"
#include "support/support.hpp"

using namespace faultd;
using namespace faultd::checks;

namespace {

time_t to_time_t(timestamp t) {
  return static_cast<time_t>(
      std::chrono::duration_cast<std::chrono::seconds>(t.time_since_epoch()).count());
}

/// Writes a self-signed EC certificate whose notAfter is `now + valid_for`
/// (negative: already expired) to `path` as PEM.
void write_self_signed(const std::string& path, timestamp now, duration valid_for) {
  std::unique_ptr<EVP_PKEY, decltype(&EVP_PKEY_free)> key(EVP_EC_gen("P-256"), EVP_PKEY_free);
  REQUIRE(key);
  std::unique_ptr<X509, decltype(&X509_free)> x(X509_new(), X509_free);
  REQUIRE(x);
  REQUIRE(X509_set_version(x.get(), 2) == 1);
  REQUIRE(ASN1_INTEGER_set(X509_get_serialNumber(x.get()), 42) == 1);
  time_t base = to_time_t(now);
  REQUIRE(X509_time_adj_ex(X509_getm_notBefore(x.get()), -60, 0, &base) != nullptr);
  auto secs = std::chrono::duration_cast<std::chrono::seconds>(valid_for).count();
  REQUIRE(X509_time_adj_ex(X509_getm_notAfter(x.get()), 0, static_cast<long>(secs), &base)
          != nullptr);
  X509_NAME* name = X509_get_subject_name(x.get());
  REQUIRE(X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC,
                                     reinterpret_cast<const unsigned char*>("gateway.test"), -1,
                                     -1, 0)
          == 1);
  REQUIRE(X509_set_issuer_name(x.get(), name) == 1);
  REQUIRE(X509_set_pubkey(x.get(), key.get()) == 1);
  REQUIRE(X509_sign(x.get(), key.get(), EVP_sha256()) > 0);
  FILE* f = std::fopen(path.c_str(), "w");
  REQUIRE(f != nullptr);
  int ok = PEM_write_X509(f, x.get());
  std::fclose(f);
  REQUIRE(ok == 1);
}

duration days(int64_t n) {
  return std::chrono::hours(24 * n);
}

security_config watch(const std::vector<std::string>& files) {
  security_config cfg;
  cfg.watch_files = files;
  return cfg;
}

} // namespace

TEST_CASE("an unchanged watched file gives no event") {
  test::temp_dir dir;
  auto f = dir.file("app.yaml");
  test::write_file(f, "listen: 1883\n");
  manual_clock clock;
  file_watcher w(watch({f}), "n1", clock);
  CHECK(w.scan().empty());
  test::write_file(f, "listen: 1883\n"); // rewritten with the same bytes
  CHECK(w.scan().empty());
  std::string err;
  CHECK(w.baseline(f)->digest == sha256_file_hex(f, err));
}

TEST_CASE("a modified watched file gives one critical security event with both digests") {
  test::temp_dir dir;
  auto f = dir.file("authorized_keys");
  test::write_file(f, "ssh-ed25519 AAAA operator\n");
  manual_clock clock;
  file_watcher w(watch({f}), "n1", clock);
  std::string err;
  auto old_digest = sha256_file_hex(f, err);
  test::write_file(f, "ssh-ed25519 AAAA operator\nssh-rsa BBBB intruder\n");
  auto new_digest = sha256_file_hex(f, err);
  auto evs = w.scan();
  REQUIRE(evs.size() == 1);
  const auto& ev = evs[0];
  CHECK(ev.type == fault_type::security_violation);
  CHECK(ev.severity == fault_severity::critical);
  CHECK(ev.component == "file:" + f);
  CHECK(ev.source == "security:file");
  CHECK(ev.node == "n1");
  CHECK(ev.time == clock.now());
  CHECK_FALSE(ev.clears);
  CHECK(ev.details.at("old_digest") == old_digest);
  CHECK(ev.details.at("new_digest") == new_digest);
  CHECK(old_digest != new_digest);
  // Reported once, not on every scan.
  CHECK(w.scan().empty());
}

TEST_CASE("a deleted watched file gives a high event and its restoration clears it") {
  test::temp_dir dir;
  auto f = dir.file("ca.pem");
  test::write_file(f, "trusted\n");
  manual_clock clock;
  file_watcher w(watch({f}), "n1", clock);
  REQUIRE(::unlink(f.c_str()) == 0);
  auto gone = w.scan();
  REQUIRE(gone.size() == 1);
  CHECK(gone[0].severity == fault_severity::high);
  CHECK(gone[0].details.at("new_digest") == "(missing)");
  CHECK(w.scan().empty());
  test::write_file(f, "trusted\n");
  auto back = w.scan();
  REQUIRE(back.size() == 1);
  CHECK(back[0].clears);
  CHECK(back[0].component == "file:" + f);
}

TEST_CASE("an accepted change becomes the new baseline") {
  test::temp_dir dir;
  auto f = dir.file("policy");
  test::write_file(f, "v1");
  manual_clock clock;
  file_watcher w(watch({f}), "n1", clock);
  test::write_file(f, "v2");
  REQUIRE(w.scan().size() == 1);
  CHECK(w.accept(f));
  CHECK_FALSE(w.accept(dir.file("not-watched")));
  CHECK(w.scan().empty());
  test::write_file(f, "v1"); // the old baseline is now a change
  auto evs = w.scan();
  REQUIRE(evs.size() == 1);
  CHECK(evs[0].severity == fault_severity::critical);
}

TEST_CASE("a file missing at start that appears later is a change") {
  test::temp_dir dir;
  auto f = dir.file("later");
  manual_clock clock;
  file_watcher w(watch({f}), "n1", clock);
  CHECK(w.scan().empty());
  test::write_file(f, "surprise");
  auto evs = w.scan();
  REQUIRE(evs.size() == 1);
  CHECK(evs[0].severity == fault_severity::critical);
  CHECK(evs[0].details.at("old_digest") == "(missing)");
}

TEST_CASE("a certificate far from expiry is fine") {
  test::temp_dir dir;
  manual_clock clock;
  auto p = dir.file("ok.pem");
  write_self_signed(p, clock.now(), days(30));
  security_config cfg; // warning 14 days, critical 2 days
  auto st = check_certificate(p, cfg, clock.now());
  REQUIRE(st.error.ok());
  CHECK_FALSE(st.severity);
  CHECK_FALSE(st.expired);
  CHECK(st.remaining == days(30));
  CHECK(to_time_t(st.not_after) == to_time_t(clock.now() + days(30)));
  CHECK(st.subject.find("CN=gateway.test") != std::string::npos);
}

TEST_CASE("a certificate inside the warning window is high") {
  test::temp_dir dir;
  manual_clock clock;
  auto p = dir.file("soon.pem");
  write_self_signed(p, clock.now(), days(10));
  auto st = check_certificate(p, security_config{}, clock.now());
  REQUIRE(st.error.ok());
  REQUIRE(st.severity);
  CHECK(*st.severity == fault_severity::high);
}

TEST_CASE("a certificate expiring in one day is critical") {
  test::temp_dir dir;
  manual_clock clock;
  auto p = dir.file("day.pem");
  write_self_signed(p, clock.now(), days(1));
  auto st = check_certificate(p, security_config{}, clock.now());
  REQUIRE(st.error.ok());
  REQUIRE(st.severity);
  CHECK(*st.severity == fault_severity::critical);
  CHECK_FALSE(st.expired);
  CHECK(st.message.find("expires in 1d 0h 0m") != std::string::npos);
}

TEST_CASE("an expired certificate is critical") {
  test::temp_dir dir;
  manual_clock clock;
  auto p = dir.file("old.pem");
  write_self_signed(p, clock.now(), -days(3));
  auto st = check_certificate(p, security_config{}, clock.now());
  REQUIRE(st.error.ok());
  CHECK(st.expired);
  CHECK(st.remaining < duration::zero());
  REQUIRE(st.severity);
  CHECK(*st.severity == fault_severity::critical);
  CHECK(st.message.find("expired") != std::string::npos);
}

TEST_CASE("an unreadable certificate is an error result, not a crash") {
  test::temp_dir dir;
  manual_clock clock;
  auto missing = check_certificate(dir.file("none.pem"), security_config{}, clock.now());
  CHECK_FALSE(missing.error.ok());
  CHECK_FALSE(missing.severity);
  auto junk_path = dir.file("junk.pem");
  test::write_file(junk_path, "-----BEGIN CERTIFICATE-----\nnot base64 at all\n");
  auto junk = check_certificate(junk_path, security_config{}, clock.now());
  CHECK_FALSE(junk.error.ok());
  CHECK(junk.error.message().find("cannot read a PEM certificate") != std::string::npos);
}

TEST_CASE("cert monitor reports entering each window once and clears after renewal") {
  test::temp_dir dir;
  manual_clock clock;
  auto p = dir.file("tls.pem");
  write_self_signed(p, clock.now(), days(20));
  security_config cfg;
  cfg.certificates = {p};
  cert_monitor mon(cfg, "n1", clock);
  CHECK(mon.scan().empty());

  clock.advance(days(8)); // 12 days left: warning window
  auto warn = mon.scan();
  REQUIRE(warn.size() == 1);
  CHECK(warn[0].severity == fault_severity::high);
  CHECK(warn[0].type == fault_type::security_violation);
  CHECK(warn[0].component == "cert:" + p);
  CHECK(warn[0].source == "security:cert");
  CHECK(warn[0].metrics.at("remaining_days") == doctest::Approx(12.0));
  CHECK(mon.scan().empty());

  clock.advance(days(11)); // 1 day left
  auto crit = mon.scan();
  REQUIRE(crit.size() == 1);
  CHECK(crit[0].severity == fault_severity::critical);
  CHECK(crit[0].details.at("previous") == "high");

  write_self_signed(p, clock.now(), days(90)); // renewed
  auto renewed = mon.scan();
  REQUIRE(renewed.size() == 1);
  CHECK(renewed[0].clears);
  CHECK(mon.scan().empty());
}

TEST_CASE("cert monitor reports an unreadable certificate as a high event") {
  test::temp_dir dir;
  manual_clock clock;
  security_config cfg;
  cfg.certificates = {dir.file("absent.pem")};
  cert_monitor mon(cfg, "n1", clock);
  auto evs = mon.scan();
  REQUIRE(evs.size() == 1);
  CHECK(evs[0].severity == fault_severity::high);
  CHECK(evs[0].details.at("message").find("cannot open certificate") != std::string::npos);
  CHECK(mon.scan().empty());
}
