// Device code of the chunked im2col of conv2d.h.
#pragma once

#include "cuda_compat.h"  // first: it decides what CUDA keywords mean

#include <cstdint>

#include "activation.cuh"
#include "conv2d.h"

namespace vrestore::kernels {

// Input channels one thread copies for its (pixel, tap): enough to reuse the index arithmetic,
// few enough that a 64-channel layer still spreads over 4x more blocks than one slice would.
constexpr int kConvChannelsPerThread = 16;

// The chunk of image `n` that one launch fills: output pixels [begin, begin + count) of the
// flattened Ho*Wo plane; the tile is (Cin*K, count) with row (c*K + k).
struct ConvChunk {
  int n;
  int begin;
  int count;
};

// One thread per (pixel of the chunk, tap, slice of kConvChannelsPerThread channels): grid.x
// covers the chunk, grid.y is the tap k, grid.z the channel slice, so no thread divides a 64-bit
// index. The input position and whether it lies in the image are computed once per thread.
// Neighbouring threads are neighbouring output pixels, so tile writes are coalesced (and input
// reads too at stride 1).
template <class T>
__global__ void conv2d_im2col_kernel(Conv2dParams<T> p, ConvChunk chunk) {
  const int local = blockIdx.x * blockDim.x + threadIdx.x;
  if (local >= chunk.count) return;
  const int k = blockIdx.y;
  const int c_begin = blockIdx.z * kConvChannelsPerThread;
  const int c_end = c_begin + kConvChannelsPerThread < p.in_channels ? c_begin + kConvChannelsPerThread
                                                                     : p.in_channels;
  const int taps = p.kernel_h * p.kernel_w;
  const int pixel = chunk.begin + local;
  const int oy = pixel / p.out_width;
  const int ox = pixel - oy * p.out_width;
  const int ky = k / p.kernel_w;
  const int kx = k - ky * p.kernel_w;
  const int y = oy * p.stride_h - p.pad_h + ky * p.dilation_h;
  const int x = ox * p.stride_w - p.pad_w + kx * p.dilation_w;
  const bool inside = y >= 0 && y < p.height && x >= 0 && x < p.width;

  const int64_t in_plane = int64_t(p.height) * p.width;
  const int64_t at = inside ? int64_t(y) * p.width + x : 0;  // never read when outside
  const T* image = p.input + (int64_t(chunk.n) * p.in_channels + c_begin) * in_plane + at;
  T* tile = p.workspace + (int64_t(c_begin) * taps + k) * chunk.count + local;
  const int64_t tile_channel_stride = int64_t(taps) * chunk.count;
  const T zero = from_float<T>(0.0f);
  for (int c = c_begin; c < c_end; ++c, image += in_plane, tile += tile_channel_stride) *tile = inside ? *image : zero;
}

}  // namespace vrestore::kernels
