#!/usr/bin/env bash
# Installs every Debian 12 package that Keystone's build, tests and benchmarks
# need. Idempotent: when everything is present it installs nothing and prints
# one line. Run as root (or through sudo).
set -euo pipefail

packages=(
  # toolchain
  build-essential cmake ninja-build pkg-config clang-format
  # libraries
  liblmdb-dev librdkafka-dev libyaml-cpp-dev prometheus-cpp-dev libgtest-dev libgmock-dev
  libcpp-httplib-dev rapidjson-dev libcli11-dev libspdlog-dev libfmt-dev libsystemd-dev
  libxxhash-dev libssl-dev zlib1g-dev libbenchmark-dev libevent-dev
  # test peers (openssl makes test certificates; systemd-analyze checks the unit)
  kcat python3 python3-kafka python3-boto3 awscli prometheus lmdb-utils procps openssl systemd
  # benchmark baseline: dynalite runs on node (bench/http_bench.sh installs it with npm)
  nodejs
)
# Debian's nodejs comes without npm; NodeSource's includes it (and conflicts
# with Debian's npm package).
if ! command -v npm >/dev/null; then packages+=(npm); fi

missing=()
for p in "${packages[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed'; then
    missing+=("$p")
  fi
done

if [ ${#missing[@]} -eq 0 ]; then
  echo "install-deps: all ${#packages[@]} packages present"
  exit 0
fi

SUDO=""
if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi
echo "install-deps: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
echo "install-deps: done"
