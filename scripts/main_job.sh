#!/usr/bin/env bash
# The main job on the embedded default (CPU):
#   1. the default x4 model restores the first 20 frames of opencv-doc's tree.avi (held out of
#      training), bicubic-downsampled x4, through the video CLI (`vrestore restore -i lowres/ -o
#      restored.mp4`), and PSNR / SSIM (Y channel, crop 4) of the restored video are printed next
#      to bicubic upscaling of the same input (benchmarks/eval_default_model.py);
#   2. the official-config EDVR-M checkpoint fixture is converted, its 5-frame clip restored, and
#      the error against upstream PyTorch printed.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
fixtures=${VRESTORE_FIXTURES:-$root/../shared/fixtures}
case_dir=$fixtures/edvr_m_official_x4
# Its own build folder with only the CLI, CPU only (scripts/build_cli.sh), so that a fresh 2-core
# machine runs the whole job, installs included, in minutes.
build=${VRESTORE_MAIN_BUILD:-$root/build-main}
out=$build/main_job
cli=$build/examples/vrestore
bash "$root/scripts/install_deps.sh" --main
bash "$root/scripts/build_cli.sh" "$build"
mkdir -p "$out"

echo "== default model on tree.avi (x4), through the video CLI =="
/usr/bin/python3 "$root/benchmarks/eval_default_model.py" --cli "$cli" --frames 20 --video-out "$out/restored.mp4"
echo "restored video: $out/restored.mp4"

echo "== EDVR-M (official config) vs upstream PyTorch =="
/usr/bin/python3 "$root/weights_converter/convert.py" "$case_dir/weights.pth" "$out/edvr_m.safetensors"
"$cli" info "$out/edvr_m.safetensors" | grep -E "^(vrestore\.arch|loads as)"
"$cli" restore --quiet --weights "$out/edvr_m.safetensors" --input "$case_dir/io.safetensors" \
  --output "$out/restored.safetensors"
# Upstream's expected output is the centre frame (index 2), whose window is the whole clip.
# diff exits 1 when either side holds NaN or Inf, which fails the job through `set -e`.
echo -n "EDVR-M restored frame 2 vs upstream PyTorch: "
"$cli" diff "$out/restored.safetensors:output[2]" "$case_dir/io.safetensors:expected[0]"
