// VRT's window attention on the device (spec_vrt.md §4.3), f32 or f16 storage with f32 scores,
// softmax statistics and accumulation. Fused: bias gather by relative position, shifted-window
// mask (computed from the geometry, no (nW, T, T) mask tensor), softmax and the value product;
// no score matrix reaches global memory. Plain SIMT (one thread per query, online softmax over
// key tiles in shared memory), head dims up to kWindowAttentionMaxHeadDim.
#pragma once

#include <cuda_fp16.h>
#include <cuda_runtime_api.h>

#include <cstdint>

#include "vrt_common.h"

namespace vrestore::kernels {

constexpr int kWindowAttentionMaxHeadDim = 64;

template <class T>  // float or __half
struct WindowAttentionParams {
  const T* qkv = nullptr;         // (windows, tokens, 3C) = [q | k | v], heads head-major in each
  const T* bias_table = nullptr;  // ((2Wd-1)(2Wh-1)(2Ww-1), heads); nullptr for mutual attention
  T* out = nullptr;               // (windows, tokens, C)
  WindowGeometry g;               // windows = g.batch * g.windows_per_image(), tokens = g.tokens()
  int full_window[3] = {1, 1, 1};
  int heads = 1, head_dim = 1;
  float scale = 1;
  bool mutual = false;  // slots [0, T/2) = frame-2 queries on frame 1, [T/2, T) = frame-1 queries on frame 2
};

// cudaErrorInvalidValue when head_dim exceeds kWindowAttentionMaxHeadDim or heads exceed 65535.
cudaError_t window_attention(const WindowAttentionParams<float>& p, cudaStream_t stream);
cudaError_t window_attention(const WindowAttentionParams<__half>& p, cudaStream_t stream);

}  // namespace vrestore::kernels
