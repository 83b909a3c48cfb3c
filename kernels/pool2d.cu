// Launchers and entries of max and average pooling.
#include "pool2d.cuh"

namespace vrestore::kernels {

namespace {

constexpr int kBlockX = 32;
constexpr int kBlockY = 8;
constexpr int64_t kMaxGridYZ = 65535;

template <class T, bool kMax>
cudaError_t launch_pool(const Pool2dParams<T>& p, cudaStream_t stream) {
  const int64_t planes = int64_t(p.batch) * p.channels;
  if (planes == 0 || p.out_height == 0 || p.out_width == 0) return cudaSuccess;
  const int blocks_y = (p.out_height + kBlockY - 1) / kBlockY;
  if (blocks_y > kMaxGridYZ) return cudaErrorInvalidValue;
  const dim3 grid(unsigned((p.out_width + kBlockX - 1) / kBlockX), unsigned(blocks_y),
                  unsigned(planes < kMaxGridYZ ? planes : kMaxGridYZ));
  KLAUNCH((pool2d_kernel<T, kMax>), grid, dim3(kBlockX, kBlockY), 0, stream, p);
  return cudaGetLastError();
}

}  // namespace

cudaError_t max_pool2d(const Pool2dParams<float>& p, cudaStream_t stream) { return launch_pool<float, true>(p, stream); }
cudaError_t max_pool2d(const Pool2dParams<__half>& p, cudaStream_t stream) {
  return launch_pool<__half, true>(p, stream);
}
cudaError_t avg_pool2d(const Pool2dParams<float>& p, cudaStream_t stream) {
  return launch_pool<float, false>(p, stream);
}
cudaError_t avg_pool2d(const Pool2dParams<__half>& p, cudaStream_t stream) {
  return launch_pool<__half, false>(p, stream);
}

}  // namespace vrestore::kernels
