#!/usr/bin/env bash
# Installs what building, converting and testing vrestore needs, from Debian packages only.
# Skips apt entirely when everything is already there.
set -euo pipefail
packages=(cmake ninja-build g++ nlohmann-json3-dev catch2 libbenchmark-dev
          python3-numpy python3-torch python3-torchvision
          # video/PNG I/O of the CLI (src/io); ffmpeg and opencv-doc's clips are used by its tests
          libavformat-dev libavcodec-dev libavutil-dev libswscale-dev libswresample-dev libpng-dev pkg-config
          ffmpeg opencv-doc)
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
