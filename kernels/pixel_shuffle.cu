// Launcher and entries of PixelShuffle.
#include "pixel_shuffle.cuh"

namespace vrestore::kernels {

namespace {

constexpr int kThreads = 256;
constexpr int64_t kMaxGridY = 65535;

bool aligned(const void* p, size_t bytes) { return reinterpret_cast<uintptr_t>(p) % bytes == 0; }

template <class T, int R, int V>
cudaError_t launch(const PixelShuffleShape& s, const T* input, T* output, cudaStream_t stream) {
  const int64_t rows = int64_t(s.batch) * s.out_channels * s.height * s.factor;
  const int runs = s.width / V;
  // A block spans the runs of a row (rounded to whole warps, at most kThreads) and as many rows
  // as fill kThreads, so narrow images still get full blocks.
  const int block_x = runs >= kThreads ? kThreads : (runs + 31) / 32 * 32;
  const int block_y = kThreads / block_x;
  const int64_t row_blocks = (rows + block_y - 1) / block_y;
  const dim3 grid(unsigned((runs + block_x - 1) / block_x), unsigned(row_blocks < kMaxGridY ? row_blocks : kMaxGridY));
  const PixelShuffleParams<T> params{input, output, s, rows, runs};
  KLAUNCH((pixel_shuffle_kernel<T, R, V>), grid, dim3(block_x, block_y), 0, stream, params);
  return cudaGetLastError();
}

// The widest run the shape and the pointers allow: 16 bytes, else 2 elements, else 1.
template <class T, int R>
cudaError_t launch_widest(const PixelShuffleShape& s, const T* input, T* output, cudaStream_t stream) {
  constexpr int kWide = int(16 / sizeof(T));
  if (s.width % kWide == 0 && aligned(input, 16) && aligned(output, 16)) return launch<T, R, kWide>(s, input, output, stream);
  if (s.width % 2 == 0 && aligned(input, 2 * sizeof(T)) && aligned(output, 2 * sizeof(T)))
    return launch<T, R, 2>(s, input, output, stream);
  return launch<T, R, 1>(s, input, output, stream);
}

template <class T>
cudaError_t launch_pixel_shuffle(const PixelShuffleShape& s, const T* input, T* output, cudaStream_t stream) {
  if (int64_t(s.batch) * s.out_channels * s.height * s.factor == 0 || s.width == 0) return cudaSuccess;
  switch (s.factor) {
    case 2: return launch_widest<T, 2>(s, input, output, stream);
    case 3: return launch_widest<T, 3>(s, input, output, stream);
    case 4: return launch_widest<T, 4>(s, input, output, stream);
    default: return launch<T, 0, 1>(s, input, output, stream);
  }
}

}  // namespace

cudaError_t pixel_shuffle(const PixelShuffleShape& s, const float* input, float* output, cudaStream_t stream) {
  return launch_pixel_shuffle(s, input, output, stream);
}
cudaError_t pixel_shuffle(const PixelShuffleShape& s, const __half* input, __half* output, cudaStream_t stream) {
  return launch_pixel_shuffle(s, input, output, stream);
}

}  // namespace vrestore::kernels
