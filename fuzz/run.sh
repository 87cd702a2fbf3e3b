#!/usr/bin/env bash
# Runs the fuzz targets built in BUILD_DIR (see CMakeLists.txt here) for SECONDS each, on a
# scratch copy of their seed corpora (or on CORPUS_DIR/<target>, kept, when given), and prints
# the executions each reached. Fails on the first crash, leak, timeout or sanitizer report; the
# reproducer is left in the working folder as crash-*, leak-* or timeout-*. One input may take up
# to FUZZ_UNIT_TIMEOUT seconds (default 60): the machine is shared, and a target starved of CPU
# for ten seconds is no hang (inputs are a few kilobytes; a real hang still trips it).
# FUZZ_RUNS=N stops each target after N executions instead (SECONDS 0 then sets no time limit):
# a campaign is counted in executions, and a shared machine gives no steady rate.
#   fuzz/run.sh BUILD_DIR SECONDS [CORPUS_DIR] [TARGET...]
set -euo pipefail
build=$(cd "$1" && pwd)
seconds=$2
keep=${3:-}
shift $(( $# < 3 ? $# : 3 ))
targets=("$@")
[ ${#targets[@]} -gt 0 ] || targets=(safetensors config tokenizer prompts gguf compressed_tensors)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cd "$work"
for t in "${targets[@]}"; do
  corpus=${keep:+$keep/$t}
  if [ -z "$corpus" ]; then corpus=$work/corpus-$t; fi
  mkdir -p "$corpus"
  cp -n "$build/corpus/$t/"* "$corpus/"
  if ! "$build/fuzz_$t" -max_total_time="$seconds" ${FUZZ_RUNS:+-runs="$FUZZ_RUNS"} -timeout="${FUZZ_UNIT_TIMEOUT:-60}" -rss_limit_mb=2048 -print_final_stats=1 "$corpus" > "$work/$t.log" 2>&1; then
    tail -40 "$work/$t.log" >&2
    cp crash-* leak-* timeout-* oom-* "$OLDPWD" 2>/dev/null || true
    echo "fuzz: $t FAILED (reproducer copied to $OLDPWD)" >&2
    exit 1
  fi
  runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$work/$t.log")
  rate=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$work/$t.log")
  took=$(sed -n 's/^Done [0-9]* runs in \([0-9]*\) second.*/\1/p' "$work/$t.log")
  echo "fuzz: $t $runs executions in ${took:-$seconds} s ($rate/s), no crash, leak or timeout"
done
