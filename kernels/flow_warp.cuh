// Device code of flow_warp.
#pragma once

#include "cuda_compat.h"  // first: it decides what CUDA keywords mean

#include <cstdint>

#include "activation.cuh"
#include "flow_warp.h"
#include "op_common.h"

namespace vrestore::kernels {

// One thread per output pixel (grid: x over W, y over H, z over N). The sample point and the four
// bilinear weights depend only on the pixel, so they are computed once and reused for every channel.
template <class T>  // float or __half features
__global__ void flow_warp_kernel(FlowWarpParamsOf<T> p) {
  const int x = blockIdx.x * blockDim.x + threadIdx.x;
  const int y = blockIdx.y * blockDim.y + threadIdx.y;
  const int n = blockIdx.z;
  if (x >= p.width || y >= p.height) return;
  const int64_t plane = int64_t(p.height) * p.width;
  const int64_t pixel = int64_t(y) * p.width + x;
  const bool planar = p.flow_layout == FlowLayout::Planar;
  const float* flow = p.flow + n * 2 * plane + (planar ? pixel : 2 * pixel);
  const float dx = flow[0];
  const float dy = flow[planar ? plane : 1];

  // The CPU's sample point, bit for bit (op_common.h): PyTorch's fp32 normalise round trip, a
  // size-1 axis sampling 0, Border clamping with NaN kept.
  float sx, sy;
  flow_warp_source(dx, dy, x, y, p.height, p.width, p.padding, sx, sy);
  // Zeros padding: a point outside (-1, W) x (-1, H) has no neighbour inside. Writing that as a
  // test also keeps huge or NaN sample points away from the float -> int conversion below.
  if (!(sx > -1.0f && sx < float(p.width) && sy > -1.0f && sy < float(p.height))) {
    for (int64_t c = 0; c < p.channels; ++c) p.output[(int64_t(n) * p.channels + c) * plane + pixel] = from_float<T>(0.0f);
    return;
  }
  const float fx0 = floorf(sx);
  const float fy0 = floorf(sy);
  const int x0 = int(fx0);
  const int y0 = int(fy0);
  // Corner weights in grid_sample's order: north-west, north-east, south-west, south-east.
  const BilinearWeights bw = bilinear_weights(sx - fx0, sy - fy0);
  float weight[4] = {bw.w00, bw.w01, bw.w10, bw.w11};
  int64_t index[4] = {0, 0, 0, 0};
  for (int corner = 0; corner < 4; ++corner) {
    const int cx = x0 + (corner & 1);
    const int cy = y0 + (corner >> 1);
    const bool inside = cx >= 0 && cx < p.width && cy >= 0 && cy < p.height;
    index[corner] = inside ? int64_t(cy) * p.width + cx : 0;  // outside: weight 0 on pixel 0
    if (!inside) weight[corner] = 0.0f;
  }

  const T* in = p.input + int64_t(n) * p.channels * plane;
  T* out = p.output + int64_t(n) * p.channels * plane + pixel;
  for (int c = 0; c < p.channels; ++c, in += plane, out += plane)
    *out = from_float<T>(to_float(in[index[0]]) * weight[0] + to_float(in[index[1]]) * weight[1] +
                         to_float(in[index[2]]) * weight[2] + to_float(in[index[3]]) * weight[3]);
}

}  // namespace vrestore::kernels
