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
          libbenchmark-dev python3 python3-dev python3-pip)
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

# Python packages for the echosim Python module, its tests and notebooks (PyPI, with pip):
# only those missing or older than the minimum are installed, into the current Python
# (a virtual environment) or the user's site-packages otherwise.
python=${PYTHON:-python3}
py_missing=$("$python" - <<'PY'
import importlib.metadata as md, re
reqs = {"pybind11": "2.11", "numpy": "1.24", "pandas": "2.0", "matplotlib": "3.7",
        "dask": "2023.5", "distributed": "2023.5", "nbclient": "0.8", "nbformat": "5.9",
        "ipykernel": "6.20", "pytest": "7.0", "HolisticTraceAnalysis": "0.2"}
def key(v):
    return tuple(int(x) for x in re.findall(r"\d+", v)[:3])
for name, least in reqs.items():
    try:
        ok = key(md.version(name)) >= key(least)
    except md.PackageNotFoundError:
        ok = False
    if not ok:
        print(("dask[distributed]" if name in ("dask", "distributed") else name) + ">=" + least)
PY
)
if [ -n "$py_missing" ]; then
  py_missing=$(echo "$py_missing" | sort -u | tr '\n' ' ')
  echo "echosim setup: pip installing $py_missing"
  pip_flags=(-q --disable-pip-version-check)
  if [ "$("$python" -c 'import sys; print(sys.prefix == sys.base_prefix)')" = True ]; then
    pip_flags+=(--user)
    if "$python" -c 'import sysconfig, os, sys; sys.exit(0 if os.path.exists(os.path.join(sysconfig.get_paths()["stdlib"], "EXTERNALLY-MANAGED")) else 1)'; then
      pip_flags+=(--break-system-packages)
    fi
  fi
  # shellcheck disable=SC2086
  "$python" -m pip install "${pip_flags[@]}" $py_missing ||
    echo "echosim setup: warning: pip install failed; the Python module and its tests need: $py_missing"
fi

# Build the Python module whenever pybind11 is importable (also when an earlier configure
# of this build folder ran before pybind11 was installed).
py_module=OFF
if "$python" -c 'import pybind11' 2>/dev/null; then py_module=ON; fi

jobs=$(nproc 2>/dev/null || echo 2)
cmake -S . -B "$build_dir" -G Ninja -DCMAKE_BUILD_TYPE=Release \
      -DPython_EXECUTABLE="$(command -v "$python")" -DECHOSIM_BUILD_PYTHON=$py_module >/dev/null
cmake --build "$build_dir" -j "$jobs"
echo "echosim setup: built $build_dir/bin/echosim"
