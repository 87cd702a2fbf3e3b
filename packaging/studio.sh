#!/usr/bin/env bash
# Installs what is missing, builds, trains (or reuses) the demo models and starts the workbench.
# With no display it runs the headless pipeline on the demo models instead and says where the
# results went. Arguments go to safequant-studio.
set -euo pipefail
cd "$(dirname "$0")/.."
packaging/install-deps.sh
BUILD=${SAFEQUANT_BUILD_DIR:-build}
cmake -S . -B "$BUILD" -G Ninja -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build "$BUILD" -j"$(nproc)" --target safequant safequant-studio
CLI="$BUILD/app/safequant"
STUDIO="$BUILD/app/studio/safequant-studio"

# The demo zoo: trained once (a few minutes on two cores), then reused from the user cache.
ZOO=$("$CLI" zoo --preset demo)

if [ -n "${DISPLAY:-}" ] || [ -n "${WAYLAND_DISPLAY:-}" ]; then
  SAFEQUANT_ZOO="$ZOO" exec "$STUDIO" "$@"
fi

OUT=${SAFEQUANT_OUT:-${XDG_CACHE_HOME:-$HOME/.cache}/safequant/headless}
mkdir -p "$OUT"
echo "studio: no display; running the headless pipeline on the demo models in $ZOO"
"$CLI" info > "$OUT/info.json"
"$CLI" probe --model "$ZOO/aligned" --data "$ZOO/data/heldout_malicious.jsonl" "$ZOO/data/heldout_benign.jsonl" \
  --out "$OUT/probe-aligned"
"$CLI" eval --model "$ZOO/base" "$ZOO/aligned" "$ZOO/finetuned" \
  --data "$ZOO/data/heldout_malicious.jsonl" "$ZOO/data/heldout_benign.jsonl" "$ZOO/data/heldout_task.jsonl" \
  --max-new 32 --out "$OUT/eval.json"
for page in models calibration probe projection quantize results export; do
  QT_QPA_PLATFORM=offscreen SAFEQUANT_ZOO="$ZOO" "$STUDIO" --page "$page" --screenshot "$OUT/$page.png" "$@" 2>/dev/null
done
echo "studio: results in $OUT (eval.json/.csv: the three models side by side; probe-aligned/: per-layer probes):"
ls -1 "$OUT" | sed 's/^/  /'
