// Dense 2-D convolution (groups = 1) on the device, PyTorch F.conv2d semantics with zero padding,
// any kernel size, stride, padding and dilation per axis; f32 or f16 storage with f32
// accumulation. Same chunked plan as deform_conv2d.h, without a whole-image column buffer: the
// output plane of each image is processed in chunks of consecutive pixels (not necessarily whole
// rows). Per chunk:
//   1. im2col: the column tile (Cin*kh*kw, chunk) of input samples (0 outside the image);
//   2. output[n][:, chunk] (Cout, chunk) = weight (Cout, Cin*kh*kw) · tile, through the gemm seam
//      (ldc = Ho*Wo, so the GEMM writes straight into the output);
//   3. bias + activation (+ the residual of a residual block) on that output chunk while it is
//      still in L2.
// A pointwise conv (1x1, stride 1, no padding) needs no tile: the GEMM reads the input plane
// directly (ldb = H*W), and the workspace is empty.
// The tile is sized to ~16 MiB so it stays in the L2 of an A100/H100/H200, and never exceeds
// kColumnWorkspaceLimitBytes (64 MiB) at any image size.
#pragma once

#include <cuda_fp16.h>
#include <cuda_runtime_api.h>

#include <cstddef>
#include <cstdint>

#include "activation.h"
#include "column_chunks.h"
#include "gemm.h"

namespace vrestore::kernels {

// All tensors are contiguous NCHW in device memory. T is float or __half.
template <class T>
struct Conv2dParams {
  const T* input = nullptr;   // (N, Cin, H, W)
  const T* weight = nullptr;  // (Cout, Cin, kh, kw)
  const T* bias = nullptr;    // (Cout) or nullptr
  const T* residual = nullptr;  // (N, Cout, Ho, Wo) added after the activation, or nullptr
  T* output = nullptr;        // (N, Cout, Ho, Wo)
  T* workspace = nullptr;     // conv2d_workspace_bytes(*this) bytes (nullptr when that is 0)
  int batch = 0, in_channels = 0, height = 0, width = 0;
  int out_channels = 0, kernel_h = 0, kernel_w = 0;
  int out_height = 0, out_width = 0;  // (H + 2*pad - dil*(k-1) - 1) / stride + 1, computed by the caller
  int stride_h = 1, stride_w = 1, pad_h = 0, pad_w = 0, dilation_h = 1, dilation_w = 1;
  Activation activation = Activation::None;
  float leaky_slope = 0.1f;
  // Pixels per chunk; 0 chooses ~kColumnTileTargetBytes of tile. Tests set it to put chunk
  // boundaries anywhere; benchmarks to tune. Always capped by the 64 MiB workspace limit.
  int64_t chunk_pixels = 0;
};

// True when the input plane already is the column matrix (1x1 kernel, stride 1, no padding).
template <class T>
bool conv2d_is_pointwise(const Conv2dParams<T>& p) {
  return p.kernel_h == 1 && p.kernel_w == 1 && p.stride_h == 1 && p.stride_w == 1 && p.pad_h == 0 && p.pad_w == 0;
}

// Pixels of the output plane handled per chunk; 0 when there is nothing to do, or when a single
// pixel's column (Cin*kh*kw elements) would already exceed the workspace limit (the entry then
// refuses with cudaErrorInvalidValue).
template <class T>
int64_t conv2d_chunk_pixels(const Conv2dParams<T>& p) {
  return column_chunk_pixels(int64_t(p.out_height) * p.out_width,
                             int64_t(p.in_channels) * p.kernel_h * p.kernel_w * int64_t(sizeof(T)), p.chunk_pixels);
}

// Bytes of workspace the entry needs (<= kColumnWorkspaceLimitBytes whatever the image size; 0 for
// a pointwise conv).
template <class T>
size_t conv2d_workspace_bytes(const Conv2dParams<T>& p) {
  if (conv2d_is_pointwise(p)) return 0;
  return size_t(conv2d_chunk_pixels(p)) * size_t(p.in_channels) * size_t(p.kernel_h) * size_t(p.kernel_w) * sizeof(T);
}

// Runs on gemm.stream. Arguments are trusted (checked by the op layer), except what only the
// kernel limits decide: an output plane above 2^31 pixels, more than 65535 taps, more than
// 65535 * kConvChannelsPerThread input channels, or a column above the workspace limit give
// cudaErrorInvalidValue.
cudaError_t conv2d(const Conv2dParams<float>& p, const GemmContext& gemm);
cudaError_t conv2d(const Conv2dParams<__half>& p, const GemmContext& gemm);

}  // namespace vrestore::kernels
