#!/usr/bin/env bash
# The shipped default model (models/vrestore_default_x4.safetensors, issue 9): at most 5 MB, a x4
# basicsr.BasicVSR, and on held-out tree.avi frames 0-19 (benchmarks/eval_default_model.py, C++
# library, Y channel, crop 4) at least MIN_GAIN dB above bicubic of the same input. The recorded
# figure is +0.30 dB (weights_converter/train_default_model.py); the floor catches a regression
# of the file or of the BasicVSR path, not the issue's +0.5 dB target, which is not reached yet.
# usage: default_model_test.sh CLI REPO [PYTHON]
set -uo pipefail
cli=$1 repo=$2 python=${3:-/usr/bin/python3}
model=$repo/models/vrestore_default_x4.safetensors
min_gain=0.25
fail=0
bad() { echo "FAIL: $*"; fail=1; }

[ -f "$model" ] || { echo "FAIL: $model is missing"; exit 1; }
size=$(stat -c %s "$model")
[ "$size" -le $((5 * 1024 * 1024)) ] || bad "$model is $size bytes, more than 5 MiB"
info=$("$cli" info "$model" 2>&1) || bad "vrestore info $model failed: $info"
grep -qx "vrestore.arch: basicsr.BasicVSR" <<< "$info" || bad "arch is not basicsr.BasicVSR: $(grep arch <<< "$info")"
grep -qx "vrestore.scale: 4" <<< "$info" || bad "scale is not 4: $(grep scale <<< "$info")"

if [ ! -f /usr/share/doc/opencv-doc/examples/data/tree.avi ] || ! command -v ffmpeg > /dev/null; then
  [ $fail = 0 ] || exit 1  # a failure above must not be reported as a skip
  echo "default_model: skipped the quality check (needs opencv-doc's tree.avi and ffmpeg)"
  exit 0
fi
out=$("$python" "$repo/benchmarks/eval_default_model.py" --cli "$cli" --model "$model" --frames 20 2>&1) \
  || { echo "$out"; bad "eval_default_model.py failed"; exit 1; }
echo "$out"
gain=$(sed -n 's/^gain over bicubic: \([-+0-9.]*\) dB$/\1/p' <<< "$out")
[ -n "$gain" ] || bad "no 'gain over bicubic' line in the evaluation's output"
[ -n "$gain" ] && ! awk -v g="$gain" -v m="$min_gain" 'BEGIN { exit !(g >= m) }' \
  && bad "default model is ${gain} dB over bicubic on tree.avi, below the floor of +${min_gain} dB"
[ $fail = 0 ] && echo "default_model: ok (${gain} dB over bicubic, $size bytes)"
exit $fail
