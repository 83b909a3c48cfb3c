// Compile-time side of the CPU instruction-set dispatch (dispatch.h has the run-time side).
//
// The hot kernels (gemm.h and the conv2d, Winograd, deform_conv2d and flow_warp translation units)
// are compiled once per level, with -DVRESTORE_CPU_ISA_LEVEL=0 (baseline x86-64, SSE2), 1 (AVX2 +
// FMA, x86-64-v3) or 2 (AVX-512 F/BW/CD/DQ/VL, x86-64-v4); src/CMakeLists.txt builds the three
// object libraries. Each copy lives in its own inline namespace, vrestore::cpu::VRESTORE_ISA_NS, so
// that no two copies of an inline function or template share a symbol name.
//
// The level is enabled with `#pragma GCC target` here rather than with -m flags on the command line:
// a -mavx512f translation unit also compiles every inline function of the standard library and of
// core/ that it uses with AVX-512, and the linker keeps one arbitrary copy of each, so baseline code
// could end up calling an AVX-512 copy of, say, std::vector<float>::resize. A pragma only applies
// to functions declared after it. Hence the rule for every kernel translation unit: include this
// header after all standard, intrinsics and core/ headers, and before gemm.h and conv_impl.h.
//
// GCC's C++ front end does not redefine __AVX512F__ and friends after the pragma, so the kernels
// test VRESTORE_ISA_AVX2 / VRESTORE_ISA_AVX512 instead.
#pragma once

#ifndef VRESTORE_CPU_ISA_LEVEL
#error "cpu/isa.h belongs to the per-ISA kernel objects (src/CMakeLists.txt defines VRESTORE_CPU_ISA_LEVEL)"
#endif

// Everything the kernel headers include, so that none of it is first parsed under the pragma.
#include <omp.h>

#include <algorithm>
#include <array>
#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <memory>
#include <optional>
#include <utility>
#include <vector>

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
#endif

#include "core/check.h"
#include "core/op_args.h"
#include "core/ops.h"
#include "cpu/conv_winograd.h"
#include "cpu/weight_cache.h"
#include "vrestore/tensor.h"

#if VRESTORE_CPU_ISA_LEVEL == 2
#define VRESTORE_ISA_NS isa_avx512
#define VRESTORE_ISA_AVX2 1
#define VRESTORE_ISA_AVX512 1
#pragma GCC target("avx2,fma,bmi,bmi2,f16c,lzcnt,movbe,popcnt,avx512f,avx512bw,avx512cd,avx512dq,avx512vl")
#elif VRESTORE_CPU_ISA_LEVEL == 1
#define VRESTORE_ISA_NS isa_avx2
#define VRESTORE_ISA_AVX2 1
#define VRESTORE_ISA_AVX512 0
#pragma GCC target("avx2,fma,bmi,bmi2,f16c,lzcnt,movbe,popcnt")
#elif VRESTORE_CPU_ISA_LEVEL == 0
#define VRESTORE_ISA_NS isa_baseline
#define VRESTORE_ISA_AVX2 0
#define VRESTORE_ISA_AVX512 0
#else
#error "VRESTORE_CPU_ISA_LEVEL must be 0 (baseline), 1 (avx2) or 2 (avx512)"
#endif

// Inline, so that the kernels' code says cpu::PackedWeights and the symbols still differ per level.
namespace vrestore::cpu {
inline namespace VRESTORE_ISA_NS {}
}  // namespace vrestore::cpu
