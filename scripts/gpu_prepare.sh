#!/usr/bin/env bash
# Run HERE (a machine with apt and the shared fixtures) before scripts/gpu_check.sh runs on a GPU
# machine that has neither internet nor apt (gpu_anchors.md, docs/gpu.md). It fills the ignored
# folder .gpu_carry/ of the checkout with what the GPU machine lacks:
#   .gpu_carry/debs/      the Debian packages the build needs (apt-get download: nlohmann-json,
#                         Catch2, Google Benchmark); gpu_check.sh unpacks them into a prefix there
#                         (dpkg -x, never into /)
#   .gpu_carry/fixtures/  the golden fixtures the GPU tests read (../shared is not sent along);
#                         VRT's only with --with-vrt (they are 37 MB of the 64 MiB a run may carry)
#   .gpu_carry/vrt/       with --vrt-repo DIR: upstream VRT's models/network_vrt.py from a checkout
#                         of github.com/JingyunLiang/VRT, for the PyTorch side of the VRT benchmarks
# and makes .git/info/exclude ignore /.gpu_carry/ (and gpu_check.sh's /gpu_summary.md), so nothing of
# it is ever committed. Then send the checkout with `carry: [".gpu_carry"]` (the device tool), or
# copy .gpu_carry/ along with it.
#
#   scripts/gpu_prepare.sh [--with-vrt] [--vrt-repo DIR] [--fixtures DIR] [--no-debs] [--no-fixtures]
set -euo pipefail

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
carry=$repo/.gpu_carry
fixtures=${VRESTORE_FIXTURES:-$repo/../shared/fixtures}
with_vrt=0 debs=1 copy_fixtures=1 vrt_repo=
while [ $# -gt 0 ]; do
  case $1 in
    --with-vrt) with_vrt=1 ;;
    --vrt-repo) vrt_repo=$2; shift ;;
    --fixtures) fixtures=$2; shift ;;
    --no-debs) debs=0 ;;
    --no-fixtures) copy_fixtures=0 ;;
    -h|--help) sed -n '2,18p' "$0"; exit 0 ;;
    *) echo "gpu_prepare: unknown argument '$1' (see --help)" >&2; exit 2 ;;
  esac
  shift
done

# Build dependencies missing on the GPU machine (it has CMake, ninja, nvcc, cuBLAS, torch).
packages=(nlohmann-json3-dev catch2 libbenchmark-dev libbenchmark1debian)

# 1. Never committed: the folder is ignored by this clone only (.gitignore is the project's).
git_dir=$(git -C "$repo" rev-parse --git-dir)
case $git_dir in /*) ;; *) git_dir=$repo/$git_dir ;; esac
mkdir -p "$git_dir/info"
touch "$git_dir/info/exclude"
for pattern in /.gpu_carry/ /gpu_summary.md; do  # gpu_check.sh writes the latter without $OUT
  grep -qxF "$pattern" "$git_dir/info/exclude" || echo "$pattern" >> "$git_dir/info/exclude"
done
mkdir -p "$carry"
# gpu_check.sh unpacks into .gpu_carry/prefix there; a stale one here would only travel for nothing.
rm -rf "$carry/prefix"
# The device machine gets no .git: say there what was sent.
echo "$(git -C "$repo" describe --always --dirty 2>/dev/null || echo unknown) (prepared $(date -u '+%Y-%m-%d %H:%M UTC'))" \
  > "$carry/source.txt"

# 1b. Upstream VRT's network file (read by benchmarks/compare_vrt.py and torch_gpu_bench.py there).
if [ -n "$vrt_repo" ]; then
  [ -f "$vrt_repo/models/network_vrt.py" ] || { echo "gpu_prepare: $vrt_repo/models/network_vrt.py not found" >&2; exit 2; }
  rm -rf "$carry/vrt"
  mkdir -p "$carry/vrt/models"
  cp "$vrt_repo/models/network_vrt.py" "$carry/vrt/models/"
fi

# 2. The .debs, one version of each (an old one left beside a new one would be unpacked too).
if [ "$debs" = 1 ]; then
  rm -rf "$carry/debs"
  mkdir -p "$carry/debs"
  if ! (cd "$carry/debs" && apt-get download "${packages[@]}" 2>&1); then
    if [ "$(id -u)" -eq 0 ]; then
      echo "gpu_prepare: apt-get download failed; refreshing the package lists once"
      apt-get update -qq
      (cd "$carry/debs" && apt-get download "${packages[@]}")
    else
      echo "gpu_prepare: apt-get download failed; run 'sudo apt-get update' and try again" >&2
      exit 1
    fi
  fi
  found=$(find "$carry/debs" -name '*.deb' | wc -l)
  if [ "$found" -ne "${#packages[@]}" ]; then
    echo "gpu_prepare: expected ${#packages[@]} .deb files in $carry/debs, found $found" >&2
    exit 1
  fi
fi

# 3. The fixtures, as tests/support/fixtures.cpp and tests/convert_fixtures.sh read them.
if [ "$copy_fixtures" = 1 ]; then
  if [ ! -d "$fixtures" ]; then
    echo "gpu_prepare: no fixtures at $fixtures (set --fixtures DIR or VRESTORE_FIXTURES)" >&2
    exit 1
  fi
  rm -rf "$carry/fixtures"
  mkdir -p "$carry/fixtures"
  for entry in "$fixtures"/*; do
    name=$(basename "$entry")
    case $name in vrt_*) [ "$with_vrt" = 1 ] || continue ;; esac
    cp -R "$entry" "$carry/fixtures/"
  done
fi

# 4. What a device run would carry: the checkout's tracked and untracked-not-ignored files plus
# .gpu_carry; the device tool refuses more than 64 MiB.
tree_bytes=$(cd "$repo" && git ls-files -z --cached --others --exclude-standard |
             xargs -0 -r stat -c %s 2>/dev/null | awk '{s += $1} END {print s + 0}')
carry_bytes=$(du -sb "$carry" | cut -f1)
total_mib=$(( (tree_bytes + carry_bytes) / 1048576 ))
echo "gpu_prepare: .gpu_carry holds $(( carry_bytes / 1048576 )) MiB" \
     "($(find "$carry" -name '*.deb' | wc -l) .debs, $(find "$carry/fixtures" -mindepth 1 -maxdepth 1 2>/dev/null | wc -l) fixture entries);" \
     "with the checkout's files $total_mib MiB would travel"
if [ "$total_mib" -ge 62 ]; then
  echo "gpu_prepare: WARNING: that is at the device tool's 64 MiB limit; drop fixtures (no --with-vrt) or untracked files" >&2
fi
echo "gpu_prepare: next, on the GPU machine: bash scripts/gpu_check.sh  (device tool: carry [\".gpu_carry\"], timeout_s 600)"
