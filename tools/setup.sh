# Sourced by tools/test, tools/demo and tools/bench: installs the Debian 12
# packages faultd needs when they are missing, then configures and builds.
#   faultd_setup [cmake targets...]   (no targets = everything)

FAULTD_PACKAGES=(
  cmake g++ make pkg-config
  libcaf-dev libprotobuf-dev protobuf-compiler libsqlite3-dev libspdlog-dev
  doctest-dev libyaml-cpp-dev libcurl4-openssl-dev libssl-dev openssl libmosquitto-dev
  prometheus-cpp-dev libsystemd-dev
)

faultd_install_packages() {
  local missing=() p
  for p in "$@"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
  done
  [ ${#missing[@]} -eq 0 ] && return 0
  echo "setup: installing ${missing[*]}" >&2
  local sudo=""
  [ "$(id -u)" -ne 0 ] && sudo="sudo"
  $sudo env DEBIAN_FRONTEND=noninteractive apt-get update -qq
  $sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >&2
}

faultd_setup() {
  [ -n "${FAULTD_CMAKE_ARGS+x}" ] || FAULTD_CMAKE_ARGS=()
  FAULTD_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
  FAULTD_BUILD="${FAULTD_BUILD:-$FAULTD_ROOT/build}"
  faultd_install_packages "${FAULTD_PACKAGES[@]}"
  cmake -S "$FAULTD_ROOT" -B "$FAULTD_BUILD" -DCMAKE_BUILD_TYPE=RelWithDebInfo \
    "${FAULTD_CMAKE_ARGS[@]}" >/dev/null
  local jobs
  jobs="$(nproc 2>/dev/null || echo 2)"
  if [ $# -gt 0 ]; then
    cmake --build "$FAULTD_BUILD" -j"$jobs" --target "$@"
  else
    cmake --build "$FAULTD_BUILD" -j"$jobs"
  fi
}
