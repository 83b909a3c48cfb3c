#!/usr/bin/env bash
# Converts every fixture checkpoint into <out>/<case>.safetensors for the C++ model tests.
set -euo pipefail
src=$1; out=$2
fixtures=${VRESTORE_FIXTURES:-$src/../shared/fixtures}
py=${VRESTORE_PYTHON:-/usr/bin/python3}
mkdir -p "$out"
for dir in "$fixtures"/*/; do
  name=$(basename "$dir")
  [ -f "$dir/weights.pth" ] || continue
  "$py" "$src/weights_converter/convert.py" "$dir/weights.pth" "$out/$name.safetensors" \
        --config "$dir/config.json"
done
echo "converted fixtures into $out"
