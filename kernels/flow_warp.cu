// Launcher and entry of flow_warp.
#include "flow_warp.cuh"

namespace vrestore::kernels {

namespace {
// 32 wide keeps each warp on one image row (coalesced flow and output accesses).
constexpr int kBlockX = 32;
constexpr int kBlockY = 8;
constexpr int kMaxGridYZ = 65535;

template <class T>
cudaError_t launch_flow_warp(const FlowWarpParamsOf<T>& p, cudaStream_t stream) {
  if (p.batch == 0 || p.height == 0 || p.width == 0) return cudaSuccess;
  const int blocks_y = (p.height + kBlockY - 1) / kBlockY;
  if (blocks_y > kMaxGridYZ || p.batch > kMaxGridYZ) return cudaErrorInvalidValue;
  const dim3 grid(unsigned((p.width + kBlockX - 1) / kBlockX), unsigned(blocks_y), unsigned(p.batch));
  KLAUNCH(flow_warp_kernel<T>, grid, dim3(kBlockX, kBlockY), 0, stream, p);
  return cudaGetLastError();
}

}  // namespace

cudaError_t flow_warp(const FlowWarpParamsOf<float>& p, cudaStream_t stream) { return launch_flow_warp(p, stream); }
cudaError_t flow_warp(const FlowWarpParamsOf<__half>& p, cudaStream_t stream) { return launch_flow_warp(p, stream); }

}  // namespace vrestore::kernels
