#!/usr/bin/env bash
# The whole real-GPU check in one command, for a machine with an NVIDIA GPU and no internet
# (docs/gpu.md; what such a machine has: ../shared/docs/gpu_anchors.md). Prepare the checkout first,
# on a machine with apt: scripts/gpu_prepare.sh (fills the ignored .gpu_carry/ with the .debs the
# build needs and the fixtures the tests read). Then, in the checkout on the GPU machine:
#
#   bash scripts/gpu_check.sh [--skip-build] [--force]
#
# Steps, each recorded (status, seconds) and none stopping the others: unpack .gpu_carry/debs into
# .gpu_carry/prefix (dpkg -x, never into /); configure build-gpu for the present architecture
# (nvidia-smi's compute_cap) with tests and benchmarks; build; `ctest -L cuda`; compute-sanitizer
# memcheck on every kernel (vrestore_gpu_bench --smoke at 180x320) and on the real-GPU tests of the
# cuda label (scripts/gpu_memcheck.py); the GPU benchmarks against PyTorch on the same GPU
# (benchmarks/gpu/compare_gpu.py). All inside GPU_CHECK_BUDGET_S (default 450 s: under 8 minutes on
# an H200 with the summary); a step that would overrun is cut short and says so.
# Writes gpu_summary.md (date, GPU, driver, tests passed/failed, memcheck, ratios, memory),
# gpu_check.log and gpu_json/ into $OUT when set (the device tool); else gpu_summary.md into the
# checkout and the rest into build-gpu/gpu_check/.
# Without a GPU it writes a summary saying "skipped: no CUDA device" and exits 0.
#   --skip-build  reuse an existing build-gpu
#   --force       go on without a GPU (tests the script itself: the GPU steps then fail or skip)
# Exit status: 0 when every step passed or was skipped for a stated reason, 1 otherwise.
set -uo pipefail

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$repo" || exit 1
build=${GPU_CHECK_BUILD:-build-gpu}
if [ -n "${OUT:-}" ]; then  # the device tool brings back what is written there
  summary=$OUT/gpu_summary.md log=$OUT/gpu_check.log json_dir=$OUT/gpu_json
else                        # the summary in the checkout (ignored: gpu_prepare.sh), the rest in the build
  summary=$repo/gpu_summary.md log=$build/gpu_check/gpu_check.log json_dir=$build/gpu_check/json
fi
mkdir -p "$(dirname "$summary")"
budget=${GPU_CHECK_BUDGET_S:-450}
prefix=$repo/.gpu_carry/prefix
skip_build=0 force=0
for arg in "$@"; do
  case $arg in
    --skip-build) skip_build=1 ;;
    --force) force=1 ;;
    -h|--help) sed -n '2,24p' "$0"; exit 0 ;;
    *) echo "gpu_check: unknown argument '$arg' (see --help)" >&2; exit 2 ;;
  esac
done

start=$(date +%s)
steps=()       # "| step | status | seconds | note |" rows
failures=0
tests_line="not run"
memcheck_line="not run"

elapsed() { echo $(( $(date +%s) - start )); }

# step NAME CAP_SECONDS COMMAND...: runs COMMAND (a shell string) with at most CAP seconds, and never
# past the budget (10 s are kept for the summary); appends its output to the log and a row to the
# summary. Returns the command's status (124: cut short).
step() {
  local name=$1 cap=$2 cmd=$3
  local left=$(( budget - $(elapsed) - 10 ))
  local limit=$(( cap < left ? cap : left ))
  if [ "$limit" -lt 5 ]; then
    steps+=("| $name | not run | 0 | time budget spent |")
    failures=$(( failures + 1 ))
    return 124
  fi
  local t0 rc
  t0=$(date +%s)
  { echo; echo "===== $name (limit ${limit}s): $cmd"; } >> "$log"
  timeout -k 10 "$limit" bash -c "$cmd" >> "$log" 2>&1
  rc=$?
  local secs=$(( $(date +%s) - t0 ))
  local status=passed note=""
  if [ "$rc" -eq 124 ] || [ "$rc" -eq 137 ]; then
    status="cut short"; note="over its ${limit}s"
  elif [ "$rc" -ne 0 ]; then
    status="FAILED"; note="exit $rc, see gpu_check.log"
  fi
  [ "$rc" -eq 0 ] || failures=$(( failures + 1 ))
  steps+=("| $name | $status | $secs | $note |")
  echo "gpu_check: $name: $status (${secs}s)"
  return "$rc"
}

