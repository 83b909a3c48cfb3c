#!/usr/bin/env bash
# Configures and builds vrestore into ./build (CUDA backend compiled when nvcc is found).
# Extra arguments are passed to CMake, e.g. -DVRESTORE_CUDA=OFF.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cmake -S "$root" -B "$root/build" -G Ninja -DCMAKE_BUILD_TYPE=Release "$@" > "$root/build-configure.log" \
  || { cat "$root/build-configure.log"; exit 1; }
cmake --build "$root/build" -j "$(nproc)"
