#include "checks/security.hpp"

#include <cerrno>
#include <ctime>
#include <memory>

#include <openssl/asn1.h>
#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <sys/stat.h>

#include "faultd/log.hpp"
#include "faultd/util.hpp"

namespace faultd::checks {

namespace {

bool stat_missing(const std::string& path, std::string& error) {
  struct stat st {};
  if (::stat(path.c_str(), &st) == 0)
    return false;
  if (errno == ENOENT || errno == ENOTDIR)
    return true;
  error = "stat: " + errno_text(errno);
  return false;
}

/// The OpenSSL error queue as one line (and empties it).
std::string openssl_errors() {
  std::string out;
  while (unsigned long e = ERR_get_error()) {
    char buf[256];
    ERR_error_string_n(e, buf, sizeof(buf));
    if (!out.empty())
      out += "; ";
    out += buf;
  }
  return out.empty() ? "no PEM certificate found" : out;
}

struct bio_free {
  void operator()(BIO* b) const { BIO_free(b); }
};
struct x509_free {
  void operator()(X509* x) const { X509_free(x); }
};
struct asn1_time_free {
  void operator()(ASN1_TIME* t) const { ASN1_TIME_free(t); }
};

std::string remaining_text(duration d) {
  auto secs = std::chrono::duration_cast<std::chrono::seconds>(d).count();
  if (secs < 0)
    secs = -secs;
  auto days = secs / 86400;
  auto hours = (secs % 86400) / 3600;
  auto mins = (secs % 3600) / 60;
  return std::to_string(days) + "d " + std::to_string(hours) + "h " + std::to_string(mins) + "m";
}

} // namespace

// -- watched files --------------------------------------------------------------

std::string watched_file_state::describe() const {
  switch (kind) {
    case presence::present:
      return digest;
    case presence::missing:
      return "(missing)";
    case presence::unreadable:
      return "(unreadable)";
  }
  return "(unknown)";
}

watched_file_state read_watched_file(const std::string& path) {
  watched_file_state s;
  std::string error;
  if (stat_missing(path, error)) {
    s.kind = watched_file_state::presence::missing;
    return s;
  }
  if (error.empty()) {
    s.digest = sha256_file_hex(path, error);
    if (error.empty()) {
      s.kind = watched_file_state::presence::present;
      return s;
    }
    std::string ignored;
    if (stat_missing(path, ignored)) { // removed while being read
      s.kind = watched_file_state::presence::missing;
      s.digest.clear();
      return s;
    }
  }
  s.kind = watched_file_state::presence::unreadable;
  s.digest.clear();
  s.error = error;
  return s;
}

file_watcher::file_watcher(const security_config& cfg, std::string node,
                           const clock_source& clock)
    : node_(std::move(node)), clock_(&clock) {
  for (const auto& path : cfg.watch_files) {
    auto s = read_watched_file(path);
    if (s.kind != watched_file_state::presence::present)
      log::get("security")->warn("watched-file-unavailable-at-start path={} state={} error={}", path,
                                 s.describe(), s.error);
    files_[path] = entry{s, s};
  }
}

bool file_watcher::accept(const std::string& path) {
  auto i = files_.find(path);
  if (i == files_.end())
    return false;
  i->second.baseline = read_watched_file(path);
  i->second.last = i->second.baseline;
  log::get("security")->info("watched-file-accepted path={} digest={}", path,
                             i->second.baseline.describe());
  return true;
}

std::optional<watched_file_state> file_watcher::baseline(const std::string& path) const {
  auto i = files_.find(path);
  if (i == files_.end())
    return std::nullopt;
  return i->second.baseline;
}

std::vector<fault_event> file_watcher::scan() {
  std::vector<fault_event> out;
  for (auto& [path, e] : files_) {
    auto now = read_watched_file(path);
    if (now.same_as(e.last))
      continue;
    fault_event ev;
    ev.id = make_uuid();
    ev.time = clock_->now();
    ev.type = fault_type::security_violation;
    ev.component = "file:" + path;
    ev.node = node_;
    ev.source = "security:file";
    ev.details["path"] = path;
    ev.details["old_digest"] = e.last.describe();
    ev.details["new_digest"] = now.describe();
    ev.details["baseline_digest"] = e.baseline.describe();
    if (now.same_as(e.baseline)) {
      ev.clears = true;
      ev.severity = fault_severity::low;
      ev.details["message"] = "watched file is back to its baseline";
      log::get("security")->info("watched-file-restored path={}", path);
    } else {
      switch (now.kind) {
        case watched_file_state::presence::present:
          ev.severity = fault_severity::critical;
          ev.details["message"] = "watched file changed";
          break;
        case watched_file_state::presence::missing:
          ev.severity = fault_severity::high;
          ev.details["message"] = "watched file disappeared";
          break;
        case watched_file_state::presence::unreadable:
          ev.severity = fault_severity::high;
          ev.details["message"] = "watched file cannot be read: " + now.error;
          break;
      }
      log::get("security")->warn("watched-file-changed path={} old={} new={}", path,
                                 e.last.describe(), now.describe());
    }
    e.last = now;
    out.push_back(std::move(ev));
  }
  return out;
}

// -- certificates ---------------------------------------------------------------

certificate_status check_certificate(const std::string& path, const security_config& cfg,
                                     timestamp now) {
  certificate_status r;
  r.path = path;
  ERR_clear_error();
  std::unique_ptr<BIO, bio_free> bio(BIO_new_file(path.c_str(), "r"));
  if (!bio) {
    r.error = status(errc::io, "cannot open certificate " + path + ": " + openssl_errors());
    r.message = r.error.message();
    return r;
  }
  std::unique_ptr<X509, x509_free> cert(PEM_read_bio_X509(bio.get(), nullptr, nullptr, nullptr));
  if (!cert) {
    r.error = status(errc::bad_request, "cannot read a PEM certificate from " + path + ": "
                                            + openssl_errors());
    r.message = r.error.message();
    return r;
  }
  const ASN1_TIME* not_after = X509_get0_notAfter(cert.get());
  auto now_t = static_cast<time_t>(
      std::chrono::duration_cast<std::chrono::seconds>(now.time_since_epoch()).count());
  std::unique_ptr<ASN1_TIME, asn1_time_free> now_asn1(ASN1_TIME_set(nullptr, now_t));
  int days = 0;
  int secs = 0;
  std::tm tm_after{};
  if (!now_asn1 || not_after == nullptr
      || ASN1_TIME_diff(&days, &secs, now_asn1.get(), not_after) != 1
      || ASN1_TIME_to_tm(not_after, &tm_after) != 1) {
    r.error = status(errc::bad_request, "certificate " + path + " has an unusable notAfter: "
                                            + openssl_errors());
    r.message = r.error.message();
    return r;
  }
  r.remaining = std::chrono::seconds(static_cast<int64_t>(days) * 86400 + secs);
  r.not_after = timestamp(std::chrono::seconds(::timegm(&tm_after)));
  if (char* subj = X509_NAME_oneline(X509_get_subject_name(cert.get()), nullptr, 0)) {
    r.subject = subj;
    OPENSSL_free(subj);
  }
  auto when = format_timestamp(r.not_after);
  if (r.remaining <= duration::zero()) {
    r.expired = true;
    r.severity = fault_severity::critical;
    r.message = "certificate expired " + remaining_text(r.remaining) + " ago (notAfter " + when
                + ")";
  } else {
    if (r.remaining < cfg.cert_critical)
      r.severity = fault_severity::critical;
    else if (r.remaining < cfg.cert_warning)
      r.severity = fault_severity::high;
    r.message = "certificate expires in " + remaining_text(r.remaining) + " (notAfter " + when
                + ")";
  }
  return r;
}

cert_monitor::cert_monitor(const security_config& cfg, std::string node,
                           const clock_source& clock)
    : cfg_(cfg), node_(std::move(node)), clock_(&clock) {}

std::vector<fault_event> cert_monitor::scan() {
  std::vector<fault_event> out;
  for (const auto& path : cfg_.certificates) {
    auto st = check_certificate(path, cfg_, clock_->now());
    std::string level;
    if (!st.error.ok())
      level = "error";
    else if (st.severity)
      level = std::string(to_string(*st.severity));
    auto& reported = reported_[path];
    bool first = last_.count(path) == 0;
    last_[path] = st;
    if (level == reported)
      continue;
    auto previous = reported;
    reported = level;
    if (level.empty() && first)
      continue;
    fault_event ev;
    ev.id = make_uuid();
    ev.time = clock_->now();
    ev.type = fault_type::security_violation;
    ev.component = "cert:" + path;
    ev.node = node_;
    ev.source = "security:cert";
    ev.details["path"] = path;
    ev.details["message"] = st.message;
    if (st.error.ok()) {
      ev.details["subject"] = st.subject;
      ev.details["not_after"] = format_timestamp(st.not_after);
      ev.metrics["remaining_days"] =
          std::chrono::duration<double>(st.remaining).count() / 86400.0;
    }
    if (level.empty()) {
      ev.clears = true;
      ev.severity = fault_severity::low;
      log::get("security")->info("certificate-ok path={} {}", path, st.message);
    } else if (level == "error") {
      ev.severity = fault_severity::high;
      log::get("security")->error("certificate-unreadable path={} error={}", path,
                                  st.error.message());
    } else {
      ev.severity = *st.severity;
      log::get("security")->warn("certificate-expiring path={} severity={} {}", path, level,
                                 st.message);
    }
    if (!previous.empty())
      ev.details["previous"] = previous;
    out.push_back(std::move(ev));
  }
  return out;
}

} // namespace faultd::checks
