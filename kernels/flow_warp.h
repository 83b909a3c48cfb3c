// Backward warping with an optical flow (BasicSR/mmedit flow_warp = grid_sample(bilinear,
// align_corners=True) on a pixel grid shifted by the flow): output pixel (y, x) samples the input
// at (x + dx, y + dy), (dx, dy) in pixels.
#pragma once

#include <cuda_runtime_api.h>

namespace vrestore::kernels {

enum class WarpPadding {
  Zeros,   // each bilinear neighbour outside the image contributes 0
  Border,  // the sample point is clamped into [0, W-1] x [0, H-1] first
};

// Upstream passes flows as (N, H, W, 2); the CPU op (ops::flow_warp) keeps them planar, as
// SpyNet produces them. Both are read in place, so neither caller needs a permute.
enum class FlowLayout {
  Interleaved,  // (N, H, W, 2): [..., 0] = dx, [..., 1] = dy
  Planar,       // (N, 2, H, W): channel 0 = dx, channel 1 = dy
};

struct FlowWarpParams {
  const float* input = nullptr;  // (N, C, H, W)
  const float* flow = nullptr;   // see FlowLayout
  float* output = nullptr;       // (N, C, H, W)
  FlowLayout flow_layout = FlowLayout::Interleaved;
  int batch = 0;
  int channels = 0;
  int height = 0;
  int width = 0;
  WarpPadding padding = WarpPadding::Zeros;
};

cudaError_t flow_warp(const FlowWarpParams& p, cudaStream_t stream);

}  // namespace vrestore::kernels
