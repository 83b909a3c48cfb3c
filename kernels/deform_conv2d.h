// Modulated deformable convolution (DCNv2) on the device, torchvision.ops.deform_conv2d semantics
// (spec_edvr_basicvsr.md §1.7), f32 or f16 storage with f32 arithmetic; offsets and masks are f32
// in both. No whole-image column buffer: the output plane of each image is processed in chunks of
// consecutive pixels (not necessarily whole rows). Per chunk:
//   1. deformable im2col: the column tile (Cin*kh*kw, chunk) of bilinear samples times the mask;
//      one thread per (deformable group, tap, pixel) computes the sample point, the four corner
//      indices and weights (mask folded in) once and loops over the Cin/G channels of its group,
//      so offsets and masks are read once per group, not once per channel;
//   2. output[n][:, chunk] (Cout, chunk) = weight (Cout, Cin*kh*kw) · tile, through the gemm seam
//      (ldc = Ho*Wo, so the GEMM writes straight into the output);
//   3. bias + activation on that output chunk while it is still in L2.
// The tile is sized to ~16 MiB, so im2col's writes and the GEMM's reads stay in the L2 cache of
// an A100/H100/H200 (40-50 MB) instead of round-tripping through HBM; the workspace never
// exceeds kColumnWorkspaceLimitBytes (64 MiB) at any image size.
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
struct DeformConv2dParams {
  const T* input = nullptr;       // (N, Cin, H, W)
  const float* offset = nullptr;  // (N, 2*G*kh*kw, Ho, Wo): channel 2*(g*K + k) = dy, +1 = dx; K = kh*kw
  const float* mask = nullptr;    // (N, G*kh*kw, Ho, Wo): channel g*K + k
  const T* weight = nullptr;      // (Cout, Cin, kh, kw)
  const T* bias = nullptr;        // (Cout) or nullptr
  T* output = nullptr;            // (N, Cout, Ho, Wo)
  T* workspace = nullptr;         // deform_conv2d_workspace_bytes(*this) bytes
  int batch = 0, in_channels = 0, height = 0, width = 0;
  int out_channels = 0, kernel_h = 0, kernel_w = 0;
  int out_height = 0, out_width = 0;  // (H + 2*pad - dil*(k-1) - 1) / stride + 1, computed by the caller
  int stride_h = 1, stride_w = 1, pad_h = 0, pad_w = 0, dilation_h = 1, dilation_w = 1;
  int deformable_groups = 1;  // G; in_channels % G == 0
  Activation activation = Activation::None;
  float leaky_slope = 0.1f;
  // Pixels per chunk; 0 chooses ~kColumnTileTargetBytes of tile. Tests set it to put chunk
  // boundaries anywhere; benchmarks to tune. Always capped by the 64 MiB workspace limit.
  int64_t chunk_pixels = 0;
};

// Pixels of the output plane handled per chunk; 0 when there is nothing to do, or when a single
// pixel's column (Cin*kh*kw elements) would already exceed the workspace limit (the entry then
// refuses with cudaErrorInvalidValue).
template <class T>
int64_t deform_conv2d_chunk_pixels(const DeformConv2dParams<T>& p) {
  return column_chunk_pixels(int64_t(p.out_height) * p.out_width,
                             int64_t(p.in_channels) * p.kernel_h * p.kernel_w * int64_t(sizeof(T)), p.chunk_pixels);
}

// Bytes of workspace the entry needs (<= kColumnWorkspaceLimitBytes, whatever the image size).
template <class T>
size_t deform_conv2d_workspace_bytes(const DeformConv2dParams<T>& p) {
  return size_t(deform_conv2d_chunk_pixels(p)) * size_t(p.in_channels) * size_t(p.kernel_h) * size_t(p.kernel_w) *
         sizeof(T);
}

// Runs on gemm.stream. Arguments are trusted (checked by the op layer), except what only the
// kernel limits decide: an output plane above 2^31 pixels, more than 65535 taps or groups, or a
// column above the workspace limit give cudaErrorInvalidValue.
cudaError_t deform_conv2d(const DeformConv2dParams<float>& p, const GemmContext& gemm);
cudaError_t deform_conv2d(const DeformConv2dParams<__half>& p, const GemmContext& gemm);

}  // namespace vrestore::kernels
