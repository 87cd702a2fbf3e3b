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
EVAL=("$ZOO/data/heldout_malicious.jsonl" "$ZOO/data/heldout_benign.jsonl" "$ZOO/data/xstest_safe.jsonl"
      "$ZOO/data/heldout_task.jsonl")
# Every evaluation's malicious replies judged by the zoo's demo judge too, beside the phrase list
# (a judge for the demo models only: docs/judges.md).
JUDGE=(--judge "$ZOO/judge")
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
# One step of a lane, timed on its own (the lanes run side by side).
step() {
  local what=$1 t0=$SECONDS
  shift
  "$@"
  echo "studio: $what in $((SECONDS - t0)) s"
}
# A model's runs: each quantized (unless there), then evaluated.
runs_of() {
  local model=$1 spec method scheme rotate RUN
  shift
  for spec in "$@"; do
    read -r method scheme rotate <<< "$spec"
    RUN="$WS/runs/$model-$method-$scheme${rotate:+-rotated}"
    EXTRA=()
    [ "$method" = q-realign ] && EXTRA=(--aligned "$ZOO/aligned")
    [ "$method" = aaq ] && EXTRA=(--base "$ZOO/base")
    [ -n "$rotate" ] && EXTRA+=("$rotate")
    have "$RUN/run.json" || step "quantization $(basename "$RUN")" "$CLI" quantize --model "$ZOO/$model" --method "$method" \
      --scheme "$scheme" "${EXTRA[@]}" --data "$ZOO/data/calibration.jsonl" --out "$RUN" --force --quiet
    have "$RUN/eval.json" || step "evaluation of $(basename "$RUN")" "$CLI" eval --model "$ZOO/$model" --quant "$RUN" \
      --data "${EVAL[@]}" --max-new 32 "${JUDGE[@]}" --out "$RUN/eval.json" --quiet
  done
}
# The full-precision evaluation goes in the fine-tuned model's lane: AAQ's training makes the
# aligned model's lane the longer one (on a 2-core AMD Zen 5, 79 s against 59 s with it there).
lane_finetuned() {
  runs_of finetuned "rtn w8a8" "q-realign w8a8"
  have "$WS/probe/comparison.json" || step "probes" "$CLI" probe --model "$ZOO/aligned" --compare "finetuned=$ZOO/finetuned" \
    "realigned=$ZOO/finetuned@$WS/runs/finetuned-q-realign-w8a8" --data "$ZOO/data/calibration.jsonl" --out "$WS/probe" --force --quiet
  have "$WS/baseline/eval.json" || step "evaluation of the full-precision models" "$CLI" eval --model "$ZOO/finetuned" \
    "$ZOO/aligned" --data "${EVAL[@]}" --max-new 32 "${JUDGE[@]}" --out "$WS/baseline/eval.json" --quiet
}
lane_aligned() {
  runs_of aligned "rtn w4a4 --rotate" "aaq w4a4 --rotate"
}
# The two models' lanes side by side, on two cores as on more. Each quantization holds the threads
# its run records (its results depend on them, so they are the same as made alone); the threads
# wait passively, since spinning ones collapse when two jobs share the cores (bench_contention).
export OMP_WAIT_POLICY=${OMP_WAIT_POLICY:-PASSIVE}
lane_finetuned > "$WS/lane-finetuned.log" 2>&1 &
FINETUNED=$!
lane_aligned > "$WS/lane-aligned.log" 2>&1 &
ALIGNED=$!
failed=0
wait "$FINETUNED" || failed=1
wait "$ALIGNED" || failed=1
cat "$WS/lane-finetuned.log" "$WS/lane-aligned.log"
[ "$failed" = 0 ] || { echo "studio: the headless pipeline failed (above)" >&2; exit 1; }
took "the demo's runs, evaluations and probes (two lanes)"
printf '%s' "$STAMP" > "$WS/demo-stamp"
cp "$WS/baseline/eval.json" "$OUT/eval.json"
# The page screenshots, two at a time.
printf '%s\n' models calibration probe projection quantize results export |
  QT_QPA_PLATFORM=offscreen SAFEQUANT_ZOO="$ZOO" SAFEQUANT_WORKSPACE="$WS" xargs -P 2 -I PAGE \
    "$STUDIO" --page PAGE --screenshot "$OUT/PAGE.png" "$@" 2>/dev/null
took "seven page screenshots"
echo "studio: workspace in $WS (runs/, baseline/, probe/); page screenshots and eval.json in $OUT:"
ls -1 "$OUT" | sed 's/^/  /'
