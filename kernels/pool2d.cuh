// Device code of max and average pooling.
#pragma once

#include "cuda_compat.h"  // first: it decides what CUDA keywords mean

#include <cstdint>

#include "activation.cuh"
#include "pool2d.h"

namespace vrestore::kernels {

// One thread per output element (grid: x over the output width, y over its height, z strides
// over the N*C planes), reading its window from one plane.
template <class T, bool kMax>
__global__ void pool2d_kernel(Pool2dParams<T> p) {
  const int ox = blockIdx.x * blockDim.x + threadIdx.x;
  const int oy = blockIdx.y * blockDim.y + threadIdx.y;
  if (ox >= p.out_width || oy >= p.out_height) return;
  const int64_t planes = int64_t(p.batch) * p.channels;
  const int64_t in_plane = int64_t(p.height) * p.width;
  // The padded window [py0, py1) x [px0, px1) clipped to the padded image, and its in-image part.
  const int py0 = oy * p.stride - p.padding, px0 = ox * p.stride - p.padding;
  const int py1 = py0 + p.kernel < p.height + p.padding ? py0 + p.kernel : p.height + p.padding;
  const int px1 = px0 + p.kernel < p.width + p.padding ? px0 + p.kernel : p.width + p.padding;
  const int y0 = py0 > 0 ? py0 : 0, y1 = py1 < p.height ? py1 : p.height;
  const int x0 = px0 > 0 ? px0 : 0, x1 = px1 < p.width ? px1 : p.width;
  const float count = float(p.count_include_pad ? (py1 - py0) * (px1 - px0) : (y1 - y0) * (x1 - x0));
  for (int64_t plane = blockIdx.z; plane < planes; plane += gridDim.z) {
    const T* in = p.input + plane * in_plane;
    float result;
    if constexpr (kMax) {
      result = -INFINITY;
      for (int y = y0; y < y1; ++y)
        for (int x = x0; x < x1; ++x) {
          const float v = to_float(in[int64_t(y) * p.width + x]);
          if (v > result || v != v) result = v;  // NaN wins, as in PyTorch
        }
    } else {
      float sum = 0.0f;
      for (int y = y0; y < y1; ++y)
        for (int x = x0; x < x1; ++x) sum += to_float(in[int64_t(y) * p.width + x]);
      result = sum / count;
    }
    p.output[(plane * p.out_height + oy) * p.out_width + ox] = from_float<T>(result);
  }
}

}  // namespace vrestore::kernels
