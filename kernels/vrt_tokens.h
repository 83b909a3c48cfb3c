// VRT's per-token ops on the device, f32 or f16 storage (f32 arithmetic and statistics): linear
// (through the GEMM seam), layer norm over the last dimension, GELU / GEGLU product, broadcast
// add, batched transpose (channel-first <-> channel-last, and the linear's weightᵀ), and the window
// partition / reverse with the cyclic shift fused in. Row-major, contiguous, sizes checked by the
// op layer (core/ops_vrt.cpp); each entry runs on the given stream.
#pragma once

#include <cuda_fp16.h>
#include <cuda_runtime_api.h>

#include <cstddef>
#include <cstdint>

#include "gemm.h"
#include "vrt_common.h"

namespace vrestore::kernels {

// out (rows, out_features) = x (rows, in) · weight (out_features, in)ᵀ + bias: weightᵀ into the
// workspace (linear_workspace_bytes), one GEMM, then the bias on the rows.
template <class T>  // float or __half
struct LinearParams {
  const T* x = nullptr;
  const T* weight = nullptr;
  const T* bias = nullptr;  // (out_features) or nullptr
  T* out = nullptr;
  T* workspace = nullptr;
  int rows = 0, in_features = 0, out_features = 0;
};
template <class T>
size_t linear_workspace_bytes(const LinearParams<T>& p) {
  return size_t(p.in_features) * size_t(p.out_features) * sizeof(T);
}
cudaError_t linear(const LinearParams<float>& p, const GemmContext& gemm);
cudaError_t linear(const LinearParams<__half>& p, const GemmContext& gemm);

// out[r, :] = (x[r, :] - mean) · rsqrt(var + eps) · weight + bias, biased variance, f32 statistics;
// weight and bias are f32 in both precisions (an f16 model keeps its norms in f32).
template <class T>
struct LayerNormParams {
  const T* x = nullptr;
  const float* weight = nullptr;
  const float* bias = nullptr;
  T* out = nullptr;
  int rows = 0, channels = 0;
  float eps = 1e-5f;
};
cudaError_t layer_norm(const LayerNormParams<float>& p, cudaStream_t stream);
cudaError_t layer_norm(const LayerNormParams<__half>& p, cudaStream_t stream);

// out = gelu_erf(x) · gate (gate nullptr: gelu_erf(x)), `count` elements.
template <class T>
struct GeluParams {
  const T* x = nullptr;
  const T* gate = nullptr;
  T* out = nullptr;
  int64_t count = 0;
};
cudaError_t gelu(const GeluParams<float>& p, cudaStream_t stream);
cudaError_t gelu(const GeluParams<__half>& p, cudaStream_t stream);

// x[r, i] += y[i] for r < outer, i < inner, in place.
template <class T>
struct AddBroadcastParams {
  T* x = nullptr;
  const T* y = nullptr;
  int64_t outer = 0;
  int inner = 0;
};
cudaError_t add_broadcast(const AddBroadcastParams<float>& p, cudaStream_t stream);
cudaError_t add_broadcast(const AddBroadcastParams<__half>& p, cudaStream_t stream);

// out (batch, cols, rows) = x (batch, rows, cols) transposed per batch (bit-exact).
template <class T>
struct TransposeParams {
  const T* x = nullptr;
  T* out = nullptr;
  int batch = 0, rows = 0, cols = 0;
};
cudaError_t transpose(const TransposeParams<float>& p, cudaStream_t stream);
cudaError_t transpose(const TransposeParams<__half>& p, cudaStream_t stream);

// Partition: out (N·nW, T, C) = windows of x (N, D, H, W, C) rolled by -shift, zero over padding.
// Reverse: out (N, D, H, W, C) = windows x (N·nW, T, C) rolled back (bit-exact both ways).
template <class T>
struct WindowPartitionParams {
  const T* x = nullptr;
  T* out = nullptr;
  WindowGeometry g;
  int channels = 0;
  bool reverse = false;
};
cudaError_t window_partition(const WindowPartitionParams<float>& p, cudaStream_t stream);
cudaError_t window_partition(const WindowPartitionParams<__half>& p, cudaStream_t stream);

}  // namespace vrestore::kernels
