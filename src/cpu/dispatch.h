// Run-time side of the CPU instruction-set dispatch (isa.h has the compile-time side).
//
// The hot kernels exist three times in the library (baseline x86-64, AVX2+FMA, AVX-512); the first
// call of any of them picks the highest level the CPU and the operating system support, once per
// process, and every later call goes through that level's table. The environment variable
// VRESTORE_CPU_ISA=baseline|avx2|avx512 forces a level (tests of the lower paths on an AVX-512
// machine); asking for a level the CPU lacks, or an unknown name, is a vrestore::Error.
//
// The level never changes within a process, which the weight cache (weight_cache.h) relies on: its
// prepared weights are laid out for one level's register blocking.
#pragma once

#include "core/op_args.h"
#include "core/op_args_vrt.h"
#include "core/ops.h"
#include "cpu/conv_winograd.h"
#include "vrestore/tensor.h"

namespace vrestore::cpu {

enum class Isa : int { Baseline = 0, Avx2 = 1, Avx512 = 2 };

// "baseline", "avx2" or "avx512".
const char* isa_name(Isa isa);

// The entry points of one level's kernels (cpu::run of core/op_list.h, or conv_winograd.h).
struct KernelTable {
  Isa isa;
  // Returns whether it added a.residual itself (else the caller adds it).
  bool (*conv2d)(const ops::Conv2dArgs& a);
  void (*deform_conv2d)(const ops::DeformConv2dArgs& a);
  void (*flow_warp)(const ops::FlowWarpArgs& a);
  void (*linear)(const ops::LinearArgs& a);
  void (*window_attention)(const ops::WindowAttentionArgs& a);
  bool (*winograd_worthwhile)(const WinogradShape& s);
  void (*winograd_conv3x3)(const float* x, const float* weight, const float* bias, ops::Activation act,
                           const float* residual, const WinogradShape& s, float* out);
};

// The table of the level in use (chosen on the first call; throws vrestore::Error for a bad
// VRESTORE_CPU_ISA, on that and every later call).
const KernelTable& active_kernels();

// The level in use.
inline Isa active_isa() { return active_kernels().isa; }

// Whether this CPU (and OS) can run a level; the build may lack levels above baseline on
// non-x86 targets.
bool isa_supported(Isa isa);

// One table per level, defined in kernel_table.cpp (compiled once per level).
const KernelTable& kernel_table_baseline();
const KernelTable& kernel_table_avx2();
const KernelTable& kernel_table_avx512();

}  // namespace vrestore::cpu
