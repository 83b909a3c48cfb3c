// Launcher and entries of PixelShuffle.
#include "pixel_shuffle.cuh"

namespace vrestore::kernels {

namespace {

constexpr int kThreads = 128;
constexpr int64_t kMaxGridY = 65535;

template <class T>
cudaError_t launch_pixel_shuffle(const PixelShuffleShape& s, const T* input, T* output, cudaStream_t stream) {
  const int64_t rows = int64_t(s.batch) * s.out_channels * s.height * s.factor;
  const int out_w = s.width * s.factor;
  if (rows == 0 || out_w == 0) return cudaSuccess;
  const dim3 grid(unsigned((out_w + kThreads - 1) / kThreads), unsigned(rows < kMaxGridY ? rows : kMaxGridY));
  const PixelShuffleParams<T> params{input, output, s, rows};
  KLAUNCH(pixel_shuffle_kernel<T>, grid, dim3(kThreads), 0, stream, params);
  return cudaGetLastError();
}

}  // namespace

cudaError_t pixel_shuffle(const PixelShuffleShape& s, const float* input, float* output, cudaStream_t stream) {
  return launch_pixel_shuffle(s, input, output, stream);
}
cudaError_t pixel_shuffle(const PixelShuffleShape& s, const __half* input, __half* output, cudaStream_t stream) {
  return launch_pixel_shuffle(s, input, output, stream);
}

}  // namespace vrestore::kernels
