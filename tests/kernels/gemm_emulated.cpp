// The gemm seam (kernels/gemm.h) in the emulated test build: plain CPU loops instead of cuBLAS,
// with fp32 accumulation for the fp16 variant (as CUBLAS_COMPUTE_32F). "Device" pointers are
// host memory under the emulator, so the loops read and write them directly.
#include <vector>

#include "gemm.h"

namespace vrestore::kernels {

namespace {
// Row i of C accumulates a[i][p] * row p of B over p, in f32, starting from C's row with `accumulate`
// (rounded once at the end, as cuBLAS with beta = 1). B is widened to f32 once per call
// (the f16 variant would otherwise convert in the innermost loop, which dominated emulated model
// runs).
template <class T, class ToFloat, class FromFloat>
void gemm_loop(int64_t m, int64_t n, int64_t k, const T* a, int64_t lda, const T* b, int64_t ldb, T* c, int64_t ldc,
               bool accumulate, ToFloat to_float, FromFloat from_float) {
  if (m <= 0 || n <= 0) return;
  std::vector<float> b_wide(size_t(k > 0 ? k : 0) * size_t(n));
  for (int64_t p = 0; p < k; ++p)
    for (int64_t j = 0; j < n; ++j) b_wide[size_t(p * n + j)] = to_float(b[p * ldb + j]);
  std::vector<float> row(static_cast<size_t>(n));
  for (int64_t i = 0; i < m; ++i) {
    for (int64_t j = 0; j < n; ++j) row[size_t(j)] = accumulate ? to_float(c[i * ldc + j]) : 0.0f;
    for (int64_t p = 0; p < k; ++p) {
      const float scale = to_float(a[i * lda + p]);
      const float* b_row = b_wide.data() + p * n;
      for (int64_t j = 0; j < n; ++j) row[size_t(j)] += scale * b_row[j];
    }
    for (int64_t j = 0; j < n; ++j) c[i * ldc + j] = from_float(row[size_t(j)]);
  }
}
}  // namespace

// No library to initialise: any non-null value stands for the handle.
cudaError_t create_blas_handle(void** handle, int) {
  static int dummy;
  *handle = &dummy;
  return cudaSuccess;
}

void destroy_blas_handle(void*) {}

cudaError_t gemm_f32(const GemmContext&, int64_t m, int64_t n, int64_t k, const float* a, int64_t lda, const float* b,
                     int64_t ldb, float* c, int64_t ldc, bool accumulate) {
  gemm_loop(m, n, k, a, lda, b, ldb, c, ldc, accumulate, [](float v) { return v; }, [](float v) { return v; });
  return cudaSuccess;
}

cudaError_t gemm_f16(const GemmContext&, int64_t m, int64_t n, int64_t k, const __half* a, int64_t lda,
                     const __half* b, int64_t ldb, __half* c, int64_t ldc, bool accumulate) {
  gemm_loop(m, n, k, a, lda, b, ldb, c, ldc, accumulate, [](__half v) { return __half2float(v); },
            [](float v) { return __float2half_rn(v); });
  return cudaSuccess;
}

}  // namespace vrestore::kernels
