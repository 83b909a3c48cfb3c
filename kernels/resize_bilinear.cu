// Launcher and entries of the bilinear resize.
#include "resize_bilinear.cuh"

namespace vrestore::kernels {

namespace {

// 32 wide keeps each warp on one output row (coalesced stores, neighbouring loads).
constexpr int kBlockX = 32;
constexpr int kBlockY = 8;
constexpr int kMaxGridYZ = 65535;

// PyTorch's fp32 scale for one axis (the CPU op's bilinear_ratio).
float axis_ratio(int in, int out, int scale_factor, bool align_corners) {
  if (align_corners) return out > 1 ? float(in - 1) / float(out - 1) : 0.0f;
  if (scale_factor > 0) return float(1.0 / scale_factor);
  return float(in) / float(out);
}

template <class T>
cudaError_t launch_resize(const ResizeBilinearParams<T>& p, cudaStream_t stream) {
  if (p.batch == 0 || p.channels == 0 || p.out_height == 0 || p.out_width == 0) return cudaSuccess;
  const int blocks_y = (p.out_height + kBlockY - 1) / kBlockY;
  if (blocks_y > kMaxGridYZ || p.batch > kMaxGridYZ) return cudaErrorInvalidValue;
  const ResizeRatios ratio{axis_ratio(p.in_height, p.out_height, p.scale_factor, p.align_corners),
                           axis_ratio(p.in_width, p.out_width, p.scale_factor, p.align_corners)};
  const dim3 grid(unsigned((p.out_width + kBlockX - 1) / kBlockX), unsigned(blocks_y), unsigned(p.batch));
  KLAUNCH(resize_bilinear_kernel<T>, grid, dim3(kBlockX, kBlockY), 0, stream, p, ratio);
  return cudaGetLastError();
}

}  // namespace

cudaError_t resize_bilinear(const ResizeBilinearParams<float>& p, cudaStream_t stream) {
  return launch_resize(p, stream);
}
cudaError_t resize_bilinear(const ResizeBilinearParams<__half>& p, cudaStream_t stream) {
  return launch_resize(p, stream);
}

}  // namespace vrestore::kernels
