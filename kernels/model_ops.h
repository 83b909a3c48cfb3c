// The small ops extracted from the models' former raw loops (TSA attention in EDVR, input
// normalisation, padding to a multiple, the CLI's checksums), f32 or f16 storage with f32
// arithmetic (sum_abs accumulates in f64). Contiguous device tensors; every entry runs on `stream`,
// returns the launch status and does nothing for empty tensors. The CPU bodies (src/cpu/
// elementwise.cpp) define the results; these match them within the kernel tests' tolerances.
#pragma once

#include <cuda_fp16.h>
#include <cuda_runtime_api.h>

#include <cstddef>
#include <cstdint>

namespace vrestore::kernels {

// output (N, 1, plane) = sum over c of a[n, c] * b[n, c], channels summed in order from 0 in f32
// (TSA's embedding correlation).
template <class T>  // float or __half
struct ChannelDotParams {
  const T* a = nullptr;  // (N, C, plane)
  const T* b = nullptr;  // (N, C, plane)
  T* output = nullptr;   // (N, 1, plane)
  int64_t batch = 0;
  int64_t channels = 0;
  int64_t plane = 0;  // H*W
};
cudaError_t channel_dot(const ChannelDotParams<float>& p, cudaStream_t stream);
cudaError_t channel_dot(const ChannelDotParams<__half>& p, cudaStream_t stream);

// x (F, C, plane) *= w (F, 1, plane), in place, broadcast over C.
template <class T>
struct MulBroadcastChannelsParams {
  T* x = nullptr;
  const T* w = nullptr;
  int64_t frames = 0;
  int64_t channels = 0;
  int64_t plane = 0;
};
cudaError_t mul_broadcast_channels(const MulBroadcastChannelsParams<float>& p, cudaStream_t stream);
cudaError_t mul_broadcast_channels(const MulBroadcastChannelsParams<__half>& p, cudaStream_t stream);

// x = x * m * scale + add, element-wise, in place, evaluated in that order (TSA's modulation).
template <class T>
struct MulAddParams {
  T* x = nullptr;
  const T* m = nullptr;
  const T* add = nullptr;
  int64_t count = 0;
  float scale = 1.0f;
};
cudaError_t mul_add(const MulAddParams<float>& p, cudaStream_t stream);
cudaError_t mul_add(const MulAddParams<__half>& p, cudaStream_t stream);

// output[n, c] = (input[n, c] - shift[c]) / scale[c] (divide) or (input[n, c] - shift[c]) * scale[c].
// shift and scale are device arrays of `channels` f32 values.
template <class T>
struct AffineChannelsParams {
  const T* input = nullptr;  // (N, C, plane)
  T* output = nullptr;       // (N, C, plane)
  const float* shift = nullptr;
  const float* scale = nullptr;
  int64_t batch = 0;
  int64_t channels = 0;
  int64_t plane = 0;
  bool divide = false;
};
cudaError_t affine_channels(const AffineChannelsParams<float>& p, cudaStream_t stream);
cudaError_t affine_channels(const AffineChannelsParams<__half>& p, cudaStream_t stream);

// output[p, y, x] = input[p, pad_source_index(y - top, H, mode), pad_source_index(x - left, W, mode)]
// (op_common.h): pads the last two dimensions (replicate / reflect / symmetric) or crops them to the
// top-left window. Pure data movement (bit-exact).
template <class T>
struct PadCropParams {
  const T* input = nullptr;  // (planes, in_height, in_width)
  T* output = nullptr;       // (planes, out_height, out_width)
  int64_t planes = 0;
  int64_t in_height = 0, in_width = 0;
  int64_t out_height = 0, out_width = 0;
  int64_t top = 0, left = 0;
  PadMode mode = PadMode::Replicate;
};
cudaError_t pad_crop(const PadCropParams<float>& p, cudaStream_t stream);
cudaError_t pad_crop(const PadCropParams<__half>& p, cudaStream_t stream);

// *result = start + sum of |input[i]| over `count` elements, summed in f64 as a tree (per-thread
// strided sums, then a shared-memory tree per block, then one block over the block sums). `result`
// and `workspace` are device memory; the workspace holds sum_abs_workspace_bytes() bytes.
template <class T>
struct SumAbsParams {
  const T* input = nullptr;
  int64_t count = 0;
  double start = 0.0;
  double* workspace = nullptr;
  double* result = nullptr;
};
size_t sum_abs_workspace_bytes();
cudaError_t sum_abs(const SumAbsParams<float>& p, cudaStream_t stream);
cudaError_t sum_abs(const SumAbsParams<__half>& p, cudaStream_t stream);

}  // namespace vrestore::kernels
