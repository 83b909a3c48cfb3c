#!/usr/bin/env bash
# Installs the built tree, then builds examples/embed against it with find_package(vrestore)
# and runs both the C++ and the C example; converts a fixture checkpoint with the installed
# converter (bin/vrestore-convert) and restores with the result. A shared-library build is also
# checked for its exported API, its run paths and what the consumer loads.
# Args: <source dir> <build dir> <weights file> [python with numpy]
set -euo pipefail
src=$1; build=$2; weights=$3; python=${4:-/usr/bin/python3}
fixtures=${VRESTORE_FIXTURES:-$src/../shared/fixtures}
work=$build/test_scratch/consumer
prefix=$work/install
rm -rf "$work"
cmake --install "$build" --prefix "$prefix" > /dev/null

# The package names no CUDA target and needs no CUDA toolkit (docs/architecture.md): the consumer
# is configured with the toolkit hidden from CMake (no nvcc on PATH, CUDAToolkit_ROOT nowhere).
if grep -l -E "CUDA::|CUDAToolkit" "$prefix"/lib*/cmake/vrestore/*.cmake; then
  echo "FAIL: the installed package refers to the CUDA toolkit (files above)"; exit 1
fi
no_cuda_path=$(echo "$PATH" | tr ':' '\n' | grep -v -i cuda | paste -sd: -)
env -u CUDACXX -u CUDA_PATH -u CUDA_HOME PATH="$no_cuda_path" CUDAToolkit_ROOT="$work/no-cuda-toolkit" \
  cmake -S "$src/examples/embed" -B "$work/build" -DCMAKE_PREFIX_PATH="$prefix" -DCMAKE_BUILD_TYPE=Release \
  > "$work/configure.log" || { cat "$work/configure.log"; exit 1; }
env PATH="$no_cuda_path" cmake --build "$work/build" -j 2 > "$work/build.log" || { cat "$work/build.log"; exit 1; }
"$work/build/embed_cpp" "$weights" 3 18 22 2>/dev/null | tee "$work/cpp.txt"
grep -q "frame 2: (3, 72, 88)" "$work/cpp.txt"
"$work/build/embed_c" "$weights" 2>/dev/null | tee "$work/c.txt"
grep -q "restored 3 frames to 64x80" "$work/c.txt"
# examples/c/restore_clip.c: whole clip and stream agree (it exits non-zero otherwise).
"$work/build/restore_clip_c" "$weights" 3 2>/dev/null | tee "$work/restore_clip.txt"
grep -q "checksum whole clip" "$work/restore_clip.txt"

# The installed converter, run from elsewhere than the source tree.
test -x "$prefix/bin/vrestore-convert"
(cd "$work" && VRESTORE_PYTHON="$python" "$prefix/bin/vrestore-convert" \
   "$fixtures/edvr_m_official_x4/weights.pth" "$work/edvr_m.safetensors")
"$work/build/embed_cpp" "$work/edvr_m.safetensors" 3 18 22 2>/dev/null | tee "$work/converted.txt"
grep -q "frame 2: (3, 72, 88)" "$work/converted.txt"
# Under a Python without numpy (-S: no site packages) it says what is missing, exit code 2.
status=0
"$python" -S "$prefix/share/vrestore/weights_converter/convert.py" in.pth out.safetensors 2> "$work/no_numpy.txt" \
  || status=$?
if [ "$status" -ne 2 ] || ! grep -q "numpy" "$work/no_numpy.txt"; then
  echo "FAIL: the installed converter without numpy exited $status with:"; cat "$work/no_numpy.txt"; exit 1
fi

# Shared library: the public API is exported, no run path points into the build tree, and the
# consumer loads the installed copy.
library=$(ls "$prefix"/lib*/libvrestore.so 2> /dev/null | head -n 1 || true)
if [ -n "$library" ]; then
  exported=$(nm -D -C --defined-only "$library")
  for symbol in vrestore_model_load vrestore_last_error "vrestore::Model::load"; do
    grep -q -F "$symbol" <<< "$exported" || { echo "FAIL: $library does not export $symbol"; exit 1; }
  done
  if readelf -d "$library" | grep -E "R(UN)?PATH" | grep -q -F "$build"; then
    echo "FAIL: $library has a run path into the build tree:"; readelf -d "$library" | grep -E "R(UN)?PATH"; exit 1
  fi
  if ldd "$library" | grep -q "not found"; then
    echo "FAIL: $library has unresolved dependencies:"; ldd "$library"; exit 1
  fi
  loaded=$(ldd "$work/build/embed_cpp" | grep libvrestore.so || true)
  grep -q -F "$prefix/" <<< "$loaded" || { echo "FAIL: embed_cpp loads libvrestore from: $loaded"; exit 1; }
  echo "shared library: public API exported, $(basename "$library") loaded from the install prefix"
fi
echo "consumer: 1 passed, 0 failed"
