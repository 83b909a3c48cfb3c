// The gemm seam on cuBLAS (CUDA builds only; the emulated tests bind it in tests/kernels/).
#include <cublas_v2.h>

#include "gemm.h"

namespace vrestore::kernels {

// cuBLAS is column-major: a row-major (m, n) matrix with leading dimension ld is its (n, m)
// transpose with the same ld, so both functions compute C^T (n, m) = B^T (n, k) · A^T (k, m) with
// the operands swapped and no transposes.

cudaError_t create_blas_handle(void** handle, int device_index) {
  *handle = nullptr;
  cudaError_t err = cudaSetDevice(device_index);
  if (err != cudaSuccess) return err;
  cublasHandle_t h = nullptr;
  if (cublasCreate(&h) != CUBLAS_STATUS_SUCCESS) return cudaErrorUnknown;
  // Stated rather than assumed: the default math mode never rounds fp32 operands to TF32.
  if (cublasSetMathMode(h, CUBLAS_DEFAULT_MATH) != CUBLAS_STATUS_SUCCESS) {
    cublasDestroy(h);
    return cudaErrorUnknown;
  }
  *handle = h;
  return cudaSuccess;
}

void destroy_blas_handle(void* handle) {
  if (handle) cublasDestroy(static_cast<cublasHandle_t>(handle));
}

cudaError_t gemm_f32(const GemmContext& ctx, int64_t m, int64_t n, int64_t k, const float* a, int64_t lda,
                     const float* b, int64_t ldb, float* c, int64_t ldc, bool accumulate) {
  auto handle = static_cast<cublasHandle_t>(ctx.blas);
  if (cublasSetStream(handle, ctx.stream) != CUBLAS_STATUS_SUCCESS) return cudaErrorUnknown;
  const float one = 1.0f, beta = accumulate ? 1.0f : 0.0f;
  const cublasStatus_t status = cublasSgemm(handle, CUBLAS_OP_N, CUBLAS_OP_N, int(n), int(m), int(k), &one, b,
                                            int(ldb), a, int(lda), &beta, c, int(ldc));
  return status == CUBLAS_STATUS_SUCCESS ? cudaSuccess : cudaErrorUnknown;
}

cudaError_t gemm_f16(const GemmContext& ctx, int64_t m, int64_t n, int64_t k, const __half* a, int64_t lda,
                     const __half* b, int64_t ldb, __half* c, int64_t ldc, bool accumulate) {
  auto handle = static_cast<cublasHandle_t>(ctx.blas);
  if (cublasSetStream(handle, ctx.stream) != CUBLAS_STATUS_SUCCESS) return cudaErrorUnknown;
  // With CUBLAS_COMPUTE_32F the scalars are float; fp16 operands run on the tensor cores.
  const float one = 1.0f, beta = accumulate ? 1.0f : 0.0f;
  const cublasStatus_t status =
      cublasGemmEx(handle, CUBLAS_OP_N, CUBLAS_OP_N, int(n), int(m), int(k), &one, b, CUDA_R_16F, int(ldb), a,
                   CUDA_R_16F, int(lda), &beta, c, CUDA_R_16F, int(ldc), CUBLAS_COMPUTE_32F, CUBLAS_GEMM_DEFAULT);
  return status == CUBLAS_STATUS_SUCCESS ? cudaSuccess : cudaErrorUnknown;
}

}  // namespace vrestore::kernels
