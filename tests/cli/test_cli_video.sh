#!/usr/bin/env bash
# `vrestore restore` on video files and PNG folders (issue 9): round trips keep the frame count,
# rate, audio and size (x scale); the streamed restoration equals the in-memory (tensor) one
# exactly; every bad input is one line on stderr with its message and a non-zero exit; Ctrl-C
# leaves a playable file of the frames done. Inputs are small synthetic clips made with `ffmpeg`.
# Args: <vrestore binary> <converted weights dir> <scratch dir>. Env: VRESTORE_PYTHON (numpy).
set -u
cli=$1; weights=$2; scratch=$3
PY=${VRESTORE_PYTHON:-/usr/bin/python3}
rm -rf "$scratch"; mkdir -p "$scratch"
failures=0; passed=0

if ! command -v ffmpeg > /dev/null || ! command -v ffprobe > /dev/null; then
  echo "cli_video: skipped, the ffmpeg and ffprobe programs are missing (scripts/install_deps.sh installs ffmpeg)"; exit 0
fi
if "$cli" --help | grep -q "this build has no video"; then
  echo "cli_video: skipped, this vrestore was built without video I/O (FFmpeg or libpng missing)"; exit 0
fi

ok() { passed=$((passed + 1)); }
bad() { echo "FAIL: $*"; failures=$((failures + 1)); }
# check <description> <command...>: passes when the command succeeds.
check() { local what=$1; shift; if "$@"; then ok; else bad "$what"; fi; }

# expect_error <exit code> <message regex> -- command...: exactly one line on stderr for exit 1.
expect_error() {
  local code=$1 pattern=$2; shift 3
  local err; err=$("$@" 2>&1 >/dev/null); local rc=$?
  local lines; lines=$(printf '%s\n' "$err" | grep -c .)
  if [ "$rc" -ne "$code" ] || ! printf '%s' "$err" | grep -Eq -- "$pattern"; then
    bad "'$*' exited $rc (want $code), stderr: $err"; return
  fi
  if [ "$code" -eq 1 ] && [ "$lines" -ne 1 ]; then bad "'$*' printed $lines lines, want one: $err"; return; fi
  ok
}

# pix_fmt FILE / audio_codec FILE / rotation FILE: of the first video / audio stream.
pix_fmt() { ffprobe -v error -select_streams v:0 -show_entries stream=pix_fmt -of csv=p=0 "$1" 2>/dev/null; }
video_codec() { ffprobe -v error -select_streams v:0 -show_entries stream=codec_name -of csv=p=0 "$1" 2>/dev/null; }
audio_codec() { ffprobe -v error -select_streams a:0 -show_entries stream=codec_name -of csv=p=0 "$1" 2>/dev/null; }
rotation() { ffprobe -v error -select_streams v:0 -show_entries stream_side_data=rotation -of csv=p=0 "$1" 2>/dev/null | grep -v '^$'; }
# pts FILE: the video frames' presentation times in seconds, one line.
pts() { ffprobe -v error -select_streams v:0 -show_entries frame=pts_time -of csv=p=0 "$1" 2>/dev/null |
        awk -F, '$1 != "" { printf "%s ", $1 }'; }

# probe FILE: "<frames> <W>x<H> <rate> <audio streams>" of a video, frames counted by decoding.
probe() {
  local v; v=$(ffprobe -v error -select_streams v:0 -count_frames \
      -show_entries stream=nb_read_frames,width,height,r_frame_rate -of default=nw=1 "$1" 2>/dev/null)
  local audio; audio=$(ffprobe -v error -select_streams a -show_entries stream=index -of csv=p=0 "$1" 2>/dev/null | grep -c .)
  printf '%s %sx%s %s %s' "$(sed -n 's/^nb_read_frames=//p' <<< "$v")" "$(sed -n 's/^width=//p' <<< "$v")" \
    "$(sed -n 's/^height=//p' <<< "$v")" "$(sed -n 's/^r_frame_rate=//p' <<< "$v")" "$audio"
}

# clip <out> <frames> <WxH> [extra ffmpeg output args...]: a moving test pattern.
clip() {
  local out=$1 n=$2 size=$3; shift 3
  ffmpeg -v error -y -f lavfi -i "testsrc=size=$size:rate=25" -frames:v "$n" "$@" "$out"
}

EDVR=$weights/edvr_x4_tsa.safetensors
BV=$weights/basicvsr_x4.safetensors
RBV=$weights/realbasicvsr_x4.safetensors
DEBLUR=$weights/edvr_deblur_hrin.safetensors  # EDVR at scale 1 (HR in, HR out)
S=$scratch

# ---- round trips -------------------------------------------------------------------------------
# MP4 with AAC audio at 30000/1001 fps: count, rate and audio kept, size x4, progress on stderr.
ffmpeg -v error -y -f lavfi -i "testsrc=size=32x32:rate=30000/1001" -f lavfi -i "sine=frequency=440:sample_rate=44100" \
  -frames:v 8 -c:v libx264 -pix_fmt yuv420p -c:a aac -shortest "$S/in.mp4"
