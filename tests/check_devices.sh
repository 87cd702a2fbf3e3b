#!/usr/bin/env bash
# A job's tensors follow its model's device (docs/building.md, CUDA): core/ names the CPU only where a
# tensor belongs on the host whatever the device, and says why. A raw kCPU or .cpu() needs a
# "// host:" reason on its line or the line above; a file that asks for host() tensors
# (core/run/torch_device.h) gives its reason at least once. Prints every miss and fails on any.
# (tst_device catches the other way a tensor lands on the CPU: a factory given no device.)
set -euo pipefail
core=$(cd "$(dirname "$0")/../core" && pwd)
bad=0
while IFS=: read -r file line _; do
  [ "${file#"$core"/}" = run/torch_device.h ] && continue  # where host() itself is defined
  here=$(sed -n "${line}p" "$file")
  before=$(sed -n "$((line > 1 ? line - 1 : line))p" "$file")
  case "$here$before" in *"// host:"*) ;; *) echo "${file#"$core"/}:$line: on the CPU without a \"// host:\" reason: $here"; bad=1 ;; esac
done < <(grep -rHnE 'kCPU|\.cpu\(\)' "$core" --include=*.h --include=*.cpp)
while read -r file; do
  [ "${file#"$core"/}" = run/torch_device.h ] && continue
  grep -q "// host:" "$file" || { echo "${file#"$core"/}: uses host() tensors without a \"// host:\" reason"; bad=1; }
done < <(grep -rlE '[^_a-z]host\((torch::k[A-Za-z0-9]+)?\)' "$core" --include=*.h --include=*.cpp)
exit $bad
