// `cmake --install` of this build into a temporary prefix: the programs
// run from there, the systemd unit names the installed faultd, faultctl's
// bash completion and the docs are in place.

#include <doctest/doctest.h>

#include <string>
#include <unistd.h>

#include "support/support.hpp"

using namespace faultd::test;

TEST_CASE("cmake --install puts faultd, faultctl, the unit, completion and docs under the prefix") {
  temp_dir prefix;
  auto r = run({"cmake", "--install", FAULTD_BINARY_DIR, "--prefix", prefix.path()},
               std::chrono::seconds(120));
  INFO(r.out, r.err);
  REQUIRE(r.status == 0);
  auto at = [&](const std::string& rel) { return prefix.path() + "/" + rel; };
  CHECK(::access(at("bin/faultd").c_str(), X_OK) == 0);
  CHECK(::access(at("bin/faultctl").c_str(), X_OK) == 0);
  auto version = run({at("bin/faultd"), "--version"});
  CHECK(version.status == 0);
  CHECK(version.out.rfind("faultd ", 0) == 0);
  auto unit = read_file(at("lib/systemd/system/faultd.service"));
  CHECK(unit.find("ExecStart=" + at("bin/faultd") + " --config /etc/faultd/faultd.yaml")
        != std::string::npos);
  CHECK(unit.find("@FAULTD_BIN@") == std::string::npos);
  CHECK(read_file(at("share/bash-completion/completions/faultctl")).find("complete -F _faultctl")
        != std::string::npos);
  CHECK(::access(at("share/doc/faultd/ARCHITECTURE.md").c_str(), R_OK) == 0);
  CHECK(::access(at("share/doc/faultd/example.yaml").c_str(), R_OK) == 0);
}