if "$cli" restore -i "$S/in.mp4" -o "$S/out.mp4" -m "$EDVR" 2> "$S/out.log"; then
  got=$(probe "$S/out.mp4")
  check "mp4 round trip keeps 8 frames, 30000/1001 fps and the audio at 128x128, got '$got'" \
    test "$got" = "8 128x128 30000/1001 1"
  check "progress lines in a log (not a terminal) end with 8/8 frames, fps and ETA: $(cat "$S/out.log")" \
    grep -Eq "^restore: 8/8 frames \(100%\) +[0-9.]+ fps +elapsed [0-9:]+ +ETA 0:00$" "$S/out.log"
else
  bad "mp4 round trip: $(cat "$S/out.log")"
fi
check "no temporary file is left next to the output" test -z "$(find "$S" -maxdepth 1 -name '.*')"

# AVI (mpeg4) in, MKV out with --crf and --quiet: nothing on stderr.
clip "$S/in.avi" 6 32x24 -c:v mpeg4 -q:v 2
err=$("$cli" restore -i "$S/in.avi" -o "$S/out.mkv" -m "$BV" --crf 23 --quiet 2>&1); rc=$?
check "--quiet prints nothing (rc $rc): '$err'" test "$rc" -eq 0 -a -z "$err"
got=$(probe "$S/out.mkv")
check "avi -> mkv keeps 6 frames at 25 fps, 128x96, got '$got'" test "$got" = "6 128x96 25/1 0"

# A scale-1 model keeps the size; --scale matching the model is accepted.
check "a deblur model at --scale 1 runs" "$cli" restore -q -i "$S/in.avi" -o "$S/deblur.mp4" -m "$DEBLUR" --scale 1
got=$(probe "$S/deblur.mp4")
check "scale-1 output keeps 32x24, got '$got'" test "$got" = "6 32x24 25/1 0"

# VRT streams a video through temporal clips (each frame read once; docs/tiling.md).
VRT=$weights/vrt_sr_x4_pa2.safetensors
check "VRT restores a video in clips of 4 frames" \
  "$cli" restore -q -i "$S/in.avi" -o "$S/vrt.mkv" -m "$VRT" --tile-frames 4 --tile-overlap-frames 2 --codec ffv1
got=$(probe "$S/vrt.mkv")
check "VRT output keeps 6 frames at 25 fps, 128x96, got '$got'" test "$got" = "6 128x96 25/1 0"

# The default model comes from $VRESTORE_DEFAULT_MODEL when set.
err=$(VRESTORE_DEFAULT_MODEL=$EDVR "$cli" restore -i "$S/in.avi" -o "$S/default.mp4" 2>&1)
check "restore without -m uses \$VRESTORE_DEFAULT_MODEL: $err" grep -q "the default model" <<< "$err"

# ---- streamed video restoration equals the in-memory tensor restoration, bit for bit -----------
# PNG folder in (12 frames), PNG folder out; the same frames as a (T, 3, H, W) tensor through
# `restore --input X.safetensors`, quantised like the writer (clamp, x255, +0.5, truncate).
mkdir -p "$S/png_in"
clip "$S/png_in/f%03d.png" 12 24x20 -pix_fmt rgb24
ffmpeg -v error -y -i "$S/png_in/f%03d.png" -f rawvideo -pix_fmt rgb24 "$S/png_in.rgb"
# png_tensor <rgb file> <out.safetensors> [sigma]: with sigma, a fourth channel sigma/255 (float32), as
# --noise-level gives VRT's non-blind denoiser.
png_tensor() {
"$PY" - "$1" "$2" 12 20 24 ${3:-} <<'PYEOF'
import json, struct, sys
import numpy as np
src, dst, t, h, w = sys.argv[1], sys.argv[2], *map(int, sys.argv[3:6])
rgb = np.fromfile(src, np.uint8).reshape(t, h, w, 3)
# vrestore_io's rule: v * (1 / 255) in float32.
clip = np.ascontiguousarray(rgb.transpose(0, 3, 1, 2)).astype(np.float32) * (np.float32(1) / np.float32(255))
if len(sys.argv) > 6:
    level = np.full((t, 1, h, w), np.float32(int(sys.argv[6])) / np.float32(255), np.float32)
    clip = np.ascontiguousarray(np.concatenate([clip, level], 1))
header = json.dumps({'input': {'dtype': 'F32', 'shape': list(clip.shape), 'data_offsets': [0, clip.nbytes]}})
header += ' ' * (-len(header) % 8)
open(dst, 'wb').write(struct.pack('<Q', len(header)) + header.encode() + clip.tobytes())
PYEOF
}
png_tensor "$S/png_in.rgb" "$S/png_in.safetensors"
png_tensor "$S/png_in.rgb" "$S/png_in_sigma25.safetensors" 25
compare_png_to_tensor() {  # <png folder> <tensor file>: exact equality of every sample
  ffmpeg -v error -y -i "$1/%06d.png" -f rawvideo -pix_fmt rgb24 "$1.rgb" &&
  "$PY" - "$1.rgb" "$2" <<'PYEOF'
import json, struct, sys
import numpy as np
raw = open(sys.argv[2], 'rb').read(); n = struct.unpack('<Q', raw[:8])[0]
info = json.loads(raw[8:8 + n])['output']
b, e = info['data_offsets']
out = np.frombuffer(raw[8 + n + b:8 + n + e], np.float32).reshape(info['shape'])
q = (np.clip(out, np.float32(0), np.float32(1)) * np.float32(255) + np.float32(0.5)).astype(np.uint8)
png = np.fromfile(sys.argv[1], np.uint8).reshape(q.shape[0], q.shape[2], q.shape[3], 3).transpose(0, 3, 1, 2)
diff = np.abs(png.astype(int) - q.astype(int))
print(f"{q.shape[0]} frames, max diff {diff.max()}, differing samples {(diff > 0).sum()}")
sys.exit(0 if diff.max() == 0 else 1)
PYEOF
}
# EDVR (sliding window), BasicVSR in chunks of 4 + look-ahead 3 (backward walks: ring re-requests),
# RealBasicVSR in chunks (a whole-clip cleaning pre-scan: the input is decoded again).
for run in "edvr:$EDVR:" "basicvsr:$BV:--chunk 4 --lookahead 3" "realbasicvsr:$RBV:--chunk-frames 5 --lookahead-frames 2"; do
  IFS=: read -r name model extra <<< "$run"
  # shellcheck disable=SC2086
  if "$cli" restore -q -i "$S/png_in" -o "$S/png_$name/" -m "$model" $extra &&
     "$cli" restore -q --weights "$model" --input "$S/png_in.safetensors" --output "$S/png_$name.safetensors" $extra; then
    check "$name: 12 PNG frames written" test "$(find "$S/png_$name" -name '*.png' | wc -l)" -eq 12
    line=$(compare_png_to_tensor "$S/png_$name" "$S/png_$name.safetensors" 2>&1)
    check "$name: PNG-folder restoration equals the tensor restoration: $line" grep -q "max diff 0," <<< "$line"
  else
    bad "$name: PNG-folder or tensor restore failed"
  fi
