#!/usr/bin/env bash
# Installs what moecheck builds with on Debian 12 (as root, or through sudo). Idempotent.
#   ci/install-deps.sh            # CPU build: compilers, CMake, Eigen, yaml-cpp, GoogleTest, ...
#   ci/install-deps.sh --gfx11    # also the gfx11 static gate: clang-19, lld-19, llvm-19, HIP headers
#   ci/install-deps.sh --fuzz     # also the fuzz targets (ci/fuzz): clang-19 and its libFuzzer
#   ci/install-deps.sh --browser  # also chromium: the headless check of the coverage report
#                                 # (ci/check-report-in-browser, ctest -L report; else skipped)
# (the options combine). python3-numpy: the exchange tests run a NumPy implementation.
set -euo pipefail
packages=(cmake g++ make libeigen3-dev libyaml-cpp-dev libgtest-dev libgmock-dev
          nlohmann-json3-dev libcli11-dev libfmt-dev libbenchmark-dev clang-format python3
          python3-numpy)
for option in "$@"; do
  case "$option" in
    --gfx11) packages+=(clang-19 lld-19 llvm-19 libamdhip64-dev rocm-device-libs) ;;
    # libclang-rt-19-dev holds libFuzzer and the sanitizer runtimes; clang-19 only recommends it.
    --fuzz) packages+=(clang-19 libclang-rt-19-dev) ;;
    # fonts-dejavu-core: with --no-install-recommends nothing else brings a font for the page.
    --browser) packages+=(chromium fonts-dejavu-core) ;;
    *) echo "ci/install-deps.sh: unknown option $option (--gfx11, --fuzz, --browser)" >&2; exit 2 ;;
  esac
done
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
