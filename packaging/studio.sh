#!/usr/bin/env bash
# Installs what is missing, builds, and starts the workbench. With no display it runs the
# headless pipeline instead and says where the results went. Arguments go to safequant-studio.
set -euo pipefail
cd "$(dirname "$0")/.."
packaging/install-deps.sh
BUILD=${SAFEQUANT_BUILD_DIR:-build}
cmake -S . -B "$BUILD" -G Ninja -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build "$BUILD" -j"$(nproc)" --target safequant safequant-studio
CLI="$BUILD/app/safequant"
STUDIO="$BUILD/app/studio/safequant-studio"

if [ -n "${DISPLAY:-}" ] || [ -n "${WAYLAND_DISPLAY:-}" ]; then
  exec "$STUDIO" "$@"
fi

OUT=${SAFEQUANT_OUT:-${XDG_CACHE_HOME:-$HOME/.cache}/safequant/headless}
mkdir -p "$OUT"
echo "studio: no display; running the headless pipeline into $OUT"
"$CLI" info > "$OUT/info.json"
for page in models calibration probe projection quantize results export; do
  QT_QPA_PLATFORM=offscreen "$STUDIO" --page "$page" --screenshot "$OUT/$page.png" "$@" 2>/dev/null
done
echo "studio: results in $OUT:"
ls -1 "$OUT" | sed 's/^/  /'
