// The op harness over both backends (tests/emulated/): runs one op on CPU f32, CUDA f32 and CUDA
// f16 through the public op layer, the CUDA side on the emulated backend (vrestore_emulated), and
// compares both CUDA results with the CPU f32 one. Inputs go to the device with
// Tensor::to(Device::CUDA, dtype); flows, DCN offsets and masks stay f32 (mark them `f32_only`).
// New device memory reads as NaN under the emulator, so an output element no kernel wrote fails.
#pragma once

#include <catch2/catch.hpp>
#include <functional>
#include <string>
#include <vector>

#include "core/execution.h"
#include "support/fixtures.h"
#include "vrestore/tensor.h"

namespace vrestore::emulated_test {

// |got - want| <= abs + rel * |want| per element; NaN must meet NaN.
struct Tolerance {
  double abs = 0;
  double rel = 0;
};

// CUDA f32 against CPU f32. GEMM-based ops (conv2d, deform_conv2d, linear) and the reductions sum
// in a different order on each backend (CPU: Winograd / blocked GEMM / OpenMP; CUDA: the seam's
// sequential dot products, per-thread loops), so their fp32 results differ by a few ulps of the
// partial sums: 1e-5 absolute on O(1) values plus 1e-5 relative. Everything else is computed in
// the same order by both and is held to the same bound (most are bit-exact in practice).
inline constexpr Tolerance kCudaF32{1e-5, 1e-5};
// CUDA f16 (f16 storage, f32 arithmetic) against CPU f32 on the unrounded inputs: the issue's
// 1e-2 on values of O(1), relative above that.
inline constexpr Tolerance kCudaF16{1e-2, 1e-2};
// The CPU op tests' fixture tolerance (tests/test_ops.cpp), applied to CUDA f32 on the fixtures.
inline constexpr Tolerance kFixtureF32{1e-5, 1e-4};
inline constexpr Tolerance kExact{0, 0};

// Installs the emulated CUDA device as this thread's current execution (device 0, the legacy
// default stream, a GEMM-seam handle from kernels::create_blas_handle) until the scope ends.
// The one place the harness sets up CUDA; ops on CPU tensors are unaffected by it.
ExecutionScope emulated_cuda_execution();

// An operand; `f32_only` ones (flows, offsets, masks, norm parameters) go to the device as f32 in the f16 run.
struct Operand {
  Tensor tensor;
  bool f32_only = false;
};
inline Operand f32_only(const Tensor& t) { return {t, true}; }

using Op = std::function<Tensor(const std::vector<Tensor>&)>;

struct DeviceTolerances {
  Tolerance f32 = kCudaF32;
  Tolerance f16 = kCudaF16;
  bool f32_output = false;  // the op's output is f32 whatever the inputs' dtype (offsets, masks)
};

// Runs `op` on the CPU (f32) and on the emulated CUDA device in f32 and f16; the output must be on
// CUDA with the run's dtype (f32 with tol.f32_output) and within tolerance of the CPU result. Reports every failure with
// `what`, the run and the worst element.
void check_devices(const std::string& what, const std::vector<Operand>& operands, const Op& op,
                   const DeviceTolerances& tol = {});

// Deterministic uniform values in [lo, hi) (CPU f32), as in the CPU tests.
using test::random_tensor;

// Compares got (any device/dtype) with want (CPU f32); reports through Catch with `what`.
void check_close(const std::string& what, const Tensor& got, const Tensor& want, const Tolerance& tol);

}  // namespace vrestore::emulated_test
