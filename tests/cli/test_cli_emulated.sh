#!/usr/bin/env bash
# vrestore-emulated (the CLI linked against the emulated CUDA backend, docs/cuda.md): `run
# --device cuda` reproduces upstream's EDVR fixture through the CUDA code path, f32 within 1e-4
# and f16 within 1e-2 max-abs; `--device cpu` still runs the CPU backend.
# Args: <vrestore-emulated binary> <converted weights dir> <fixtures dir> <scratch>
set -u
cli=$1; weights=$2; fixtures=$3; scratch=$4
mkdir -p "$scratch"
failures=0

# run_case <device> <precision> <max-abs bound>
run_case() {
  local device=$1 precision=$2 bound=$3
  local out=$scratch/edvr_x4_tsa_${device}_${precision}.safetensors
  rm -f "$out"
  local log
  if ! log=$("$cli" run --weights "$weights/edvr_x4_tsa.safetensors" --input "$fixtures/edvr_x4_tsa/io.safetensors" \
              --output "$out" --device "$device" --precision "$precision" 2>&1); then
    echo "FAIL: run --device $device --precision $precision: $log"; failures=$((failures + 1)); return
  fi
  # The run must say where it ran: the emulated device is cuda:0.
  if [ "$device" = cuda ] && ! printf '%s' "$log" | grep -q "on cuda:0 $precision"; then
    echo "FAIL: run --device cuda did not report cuda:0 $precision: $log"; failures=$((failures + 1)); return
  fi
  local diff; diff=$("$cli" diff "$out:output" "$fixtures/edvr_x4_tsa/io.safetensors:expected" 2>&1)
  local max_abs; max_abs=$(printf '%s' "$diff" | sed -n 's/.*max_abs \([^ ]*\).*/\1/p')
  echo "edvr_x4_tsa $device $precision: $diff"
  if [ -z "$max_abs" ] || ! awk -v d="$max_abs" -v b="$bound" 'BEGIN { exit !(d == d + 0 && d <= b) }'; then
    echo "FAIL: $device $precision max_abs '$max_abs' above $bound"; failures=$((failures + 1))
  fi
}

run_case cuda f32 1e-4
run_case cuda f16 1e-2
run_case cpu f32 1e-4
[ "$failures" -eq 0 ] || { echo "$failures failure(s)"; exit 1; }
echo "vrestore-emulated: all cases passed"
