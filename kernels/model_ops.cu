// Launchers and entries of the ops extracted from the models (model_ops.h).
#include "model_ops.cuh"

#include "launch_grid.h"

namespace vrestore::kernels {

namespace {

constexpr int kThreads = 256;
constexpr int64_t kMaxBlocksX = 65535 * 4;  // enough to fill any GPU; the kernels stride beyond
constexpr int64_t kMaxGridYZ = 65535;

unsigned blocks_x(int64_t work) { return clamp_grid(blocks_for(work, kThreads), kMaxBlocksX); }
unsigned grid_yz(int64_t extent) { return clamp_grid(extent, kMaxGridYZ); }

// grid (x over the plane, y over rows, z over images); the kernels stride where the grid stops.
dim3 plane_grid(int64_t plane, int64_t rows, int64_t images) {
  return dim3(blocks_x(plane), grid_yz(rows), grid_yz(images));
}

template <class T>
cudaError_t launch_channel_dot(const ChannelDotParams<T>& p, cudaStream_t stream) {
  if (p.batch <= 0 || p.plane <= 0) return cudaSuccess;
  KLAUNCH(channel_dot_kernel<T>, plane_grid(p.plane, 1, p.batch), dim3(kThreads), 0, stream, p);
  return cudaGetLastError();
}

template <class T>
cudaError_t launch_mul_broadcast(const MulBroadcastChannelsParams<T>& p, cudaStream_t stream) {
  if (p.frames <= 0 || p.channels <= 0 || p.plane <= 0) return cudaSuccess;
  KLAUNCH(mul_broadcast_channels_kernel<T>, plane_grid(p.plane, p.channels, p.frames), dim3(kThreads), 0, stream, p);
  return cudaGetLastError();
}

template <class T>
cudaError_t launch_mul_add(const MulAddParams<T>& p, cudaStream_t stream) {
  if (p.count <= 0) return cudaSuccess;
  KLAUNCH(mul_add_kernel<T>, dim3(blocks_x(p.count)), dim3(kThreads), 0, stream, p);
  return cudaGetLastError();
}

template <class T>
cudaError_t launch_affine(const AffineChannelsParams<T>& p, cudaStream_t stream) {
  if (p.batch <= 0 || p.channels <= 0 || p.plane <= 0) return cudaSuccess;
  KLAUNCH(affine_channels_kernel<T>, plane_grid(p.plane, p.channels, p.batch), dim3(kThreads), 0, stream, p);
  return cudaGetLastError();
}

template <class T>
cudaError_t launch_pad_crop(const PadCropParams<T>& p, cudaStream_t stream) {
  if (p.planes <= 0 || p.out_height <= 0 || p.out_width <= 0) return cudaSuccess;
  if (p.in_height <= 0 || p.in_width <= 0) return cudaErrorInvalidValue;  // nothing to repeat
  KLAUNCH(pad_crop_kernel<T>, plane_grid(p.out_width, p.out_height, p.planes), dim3(kThreads), 0, stream, p);
  return cudaGetLastError();
}

template <class T>
cudaError_t launch_sum_abs(const SumAbsParams<T>& p, cudaStream_t stream) {
  int blocks = 0;
  if (p.count > 0) {
    const int64_t wanted = blocks_for(p.count, kSumAbsThreads);
    blocks = int(wanted < kSumAbsBlocks ? wanted : kSumAbsBlocks);
    KLAUNCH(sum_abs_partial_kernel<T>, dim3(unsigned(blocks)), dim3(kSumAbsThreads), 0, stream, p.input, p.count,
            p.workspace);
    if (cudaError_t e = cudaGetLastError(); e != cudaSuccess) return e;
  }
  // Also for an empty input, so *result = start is always written.
  KLAUNCH(sum_abs_final_kernel, dim3(1), dim3(kSumAbsThreads), 0, stream, static_cast<const double*>(p.workspace),
          blocks, p.start, p.result);
  return cudaGetLastError();
}

}  // namespace

cudaError_t channel_dot(const ChannelDotParams<float>& p, cudaStream_t s) { return launch_channel_dot(p, s); }
cudaError_t channel_dot(const ChannelDotParams<__half>& p, cudaStream_t s) { return launch_channel_dot(p, s); }
cudaError_t mul_broadcast_channels(const MulBroadcastChannelsParams<float>& p, cudaStream_t s) {
  return launch_mul_broadcast(p, s);
}
cudaError_t mul_broadcast_channels(const MulBroadcastChannelsParams<__half>& p, cudaStream_t s) {
  return launch_mul_broadcast(p, s);
}
cudaError_t mul_add(const MulAddParams<float>& p, cudaStream_t s) { return launch_mul_add(p, s); }
cudaError_t mul_add(const MulAddParams<__half>& p, cudaStream_t s) { return launch_mul_add(p, s); }
cudaError_t affine_channels(const AffineChannelsParams<float>& p, cudaStream_t s) { return launch_affine(p, s); }
cudaError_t affine_channels(const AffineChannelsParams<__half>& p, cudaStream_t s) { return launch_affine(p, s); }
cudaError_t pad_crop(const PadCropParams<float>& p, cudaStream_t s) { return launch_pad_crop(p, s); }
cudaError_t pad_crop(const PadCropParams<__half>& p, cudaStream_t s) { return launch_pad_crop(p, s); }
size_t sum_abs_workspace_bytes() { return size_t(kSumAbsBlocks) * sizeof(double); }
cudaError_t sum_abs(const SumAbsParams<float>& p, cudaStream_t s) { return launch_sum_abs(p, s); }
cudaError_t sum_abs(const SumAbsParams<__half>& p, cudaStream_t s) { return launch_sum_abs(p, s); }

}  // namespace vrestore::kernels
