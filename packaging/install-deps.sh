#!/usr/bin/env bash
# Installs, from Debian 12 packages only, what building, running and testing SafeQuant Workbench
# needs. Idempotent: when every package is present it touches nothing and needs no network.
set -euo pipefail

PACKAGES=(
  # build
  cmake g++ ninja-build pkg-config
  # core
  libtorch-dev libopenblas0-openmp nlohmann-json3-dev libpcre2-dev libicu-dev
  # the reference solver the SLR probe is checked against (tests and bench only)
  liblinear-dev
  # GUI: Qt 6 and exactly the QML modules the app imports
  qt6-base-dev qt6-declarative-dev qt6-charts-dev qt6-svg-dev
  qml6-module-qtqml qml6-module-qtqml-models qml6-module-qtqml-workerscript
  qml6-module-qtquick qml6-module-qtquick-window qml6-module-qtquick-layouts
  qml6-module-qtquick-controls qml6-module-qtquick-templates qml6-module-qtcharts
  qml6-module-qtquick-dialogs qml6-module-qt-labs-folderlistmodel qml6-module-qttest
  # headless display for the GUI (screenshots, tests without a display)
  xvfb xauth libgl1-mesa-dri fonts-dejavu-core
  # a single-node Slurm cluster for the test of `safequant sweep --slurm` (tests/slurm/cluster.sh)
  slurm-wlm munge
  # fuzz targets of the file readers (libFuzzer, ASan, UBSan)
  clang-14 libclang-rt-14-dev
  # packaging
  dpkg-dev file
)

missing=()
for p in "${PACKAGES[@]}"; do
  # ${Status} is dpkg-query's format field, not a shell variable.
  # shellcheck disable=SC2016
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$p")
  fi
done

if [ ${#missing[@]} -eq 0 ]; then
  echo "install-deps: all ${#PACKAGES[@]} packages present"
else
  SUDO=""
  if [ "$(id -u)" -ne 0 ]; then
    command -v sudo >/dev/null || { echo "install-deps: need root or sudo to install: ${missing[*]}" >&2; exit 1; }
    SUDO=sudo
  fi
  echo "install-deps: installing ${#missing[@]} packages: ${missing[*]}"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
  echo "install-deps: done"
fi

# llama.cpp itself, as the node-llama-cpp npm package ships it prebuilt for x64 CPUs, checks the
# GGUF exports (tests only). Pinned by tests/llama_cpp/package-lock.json; no install scripts run,
# so nothing is downloaded or compiled beyond the registry's packages. Without npm the check is
# skipped and says why.
LLAMA_DIR="$(cd "$(dirname "$0")/../tests/llama_cpp" && pwd)"
if [ -d "$LLAMA_DIR/node_modules/@node-llama-cpp/linux-x64" ]; then
  echo "install-deps: node-llama-cpp present"
elif ! command -v npm >/dev/null; then
  echo "install-deps: warning: npm not found; the llama.cpp check of GGUF exports will be skipped" >&2
elif (cd "$LLAMA_DIR" && npm install --no-save --omit=optional --ignore-scripts --no-audit --no-fund --loglevel=error >/dev/null 2>&1); then
  echo "install-deps: node-llama-cpp installed"
else
  echo "install-deps: warning: npm could not install node-llama-cpp; the llama.cpp check of GGUF exports will be skipped" >&2
fi
