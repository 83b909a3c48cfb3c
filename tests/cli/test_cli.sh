#!/usr/bin/env bash
# CLI behaviour: every bad input is one line on stderr and exit code 1 (2 for usage), never a
# crash; a good run reproduces upstream. Args: <vrestore binary> <converted weights dir> <fixtures dir> <scratch>
set -u
cli=$1; weights=$2; fixtures=$3; scratch=$4
mkdir -p "$scratch"
failures=0; passed=0

# expect_error <expected exit code> <message regex> -- command...
expect_error() {
  local code=$1 pattern=$2; shift 3
  local err; err=$("$@" 2>&1 >/dev/null); local rc=$?
  local lines; lines=$(printf '%s\n' "$err" | head -c 100000 | grep -c .)
  if [ "$rc" -ne "$code" ] || ! printf '%s' "$err" | grep -Eq -- "$pattern"; then
    echo "FAIL: '$*' exited $rc (want $code), stderr: $err"; failures=$((failures + 1)); return
  fi
  if [ "$code" -eq 1 ] && [ "$lines" -ne 1 ]; then
    echo "FAIL: '$*' printed $lines lines, want one: $err"; failures=$((failures + 1)); return
  fi
  passed=$((passed + 1))
}

W=$weights/edvr_x4_tsa.safetensors
IO=$fixtures/edvr_x4_tsa/io.safetensors
OUT=$scratch/out.safetensors

expect_error 2 "missing command" -- "$cli"
expect_error 2 "missing --weights" -- "$cli" run --input "$IO" --output "$OUT"
expect_error 2 "--device must be cpu or cuda" -- "$cli" run --weights "$W" --input "$IO" --output "$OUT" --device tpu
expect_error 1 "cannot open" -- "$cli" run --weights "$scratch/nope.safetensors" --input "$IO" --output "$OUT"
expect_error 1 "cannot open" -- "$cli" run --weights "$W" --input "$scratch/nope.safetensors" --output "$OUT"
expect_error 1 "no tensor named 'input'" -- "$cli" run --weights "$W" --input "$W" --output "$OUT"
# An EDVR-M clip (20x24 frames) is a valid tensor of the wrong size for nothing, but 5 frames of
# 3 channels at H=20: fine; so build bad shapes from other fixtures instead.
expect_error 1 "EDVR: input has shape \(2, 4, 3, 36, 40\), expected \(N, 5, 3, H, W\)" -- \
  "$cli" run --weights "$W" --input "$fixtures/basicvsr_x4/io.safetensors" --output "$OUT"
expect_error 1 "no vrestore metadata" -- "$cli" run --weights "$IO" --input "$IO" --output "$OUT"
expect_error 1 "device cuda: " -- "$cli" run --weights "$W" --input "$IO" --output "$OUT" --device cuda
printf 'not a safetensors file at all' > "$scratch/garbage.safetensors"
expect_error 1 "header length .* exceeds the file" -- "$cli" info "$scratch/garbage.safetensors"

# A good run matches upstream within 1e-4.
if "$cli" run --weights "$W" --input "$IO" --output "$OUT" 2>/dev/null; then
  line=$("$cli" diff "$OUT:output" "$IO:expected")
  echo "run edvr_x4_tsa vs upstream: $line"
  max=$(printf '%s' "$line" | sed -E 's/.*max_abs ([^ ]+).*/\1/')
  if awk -v m="$max" 'BEGIN { exit !(m <= 1e-4) }'; then passed=$((passed + 1)); else
    echo "FAIL: max_abs $max > 1e-4"; failures=$((failures + 1)); fi
else
  echo "FAIL: vrestore run failed"; failures=$((failures + 1))
fi
if "$cli" info "$W" | grep -q "loads as basicsr.EDVR, scale 4"; then passed=$((passed + 1)); else
  echo "FAIL: info"; failures=$((failures + 1)); fi

echo "cli: $passed passed, $failures failed"
[ "$failures" -eq 0 ]