done
# VRT's non-blind denoiser: --noise-level 25 adds the channel 25/255 to the PNG frames, exactly as
# the 4-channel tensor made above.
DENOISE=$weights/vrt_denoise_pa4.safetensors
if "$cli" restore -q -i "$S/png_in" -o "$S/png_denoise/" -m "$DENOISE" --noise-level 25 &&
   "$cli" restore -q --weights "$DENOISE" --input "$S/png_in_sigma25.safetensors" --output "$S/png_denoise.safetensors"; then
  line=$(compare_png_to_tensor "$S/png_denoise" "$S/png_denoise.safetensors" 2>&1)
  check "VRT denoiser: --noise-level on PNG frames equals the 4-channel tensor: $line" grep -q "max diff 0," <<< "$line"
else
  bad "VRT denoiser: PNG-folder or tensor restore failed"
fi
expect_error 1 "vrt_denoise_pa4.safetensors' \\(vrt.VRT\\) is a non-blind denoiser: .* give it with --noise-level SIGMA" -- \
  "$cli" restore -i "$S/png_in" -o "$S/e_denoise/" -m "$DENOISE"
check "no output folder is left by the refused denoiser run" test ! -e "$S/e_denoise"
expect_error 1 "--noise-level applies to VRT's non-blind denoiser \\(4 input channels\\); model .* takes 3 channels: omit it" -- \
  "$cli" restore -i "$S/png_in" -o "$S/e_noise/" -m "$EDVR" --noise-level 25
expect_error 2 "--noise-level applies to video and PNG inputs" -- \
  "$cli" restore --weights "$DENOISE" --input "$S/png_in_sigma25.safetensors" --output "$S/e.safetensors" --noise-level 25
got=$(probe "$S/png_edvr/000000.png")
check "PNG frames are 96x80, got '$got'" grep -q "^1 96x80 " <<< "$got"

# ---- bad inputs: one line, the reason, non-zero exit, and no output left behind ----------------
expect_error 1 "video '.*missing.mp4': cannot open: No such file" -- \
  "$cli" restore -i "$S/missing.mp4" -o "$S/e.mp4" -m "$EDVR"
printf 'this is not a video' > "$S/text.mp4"
expect_error 1 "video '.*text.mp4': cannot open: Invalid data" -- "$cli" restore -i "$S/text.mp4" -o "$S/e.mp4" -m "$EDVR"
# Truncated: 40 incompressible mpeg4 frames cut at 60%: the frame where the damage starts.
ffmpeg -v error -y -f lavfi -i "nullsrc=s=32x32:r=25,geq=random(1)*255:128:128" -frames:v 40 -c:v mpeg4 -q:v 3 "$S/full.avi"
head -c $(( $(stat -c %s "$S/full.avi") * 6 / 10 )) "$S/full.avi" > "$S/cut.avi"
expect_error 1 "video '.*cut.avi': (damaged stream|stream ends early).* at frame [0-9]+" -- \
  "$cli" restore -i "$S/cut.avi" -o "$S/e.mp4" -m "$EDVR"
check "a truncated input leaves no output" test ! -e "$S/e.mp4"
# A pixel format libswscale cannot read (4-bit packed BGR).
if ffmpeg -v error -y -f lavfi -i testsrc=size=32x32:rate=25 -frames:v 2 -pix_fmt bgr4 -c:v rawvideo "$S/bgr4.nut"; then
  expect_error 1 "video '.*bgr4.nut': unsupported pixel format 'bgr4'" -- "$cli" restore -i "$S/bgr4.nut" -o "$S/e.mp4" -m "$EDVR"
