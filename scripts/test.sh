#!/usr/bin/env bash
# Installs dependencies, builds, and runs the whole test suite (C++ tests, converter tests,
# CLI and installed-package tests) through CTest; then a second small build (below) for the other
# library link mode and the sanitized kernel tests.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
bash "$root/scripts/install_deps.sh"
bash "$root/scripts/build.sh"
# Register / spill / shared-memory budgets of the CUDA kernels (ptxas), when nvcc is installed.
if command -v nvcc > /dev/null 2>&1 || [ -x /usr/local/cuda/bin/nvcc ]; then
  bash "$root/scripts/check_ptxas.sh"
fi
cd "$root/build"
ctest --output-on-failure -j 2
# The main job's CLI-only unity build (scripts/build_cli.sh): a clash only a unity build sees fails here.
bash "$root/scripts/build_cli.sh" "$root/build-ci-cli"

# A second, small build with CUDA off: the library in the other link mode (static <-> shared) with
# the installed-package test against it, and the emulated CUDA backend's kernel tests and op
# harness under ASan + UBSan (cmake/emulated.cmake, cmake/kernels.cmake; they need the CUDA
# toolkit's headers only).
extra=$root/build-ci-extra
main_shared=$(sed -n 's/^BUILD_SHARED_LIBS:BOOL=//p' "$root/build/CMakeCache.txt")
case "$main_shared" in ON|on|1|TRUE|true) other_shared=OFF ;; *) other_shared=ON ;; esac
cmake -S "$root" -B "$extra" -G Ninja -DCMAKE_BUILD_TYPE=Release -DVRESTORE_CUDA=OFF \
  -DBUILD_SHARED_LIBS=$other_shared -DVRESTORE_BUILD_EXAMPLES=OFF -DVRESTORE_KERNEL_TESTS_ASAN=ON \
  > "$extra-configure.log" || { cat "$extra-configure.log"; exit 1; }
targets=(vrestore)
if grep -q "^build vrestore_kernel_tests:" "$extra/build.ninja"; then
  targets+=(vrestore_kernel_tests vrestore_emulated_op_tests)
fi
cmake --build "$extra" -j "$(nproc)" --target "${targets[@]}"
bash "$root/tests/consumer_test.sh" "$root" "$extra" "$root/build/test_scratch/weights/edvr_x4_tsa.safetensors" \
  /usr/bin/python3 > "$extra/consumer.log" 2>&1 || { cat "$extra/consumer.log"; exit 1; }
echo "installed-package test, BUILD_SHARED_LIBS=$other_shared: passed"
if [ ${#targets[@]} -gt 1 ]; then
  (cd "$extra" && ctest --output-on-failure -j 2 -L "kernels|cuda")
else
  echo "kernel tests under ASan + UBSan skipped: no CUDA toolkit headers"
fi