# skip NAME REASON: records a step that was not run, and why.
skip() { steps+=("| $1 | skipped | 0 | $2 |"); echo "gpu_check: $1: skipped ($2)"; }

query() { timeout 20 "$@" 2>/dev/null | head -n 1; }

write_summary() {
  {
    echo "# gpu_check summary"
    echo
    echo "- date: $(date -u '+%Y-%m-%d %H:%M UTC')"
    echo "- source: $(git -C "$repo" describe --always --dirty 2>/dev/null ||
                      cat .gpu_carry/source.txt 2>/dev/null || echo 'unknown (no .git here)')"
    echo "- GPU: ${gpu_name:-none}; compute capability ${compute_cap:-?}; ${gpu_memory:-?}; driver ${driver:-?}"
    echo "- toolchain: ${nvcc_version:-no nvcc}; $(query cmake --version || echo 'no cmake'); PyTorch ${torch_version:-?}"
    echo "- total: $(elapsed) s of a ${budget} s budget; steps failed or cut short: $failures"
    echo "- tests (ctest -L cuda): $tests_line"
    echo "- memcheck: $memcheck_line"
    echo
    echo "| step | status | seconds | note |"
    echo "|---|---|---:|---|"
    printf '%s\n' "${steps[@]}"
    echo
    if [ -s "$json_dir/compare.md" ]; then
      echo "## vrestore vs PyTorch on this GPU (benchmarks/gpu/compare_gpu.py)"
      echo
      cat "$json_dir/compare.md"
    else
      echo "No benchmark comparison (see the steps above)."
    fi
    if [ -s "$json_dir/vrt.md" ]; then
      echo
      echo "## VRT on this GPU (vrestore_gpu_vrt_bench vs upstream VRT; benchmarks/compare_vrt.py --gpu-report)"
      echo
      cat "$json_dir/vrt.md"
    fi
  } > "$summary"
  echo "gpu_check: summary in $summary${log_started:+, log in $log}"
}

# ---- is there a GPU? -----------------------------------------------------------------------------
gpu_name=$(query nvidia-smi --query-gpu=name --format=csv,noheader)
if [ -z "$gpu_name" ] && [ "$force" = 0 ]; then
  echo "gpu_check: skipped: no CUDA device (nvidia-smi finds no GPU)"
  skip "everything" "skipped: no CUDA device (nvidia-smi finds no GPU)"
  failures=0
  write_summary
  exit 0
fi
compute_cap=$(query nvidia-smi --query-gpu=compute_cap --format=csv,noheader)
gpu_memory=$(query nvidia-smi --query-gpu=memory.total --format=csv,noheader)
driver=$(query nvidia-smi --query-gpu=driver_version --format=csv,noheader)
arch=${compute_cap/./}
arch=${arch:-90}
# first_program NAME DIR...: NAME on the PATH, else the first DIR/NAME that exists.
first_program() {
  local name=$1 dir
  shift
  command -v "$name" && return
  for dir in "$@"; do
    [ -x "$dir/$name" ] && { echo "$dir/$name"; return; }
  done
}
nvcc=$(first_program nvcc /usr/local/cuda/bin /usr/local/cuda-*/bin)
nvcc_version=$([ -n "$nvcc" ] && "$nvcc" --version | grep -o 'release [0-9.]*' | sed 's/^/nvcc /')
python=$(command -v python3)
torch_version=$(timeout 60 "$python" -c 'import torch, torchvision; print(torch.__version__, "/ torchvision", torchvision.__version__)' 2>/dev/null)
sanitizer=$(first_program compute-sanitizer /usr/local/cuda/bin /usr/local/cuda-*/bin /usr/local/cuda/compute-sanitizer)
mkdir -p "$(dirname "$log")"
: > "$log"
log_started=1
trap write_summary EXIT
trap 'exit 143' TERM INT  # so that the summary is still written
nvcc_dir=$(dirname "${nvcc:-/usr/local/cuda/bin/nvcc}")
export PATH="$nvcc_dir:$PATH"
echo "gpu_check: ${gpu_name:-no GPU (--force)}, sm_$arch, budget ${budget}s"

