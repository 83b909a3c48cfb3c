// Device code of the bilinear resize.
#pragma once

#include "cuda_compat.h"  // first: it decides what CUDA keywords mean

#include <cstdint>

#include "activation.cuh"
#include "resize_bilinear.h"

namespace vrestore::kernels {

// One axis of a bilinear sample: output index d blends input lo and hi with (1 - frac, frac).
struct BilinearTap {
  int lo, hi;
  float frac;
};

// The CPU op's make_bilinear_axis for one index: `ratio` is PyTorch's fp32 scale; the source
// coordinate is computed in double, clamped at 0 (half-pixel mode), then split.
__device__ __forceinline__ BilinearTap bilinear_tap(int d, int in, float ratio, bool align_corners) {
  const double r = ratio;
  double src = align_corners ? r * double(d) : r * (double(d) + 0.5) - 0.5;
  if (src < 0.0) src = 0.0;
  int lo = int(floor(src));
  if (lo > in - 1) lo = in - 1;
  float frac = float(src - double(lo));
  frac = frac < 0.0f ? 0.0f : (frac > 1.0f ? 1.0f : frac);
  return BilinearTap{lo, lo + 1 < in ? lo + 1 : in - 1, frac};
}

// The launcher's fp32 scales.
struct ResizeRatios {
  float h, w;
};

// One thread per output pixel (grid: x over the output width, y over its height, z over images):
// both taps are computed once and reused for every channel.
template <class T>
__global__ void resize_bilinear_kernel(ResizeBilinearParams<T> p, ResizeRatios ratio) {
  const int ox = blockIdx.x * blockDim.x + threadIdx.x;
  const int oy = blockIdx.y * blockDim.y + threadIdx.y;
  if (ox >= p.out_width || oy >= p.out_height) return;
  const BilinearTap ty = bilinear_tap(oy, p.in_height, ratio.h, p.align_corners);
  const BilinearTap tx = bilinear_tap(ox, p.in_width, ratio.w, p.align_corners);
  const float fy = ty.frac, gy = 1.0f - fy, fx = tx.frac, gx = 1.0f - fx;
  const int64_t in_plane = int64_t(p.in_height) * p.in_width;
  const int64_t out_plane = int64_t(p.out_height) * p.out_width;
  const T* in = p.input + int64_t(blockIdx.z) * p.channels * in_plane;
  T* out = p.output + int64_t(blockIdx.z) * p.channels * out_plane + int64_t(oy) * p.out_width + ox;
  const int64_t top = int64_t(ty.lo) * p.in_width, bottom = int64_t(ty.hi) * p.in_width;
  for (int c = 0; c < p.channels; ++c, in += in_plane, out += out_plane) {
    const float a = to_float(in[top + tx.lo]), b = to_float(in[top + tx.hi]);
    const float cc = to_float(in[bottom + tx.lo]), d = to_float(in[bottom + tx.hi]);
    *out = from_float<T>(gy * (gx * a + fx * b) + fy * (gx * cc + fx * d));
  }
}

}  // namespace vrestore::kernels
