// The GEMM seam. Convolutions spend their FLOPs in one matrix product, which belongs to cuBLAS
// (tensor cores, tuned tiles), not to a hand-written kernel. Routing it through these functions
// lets the emulated test build bind them to plain CPU loops (tests/kernels/gemm_emulated.cpp)
// while the CUDA build uses cuBLAS (kernels/gemm.cu).
#pragma once

#include <cuda_fp16.h>
#include <cuda_runtime_api.h>

#include <cstdint>

namespace vrestore::kernels {

struct GemmContext {
  void* blas = nullptr;          // a cublasHandle_t in CUDA builds (owned by the caller); unused when emulated
  cudaStream_t stream = nullptr;
};

// C (m, n) = A (m, k) · B (k, n), or C += A · B with `accumulate` (cuBLAS's beta = 1: the sum is
// formed in the accumulator and rounded once, e.g. onto a bias already in C), all row-major;
// element (i, j) of X at X[i * ldx + j] with
// lda >= k, ldb >= n, ldc >= n (a sub-block of a wider matrix, e.g. a pixel chunk of an output
// plane, is addressed by its first element and the full row length). Sizes must fit in int.
// A cuBLAS failure is returned as cudaErrorUnknown.
//
// Full fp32: the handle must keep cuBLAS's default math mode (no TF32).
cudaError_t gemm_f32(const GemmContext& ctx, int64_t m, int64_t n, int64_t k, const float* a, int64_t lda,
                     const float* b, int64_t ldb, float* c, int64_t ldc, bool accumulate = false);
// fp16 storage, fp32 accumulation (cublasGemmEx, CUDA_R_16F operands, CUBLAS_COMPUTE_32F);
// C is rounded to fp16 once, at the end.
cudaError_t gemm_f16(const GemmContext& ctx, int64_t m, int64_t n, int64_t k, const __half* a, int64_t lda,
                     const __half* b, int64_t ldb, __half* c, int64_t ldc, bool accumulate = false);

// The library handle the two functions above take as GemmContext::blas, for CUDA device
// `device_index`: cuBLAS with its default math mode (full fp32: no TF32; fp16 operands still use
// the tensor cores with fp32 accumulation). The emulated build returns a dummy handle.
cudaError_t create_blas_handle(void** handle, int device_index);
void destroy_blas_handle(void* handle);

// Densely packed operands (lda = k, ldb = ldc = n).
inline cudaError_t gemm_f32(const GemmContext& ctx, int64_t m, int64_t n, int64_t k, const float* a, const float* b,
                            float* c) {
  return gemm_f32(ctx, m, n, k, a, k, b, n, c, n);
}

// The same two, chosen by the element type (for kernels templated on float / __half).
inline cudaError_t gemm(const GemmContext& ctx, int64_t m, int64_t n, int64_t k, const float* a, int64_t lda,
                        const float* b, int64_t ldb, float* c, int64_t ldc, bool accumulate = false) {
  return gemm_f32(ctx, m, n, k, a, lda, b, ldb, c, ldc, accumulate);
}
inline cudaError_t gemm(const GemmContext& ctx, int64_t m, int64_t n, int64_t k, const __half* a, int64_t lda,
                        const __half* b, int64_t ldb, __half* c, int64_t ldc, bool accumulate = false) {
  return gemm_f16(ctx, m, n, k, a, lda, b, ldb, c, ldc, accumulate);
}

}  // namespace vrestore::kernels
