#!/usr/bin/env bash
# Model code computes through ops (src/core/ops.h), never on raw element pointers: a loop over
# .data() in src/models is an op that no backend but the CPU can run and no op test covers.
# Fails, naming each line, if src/models reads or writes tensor data directly.
# Usage: check_model_raw_data.sh [source root]   (default: the repository of this script)
set -euo pipefail
root="${1:-$(cd "$(dirname "$0")/.." && pwd)}"
dir="$root/src/models"
[[ -d "$dir" ]] || { echo "check_model_raw_data: no directory $dir" >&2; exit 2; }
if hits=$(grep -rnE '\.data\(|data<' "$dir" --include='*.cpp' --include='*.h'); then
  echo "check_model_raw_data: src/models touches raw tensor data; add an op (docs/architecture.md, \"The op seam\"):" >&2
  echo "$hits" >&2
  exit 1
fi
echo "check_model_raw_data: src/models uses no raw tensor data"
