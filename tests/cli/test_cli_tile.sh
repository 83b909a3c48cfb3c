#!/usr/bin/env bash
# `vrestore restore` tiling options on the tiny VRT fixture (issue 8 item 3): --tile H W,
# --tile-frames, --tile-overlap, --tile-overlap-frames and --memory-budget reach the library
# (docs/tiling.md); models that do not tile refuse them; bad values are usage errors naming the flag.
# Args: <vrestore binary> <converted weights dir> <fixtures dir> <scratch>
set -u
cli=$1; weights=$2; fixtures=$3; scratch=$4
mkdir -p "$scratch"
failures=0; passed=0
PY=${VRESTORE_PYTHON:-/usr/bin/python3}

# expect_error <expected exit code> <message regex> -- command...
expect_error() {
  local code=$1 pattern=$2; shift 3
  local err; err=$("$@" 2>&1 >/dev/null); local rc=$?
  if [ "$rc" -ne "$code" ] || ! printf '%s' "$err" | grep -Eq -- "$pattern"; then
    echo "FAIL: '$*' exited $rc (want $code), stderr: $err"; failures=$((failures + 1)); return
  fi
  if [ "$code" -eq 1 ] && [ "$(printf '%s\n' "$err" | grep -c .)" -ne 1 ]; then
    echo "FAIL: '$*' printed more than one line: $err"; failures=$((failures + 1)); return
  fi
  passed=$((passed + 1))
}

check() {
  local what=$1; shift
  if "$@"; then passed=$((passed + 1)); else echo "FAIL: $what"; failures=$((failures + 1)); fi
}

# diff_within <label> <A> <B> <awk condition on max (max_abs) and psnr>: vrestore diff of two
# tensor references, printed, passing when diff succeeds and the condition holds.
diff_within() {
  local label=$1 a=$2 b=$3 cond=$4
  local line; line=$("$cli" diff "$a" "$b"); local rc=$?
  echo "$label: $line"
  local max psnr
  max=$(printf '%s' "$line" | sed -E 's/.*max_abs ([^ ]+).*/\1/')
  psnr=$(printf '%s' "$line" | sed -E 's/.*psnr ([^ ]+) dB.*/\1/')
  if [ "$rc" -eq 0 ] && awk -v max="$max" -v psnr="$psnr" "BEGIN { exit !($cond) }"; then passed=$((passed + 1)); else
    echo "FAIL: $label: diff exited $rc, want $cond"; failures=$((failures + 1)); fi
}

VRT=$weights/vrt_sr_x4_pa2.safetensors
IO=$fixtures/vrt_sr_x4_pa2/io.safetensors
EDVR=$weights/edvr_x4_tsa.safetensors
BV=$weights/basicvsr_x4.safetensors
EDVR_IN=$fixtures/edvr_x4_tsa/io.safetensors
S=$scratch

# (a) Untiled (the default budget fits this clip whole) equals upstream's output.
if "$cli" restore -q --weights "$VRT" --input "$IO" --output "$S/untiled.safetensors"; then
  diff_within "untiled vrt_sr_x4_pa2 vs upstream" "$S/untiled.safetensors:output" "$IO:expected[0]" "max <= 1e-3"
  # The default spelled out (0 = chosen for the budget; 8GiB is the default budget) changes nothing.
  if "$cli" restore -q --weights "$VRT" --input "$IO" --output "$S/default.safetensors" --tile 0 0 --tile-frames 0 \
       --memory-budget 8GiB; then
    diff_within "--tile 0 0 --memory-budget 8GiB vs no options" "$S/default.safetensors:output" \
      "$S/untiled.safetensors:output" "max == 0"
  else
    echo "FAIL: restore --tile 0 0 --memory-budget 8GiB"; failures=$((failures + 1))
  fi
else
  echo "FAIL: untiled VRT restore"; failures=$((failures + 1))
fi

