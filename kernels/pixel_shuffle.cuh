// Device code of PixelShuffle.
#pragma once

#include "cuda_compat.h"  // first: it decides what CUDA keywords mean

#include <cstdint>

#include "pixel_shuffle.h"

namespace vrestore::kernels {

template <class T>
struct PixelShuffleParams {
  const T* input;
  T* output;
  PixelShuffleShape shape;
  int64_t rows;  // output rows over all planes: batch * out_channels * height * factor
};

// One thread per output element of a row, so writes are coalesced; reads gather from `factor`
// input planes. grid.x covers the output width, grid.y strides over output rows (all planes), so
// the one 64-bit division per row stays out of the per-element work.
template <class T>
__global__ void pixel_shuffle_kernel(PixelShuffleParams<T> p) {
  const int r = p.shape.factor;
  const int out_h = p.shape.height * r;
  const int out_w = p.shape.width * r;
  const int ow = blockIdx.x * blockDim.x + threadIdx.x;
  if (ow >= out_w) return;
  const int w = ow / r;
  const int j = ow - w * r;
  for (int64_t row = blockIdx.y; row < p.rows; row += gridDim.y) {
    const int64_t plane = row / out_h;  // n * C + c
    const int oh = int(row - plane * out_h);
    const int h = oh / r;
    const int i = oh - h * r;
    const int64_t in_plane = plane * r * r + i * r + j;  // n * C*r*r + c*r*r + i*r + j
    p.output[row * out_w + ow] = p.input[(in_plane * p.shape.height + h) * p.shape.width + w];
  }
}

}  // namespace vrestore::kernels
