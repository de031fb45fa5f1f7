#!/usr/bin/env bash
# Installs what echosim needs to build (Debian packages) when it is missing, then
# configures and builds into build/ (binary: build/bin/echosim). Safe to re-run:
# installed packages are skipped and the build is incremental (ccache when present).
#   tools/setup.sh            release build with tests and benchmarks
#   BUILD_DIR=out tools/setup.sh
set -euo pipefail
cd "$(dirname "$0")/.."
build_dir=${BUILD_DIR:-build}

packages=(cmake g++ ninja-build ccache pkg-config libboost-graph-dev libyaml-cpp-dev libprotobuf-dev
          protobuf-compiler nlohmann-json3-dev libeigen3-dev libgtest-dev libgmock-dev
          libbenchmark-dev python3)
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "echosim setup: installing ${missing[*]}"
  sudo=""
  if [ "$(id -u)" != 0 ]; then sudo="sudo"; fi
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

jobs=$(nproc 2>/dev/null || echo 2)
cmake -S . -B "$build_dir" -G Ninja -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build "$build_dir" -j "$jobs"
echo "echosim setup: built $build_dir/bin/echosim"