# A smooth 6x72x80 clip, larger than one 64x64 tile on both axes, and the pieces of it that the
# tiles and clips below see on their own.
"$PY" - "$S" <<'PYEOF'
import json, struct, sys
import numpy as np
def save(path, x):
    data = np.ascontiguousarray(x, dtype="<f4").tobytes()
    header = json.dumps({"input": {"dtype": "F32", "shape": list(x.shape), "data_offsets": [0, len(data)]}}).encode()
    header += b" " * (-len(header) % 8)
    with open(path, "wb") as out:
        out.write(struct.pack("<Q", len(header)) + header + data)
f, c, y, x = np.meshgrid(np.arange(6), np.arange(3), np.arange(72), np.arange(80), indexing="ij")
clip = 0.5 + 0.4 * np.sin(0.21 * x + 0.13 * y + 0.9 * c + 0.35 * f) * np.cos(0.07 * x - 0.11 * y)
save(sys.argv[1] + "/clip.safetensors", clip[None])
save(sys.argv[1] + "/tile00.safetensors", clip[None, :, :, 0:64, 0:64])     # spatial tile at (0, 0)
save(sys.argv[1] + "/tile11.safetensors", clip[None, :, :, 8:72, 16:80])    # and at (8, 16)
save(sys.argv[1] + "/frames0.safetensors", clip[None, 0:4])                 # temporal clip at 0
save(sys.argv[1] + "/frames2.safetensors", clip[None, 2:6])                 # and at 2
PYEOF
CLIP=$S/clip.safetensors

# same_region <label> <A.safetensors> <rows> <cols> <B.safetensors> <rows> <cols>: tensor 'output'
# of A and B, cropped (numpy slices of (T, 3, H, W)), are equal.
same_region() {
  local line; line=$("$PY" - "$@" <<'PYEOF'
import json, struct, sys
import numpy as np
def load(path):
    with open(path, "rb") as f:
        n = struct.unpack("<Q", f.read(8))[0]
        info = json.loads(f.read(n))["output"]
        f.seek(8 + n + info["data_offsets"][0])
        return np.frombuffer(f.read(info["data_offsets"][1] - info["data_offsets"][0]), "<f4").reshape(info["shape"])
def crop(x, rows, cols):
    r0, r1 = map(int, rows.split(":")); c0, c1 = map(int, cols.split(":"))
    return x[..., r0:r1, c0:c1]
_, label, a, ar, ac, b, br, bc = sys.argv
d = np.abs(crop(load(a), ar, ac) - crop(load(b), br, bc))
print(f"{label}: max_abs {d.max():.3e} over {d.size} values")
sys.exit(0 if d.max() == 0 else 1)
PYEOF
); local rc=$?
  echo "$line"
  if [ "$rc" -eq 0 ]; then passed=$((passed + 1)); else echo "FAIL: $1: regions differ"; failures=$((failures + 1)); fi
}