# ---- what the machine lacks: .debs and fixtures from scripts/gpu_prepare.sh -----------------------
if compgen -G ".gpu_carry/debs/*.deb" > /dev/null; then
  step "unpack .debs into .gpu_carry/prefix" 60 \
    "rm -rf '$prefix' && mkdir -p '$prefix' && for f in .gpu_carry/debs/*.deb; do dpkg -x \"\$f\" '$prefix' || exit 1; done"
else
  skip "unpack .debs" "no .gpu_carry/debs (run scripts/gpu_prepare.sh where apt works; the build uses system packages)"
fi
if [ -d ../shared/fixtures ]; then
  VRESTORE_FIXTURES=$(cd ../shared/fixtures && pwd)
  export VRESTORE_FIXTURES
elif [ -d .gpu_carry/fixtures ]; then
  export VRESTORE_FIXTURES=$repo/.gpu_carry/fixtures
  # The CLI tests are handed ../shared/fixtures by CMake itself: give them the same folder there.
  mkdir -p ../shared 2>/dev/null && ln -sfn "$VRESTORE_FIXTURES" ../shared/fixtures 2>/dev/null
else
  skip "fixtures" "none at ../shared/fixtures or .gpu_carry/fixtures: fixture tests will fail"
fi

# ---- build for this GPU ----------------------------------------------------------------------------
generator=()
command -v ninja > /dev/null && generator=(-G Ninja)
if [ "$skip_build" = 0 ]; then
  step "configure ($build, sm_$arch)" 90 \
    "cmake -S . -B '$build' ${generator[*]} -DCMAKE_BUILD_TYPE=Release -DVRESTORE_CUDA=ON \
       -DCMAKE_CUDA_ARCHITECTURES=$arch ${nvcc:+-DCMAKE_CUDA_COMPILER=$nvcc} -DVRESTORE_BUILD_TESTS=ON \
       -DVRESTORE_BUILD_BENCHMARKS=ON -DVRESTORE_PYTHON='$python' -DCMAKE_PREFIX_PATH='$prefix/usr'"
  # Keep going past a failed target: the tests and benchmarks that did build still run.
  keep_going=""
  [ ${#generator[@]} -gt 0 ] && keep_going="-- -k 0"
  step "build" 240 "cmake --build '$build' -j $(nproc) $keep_going"
else
  skip "configure + build" "--skip-build: using $build as it is"
fi

# ---- tests on the device ---------------------------------------------------------------------------
ctest_out=$build/gpu_check_ctest.txt
rm -f "$ctest_out"  # never report an earlier run's results
step "ctest -L cuda" 150 \
  "ctest --test-dir '$build' -L cuda -j 8 --output-on-failure --timeout 120 2>&1 | tee '$ctest_out'; rc=\${PIPESTATUS[0]}
   if grep -q 'No tests were found' '$ctest_out'; then echo 'gpu_check: no test carries the cuda label'; exit 3; fi
   exit \$rc"
if [ -f "$ctest_out" ]; then
  tests_line=$(grep -E 'tests passed|No tests were found' "$ctest_out" | tail -n 1)
  failed_names=$(sed -n '/The following tests FAILED/,$p' "$ctest_out" | grep -E '^\s+[0-9]+ - ' | head -n 20 |
                 sed -E 's/^\s+[0-9]+ - //' | paste -sd ';' -)
  tests_line=${tests_line:-"no result line (see gpu_check.log)"}${failed_names:+ — failed: $failed_names}
fi

# ---- benchmarks against PyTorch (before memcheck: the measurements matter more) -----------------------
mkdir -p "$json_dir"
compare_budget=$(( budget - $(elapsed) - 30 ))
[ "$compare_budget" -gt 300 ] && compare_budget=300
# What is left after the comparison goes to memcheck; it needs a minute or so.
[ "$compare_budget" -gt $(( budget - $(elapsed) - 80 )) ] && compare_budget=$(( budget - $(elapsed) - 80 ))
if [ "$compare_budget" -lt 30 ]; then
  steps+=("| benchmarks vs PyTorch | not run | 0 | time budget spent |")
  failures=$(( failures + 1 ))
else
  step "benchmarks vs PyTorch (compare_gpu.py)" $(( compare_budget + 15 )) \
    "'$python' benchmarks/gpu/compare_gpu.py --build '$build' --json-dir '$json_dir' --markdown '$json_dir/compare.md' \
       --budget $compare_budget"
fi

# ---- VRT (issue 8): vrestore_gpu_vrt_bench against upstream VRT in PyTorch ---------------------------
# The PyTorch side imports upstream's models/network_vrt.py from a checkout: $VRESTORE_VRT_REPO, or
# .gpu_carry/vrt (git archive of github.com/JingyunLiang/VRT, carried like the fixtures).
vrt_bench=$build/benchmarks/gpu/vrestore_gpu_vrt_bench
if [ -z "${VRESTORE_VRT_REPO:-}" ] && [ -f .gpu_carry/vrt/models/network_vrt.py ]; then
  export VRESTORE_VRT_REPO=$repo/.gpu_carry/vrt
fi
if [ ! -x "$vrt_bench" ]; then
  skip "VRT benchmarks" "$vrt_bench was not built"
else
  step "VRT benchmarks (vrestore_gpu_vrt_bench: attention, flow-guided DCN, VRT-001 per frame)" 90 \
    "'$vrt_bench' --benchmark_min_time=0.1 --benchmark_out='$json_dir/ours_vrt.json' --benchmark_out_format=json"
  if [ -n "${VRESTORE_VRT_REPO:-}" ]; then
    step "VRT in PyTorch (torch_gpu_bench.py, upstream modules)" 120 \
      "'$python' benchmarks/gpu/torch_gpu_bench.py --filter vrt_ --vrt-repo '$VRESTORE_VRT_REPO' \
         --min-time 0.1 --json '$json_dir/torch_vrt.json'"
  else
    skip "VRT in PyTorch" "no VRT checkout (\$VRESTORE_VRT_REPO or .gpu_carry/vrt)"
  fi
  "$python" benchmarks/compare_vrt.py --gpu-report "$json_dir/ours_vrt.json" "$json_dir/torch_vrt.json" \
    "$json_dir/vrt.md" >> "$log" 2>&1 || echo "gpu_check: VRT table failed (see gpu_check.log)"
fi

# ---- memcheck ----------------------------------------------------------------------------------------
kernel_bench=$build/benchmarks/gpu/vrestore_gpu_bench
if [ -z "$sanitizer" ]; then
  skip "compute-sanitizer memcheck" "no compute-sanitizer on this machine"
  memcheck_line="not available here"
else
  memcheck_notes=()
  if [ -x "$kernel_bench" ]; then
    if step "memcheck: every kernel once at 180x320 (vrestore_gpu_bench --smoke)" 60 \
        "'$sanitizer' --tool memcheck --error-exitcode 99 --print-limit 20 '$kernel_bench' --smoke \
           --benchmark_filter=/180x320/"; then
      memcheck_notes+=("kernels clean")
    else
      memcheck_notes+=("kernels: errors or failure, see log")
    fi
  else
    skip "memcheck: kernels" "$kernel_bench was not built"
  fi
  tests_budget=$(( budget - $(elapsed) - 25 ))
  [ "$tests_budget" -gt 80 ] && tests_budget=80
  step "memcheck: real-GPU tests of the cuda label" $(( tests_budget + 10 )) \
    "'$python' scripts/gpu_memcheck.py --build '$build' --label cuda --budget $tests_budget --sanitizer '$sanitizer'"
  memcheck_notes+=("$(grep -E '^memcheck: ' "$log" | tail -n 1 | sed 's/^memcheck: //')")
  memcheck_line=$(IFS=';'; echo "${memcheck_notes[*]}")
fi

[ "$failures" -eq 0 ]
