#!/usr/bin/env bash
# Installs what building, converting and testing vrestore needs, from Debian packages only.
#   bash scripts/install_deps.sh          everything: the main job's packages and the test tool chain
#   bash scripts/install_deps.sh --main   only what scripts/main_job.sh needs (a fresh machine in minutes)
# Skips apt entirely when everything is already there.
set -euo pipefail
# The main job: build the CLI (with video/PNG I/O, src/io), convert a checkpoint (numpy only) and
# score the default model on opencv-doc's tree.avi (numpy and the ffmpeg binary).
main_packages=(cmake ninja-build g++ nlohmann-json3-dev python3-numpy
               libavformat-dev libavcodec-dev libavutil-dev libswscale-dev libswresample-dev libpng-dev pkg-config
               ffmpeg opencv-doc)
# Added for the test suite: C++ test and benchmark frameworks, PyTorch for the reference checks.
test_packages=(catch2 libbenchmark-dev python3-torch python3-torchvision)
case "${1:-}" in
  "") packages=("${main_packages[@]}" "${test_packages[@]}") ;;
  --main) packages=("${main_packages[@]}") ;;
  *) echo "install_deps.sh: unknown option '$1' (expected none or --main)" >&2; exit 2 ;;
esac
missing=()
for p in "${packages[@]}"; do
  dpkg -s "$p" > /dev/null 2>&1 || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "installing: ${missing[*]}"
  sudo_cmd=""; [ "$(id -u)" -eq 0 ] || sudo_cmd="sudo"
  $sudo_cmd apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo_cmd apt-get install -y -qq --no-install-recommends "${missing[@]}" > /dev/null
fi
