// Device code of VRT's warp-side ops (vrt_warp.h).
#pragma once

#include "cuda_compat.h"  // first: it decides what CUDA keywords mean

#include "activation.cuh"
#include "vrt_warp.h"

namespace vrestore::kernels {

// One thread per output pixel (grid-strided over N·H·W): the 4 corners' indices once, then the
// channels, each block of C written with the pixel's stride.
template <class T>
__global__ void nearest4_warp_kernel(Nearest4WarpParams<T> p) {
  const int64_t plane = int64_t(p.height) * p.width, total = plane * p.batch;
  for (int64_t i = int64_t(blockIdx.x) * blockDim.x + threadIdx.x; i < total; i += int64_t(gridDim.x) * blockDim.x) {
    const int64_t n = i / plane, pix = i % plane;
    const int y = int(pix / p.width), x = int(pix % p.width);
    const float* f = p.flow + n * 2 * plane;
    const float vx = float(x) + f[pix], vy = float(y) + f[plane + pix];
    for (int corner = 0; corner < 4; ++corner) {  // block = x corner · 2 + y corner
      const int64_t sx = nearest4_index(vx, corner >= 2, p.width), sy = nearest4_index(vy, corner % 2 == 1, p.height);
      const bool inside = sx >= 0 && sy >= 0;
      const T* src = p.input + n * p.channels * plane + (inside ? sy * p.width + sx : 0);
      T* dst = p.output + (n * 4 + corner) * p.channels * plane + pix;
      for (int c = 0; c < p.channels; ++c) dst[c * plane] = inside ? src[c * plane] : from_float<T>(0.0f);
    }
  }
}

// One thread per (n, raw channel, pixel), grid-strided: offset channels take tanh + flow, the
// mask channels sigmoid (activation.cuh's, the same expf the CPU uses).
template <class T>
__global__ void flow_guided_offset_kernel(FlowGuidedOffsetParams<T> p) {
  const int64_t pairs = 9 * int64_t(p.groups), channels = 3 * pairs, total = channels * p.plane * p.batch;
  const int64_t per_neighbour = pairs / p.neighbours;
  for (int64_t i = int64_t(blockIdx.x) * blockDim.x + threadIdx.x; i < total; i += int64_t(gridDim.x) * blockDim.x) {
    const int64_t pix = i % p.plane, ch = (i / p.plane) % channels, n = i / (p.plane * channels);
    const float v = to_float(p.raw[i]);
    if (ch < 2 * pairs) {
      const int64_t neighbour = (ch / 2) / per_neighbour;
      const int64_t component = ch % 2 == 0 ? 1 : 0;  // Δy takes the flow's dy, Δx its dx
      const float flow = p.flows[((n * p.neighbours + neighbour) * 2 + component) * p.plane + pix];
      p.offset[(n * 2 * pairs + ch) * p.plane + pix] = flow_guided_offset_value(v, flow, p.max_residue);
    } else {
      p.mask[(n * pairs + ch - 2 * pairs) * p.plane + pix] = activate(v, Activation::Sigmoid, 0.0f);
    }
  }
}

}  // namespace vrestore::kernels
