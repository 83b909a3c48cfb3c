// gemm_f32 on cuBLAS (CUDA builds only; the emulated tests bind the seam in tests/kernels/).
#include <cublas_v2.h>

#include "gemm.h"

namespace vrestore::kernels {

cudaError_t gemm_f32(const GemmContext& ctx, int64_t m, int64_t n, int64_t k, const float* a, const float* b, float* c) {
  auto handle = static_cast<cublasHandle_t>(ctx.blas);
  if (cublasSetStream(handle, ctx.stream) != CUBLAS_STATUS_SUCCESS) return cudaErrorUnknown;
  // cuBLAS is column-major: a row-major (m, n) matrix is its (n, m) transpose, so compute
  // C^T (n, m) = B^T (n, k) · A^T (k, m) with the operands swapped and no transposes.
  const float one = 1.0f, zero = 0.0f;
  cublasStatus_t status = cublasSgemm(handle, CUBLAS_OP_N, CUBLAS_OP_N, int(n), int(m), int(k), &one, b, int(n), a,
                                      int(k), &zero, c, int(n));
  return status == CUBLAS_STATUS_SUCCESS ? cudaSuccess : cudaErrorUnknown;
}

}  // namespace vrestore::kernels
