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

# check <description> <command...>: passes when the command succeeds.
check() {
  local what=$1; shift
  if "$@"; then passed=$((passed + 1)); else echo "FAIL: $what"; failures=$((failures + 1)); fi
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
expect_error 1 "^vrestore: error: device cuda(:0)?: " -- "$cli" run --weights "$W" --input "$IO" --output "$OUT" --device cuda
expect_error 1 "device cuda" -- "$cli" run --weights "$W" --input "$IO" --output "$OUT" --device cuda --precision f16
# f16 on the CPU: one line (no usage text), exit 2.
err=$("$cli" run --weights "$W" --input "$IO" --output "$OUT" --precision f16 2>&1 >/dev/null); rc=$?
check "run --precision f16 on the CPU: exit 2 and one line, got $rc: $err" \
  test "$rc" -eq 2 -a "$err" = "vrestore: --precision f16 needs --device cuda (the CPU backend computes in f32)"
expect_error 2 "--precision must be f32 or f16, got 'bf16'" -- "$cli" run --weights "$W" --input "$IO" --output "$OUT" --precision bf16
expect_error 2 "--device-index expects an integer 0 to 1023, got '-1'" -- \
  "$cli" run --weights "$W" --input "$IO" --output "$OUT" --device cuda --device-index -1
# --stats: one line on stdout after the forward; --help and --version anywhere after the command.
out=$("$cli" run --weights "$W" --input "$IO" --output "$scratch/stats.safetensors" --stats 2>/dev/null); rc=$?
check "run --stats prints frames, wall time, fps and peak RSS (rc $rc): '$out'" \
  grep -Eq "^stats: frames [1-9][0-9]*, wall [0-9.]+ s, [0-9.]+ fps, peak host RSS [1-9][0-9]* bytes \([0-9.]+ MiB\)$" <<< "$out"
check "run --help prints the usage with --stats" bash -c "'$cli' run --help | grep -q -- '--stats'"
check "--version names the version and CUDA's state" bash -c "'$cli' --version | grep -q '^CUDA: '"
printf 'not a safetensors file at all' > "$scratch/garbage.safetensors"
expect_error 1 "header length .* exceeds the file" -- "$cli" info "$scratch/garbage.safetensors"

# A good run matches upstream within 1e-4 (diff exits non-zero on NaN/Inf, so its status counts too),
# also at --matmul-precision high (bf16x3 products where the CPU has AMX-BF16, else fp32 as well).
for precision in highest high; do
  if "$cli" run --weights "$W" --input "$IO" --output "$OUT" --matmul-precision $precision 2>/dev/null; then
    line=$("$cli" diff "$OUT:output" "$IO:expected"); rc=$?
    echo "run edvr_x4_tsa --matmul-precision $precision vs upstream: $line"
    max=$(printf '%s' "$line" | sed -E 's/.*max_abs ([^ ]+).*/\1/')
    if [ "$rc" -eq 0 ] && awk -v m="$max" 'BEGIN { exit !(m <= 1e-4) }'; then passed=$((passed + 1)); else
      echo "FAIL: diff exited $rc, max_abs $max (want <= 1e-4)"; failures=$((failures + 1)); fi
  else
    echo "FAIL: vrestore run --matmul-precision $precision failed"; failures=$((failures + 1))
  fi
done
expect_error 2 "--matmul-precision must be highest or high, got 'medium'" -- \
  "$cli" run --weights "$W" --input "$IO" --output "$OUT" --matmul-precision medium
expect_error 1 "VRESTORE_FLOAT32_MATMUL_PRECISION is \"medium\", expected highest or high" -- \
  env VRESTORE_FLOAT32_MATMUL_PRECISION=medium "$cli" run --weights "$W" --input "$IO" --output "$OUT"
if "$cli" info "$W" | grep -q "loads as basicsr.EDVR, scale 4"; then passed=$((passed + 1)); else
  echo "FAIL: info"; failures=$((failures + 1)); fi

# ---- hardening (issue 6): every number from outside is checked, nothing non-finite passes ----
cases=$fixtures/../cases/hardening
PY=${VRESTORE_PYTHON:-python3}  # only the standard library is used below

expect_error 1 "weights '.*config_wrong_type.safetensors': config 'center_frame_idx' is the string \"two\", expected an integer" -- \
  "$cli" info "$cases/config_wrong_type.safetensors"
# NaN is a difference: max_abs nan, the non-finite counts of each side, exit 1.
expect_error 1 "non-finite values \(NaN or Inf\): 48 in .*all_nan.safetensors:x, 0 in .*zeros.safetensors:x" -- \
  "$cli" diff "$cases/all_nan.safetensors:x" "$cases/zeros.safetensors:x"
nan_line=$("$cli" diff "$cases/all_nan.safetensors:x" "$cases/zeros.safetensors:x" 2>/dev/null)
check "diff prints max_abs nan and the non-finite counts, got: $nan_line" \
  grep -Eq "max_abs nan .* non_finite 48 0$" <<< "$nan_line"
check "diff of identical finite tensors exits 0" "$cli" diff "$cases/zeros.safetensors:x[1]" "$cases/zeros.safetensors:x[2]" \
  > /dev/null
expect_error 2 "diff index in .* expects an integer >= 0, got '-1'" -- \
  "$cli" diff "$cases/zeros.safetensors:x[-1]" "$cases/zeros.safetensors:x[0]"
expect_error 1 "diff: index \[3\] out of range for tensor 'x' of shape \(3, 4, 4\) \(expected 0 to 2\)" -- \
  "$cli" diff "$cases/zeros.safetensors:x[3]" "$cases/zeros.safetensors:x[0]"

# Unknown, repeated and out-of-range options are usage errors (exit 2, with the usage).
expect_error 2 "unknown option --frobnicate" -- "$cli" restore --weights "$W" --input "$IO" --output "$OUT" --frobnicate 1
expect_error 2 "^usage:" -- "$cli" restore --weights "$W" --input "$IO" --output "$OUT" --frobnicate 1
# A value out of range is one line: the message names the option and what it takes.
err=$("$cli" run --weights "$W" --input "$IO" --output "$OUT" --threads 0 2>&1)
if [ "$(printf '%s\n' "$err" | grep -c .)" -eq 1 ]; then passed=$((passed + 1)); else
  echo "FAIL: --threads 0 printed more than one line: $err"; failures=$((failures + 1)); fi
expect_error 2 "unknown option --chunk-frames" -- "$cli" run --weights "$W" --input "$IO" --output "$OUT" --chunk-frames 4
expect_error 2 "unknown option --verbose" -- "$cli" info --verbose "$W"
expect_error 2 "--threads given twice" -- "$cli" run --weights "$W" --input "$IO" --output "$OUT" --threads 1 --threads 2
expect_error 2 "--output needs a value" -- "$cli" run --weights "$W" --input "$IO" --output
for bad in 0 -1 1025 abc " 2" 2x 99999999999999999999; do
  expect_error 2 "--threads expects an integer 1 to 1024, got '$bad'" -- \
    "$cli" run --weights "$W" --input "$IO" --output "$OUT" --threads "$bad"
done
expect_error 2 "--chunk-frames expects an integer >= 1, got '0'" -- \
  "$cli" restore --weights "$W" --input "$IO" --output "$OUT" --chunk-frames 0
expect_error 2 "--lookahead-frames expects an integer >= 0, got '-1'" -- \
  "$cli" restore --weights "$W" --input "$IO" --output "$OUT" --lookahead-frames -1
expect_error 2 "--lookahead-frames expects an integer >= 0, got '9223372036854775808'" -- \
  "$cli" restore --weights "$W" --input "$IO" --output "$OUT" --lookahead-frames 9223372036854775808
expect_error 2 "--independent-chunks expects an integer 0 to 1, got '2'" -- \
  "$cli" restore --weights "$W" --input "$IO" --output "$OUT" --independent-chunks 2

# An output may never be one of the inputs, also through a symlink; the input is left as it was.
sum_before=$(cksum < "$W")
expect_error 1 "--output '.*' is the --weights file .*; an output may never be one of the inputs" -- \
  "$cli" run --weights "$W" --input "$IO" --output "$W"
check "the weights file is unchanged after a refused --output" test "$(cksum < "$W")" = "$sum_before"
ln -sf "$(realpath "$IO")" "$scratch/io_link.safetensors"
expect_error 1 "is the --input file" -- "$cli" run --weights "$W" --input "$IO" --output "$scratch/io_link.safetensors"
rm -f "$scratch/io_link.safetensors"

# slice <src> <dst> [flat index to set to NaN]: sample 0 of the src 'input' (N, T, 3, H, W) as a
# (T, 3, H, W) clip in dst, standard library only.
slice() {
  "$PY" - "$@" <<'PYEOF'
import json, math, struct, sys
src, dst = sys.argv[1], sys.argv[2]
raw = open(src, 'rb').read(); n = struct.unpack('<Q', raw[:8])[0]
info = json.loads(raw[8:8 + n])['input']
shape = info['shape']; count = 1
for d in shape[1:]: count *= d
begin = 8 + n + info['data_offsets'][0]
data = bytearray(raw[begin:begin + 4 * count])
if len(sys.argv) > 3: data[4 * int(sys.argv[3]):4 * int(sys.argv[3]) + 4] = struct.pack('<f', math.nan)
header = json.dumps({'input': {'dtype': 'F32', 'shape': shape[1:], 'data_offsets': [0, len(data)]}})
header += ' ' * (-len(header) % 8)
open(dst, 'wb').write(struct.pack('<Q', len(header)) + header.encode() + bytes(data))
PYEOF
}

# One NaN input pixel (frame 3, channel 1, row 2, column 5) is an error naming the frame; opting in
# restores it, and the NaN outputs are then caught by diff.
if slice "$IO" "$scratch/nan_clip.safetensors" $((3 * 3 * 32 * 32 + 1 * 32 * 32 + 2 * 32 + 5)); then
  expect_error 1 "restore: input frame 3 holds 1 non-finite value \(first: nan at channel 1, row 2, column 5\)" -- \
    "$cli" restore --weights "$W" --input "$scratch/nan_clip.safetensors" --output "$OUT"
  check "restore --allow-non-finite runs" \
    "$cli" restore --weights "$W" --input "$scratch/nan_clip.safetensors" --output "$scratch/nan_out.safetensors" \
    --allow-non-finite 2>/dev/null
  expect_error 1 "non-finite values" -- "$cli" diff "$scratch/nan_out.safetensors:output" "$scratch/nan_out.safetensors:output"
else
  echo "FAIL: could not write the NaN clip with $PY"; failures=$((failures + 1))
fi

# A look-ahead of INT64_MAX is clamped to the clip: exactly the whole-clip result.
BV=$weights/basicvsr_x4.safetensors
if slice "$fixtures/basicvsr_x4/io.safetensors" "$scratch/bv_clip.safetensors" &&
   "$cli" restore --weights "$BV" --input "$scratch/bv_clip.safetensors" --output "$scratch/bv_whole.safetensors" 2>/dev/null; then
  for chunk in 4 1; do
    if "$cli" restore --weights "$BV" --input "$scratch/bv_clip.safetensors" --output "$scratch/bv_la.safetensors" \
         --chunk-frames $chunk --lookahead-frames 9223372036854775807 2>/dev/null; then
      line=$("$cli" diff "$scratch/bv_la.safetensors:output" "$scratch/bv_whole.safetensors:output"); rc=$?
      check "chunks of $chunk + look-ahead INT64_MAX equal the whole clip: exit $rc, $line" \
        grep -q "max_abs 0.000e+00 .* non_finite 0 0" <<< "$line"
    else
      echo "FAIL: restore --chunk-frames $chunk --lookahead-frames 9223372036854775807 failed"; failures=$((failures + 1))
    fi
  done
else
  echo "FAIL: whole-clip BasicVSR restore"; failures=$((failures + 1))
fi

echo "cli: $passed passed, $failures failed"
[ "$failures" -eq 0 ]
