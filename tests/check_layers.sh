#!/usr/bin/env bash
# core/'s folders are layers: each includes only folders listed before it here (docs/building.md, Folders),
# and none includes Qt. Prints every include that breaks this and fails on any.
set -euo pipefail
core=$(cd "$(dirname "$0")/../core" && pwd)
order=(io text jinja data quantized run model probe quant eval mixed export zoo experiment workspace)
bad=0
for ((i = 0; i < ${#order[@]}; ++i)); do
  layer=${order[$i]}
  [ -d "$core/$layer" ] || { echo "core/$layer: listed here but missing"; bad=1; continue; }
  allowed=" ${order[*]:0:$i} $layer "
  while IFS=: read -r file line dep; do
    case "$allowed" in *" $dep "*) ;; *) echo "${file#"$core"/}:$line: core/$layer includes core/$dep/, a later layer"; bad=1 ;; esac
  done < <(grep -Hno '#include "core/[a-z_]*/' "$core/$layer"/*.h "$core/$layer"/*.cpp | sed 's|#include "core/||; s|/$||')
done
for dir in "$core"/*/; do
  name=$(basename "$dir")
  case " ${order[*]} " in *" $name "*) ;; *) echo "core/$name: a folder without a place in the layers"; bad=1 ;; esac
done
if grep -rln '#include <Q' "$core" --include=*.h --include=*.cpp; then echo "core/ includes Qt (above)"; bad=1; fi
exit $bad
