#!/usr/bin/env bash
# Resource check of every hand-written kernel without a GPU: compiles each kernels/*.cu with ptxas
# in verbose mode for the target architectures, prints registers / spills / stack / shared memory
# per kernel and fails when a kernel spills, uses local memory, or exceeds its register budget.
#
#   scripts/check_ptxas.sh            # sm_80 and sm_90
#   ARCHS="80" scripts/check_ptxas.sh # one architecture
#
# Budgets: 128 registers keeps at least 2 blocks of 256 threads per SM on sm_80/sm_90 (64K
# registers); a kernel that needs more gets its own line in KERNEL_BUDGETS, with the reason.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
NVCC="${NVCC:-$(command -v nvcc || echo /usr/local/cuda/bin/nvcc)}"
ARCHS="${ARCHS:-80 90}"
DEFAULT_REGISTER_BUDGET="${REGISTER_BUDGET:-128}"
declare -A KERNEL_BUDGETS=(
  # [kernel_name]=registers   # why
  # One thread per query holds q and its output accumulator (2 x head dim floats, up to 64) plus a
  # 16-key score tile in registers; blocks have 64 threads, so 224 x 64 still fits 4 blocks per SM.
  [window_attention_kernel]=224
)

if [[ ! -x "$NVCC" ]]; then
  echo "check_ptxas: nvcc not found (set NVCC)" >&2
  exit 2
fi

gencode=()
for arch in $ARCHS; do gencode+=(-gencode "arch=compute_${arch},code=sm_${arch}"); done

log_dir="$(mktemp -d)"
trap 'rm -rf "$log_dir"' EXIT

# Two files at a time (the build machines have two cores); one nvcc call covers every architecture.
compile() {
  local source="$1"
  "$NVCC" -std=c++17 "${gencode[@]}" -I"$ROOT/kernels" -Xptxas -v,-warn-spills,-warn-lmem-usage \
    -c "$source" -o /dev/null >"$log_dir/$(basename "$source").log" 2>&1
}
status=0
pids=()
for source in "$ROOT"/kernels/*.cu; do
  compile "$source" &
  pids+=($!)
  if (( ${#pids[@]} >= 2 )); then
    wait "${pids[0]}" || status=1
    pids=("${pids[@]:1}")
  fi
done
for pid in "${pids[@]}"; do wait "$pid" || status=1; done
if (( status != 0 )); then
  cat "$log_dir"/*.log >&2
  echo "check_ptxas: nvcc failed" >&2
  exit 1
fi

# ptxas prints, per kernel and architecture:
#   Compiling entry function '<mangled>' for 'sm_80'
#   Function properties for <mangled>
#       0 bytes stack frame, 0 bytes spill stores, 0 bytes spill loads
#   Used 39 registers, used 0 barriers, 1024 bytes smem, 484 bytes cmem[0]
rows="$log_dir/rows.tsv"
for log in "$log_dir"/*.cu.log; do
  file="$(basename "$log" .log)"
  awk -v file="$file" '
    /Compiling entry function/ { split($0, quoted, "\047"); name = quoted[2]; arch = quoted[4]; stack = st = ld = 0 }
    /bytes stack frame/        { stack = $1; st = $5; ld = $9 }
    /Used [0-9]+ registers/    { regs = 0; smem = 0
                                 for (i = 1; i < NF; i++) {
                                   if ($(i + 1) ~ /^registers/) regs = $i
                                   if ($(i + 1) == "bytes" && $(i + 2) ~ /^smem/) smem = $i
                                 }
                                 print file "\t" name "\t" arch "\t" regs "\t" st "\t" ld "\t" stack "\t" smem }
  ' "$log" >>"$rows"
done
warnings="$(grep -h "ptxas warning" "$log_dir"/*.cu.log || true)"

printf "%-20s %-44s %-6s %5s %6s %6s %6s %7s %s\n" file kernel arch regs spillS spillL stack smem verdict
fail=0
while IFS=$'\t' read -r file mangled arch regs spill_st spill_ld stack smem; do
  # Demangled name without return type, namespaces or parameters, template arguments kept
  # (pixel_shuffle_kernel<float,2,4>); the budget is looked up by the bare name.
  name="$(echo "$mangled" | c++filt | sed -E 's/^void //; s/\(.*$//; s/vrestore::kernels:://g; s/__half/half/g; s/ //g')"
  base="${name%%<*}"
  budget="${KERNEL_BUDGETS[$base]:-$DEFAULT_REGISTER_BUDGET}"
  verdict=ok
  if (( spill_st > 0 || spill_ld > 0 )); then verdict="SPILLS"; fail=1; fi
  if (( regs > budget )); then verdict="OVER BUDGET ($budget)"; fail=1; fi
  printf "%-20s %-44s %-6s %5s %6s %6s %6s %7s %s\n" "$file" "$name" "$arch" "$regs" "$spill_st" "$spill_ld" \
    "$stack" "$smem" "$verdict"
done < <(sort "$rows")

# Every __global__ function of kernels/*.cuh must have been compiled (a template no launcher
# instantiates would otherwise escape the check) for every architecture.
# The demangled names are written to a file first: `... | c++filt | grep -q` under pipefail fails
# at random when grep exits on an early match and c++filt is killed by SIGPIPE.
compiled="$log_dir/compiled.tsv"
awk -F'\t' '{print $3 "\t" $2}' "$rows" | c++filt >"$compiled"
for kernel in $(grep -ho '__global__ void [A-Za-z0-9_]*' "$ROOT"/kernels/*.cuh | awk '{print $3}' | sort -u); do
  for arch in $ARCHS; do
    if ! grep -q "^sm_${arch}"$'\t'".*::${kernel}[<(]" "$compiled"; then
      echo "check_ptxas: kernel $kernel was not compiled for sm_$arch (no launcher instantiates it?)"
      fail=1
    fi
  done
done

if [[ -n "$warnings" ]]; then
  echo "$warnings"
  fail=1
fi
if (( fail )); then
  echo "check_ptxas: FAILED (spills, local memory or register budget; default budget $DEFAULT_REGISTER_BUDGET)"
  exit 1
fi
echo "check_ptxas: all kernels within budget (default $DEFAULT_REGISTER_BUDGET registers, no spills)"
