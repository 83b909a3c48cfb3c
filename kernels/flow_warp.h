// Backward warping with an optical flow (BasicSR/mmedit flow_warp = grid_sample(bilinear,
// align_corners=True) on a pixel grid shifted by the flow): output pixel (y, x) samples the input
// at (x + dx, y + dy), (dx, dy) in pixels, through PyTorch's fp32 normalise round trip: the sample
// point is flow_warp_source() of op_common.h, the same function the CPU backend calls.
#pragma once

#include <cuda_fp16.h>
#include <cuda_runtime_api.h>

#include "op_common.h"

namespace vrestore::kernels {

// Zeros or Border, the op layer's enum (op_common.h).
using vrestore::WarpPadding;

// Upstream passes flows as (N, H, W, 2); the CPU op (ops::flow_warp) keeps them planar, as
// SpyNet produces them. Both are read in place, so neither caller needs a permute.
enum class FlowLayout {
  Interleaved,  // (N, H, W, 2): [..., 0] = dx, [..., 1] = dy
  Planar,       // (N, 2, H, W): channel 0 = dx, channel 1 = dy
};

// Features are float or __half (f32 arithmetic); the flow is f32 in both.
template <class T>
struct FlowWarpParamsOf {
  const T* input = nullptr;     // (N, C, H, W)
  const float* flow = nullptr;  // see FlowLayout
  T* output = nullptr;          // (N, C, H, W)
  FlowLayout flow_layout = FlowLayout::Interleaved;
  int batch = 0;
  int channels = 0;
  int height = 0;
  int width = 0;
  WarpPadding padding = WarpPadding::Zeros;
};

using FlowWarpParams = FlowWarpParamsOf<float>;

cudaError_t flow_warp(const FlowWarpParamsOf<float>& p, cudaStream_t stream);
cudaError_t flow_warp(const FlowWarpParamsOf<__half>& p, cudaStream_t stream);

}  // namespace vrestore::kernels
