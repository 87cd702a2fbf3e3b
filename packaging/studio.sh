#!/usr/bin/env bash
# Installs what is missing, builds, and starts the workbench on the demo models shipped in the
# repository.
# With no display it runs the headless pipeline on the demo models instead and says where the
# results went. Arguments go to safequant-studio.
set -euo pipefail
cd "$(dirname "$0")/.."
# Each step says how long it took, so that a slow start says where its time went.
STEP_START=$SECONDS
took() {
  echo "studio: $1 in $((SECONDS - STEP_START)) s"
  STEP_START=$SECONDS
}
packaging/install-deps.sh
took "packages"
BUILD=${SAFEQUANT_BUILD_DIR:-build}
cmake -S . -B "$BUILD" -G Ninja -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build "$BUILD" -j"$(nproc)" --target safequant safequant-studio
took "configure and build"
CLI="$BUILD/app/safequant"
STUDIO="$BUILD/app/studio/safequant-studio"

# The demo zoo, shipped in resources/zoo/demo exactly as `safequant zoo --preset demo` trains it:
# nothing is trained here (only a checkout without it would train one, a few minutes on two cores).
ZOO=$("$CLI" zoo --preset demo)
took "demo models"

if [ -n "${DISPLAY:-}" ] || [ -n "${WAYLAND_DISPLAY:-}" ]; then
  SAFEQUANT_ZOO="$ZOO" exec "$STUDIO" "$@"
fi


OUT=${SAFEQUANT_OUT:-${XDG_CACHE_HOME:-$HOME/.cache}/safequant/headless}
WS=${SAFEQUANT_WORKSPACE:-${XDG_CACHE_HOME:-$HOME/.cache}/safequant/workspace}
mkdir -p "$OUT" "$WS/runs" "$WS/baseline"
echo "studio: no display; running the headless pipeline on the demo models in $ZOO"
"$CLI" info > "$OUT/info.json"
EVAL=("$ZOO/data/heldout_malicious.jsonl" "$ZOO/data/heldout_benign.jsonl" "$ZOO/data/heldout_task.jsonl")
# The workspace the studio shows: the problem and the fix side by side. The full-precision models
# evaluated; the fine-tuned model under RTN and under Q-realign at W8A8 (its refusal eroded by
# fine-tuning, realigned along the aligned model's probes); the aligned model under RTN and under
# AAQ at W4A4 with rotation (quantization's own erosion, and AAQ's contrastive fix); and the
# aligned model's probes reading the fine-tuned model (drift) and its Q-realign run
# (realignment) in one basis. Each step is skipped when its output is there already and was made
# from this zoo by this quantizer; otherwise these demo outputs (and only these) are made again.
STAMP="$(cat "$ZOO/zoo.json"; grep quantizer_revision "$OUT/info.json")"
SAME=0
[ -f "$WS/demo-stamp" ] && [ "$(cat "$WS/demo-stamp")" = "$STAMP" ] && SAME=1
have() { [ "$SAME" = 1 ] && [ -f "$1" ]; }
have "$WS/baseline/eval.json" ||
  "$CLI" eval --model "$ZOO/finetuned" "$ZOO/aligned" --data "${EVAL[@]}" --max-new 32 --out "$WS/baseline/eval.json"
took "evaluation of the full-precision models"
for spec in "finetuned rtn w8a8" "finetuned q-realign w8a8" "aligned rtn w4a4 --rotate" "aligned aaq w4a4 --rotate"; do
  read -r model method scheme rotate <<< "$spec"
  RUN="$WS/runs/$model-$method-$scheme${rotate:+-rotated}"
  EXTRA=()
  [ "$method" = q-realign ] && EXTRA=(--aligned "$ZOO/aligned")
  [ "$method" = aaq ] && EXTRA=(--base "$ZOO/base")
  [ -n "$rotate" ] && EXTRA+=("$rotate")
  have "$RUN/run.json" || "$CLI" quantize --model "$ZOO/$model" --method "$method" --scheme "$scheme" "${EXTRA[@]}" \
    --data "$ZOO/data/calibration.jsonl" --out "$RUN" --force
  took "quantization $(basename "$RUN")"
  have "$RUN/eval.json" || "$CLI" eval --model "$ZOO/$model" --quant "$RUN" --data "${EVAL[@]}" --max-new 32 --out "$RUN/eval.json"
  took "evaluation of $(basename "$RUN")"
done
have "$WS/probe/comparison.json" || "$CLI" probe --model "$ZOO/aligned" --compare "finetuned=$ZOO/finetuned" \
  "realigned=$ZOO/finetuned@$WS/runs/finetuned-q-realign-w8a8" --data "$ZOO/data/calibration.jsonl" --out "$WS/probe" --force
took "probes"
printf '%s' "$STAMP" > "$WS/demo-stamp"
cp "$WS/baseline/eval.json" "$OUT/eval.json"
for page in models calibration probe projection quantize results export; do
  QT_QPA_PLATFORM=offscreen SAFEQUANT_ZOO="$ZOO" SAFEQUANT_WORKSPACE="$WS" "$STUDIO" --page "$page" --screenshot "$OUT/$page.png" "$@" 2>/dev/null
done
took "seven page screenshots"
echo "studio: workspace in $WS (runs/, baseline/, probe/); page screenshots and eval.json in $OUT:"
ls -1 "$OUT" | sed 's/^/  /'
