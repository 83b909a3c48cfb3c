#!/usr/bin/env bash
# Builds the vrestore CLI alone, CPU only (no CUDA, tests or benchmarks), into the folder given
# (default build-main/): what the main job needs on a fresh machine, in about a minute on 2 cores.
# A unity build (several sources per compiler run) parses the shared headers (the library's own,
# nlohmann/json, the standard library) a few times instead of once per file: 2.5x less compile
# time, with bit-identical outputs on every fixture at every CPU ISA level (checked for issue 9).
# scripts/test.sh runs it too, so a name clash between two sources' file-local helpers, which only
# a unity build sees, fails CI rather than the main job.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
build=${1:-$root/build-main}
mkdir -p "$build"
cmake -S "$root" -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=Release -DVRESTORE_CUDA=OFF \
  -DVRESTORE_BUILD_TESTS=OFF -DVRESTORE_BUILD_BENCHMARKS=OFF -DVRESTORE_BUILD_EXAMPLES=ON -DCMAKE_UNITY_BUILD=ON \
  > "$build/configure.log" 2>&1 || { cat "$build/configure.log"; exit 1; }
cmake --build "$build" -j "$(nproc)" --target vrestore_cli > "$build/build.log" 2>&1 \
  || { cat "$build/build.log"; exit 1; }
