// Picks the kernels' instruction-set level once per process (dispatch.h) and forwards the
// cpu::run bodies of conv2d, deform_conv2d and flow_warp (core/op_list.h) and conv_winograd.h to
// it. Compiled once, for baseline x86-64.
#include "cpu/dispatch.h"

#include <cstdlib>
#include <cstring>
#include <string>

#include "core/check.h"
#include "core/op_list.h"

namespace vrestore::cpu {
namespace {

constexpr const char* kIsaVariable = "VRESTORE_CPU_ISA";

const KernelTable& table_of(Isa isa) {
#if defined(__x86_64__)
  switch (isa) {
    case Isa::Avx512: return kernel_table_avx512();
    case Isa::Avx2: return kernel_table_avx2();
    case Isa::Baseline: break;
  }
#endif
  (void)isa;
  return kernel_table_baseline();
}

Isa best_supported() {
  if (isa_supported(Isa::Avx512)) return Isa::Avx512;
  if (isa_supported(Isa::Avx2)) return Isa::Avx2;
  return Isa::Baseline;
}

Isa parse_isa(const char* value) {
  for (Isa isa : {Isa::Baseline, Isa::Avx2, Isa::Avx512})
    if (std::strcmp(value, isa_name(isa)) == 0) return isa;
  fail(kIsaVariable, " is \"", value, "\", expected baseline, avx2 or avx512 (or unset for the best this CPU runs)");
}

const KernelTable& choose() {
  const char* forced = std::getenv(kIsaVariable);
  if (forced == nullptr || *forced == '\0') return table_of(best_supported());
  const Isa isa = parse_isa(forced);
  VR_CHECK(isa_supported(isa), kIsaVariable, " is \"", forced, "\", but this CPU (or this build) cannot run ",
           isa_name(isa), " code; the best it runs is ", isa_name(best_supported()));
  return table_of(isa);
}

}  // namespace

const char* isa_name(Isa isa) {
  switch (isa) {
    case Isa::Baseline: return "baseline";
    case Isa::Avx2: return "avx2";
    case Isa::Avx512: return "avx512";
  }
  return "unknown";
}

bool isa_supported(Isa isa) {
#if defined(__x86_64__)
  // libgcc's checks include the OS's XSAVE support for the wider registers.
  __builtin_cpu_init();
  const bool avx2 = __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma") &&
                    __builtin_cpu_supports("bmi") && __builtin_cpu_supports("bmi2") &&
                    __builtin_cpu_supports("popcnt");
  switch (isa) {
    case Isa::Baseline: return true;
    case Isa::Avx2: return avx2;
    case Isa::Avx512:
      return avx2 && __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
             __builtin_cpu_supports("avx512cd") && __builtin_cpu_supports("avx512dq") &&
             __builtin_cpu_supports("avx512vl");
  }
  return false;
#else
  return isa == Isa::Baseline;
#endif
}

const KernelTable& active_kernels() {
  // A throwing initialiser leaves the static uninitialised, so a bad variable fails every call.
  static const KernelTable& table = choose();
  return table;
}

bool winograd_worthwhile(const WinogradShape& s) { return active_kernels().winograd_worthwhile(s); }

void winograd_conv3x3(const float* x, const float* weight, const float* bias, ops::Activation act,
                      const float* residual, const WinogradShape& s, float* out) {
  active_kernels().winograd_conv3x3(x, weight, bias, act, residual, s, out);
}

// The ISA-dispatched cpu::run bodies of core/op_list.h; the rest are in elementwise.cpp and
// sampling.cpp.
void run(const ops::LinearArgs& a) { active_kernels().linear(a); }

void run(const ops::WindowAttentionArgs& a) { active_kernels().window_attention(a); }

void run(const ops::Conv2dArgs& a) {
  // The Winograd path adds the residual in its epilogue; the others leave it to a separate pass.
  // Same result either way, and as the CUDA epilogue's: (conv + bias, activated) + residual, each
  // rounded to f32.
  const bool residual_added = active_kernels().conv2d(a);
  if (a.residual.defined() && !residual_added) run(ops::AddArgs{a.out, a.residual});
}
void run(const ops::DeformConv2dArgs& a) { active_kernels().deform_conv2d(a); }
void run(const ops::FlowWarpArgs& a) { active_kernels().flow_warp(a); }

}  // namespace vrestore::cpu
