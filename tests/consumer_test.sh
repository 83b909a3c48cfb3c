#!/usr/bin/env bash
# Installs the built tree, then builds examples/embed against it with find_package(vrestore)
# and runs both the C++ and the C example. Args: <source dir> <build dir> <weights file>
set -euo pipefail
src=$1; build=$2; weights=$3
work=$build/test_scratch/consumer
rm -rf "$work"
cmake --install "$build" --prefix "$work/install" > /dev/null
cmake -S "$src/examples/embed" -B "$work/build" -DCMAKE_PREFIX_PATH="$work/install" -DCMAKE_BUILD_TYPE=Release > /dev/null
cmake --build "$work/build" -j 2 > /dev/null
"$work/build/embed_cpp" "$weights" 3 18 22 2>/dev/null | tee "$work/cpp.txt"
grep -q "frame 2: (3, 72, 88)" "$work/cpp.txt"
"$work/build/embed_c" "$weights" 2>/dev/null | tee "$work/c.txt"
grep -q "restored 3 frames to 64x80" "$work/c.txt"
echo "consumer: 1 passed, 0 failed"
