// `cmake --install` of this build into a temporary prefix: the programs
// run from there, the systemd unit names the installed faultd, faultctl's
// bash completion and the docs are in place; an application finds the
// installed package (find_package(faultd), faultd::runtime) and links it.
// And faultd added to another project with add_subdirectory brings no tests
// or benchmarks along. examples/embed builds against the installed package
// and runs: its own detector's fault reaches its own action.

#include <doctest/doctest.h>

#include <algorithm>
#include <string>
#include <unistd.h>

#include "support/support.hpp"

using namespace faultd::test;

namespace {

/// `cmake --install` of this build into `prefix`.
void install_into(const temp_dir& prefix) {
  auto r = run({"cmake", "--install", FAULTD_BINARY_DIR, "--prefix", prefix.path()},
               std::chrono::seconds(120));
  INFO(r.out, r.err);
  REQUIRE(r.status == 0);
}

/// Configures and builds the CMake project in `source` into `build`
/// against the package installed under `prefix`.
void build_against(const temp_dir& prefix, const std::string& source, const std::string& build) {
  auto conf = run({"cmake", "-S", source, "-B", build, "-DCMAKE_PREFIX_PATH=" + prefix.path()},
                  std::chrono::seconds(120));
  INFO(conf.out, conf.err);
  REQUIRE(conf.status == 0);
  auto made = run({"cmake", "--build", build}, std::chrono::seconds(300));
  INFO(made.out, made.err);
  REQUIRE(made.status == 0);
}

} // namespace

TEST_CASE("cmake --install puts faultd, faultctl, the unit, completion and docs under the prefix") {
  temp_dir prefix;
  install_into(prefix);
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

TEST_CASE("add_subdirectory of faultd builds neither its tests nor its benchmarks") {
  temp_dir app;
  write_file(app.file("CMakeLists.txt"),
             "cmake_minimum_required(VERSION 3.25)\nproject(app CXX)\nadd_subdirectory(\""
               + source_dir() + "\" faultd)\n");
  auto r = run({"cmake", "-S", app.path(), "-B", app.file("build")}, std::chrono::seconds(120));
  INFO(r.out, r.err);
  REQUIRE(r.status == 0);
  auto targets = run({"cmake", "--build", app.file("build"), "--target", "help"});
  CHECK(targets.out.find("faultd_actors") != std::string::npos);
  CHECK(targets.out.find("test_") == std::string::npos);
  CHECK(targets.out.find("bench_") == std::string::npos);
}

TEST_CASE("an application built against the installed package finds faultd::runtime") {
  temp_dir prefix;
  install_into(prefix);
  CHECK(::access((prefix.path() + "/include/faultd/config.hpp").c_str(), R_OK) == 0);
  CHECK(::access((prefix.path() + "/lib/cmake/faultd/faultdConfig.cmake").c_str(), R_OK) == 0);
  // Nothing of src/ or actors/ is installed: only the public headers.
  CHECK(::access((prefix.path() + "/include/actors").c_str(), F_OK) != 0);
  temp_dir app;
  write_file(app.file("CMakeLists.txt"),
             "cmake_minimum_required(VERSION 3.25)\nproject(app CXX)\nset(CMAKE_CXX_STANDARD 17)\n"
             "find_package(faultd 0.1 REQUIRED)\nadd_executable(app main.cpp)\n"
             "target_link_libraries(app PRIVATE faultd::runtime)\n");
  // It parses a config with the installed library and prints what it read.
  write_file(app.file("main.cpp"),
             "#include <cstdio>\n#include <faultd/config.hpp>\n"
             "int main() {\n"
             "  auto c = faultd::parse_config(\"services:\\n  - name: queue\\n"
             "    command: [/bin/true]\\n\", \"app.yaml\");\n"
             "  if (!c) { std::puts(c.error->to_string().c_str()); return 1; }\n"
             "  std::printf(\"%s %zu\\n\", c.value->services.at(0).name.c_str(), c.value->services.size());\n"
             "}\n");
  build_against(prefix, app.path(), app.file("build"));
  auto out = run({app.file("build/app")});
  CHECK(out.status == 0);
  CHECK(out.out == "queue 1\n");
}

TEST_CASE("examples/embed, built against the installed package: its probe's fault reaches its action") {
  temp_dir prefix;
  install_into(prefix);
  temp_dir work;
  build_against(prefix, source_dir() + "/examples/embed", work.file("build"));
  // The queue backs up when its consumer stalls; the application's
  // queue_depth check raises it, faultd runs the application's drain_queue,
  // the check passes again and the incident closes.
  auto out = run({work.file("build/queue_guard"), work.file("data")}, std::chrono::seconds(90));
  INFO(out.out, out.err);
  CHECK(out.status == 0);
  CHECK(out.out.find("consumer stalled") != std::string::npos);
  CHECK(out.out.find("incident opened id=") != std::string::npos);
  CHECK(out.out.find("type=resource_exhaustion severity=high") != std::string::npos);
  CHECK(out.out.find("recovery strategy=drain_orders action=drain_queue status=completed")
        != std::string::npos);
  CHECK(out.out.find("reason=\"cleared by check:queue_depth\"") != std::string::npos);
  auto spilled = read_file(work.file("data/spilled-orders.txt"));
  CHECK(!spilled.empty());
  CHECK(out.out.find("recovered spilled=" + std::to_string(std::count(spilled.begin(),
                                                                       spilled.end(), '\n')))
        != std::string::npos);
  // Bad usage is exit 2.
  CHECK(run({work.file("build/queue_guard"), "--help"}).status == 2);
}
