#!/usr/bin/env bash
# Installs dependencies, builds, and runs the whole test suite (C++ tests, converter tests,
# CLI and installed-package tests) through CTest.
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
