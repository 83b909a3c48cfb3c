// Launchers and entries of VRT's warp-side ops.
#include "vrt_warp.cuh"

#include "launch_grid.h"

namespace vrestore::kernels {

namespace {

constexpr int kThreads = 256;
constexpr int64_t kMaxGrid = 1 << 20;  // the kernels stride beyond

unsigned grid_for(int64_t items) { return clamp_grid(blocks_for(items, kThreads), kMaxGrid); }

template <class T>
cudaError_t launch_nearest4_warp(const Nearest4WarpParams<T>& p, cudaStream_t stream) {
  const int64_t pixels = int64_t(p.batch) * p.height * p.width;
  if (pixels == 0 || p.channels == 0) return cudaSuccess;
  KLAUNCH(nearest4_warp_kernel<T>, dim3(grid_for(pixels)), dim3(kThreads), 0, stream, p);
  return cudaGetLastError();
}

template <class T>
cudaError_t launch_flow_guided_offset(const FlowGuidedOffsetParams<T>& p, cudaStream_t stream) {
  const int64_t items = int64_t(p.batch) * 27 * p.groups * p.plane;
  if (items == 0) return cudaSuccess;
  KLAUNCH(flow_guided_offset_kernel<T>, dim3(grid_for(items)), dim3(kThreads), 0, stream, p);
  return cudaGetLastError();
}

}  // namespace

cudaError_t nearest4_warp(const Nearest4WarpParams<float>& p, cudaStream_t s) { return launch_nearest4_warp(p, s); }
cudaError_t nearest4_warp(const Nearest4WarpParams<__half>& p, cudaStream_t s) { return launch_nearest4_warp(p, s); }
cudaError_t flow_guided_offset(const FlowGuidedOffsetParams<float>& p, cudaStream_t s) {
  return launch_flow_guided_offset(p, s);
}
cudaError_t flow_guided_offset(const FlowGuidedOffsetParams<__half>& p, cudaStream_t s) {
  return launch_flow_guided_offset(p, s);
}

}  // namespace vrestore::kernels
