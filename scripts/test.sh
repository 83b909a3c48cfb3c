#!/usr/bin/env bash
# Installs dependencies, builds, and runs the whole test suite (C++ tests, converter tests,
# CLI and installed-package tests) through CTest.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
bash "$root/scripts/install_deps.sh"
bash "$root/scripts/build.sh"
cd "$root/build"
ctest --output-on-failure -j 2
