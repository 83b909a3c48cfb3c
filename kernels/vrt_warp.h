// VRT's warp-side ops on the device (spec_vrt.md §6): the nearest4 input warp and the flow-guided
// DCN's offset/mask (tanh · max_residue + flow, sigmoid). Features float or __half (f32 arithmetic);
// flows, offsets and masks f32. Contiguous NCHW, sizes checked by the op layer (core/ops_vrt.cpp);
// the formulas are vrt_common.h's, shared with the CPU backend.
#pragma once

#include <cuda_fp16.h>
#include <cuda_runtime_api.h>

#include <cstdint>

#include "vrt_common.h"

namespace vrestore::kernels {

// out (N, 4C, H, W) = the 4 nearest samples of input (N, C, H, W) around (x + dx, y + dy), blocks
// [⌊x⌋⌊y⌋, ⌊x⌋⌈y⌉, ⌈x⌉⌊y⌋, ⌈x⌉⌈y⌉]; flow (N, 2, H, W) planar; 0 outside the image.
template <class T>
struct Nearest4WarpParams {
  const T* input = nullptr;
  const float* flow = nullptr;
  T* output = nullptr;
  int batch = 0, channels = 0, height = 0, width = 0;
};
cudaError_t nearest4_warp(const Nearest4WarpParams<float>& p, cudaStream_t stream);
cudaError_t nearest4_warp(const Nearest4WarpParams<__half>& p, cudaStream_t stream);

// raw (N, 27G, H, W) -> offset (N, 18G, H, W) = flow_guided_offset(raw pair, neighbour flow flipped),
// mask (N, 9G, H, W) = sigmoid(raw[:, 18G:]); flows (N, 2k, H, W), neighbour = pair / (9G / k).
template <class T>
struct FlowGuidedOffsetParams {
  const T* raw = nullptr;
  const float* flows = nullptr;
  float* offset = nullptr;
  float* mask = nullptr;
  int batch = 0, groups = 0, neighbours = 0, plane = 0;
  float max_residue = 0;
};
cudaError_t flow_guided_offset(const FlowGuidedOffsetParams<float>& p, cudaStream_t stream);
cudaError_t flow_guided_offset(const FlowGuidedOffsetParams<__half>& p, cudaStream_t stream);

}  // namespace vrestore::kernels