# (b) Tiles and clips take effect: they differ from the untiled run (the seam; printed), and where
# one tile or clip alone makes the output it equals a restoration of that piece alone.
# --tile 64 64 --tile-overlap 16 on 72x80: tile origins rows 0, 8 and columns 0, 16. A tile drops
# overlap/2 = 8 output pixels on each side it shares, so output rows 0:40 x columns 0:72 come from
# the tile at (0, 0) alone, and rows 248:288 x columns 248:320 from the tile at (8, 16) alone
# (its own output rows 216:256 x columns 184:256).
if "$cli" restore -q --weights "$VRT" --input "$CLIP" --output "$S/clip_whole.safetensors"; then
  if "$cli" restore -q --weights "$VRT" --input "$CLIP" --output "$S/clip_tiles.safetensors" --tile 64 64 \
       --tile-overlap 16 &&
     "$cli" restore -q --weights "$VRT" --input "$S/tile00.safetensors" --output "$S/tile00_out.safetensors" &&
     "$cli" restore -q --weights "$VRT" --input "$S/tile11.safetensors" --output "$S/tile11_out.safetensors"; then
    diff_within "--tile 64 64 --tile-overlap 16 vs untiled (seam)" "$S/clip_tiles.safetensors:output" \
      "$S/clip_whole.safetensors:output" "max > 0"
    same_region "tile (0, 0) alone" "$S/clip_tiles.safetensors" 0:40 0:72 "$S/tile00_out.safetensors" 0:40 0:72
    same_region "tile (8, 16) alone" "$S/clip_tiles.safetensors" 248:288 248:320 \
      "$S/tile11_out.safetensors" 216:256 184:256
  else
    echo "FAIL: restore --tile 64 64 or of its tiles"; failures=$((failures + 1))
  fi
  # --tile-frames 4 --tile-overlap-frames 2 on 6 frames: clips at 0 and 2; frames 0, 1 come from
  # the first alone and 4, 5 from the second alone (frames 2, 3 average both).
  if "$cli" restore -q --weights "$VRT" --input "$CLIP" --output "$S/clip_frames.safetensors" --tile-frames 4 \
       --tile-overlap-frames 2 &&
     "$cli" restore -q --weights "$VRT" --input "$S/frames0.safetensors" --output "$S/frames0_out.safetensors" \
       --tile-frames 4 &&
     "$cli" restore -q --weights "$VRT" --input "$S/frames2.safetensors" --output "$S/frames2_out.safetensors" \
       --tile-frames 4; then
    diff_within "--tile-frames 4 --tile-overlap-frames 2 vs untiled (seam)" "$S/clip_frames.safetensors:output" \
      "$S/clip_whole.safetensors:output" "max > 0"
    for k in 0 1; do
      diff_within "clip at 0 alone, frame $k" "$S/clip_frames.safetensors:output[$k]" \
        "$S/frames0_out.safetensors:output[$k]" "max == 0"
      diff_within "clip at 2 alone, frame $((k + 4))" "$S/clip_frames.safetensors:output[$((k + 4))]" \
        "$S/frames2_out.safetensors:output[$((k + 2))]" "max == 0"
    done
  else
    echo "FAIL: restore --tile-frames 4 or of its clips"; failures=$((failures + 1))
  fi
else
  echo "FAIL: untiled restore of the 72x80 clip"; failures=$((failures + 1))
fi

# The values reach the library, which checks them against the model (exit 1, one line).
expect_error 1 "tile height 60 is not a multiple of 8" -- \
  "$cli" restore -q --weights "$VRT" --input "$CLIP" --output "$S/e.safetensors" --tile 60 64
expect_error 1 "tile width 68 is not a multiple of 8" -- \
  "$cli" restore -q --weights "$VRT" --input "$CLIP" --output "$S/e.safetensors" --tile 64 68
expect_error 1 "tile overlap_height 64 must be smaller than the tile height 64" -- \
  "$cli" restore -q --weights "$VRT" --input "$CLIP" --output "$S/e.safetensors" --tile 64 64 --tile-overlap 64
expect_error 1 "tile overlap_width 64 must be smaller than the tile width 64" -- \
  "$cli" restore -q --weights "$VRT" --input "$CLIP" --output "$S/e.safetensors" --tile 0 64 --tile-overlap 64
expect_error 1 "tile overlap_frames 3 must be smaller than the tile's 3 frames" -- \
  "$cli" restore -q --weights "$VRT" --input "$CLIP" --output "$S/e.safetensors" --tile-frames 3 --tile-overlap-frames 3
# (d) A budget nothing fits: the library's message names it.
expect_error 1 "no tiling of 6 frames of 72x80 fits the memory budget of 1024 bytes" -- \
  "$cli" restore -q --weights "$VRT" --input "$CLIP" --output "$S/e.safetensors" --memory-budget 1KiB
expect_error 1 "fits the memory budget of 2000000 bytes" -- \
  "$cli" restore -q --weights "$VRT" --input "$CLIP" --output "$S/e.safetensors" --memory-budget 2M
# Chunking is for recurrent models; VRT says what bounds its memory instead.
expect_error 1 "apply to recurrent models \(BasicVSR, RealBasicVSR\) only; vrt.VRT restores clips in tiles: bound its memory with --tile-frames" -- \
  "$cli" restore -q --weights "$VRT" --input "$CLIP" --output "$S/e.safetensors" --chunk 4

# (b) Models that do not tile refuse every tiling option rather than ignore it.
expect_error 1 "^vrestore: error: --tile: tiling and the memory budget apply to VRT models only; basicsr.EDVR restores whole frames: omit them$" -- \
  "$cli" restore -q --weights "$EDVR" --input "$EDVR_IN" --output "$S/e.safetensors" --tile 64 64
expect_error 1 "^vrestore: error: --tile-frames, --memory-budget: tiling and the memory budget apply to VRT models only; basicsr.BasicVSR" -- \
  "$cli" restore -q --weights "$BV" --input "$EDVR_IN" --output "$S/e.safetensors" --memory-budget 1GiB --tile-frames 4
expect_error 1 "^vrestore: error: --tile-overlap: tiling .* basicsr.EDVR" -- \
  "$cli" restore -q --weights "$EDVR" --input "$EDVR_IN" --output "$S/e.safetensors" --tile-overlap 8
expect_error 1 "^vrestore: error: --tile-overlap-frames: tiling .* basicsr.EDVR" -- \
  "$cli" restore -q --weights "$EDVR" --input "$EDVR_IN" --output "$S/e.safetensors" --tile-overlap-frames 1

# (c) Values the syntax rules out are usage errors (exit 2) naming the flag, before any model loads.
R=(restore -q --weights "$VRT" --input "$CLIP" --output "$S/e.safetensors")
expect_error 2 "--tile needs 2 values" -- "$cli" "${R[@]}" --tile 64
expect_error 2 "--tile H expects an integer 0 to 1048576, got '-8'" -- "$cli" "${R[@]}" --tile -8 64
expect_error 2 "--tile W expects an integer 0 to 1048576, got '6x'" -- "$cli" "${R[@]}" --tile 64 6x
expect_error 2 "--tile-frames expects an integer 0 to 1048576, got '-1'" -- "$cli" "${R[@]}" --tile-frames -1
expect_error 2 "--tile-overlap expects an integer 0 to 1048576, got 'abc'" -- "$cli" "${R[@]}" --tile-overlap abc
expect_error 2 "--tile-overlap-frames expects an integer 0 to 1048576, got '-2'" -- \
  "$cli" "${R[@]}" --tile-overlap-frames -2
expect_error 2 "--memory-budget must be at least 1 byte, got '0GiB'" -- "$cli" "${R[@]}" --memory-budget 0GiB
for bad in 8GB 8g 1.5G -1 "" G 8\ G; do
  expect_error 2 "--memory-budget expects bytes with an optional suffix K, M, G .* got '$bad'" -- \
    "$cli" "${R[@]}" --memory-budget "$bad"
done
expect_error 2 "--memory-budget 99999999999999999999 is larger than this machine can address" -- \
  "$cli" "${R[@]}" --memory-budget 99999999999999999999
expect_error 2 "--memory-budget 20000000000GiB is larger than this machine can address" -- \
  "$cli" "${R[@]}" --memory-budget 20000000000GiB
expect_error 2 "--memory-budget given twice" -- "$cli" "${R[@]}" --memory-budget 1G --memory-budget 2G
check "restore --help describes --memory-budget and --tile-frames" \
  bash -c "'$cli' restore --help | grep -q -- '--memory-budget SIZE' && '$cli' restore --help | grep -q -- '--tile-frames T'"
check "no output was left by any refused run" test ! -e "$S/e.safetensors"

echo "cli_tile: $passed passed, $failures failed"
[ "$failures" -eq 0 ]