else
  bad "ffmpeg could not write a bgr4 clip"
fi
# An odd frame size does not fit yuv420p: libx264 gets 4:4:4 (a scale-1 model on 33x32); mpeg4,
# which has only 4:2:0, is refused naming what would work.
clip "$S/odd.avi" 3 33x32 -c:v mpeg4
if "$cli" restore -q -i "$S/odd.avi" -o "$S/odd.mp4" -m "$DEBLUR"; then
  got="$(probe "$S/odd.mp4") $(pix_fmt "$S/odd.mp4")"
  check "33x32 is written as 4:4:4 H.264, got '$got'" test "$got" = "3 33x32 25/1 0 yuv444p"
else
  bad "restore of an odd-sized clip failed"
fi
expect_error 1 "encoder 'mpeg4' has no pixel format for 33x32 frames .*; choose another --codec, e.g. libx264" -- \
  "$cli" restore -i "$S/odd.avi" -o "$S/e.avi" -m "$DEBLUR" --codec mpeg4
mkdir -p "$S/empty_dir"
expect_error 1 "PNG folder '.*empty_dir': no .png files" -- "$cli" restore -i "$S/empty_dir" -o "$S/e.mp4" -m "$EDVR"
# Unwritable outputs: inside a file; a folder without write permission (not for root).
expect_error 1 "video '.*text.mp4/e.mp4': '.*text.mp4' is not a folder" -- \
  "$cli" restore -i "$S/in.avi" -o "$S/text.mp4/e.mp4" -m "$EDVR"
expect_error 1 "folder '.*no_dir' does not exist" -- "$cli" restore -i "$S/in.avi" -o "$S/no_dir/e.mp4" -m "$EDVR"
if [ "$(id -u)" -ne 0 ]; then
  mkdir -p "$S/read_only" && chmod a-w "$S/read_only"
  expect_error 1 "is not writable" -- "$cli" restore -i "$S/in.avi" -o "$S/read_only/e.mp4" -m "$EDVR"
  chmod u+w "$S/read_only"
fi
expect_error 1 "cannot tell the container from the name" -- "$cli" restore -i "$S/in.avi" -o "$S/e.nosuchext" -m "$EDVR"
# The output may never be the input, also through a symlink; the input stays as it was.
sum_before=$(cksum < "$S/in.avi")
expect_error 1 "output '.*in.avi' would overwrite the input '.*in.avi'" -- "$cli" restore -i "$S/in.avi" -o "$S/in.avi" -m "$EDVR"
ln -sf "$S/in.avi" "$S/link.avi"
expect_error 1 "output '.*link.avi' would overwrite the input" -- "$cli" restore -i "$S/in.avi" -o "$S/link.avi" -m "$EDVR"
check "the input is unchanged after a refused output" test "$(cksum < "$S/in.avi")" = "$sum_before"
expect_error 1 "would overwrite the input" -- "$cli" restore -i "$S/png_in" -o "$S/png_in/" -m "$EDVR"
# A PNG folder that already holds files (a stale 000003.png of a longer run) is refused before the
# model loads (a missing model would be named otherwise), and left as it was.
mkdir -p "$S/stale_png" && cp "$S/png_in/f001.png" "$S/stale_png/000003.png"
stale_before=$(cksum < "$S/stale_png/000003.png")
expect_error 1 "^vrestore: error: output folder '.*stale_png/' is not empty; choose a new or empty folder$" -- \
  "$cli" restore -i "$S/png_in" -o "$S/stale_png/" -m "$S/no_such_model.safetensors"
check "the non-empty PNG folder is left as it was" \
  test "$(ls -A "$S/stale_png")" = "000003.png" -a "$(cksum < "$S/stale_png/000003.png")" = "$stale_before"

# A model that does not fit the request.
expect_error 1 "model '.*edvr_deblur_hrin.safetensors' \(basicsr.EDVR\) restores at scale 1, --scale 4 was asked" -- \
  "$cli" restore -i "$S/in.avi" -o "$S/e.mp4" -m "$DEBLUR" --scale 4
expect_error 1 "restores at scale 4, --scale 2 was asked" -- "$cli" restore -i "$S/in.avi" -o "$S/e.mp4" -m "$BV" --scale 2
expect_error 1 "--tile, --tile-overlap: tiling and the memory budget apply to VRT models only; basicsr.EDVR restores whole frames" -- \
  "$cli" restore -i "$S/in.avi" -o "$S/e.mp4" -m "$EDVR" --tile 16 16 --tile-overlap 4
expect_error 1 "--tile: tiling and the memory budget apply to VRT models only; basicsr.BasicVSR restores whole frames" -- \
  "$cli" restore -i "$S/in.avi" -o "$S/e.mp4" -m "$BV" --tile 16 16
expect_error 1 "--memory-budget: tiling and the memory budget apply to VRT models only; basicsr.EDVR" -- \
  "$cli" restore -i "$S/in.avi" -o "$S/e.mp4" -m "$EDVR" --memory-budget 1GiB
# f16 on the CPU is a usage error of one line; without a GPU, cuda is one line naming why.
expect_error 2 "^vrestore: --precision f16 needs --device cuda \(the CPU backend computes in f32\)$" -- \
  "$cli" restore -i "$S/in.avi" -o "$S/e.mp4" -m "$EDVR" --precision f16
expect_error 1 "^vrestore: error: device cuda(:0)?: .*" -- "$cli" restore -i "$S/in.avi" -o "$S/e.mp4" -m "$EDVR" --device cuda
expect_error 1 "device cuda(:1)?: " -- \
  "$cli" restore -i "$S/in.avi" -o "$S/e.mp4" -m "$EDVR" --device cuda --precision f16 --device-index 1
expect_error 2 "^vrestore: --device-index applies to --device cuda only$" -- \
  "$cli" restore -i "$S/in.avi" -o "$S/e.mp4" -m "$EDVR" --device-index 1
# Chunking is for recurrent models: EDVR refuses it rather than ignore it.
expect_error 1 "--chunk, --lookahead and --independent-chunks apply to recurrent models \(BasicVSR, RealBasicVSR\) only; basicsr.EDVR restores each frame from a window of 5 frames" -- \
  "$cli" restore -i "$S/in.avi" -o "$S/e.mp4" -m "$EDVR" --chunk 4
expect_error 1 "apply to recurrent models" -- "$cli" restore -i "$S/in.avi" -o "$S/e.mp4" -m "$EDVR" --lookahead 0
expect_error 1 "VRESTORE_DEFAULT_MODEL is '.*nope.safetensors', which is not a file; .* pass -m" -- \
  env VRESTORE_DEFAULT_MODEL="$S/nope.safetensors" "$cli" restore -i "$S/in.avi" -o "$S/e.mp4"
# Encoder options.
expect_error 1 "no video encoder 'nosuchcodec'" -- "$cli" restore -i "$S/in.avi" -o "$S/e.mp4" -m "$EDVR" --codec nosuchcodec
expect_error 1 "encoder 'mpeg4' has no CRF option" -- \
  "$cli" restore -i "$S/in.avi" -o "$S/e.avi" -m "$EDVR" --codec mpeg4 --crf 20
check "no output was left by any refused run" test ! -e "$S/e.mp4" -a ! -e "$S/e.avi"
# Usage errors (exit 2).
expect_error 2 "--crf and --codec apply to video outputs, not to the PNG folder" -- \
  "$cli" restore -i "$S/in.avi" -o "$S/e_png/" -m "$EDVR" --crf 20
expect_error 2 "--crf expects an integer 0 to 63, got '64'" -- "$cli" restore -i "$S/in.avi" -o "$S/e.mp4" -m "$EDVR" --crf 64
expect_error 2 "--scale expects an integer 1 to 16, got '0'" -- "$cli" restore -i "$S/in.avi" -o "$S/e.mp4" -m "$EDVR" --scale 0
expect_error 2 "--precision must be f32 or f16, got 'f64'" -- \
  "$cli" restore -i "$S/in.avi" -o "$S/e.mp4" -m "$EDVR" --precision f64
expect_error 2 "--tile needs 2 values" -- "$cli" restore -i "$S/in.avi" -o "$S/e.mp4" -m "$EDVR" --tile 16
expect_error 2 "--tile H expects an integer 0 to 1048576, got '-1'" -- \
  "$cli" restore -i "$S/in.avi" -o "$S/e.mp4" -m "$EDVR" --tile -1 16
expect_error 2 "--memory-budget expects bytes" -- "$cli" restore -i "$S/in.avi" -o "$S/e.mp4" -m "$EDVR" --memory-budget 1T
expect_error 2 "--input \(-i\) given twice" -- "$cli" restore -i "$S/in.avi" --input "$S/in.avi" -o "$S/e.mp4" -m "$EDVR"
expect_error 2 "--chunk-frames \(--chunk\) given twice" -- \
  "$cli" restore -i "$S/in.avi" -o "$S/e.mp4" -m "$EDVR" --chunk 4 --chunk-frames 4
expect_error 2 "a video or PNG-folder --input is restored into a video or PNG folder" -- \
  "$cli" restore -i "$S/in.avi" -o "$S/e.safetensors" -m "$EDVR"
expect_error 2 "a .safetensors --input is restored into a .safetensors --output" -- \
  "$cli" restore -i "$S/png_in.safetensors" -o "$S/e.mp4" -m "$EDVR"
expect_error 2 "--crf applies to video outputs, not to a .safetensors output" -- \
  "$cli" restore -i "$S/png_in.safetensors" -o "$S/e.safetensors" -m "$EDVR" --crf 20

# ---- what the output is and carries ------------------------------------------------------------
# ffv1 keeps RGB: the decoded video equals the PNG-folder output of the same restoration, sample
# for sample.
if "$cli" restore -q -i "$S/png_in" -o "$S/ffv1.mkv" -m "$EDVR" --codec ffv1 &&
   ffmpeg -v error -y -i "$S/ffv1.mkv" -f rawvideo -pix_fmt rgb24 "$S/ffv1.rgb" &&
   ffmpeg -v error -y -i "$S/png_edvr/%06d.png" -f rawvideo -pix_fmt rgb24 "$S/png_edvr.rgb"; then
  check "ffv1 output is RGB ($(pix_fmt "$S/ffv1.mkv")) and equals the PNG frames" cmp -s "$S/ffv1.rgb" "$S/png_edvr.rgb"
else
  bad "ffv1 restore failed"
fi
# .webm's default codec is VP9; the AAC audio of an MP4 input becomes Opus (WebM takes no AAC),
# with one warning line.
if "$cli" restore -i "$S/in.mp4" -o "$S/out.webm" -m "$DEBLUR" 2> "$S/webm.log"; then
  got="$(probe "$S/out.webm") $(video_codec "$S/out.webm") $(audio_codec "$S/out.webm")"
  check "webm keeps 8 frames and the audio as VP9 + Opus, got '$got'" test "$got" = "8 32x32 30000/1001 1 vp9 opus"
  check "one warning says the audio was re-encoded: $(cat "$S/webm.log")" \
    test "$(grep -c "warning: .*does not take the aac audio of .*in.mp4'; audio re-encoded as libopus$" "$S/webm.log")" -eq 1
else
  bad "webm restore failed: $(cat "$S/webm.log")"
fi
# PCM audio in AVI cannot go into MP4: AAC.
ffmpeg -v error -y -f lavfi -i "testsrc=size=32x24:rate=25" -f lavfi -i "sine=frequency=440:sample_rate=22050" \
  -frames:v 5 -c:v mpeg4 -c:a pcm_s16le -shortest "$S/pcm.avi"
if "$cli" restore -q -i "$S/pcm.avi" -o "$S/pcm.mp4" -m "$DEBLUR" 2> "$S/pcm.log"; then
  check "PCM audio becomes AAC in MP4, got '$(audio_codec "$S/pcm.mp4")'" test "$(audio_codec "$S/pcm.mp4")" = aac
else
  bad "restore with PCM audio failed: $(cat "$S/pcm.log")"
fi
# A truncated MKV states no frame count, only a duration: a stream that ends far before it is
# restored with a warning (the duration may be the audio's).
clip "$S/long.mkv" 75 32x24 -c:v ffv1
head -c $(($(stat -c %s "$S/long.mkv") * 6 / 10)) "$S/long.mkv" > "$S/cut.mkv"
if "$cli" restore -q -i "$S/cut.mkv" -o "$S/cut_out.mkv" -m "$DEBLUR" --codec ffv1 2> "$S/cut.log"; then
  check "a truncated MKV gets one warning: $(cat "$S/cut.log")" \
    test "$(grep -c "warning: input '.*cut.mkv': its container's duration suggests about 75 frames, the video stream ends after" "$S/cut.log")" -eq 1
else
  bad "restore of a truncated MKV failed: $(cat "$S/cut.log")"
fi
"$cli" restore -q -i "$S/long.mkv" -o "$S/long_out.mkv" -m "$DEBLUR" --codec ffv1 2> "$S/long.log"
check "the whole MKV gets no warning: $(cat "$S/long.log")" test ! -s "$S/long.log"
# Pipes: the input is read more than once.
expect_error 1 "input '-': vrestore reads its input more than once, so standard input does not work" -- \
  "$cli" restore -i - -o "$S/e.mp4" -m "$DEBLUR"
mkfifo "$S/fifo.mkv"
expect_error 1 "input '.*fifo.mkv' is not a file or folder: vrestore reads its input more than once" -- \
  "$cli" restore -i "$S/fifo.mkv" -o "$S/e.mp4" -m "$DEBLUR"
# MPEG-TS keeps no codec list in FFmpeg (its query says "unknown" for every codec), yet carries
# H.264 and AC-3: the default codec is libx264 and the AC-3 audio is copied.
ffmpeg -v error -y -f lavfi -i "testsrc=size=32x24:rate=10" -f lavfi -i "sine=frequency=440:sample_rate=48000" \
  -frames:v 5 -c:v ffv1 -c:a ac3 -shortest "$S/ac3.mkv"
if "$cli" restore -q -i "$S/ac3.mkv" -o "$S/ac3.ts" -m "$DEBLUR" 2> "$S/ts.log"; then
  # ffprobe lists a TS stream again under its program: the first line of each query.
  first() { ffprobe -v error -count_frames "$@" -of csv=p=0 "$S/ac3.ts" | grep -m1 .; }
  got="$(first -select_streams v:0 -show_entries stream=nb_read_frames) $(first -select_streams v:0 \
    -show_entries stream=codec_name) $(first -select_streams a:0 -show_entries stream=codec_name)"
  check "MPEG-TS output: 5 frames, H.264 and the AC-3 audio copied, got '$got'" test "$got" = "5 h264 ac3"
else
  bad "MPEG-TS restore failed: $(cat "$S/ts.log")"
fi
# FFmpeg's own reason for refusing an encoder comes with the error (it logs it, which -q hides).
expect_error 1 "cannot open the mpeg1video encoder: Invalid argument \\(MPEG-1/2 does not support 10/1 fps\\)" -- \
  "$cli" restore -q -i "$S/ac3.mkv" -o "$S/ac3.mpg" -m "$DEBLUR"
# A damaged audio packet is skipped, as ffmpeg does, not the end of the audio: the first AC-3
# packet of opencv-doc's Megamind.avi is one.
MEGAMIND=/usr/share/doc/opencv-doc/examples/data/Megamind.avi
if [ -f "$MEGAMIND" ]; then
  ffmpeg -v error -y -i "$MEGAMIND" -t 1 -vf scale=32:24 -c:v ffv1 -c:a copy "$S/mm.mkv" 2> /dev/null
  if "$cli" restore -i "$S/mm.mkv" -o "$S/mm.webm" -m "$DEBLUR" 2> "$S/mm.log"; then
    packets=$(ffprobe -v error -select_streams a -show_entries packet=pts_time -of csv=p=0 "$S/mm.webm" | grep -c .)
    ffmpeg -v error -y -i "$S/mm.mkv" -vn -c:a libopus "$S/mm_ref.webm" 2> /dev/null
    want=$(ffprobe -v error -select_streams a -show_entries packet=pts_time -of csv=p=0 "$S/mm_ref.webm" | grep -c .)
    check "Megamind's audio with its damaged first packet: $packets Opus packets, ffmpeg writes $want" \
      test "$packets" -ge $((want - 1)) -a "$packets" -gt 10
    check "one warning names the damaged packet: $(grep damaged "$S/mm.log")" \
      test "$(grep -c "warning: .*the audio of .*mm.mkv' has a damaged packet at .* it is skipped" "$S/mm.log")" -eq 1
  else
    bad "restore of Megamind's clip failed: $(cat "$S/mm.log")"
  fi
fi
# Rotation: an MP4 whose track header says "rotate 90" (patched in: this ffmpeg cannot tag it)
# keeps it.
clip "$S/rot.mp4" 3 32x24 -c:v libx264 -pix_fmt yuv420p
"$PY" - "$S/rot.mp4" <<'PYEOF'
import struct, sys
data = bytearray(open(sys.argv[1], 'rb').read())
at = data.find(b'tkhd')
assert at > 0 and data[at + 4] == 0, 'version-0 tkhd expected'
# tkhd v0: 'tkhd' + version/flags 4 + times 8 + track id 4 + reserved 4 + duration 4 + 8 + 8: matrix.
m = at + 4 + 4 + 8 + 4 + 4 + 4 + 8 + 8
data[m:m + 36] = struct.pack('>9i', 0, 1 << 16, 0, -(1 << 16), 0, 0, 0, 0, 1 << 30)
open(sys.argv[1], 'wb').write(data)
PYEOF
in_rot=$(rotation "$S/rot.mp4")
if [ -n "$in_rot" ] && "$cli" restore -q -i "$S/rot.mp4" -o "$S/rot_out.mp4" -m "$EDVR"; then
  check "the rotation ($in_rot) is kept in the x4 output, got '$(rotation "$S/rot_out.mp4")'" \
    test "$(rotation "$S/rot_out.mp4")" = "$in_rot"
else
  bad "rotated input: ffprobe sees rotation '$in_rot', or the restore failed"
fi
# Timing: a clip with every third frame dropped (sparse timestamps, as in opencv's tree.avi) keeps
# each frame's time instead of being renumbered at the nominal rate.
ffmpeg -v error -y -f lavfi -i "testsrc=size=32x24:rate=25:duration=0.48" -vf "select='not(mod(n\,3))+eq(n\,10)'" \
  -vsync passthrough -c:v mpeg4 "$S/sparse.avi"
if "$cli" restore -q -i "$S/sparse.avi" -o "$S/sparse.mkv" -m "$DEBLUR"; then
  check "sparse timestamps are kept: in '$(pts "$S/sparse.avi")', out '$(pts "$S/sparse.mkv")'" \
    test "$(pts "$S/sparse.avi")" = "$(pts "$S/sparse.mkv")"
  check "the sparse input really has gaps: '$(pts "$S/sparse.avi")'" test "$(pts "$S/sparse.avi")" = "0.000000 0.120000 0.240000 0.360000 0.400000 "
else
  bad "restore of a sparse-timestamp clip failed"
fi
# A reader of stderr that goes away (`| head -1`) does not kill the run mid-file.
mkdir -p "$S/pipe"
"$cli" restore -i "$S/sparse.avi" -o "$S/pipe/out.mp4" -m "$DEBLUR" 2>&1 | head -1 > /dev/null
check "with stderr closed early the output is still complete: $(ls -A "$S/pipe")" \
  test "$(ls -A "$S/pipe")" = "out.mp4" -a "$(probe "$S/pipe/out.mp4" | cut -d' ' -f1)" = 5
# --quiet silences FFmpeg's encoders too: libx265 logs through its own channel.
err=$("$cli" restore -q -i "$S/in.avi" -o "$S/x265.mp4" -m "$DEBLUR" --codec libx265 2>&1); rc=$?
check "--quiet with libx265 prints nothing (rc $rc): '$err'" test "$rc" -eq 0 -a -z "$err"
err=$("$cli" restore -i "$S/in.avi" -o "$S/x265b.mp4" -m "$DEBLUR" --codec libx265 2>&1)
check "without --quiet libx265 prints no info lines of its own: '$err'" test -z "$(grep -i "x265 \[" <<< "$err")"
# --stats: one line on stdout after the run (also with --quiet).
out=$("$cli" restore -q --stats -i "$S/in.avi" -o "$S/stats.mp4" -m "$DEBLUR" 2>/dev/null)
check "restore --stats prints frames, wall time, fps and peak RSS: '$out'" \
  grep -Eq "^stats: frames 6, wall [0-9.]+ s, [0-9.]+ fps, peak host RSS [1-9][0-9]* bytes \([0-9.]+ MiB\)$" <<< "$out"
# --help and --version after the command, whatever else is on the line.
check "restore --help prints the usage" bash -c "'$cli' restore --help | grep -q -- '--tile-overlap P'"
check "restore -i x --version prints the version" bash -c "'$cli' restore -i x --version | grep -q '^vrestore [0-9]'"

# ---- Ctrl-C: a playable file of the frames done, or none; never a corrupt one ------------------
# interrupt <output> <after this stderr regex>: runs restore on 40 frames, sends SIGINT once the
# regex appears on stderr; prints the exit code.
clip "$S/long.mp4" 40 32x32 -c:v libx264 -pix_fmt yuv420p
interrupt() {
  "$cli" restore -i "$S/long.mp4" -o "$1" -m "$EDVR" 2> "$S/int.log" & local pid=$!
  for _ in $(seq 600); do grep -Eq "$2" "$S/int.log" && break; sleep 0.05; done
  kill -INT "$pid"; wait "$pid"; echo $?
}
rc=$(interrupt "$S/int.mp4" "^restore: [0-9]+/40")
done_frames=$(sed -n 's/.*holds the first \([0-9]*\) of 40 frames.*/\1/p' "$S/int.log")
if [ "$rc" -eq 130 ] && [ -n "$done_frames" ]; then
  got=$(probe "$S/int.mp4")
  check "after Ctrl-C the video decodes with the $done_frames frames done (1..39), got '$got'" \
    test "${got%% *}" = "$done_frames" -a "$done_frames" -ge 1 -a "$done_frames" -lt 40
  check "ffprobe finds no error in the interrupted video" test -z "$(ffprobe -v error -count_frames -i "$S/int.mp4" 2>&1)"
elif [ "$rc" -eq 130 ] && grep -q "nothing was written" "$S/int.log"; then
  check "no file after an interrupt before the first frame" test ! -e "$S/int.mp4"
else
  bad "Ctrl-C: exit $rc (want 130), stderr: $(cat "$S/int.log")"
fi
# Interrupted right after the model loads (before any frame): no file at all.
rc=$(interrupt "$S/int0.mp4" "^vrestore: basicsr.EDVR")
if grep -q "holds the first" "$S/int.log"; then
  check "an early Ctrl-C still leaves a playable file" test "$(probe "$S/int0.mp4" | cut -d' ' -f1)" -ge 1
else
  check "an early Ctrl-C exits 130 and leaves no file: rc $rc, $(cat "$S/int.log")" test "$rc" -eq 130 -a ! -e "$S/int0.mp4"
fi
check "no temporary file is left after Ctrl-C" test -z "$(find "$S" -maxdepth 1 -name '.*int*')"
# A second Ctrl-C ends the process at once: exit 130, and neither the output nor its hidden
# temporary file is left (the handler unlinks it). Larger frames keep the run busy between the two.
clip "$S/long128.mp4" 40 128x128 -c:v libx264 -pix_fmt yuv420p
mkdir -p "$S/int2"
"$cli" restore -i "$S/long128.mp4" -o "$S/int2/out.mp4" -m "$EDVR" 2> "$S/int2.log" & pid=$!
for _ in $(seq 600); do grep -Eq "^restore: [0-9]+/40" "$S/int2.log" && break; sleep 0.05; done
kill -INT "$pid"; sleep 0.1; kill -INT "$pid"; wait "$pid"; rc=$?
# (Should the first one finish the partial output before the second arrives, that file may stay.)
grep -q "holds the first" "$S/int2.log" && rm -f "$S/int2/out.mp4"
check "a double Ctrl-C exits 130 at once and leaves nothing in the folder: rc $rc, left: $(ls -A "$S/int2"), \
stderr: $(cat "$S/int2.log")" test "$rc" -eq 130 -a -z "$(ls -A "$S/int2")"

# A double Ctrl-C while PNG frames are written leaves only complete frames: no temporary file of a
# frame being written (the second signal waits for the frame). Tried at several moments.
for delay in 0.05 0.2 0.5; do
  rm -rf "$S/int_png"
  "$cli" restore -i "$S/long128.mp4" -o "$S/int_png/" -m "$DEBLUR" 2> "$S/int_png.log" & pid=$!
  for _ in $(seq 600); do grep -Eq "^restore: [0-9]+/40" "$S/int_png.log" && break; sleep 0.01; done
  kill -INT "$pid"; sleep "$delay"; kill -INT "$pid" 2>/dev/null; wait "$pid"; rc=$?
  check "double Ctrl-C on a PNG output (delay $delay): exit 130 and no hidden file: rc $rc, left: \
$(ls -A "$S/int_png" 2>/dev/null | grep '^\.')" test "$rc" -eq 130 -a -z "$(ls -A "$S/int_png" 2>/dev/null | grep '^\.')"
done

echo "cli_video: $passed passed, $failures failed"
[ "$failures" -eq 0 ]
