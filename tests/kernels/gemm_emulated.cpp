// The gemm seam (kernels/gemm.h) in the emulated test build: a plain CPU loop instead of cuBLAS.
// "Device" pointers are host memory under the emulator, so it reads and writes them directly.
#include "gemm.h"

namespace vrestore::kernels {

cudaError_t gemm_f32(const GemmContext&, int64_t m, int64_t n, int64_t k, const float* a, const float* b, float* c) {
  for (int64_t i = 0; i < m; ++i) {
    float* row = c + i * n;
    for (int64_t j = 0; j < n; ++j) row[j] = 0.0f;
    for (int64_t p = 0; p < k; ++p) {
      const float scale = a[i * k + p];
      const float* b_row = b + p * n;
      for (int64_t j = 0; j < n; ++j) row[j] += scale * b_row[j];
    }
  }
  return cudaSuccess;
}

}  // namespace vrestore::kernels
