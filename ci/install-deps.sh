#!/usr/bin/env bash
# Installs what moecheck builds with on Debian 12 (as root, or through sudo). Idempotent.
#   ci/install-deps.sh            # CPU build: compilers, CMake, Eigen, yaml-cpp, GoogleTest, ...
#   ci/install-deps.sh --gfx11    # also the gfx11 static gate: clang-19, lld-19, llvm-19, HIP headers
set -euo pipefail
packages=(cmake g++ make libeigen3-dev libyaml-cpp-dev libgtest-dev libgmock-dev
          nlohmann-json3-dev libcli11-dev libfmt-dev libbenchmark-dev clang-format python3)
if [[ "${1:-}" == "--gfx11" ]]; then
  packages+=(clang-19 lld-19 llvm-19 libamdhip64-dev rocm-device-libs)
fi
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if ((${#missing[@]})); then
  sudo=""
  [[ $(id -u) -eq 0 ]] || sudo="sudo"
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi
