#!/bin/sh
# Peak memory of restoring 100 vs 1000 frames with BasicVSR, each in its own process
# (vrestore_long_clip: synthetic 64x64 frames made on demand, outputs discarded).
#   1. chunked restore (defaults chunk_frames 32, lookahead_frames 16): the peak must not grow
#      with the clip, so the ratio 1000 / 100 should be ~1;
#   2. for contrast, chunk_frames >= N (the whole clip as one chunk, as upstream's forward): the
#      peak grows with N.
#
# usage: benchmarks/long_clip_memory.sh [--bin PATH] [--weights W.safetensors | --random-official]
#                                       [--size HxW] [--threads T] [--skip-whole]
# Defaults: build-bench/ or build/ binary, the converted basicvsr_x4 fixture
# (build/test_scratch/weights/basicvsr_x4.safetensors, made by the tests), 64x64, 2 threads.
set -eu

repo=$(cd "$(dirname "$0")/.." && pwd)
bin=""
model="--weights $repo/build/test_scratch/weights/basicvsr_x4.safetensors"
size=64x64
threads=2
whole=1
while [ $# -gt 0 ]; do
  case "$1" in
    --bin) bin=$2; shift 2 ;;
    --weights) model="--weights $2"; shift 2 ;;
    --random-official) model="--random-official"; shift ;;
    --size) size=$2; shift 2 ;;
    --threads) threads=$2; shift 2 ;;
    --skip-whole) whole=0; shift ;;
    *) echo "unknown argument: $1" >&2; exit 2 ;;
  esac
done
if [ -z "$bin" ]; then
  for candidate in "$repo/build-bench/benchmarks/vrestore_long_clip" "$repo/build/benchmarks/vrestore_long_clip"; do
    if [ -x "$candidate" ]; then bin=$candidate; break; fi
  done
fi
[ -n "$bin" ] || { echo "vrestore_long_clip not found; build it (benchmarks/README.md) or pass --bin" >&2; exit 1; }

echo "$(date -u '+%Y-%m-%d %H:%M UTC'), load average $(cut -d' ' -f1-3 /proc/loadavg), $threads threads, $size, $model"

# run N [extra options...] -> prints "peak_mib sec_per_frame" (the RESULT line of the binary)
run() {
  n=$1; shift
  # shellcheck disable=SC2086  # $model holds an option and its value
  line=$(OMP_NUM_THREADS=$threads "$bin" --frames "$n" $model --size "$size" --threads "$threads" "$@" | grep '^RESULT')
  peak=$(echo "$line" | sed 's/.*peak_rss_mib=\([0-9.]*\).*/\1/')
  loaded=$(echo "$line" | sed 's/.*rss_after_load_mib=\([0-9.]*\).*/\1/')
  spf=$(echo "$line" | sed 's/.*sec_per_frame=\([0-9.]*\).*/\1/')
  echo "$peak $spf $loaded"
}

report() {  # label, result for 100, result for 1000
  # shellcheck disable=SC2086  # split each "peak s/frame rss" result into three arguments
  set -- "$1" $2 $3
  printf '%-34s 100 frames: peak %7.1f MiB (%.3f s/frame, %.1f MiB after load)\n' "$1" "$2" "$3" "$4"
  printf '%-34s 1000 frames: peak %7.1f MiB (%.3f s/frame, %.1f MiB after load)\n' "" "$5" "$6" "$7"
  awk -v a="$2" -v b="$5" 'BEGIN { printf "%-34s peak ratio 1000/100 = %.3f\n", "", b / a }'
}

report "chunked (defaults K=32, L=16)" "$(run 100)" "$(run 1000)"
if [ "$whole" = 1 ]; then
  report "whole clip (chunk_frames = N)" "$(run 100 --chunk-frames 100 --lookahead-frames 0)" \
    "$(run 1000 --chunk-frames 1000 --lookahead-frames 0)"
fi
