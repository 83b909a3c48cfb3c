// The GEMM seam. Deformable convolution (and later conv2d) spend their FLOPs in one matrix product,
// which belongs to cuBLAS (tensor cores, tuned tiles), not to a hand-written kernel. Routing it
// through this single function lets the emulated test build bind it to a plain CPU loop
// (tests/kernels/gemm_emulated.cpp) while the CUDA build uses cuBLAS (kernels/gemm.cu).
#pragma once

#include <cuda_runtime_api.h>

#include <cstdint>

namespace vrestore::kernels {

struct GemmContext {
  void* blas = nullptr;          // a cublasHandle_t in CUDA builds (owned by the caller); unused when emulated
  cudaStream_t stream = nullptr;
};

// C (m, n) = A (m, k) · B (k, n); row-major fp32, densely packed (leading dimensions k, n, n).
// Full fp32 (no TF32): the handle must keep cuBLAS's default math mode. Sizes must fit in int.
// A cuBLAS failure is returned as cudaErrorUnknown.
cudaError_t gemm_f32(const GemmContext& ctx, int64_t m, int64_t n, int64_t k, const float* a, const float* b, float* c);

}  // namespace vrestore::kernels
