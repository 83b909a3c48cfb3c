#!/usr/bin/env bash
# The main job on the embedded default (CPU): build, convert the official-config EDVR-M
# checkpoint fixture, restore its 5-frame clip and print the error against upstream PyTorch.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
fixtures=${VRESTORE_FIXTURES:-$root/../shared/fixtures}
case_dir=$fixtures/edvr_m_official_x4
out=$root/build/main_job
bash "$root/scripts/install_deps.sh"
bash "$root/scripts/build.sh" > /dev/null
mkdir -p "$out"
/usr/bin/python3 "$root/weights_converter/convert.py" "$case_dir/weights.pth" "$out/edvr_m.safetensors"
"$root/build/examples/vrestore" info "$out/edvr_m.safetensors" | grep -E "^(vrestore\.arch|loads as)"
"$root/build/examples/vrestore" restore --weights "$out/edvr_m.safetensors" --input "$case_dir/io.safetensors" \
  --output "$out/restored.safetensors"
# Upstream's expected output is the centre frame (index 2), whose window is the whole clip.
# diff exits 1 when either side holds NaN or Inf, which fails the job through `set -e`.
echo -n "EDVR-M restored frame 2 vs upstream PyTorch: "
"$root/build/examples/vrestore" diff "$out/restored.safetensors:output[2]" "$case_dir/io.safetensors:expected[0]"
