// Device code of the chunked, modulated deformable im2col.
#pragma once

#include "cuda_compat.h"  // first: it decides what CUDA keywords mean

#include <cstdint>

#include "activation.cuh"
#include "deform_conv2d.h"

namespace vrestore::kernels {

// The chunk of image `n` that one launch fills: output pixels [begin, begin + count) of the
// flattened Ho*Wo plane; the tile is (Cin*K, count) with row (c*K + k).
struct DeformChunk {
  int n;
  int begin;
  int count;
};

// One thread per (pixel of the chunk, tap, deformable group): grid.x covers the chunk, grid.y is
// the tap k, grid.z the group g, so no thread divides a 64-bit index. The sample point, the four
// corner indices and the bilinear weights with the mask folded in are computed once and reused
// for the Cin/G channels of the group. Neighbouring threads are neighbouring output pixels, so
// offset/mask reads and tile writes are coalesced.
//
// torchvision's rule: a sample outside (-1, H) x (-1, W) is 0 (times the mask, so a NaN mask
// stays NaN); inside, each of the four neighbours contributes only if it lies in the image.
template <class T>
__global__ void deform_im2col_kernel(DeformConv2dParams<T> p, DeformChunk chunk) {
  const int local = blockIdx.x * blockDim.x + threadIdx.x;
  if (local >= chunk.count) return;
  const int k = blockIdx.y;
  const int g = blockIdx.z;
  const int taps = p.kernel_h * p.kernel_w;
  const int64_t out_plane = int64_t(p.out_height) * p.out_width;
  const int pixel = chunk.begin + local;
  const int oy = pixel / p.out_width;
  const int ox = pixel - oy * p.out_width;
  const int ky = k / p.kernel_w;
  const int kx = k - ky * p.kernel_w;

  const int64_t offset_channel = (int64_t(chunk.n) * p.deformable_groups + g) * 2 * taps + 2 * k;
  const float dy = p.offset[offset_channel * out_plane + pixel];
  const float dx = p.offset[(offset_channel + 1) * out_plane + pixel];
  const float m = p.mask[((int64_t(chunk.n) * p.deformable_groups + g) * taps + k) * out_plane + pixel];
  const float y = float(oy * p.stride_h - p.pad_h + ky * p.dilation_h) + dy;
  const float x = float(ox * p.stride_w - p.pad_w + kx * p.dilation_w) + dx;

  // Corners in the order top-left, top-right, bottom-left, bottom-right.
  float weight[4] = {0.0f, 0.0f, 0.0f, 0.0f};
  int64_t index[4] = {0, 0, 0, 0};
  bool valid[4] = {false, false, false, false};
  if (y > -1.0f && y < float(p.height) && x > -1.0f && x < float(p.width)) {  // false for NaN too
    const float fy = floorf(y);
    const float fx = floorf(x);
    const int y0 = int(fy);
    const int x0 = int(fx);
    const float ly = y - fy;
    const float lx = x - fx;
    const float hy = 1.0f - ly;
    const float hx = 1.0f - lx;
    weight[0] = m * (hy * hx);
    weight[1] = m * (hy * lx);
    weight[2] = m * (ly * hx);
    weight[3] = m * (ly * lx);
    for (int corner = 0; corner < 4; ++corner) {
      const int cy = y0 + (corner >> 1);
      const int cx = x0 + (corner & 1);
      valid[corner] = cy >= 0 && cy < p.height && cx >= 0 && cx < p.width;
      index[corner] = valid[corner] ? int64_t(cy) * p.width + cx : 0;
    }
  } else {
    for (int corner = 0; corner < 4; ++corner) weight[corner] = m * 0.0f;
  }

  const int per_group = p.in_channels / p.deformable_groups;
  const int64_t in_plane = int64_t(p.height) * p.width;
  const int c0 = g * per_group;
  const T* image = p.input + (int64_t(chunk.n) * p.in_channels + c0) * in_plane;
  T* tile = p.workspace + (int64_t(c0) * taps + k) * chunk.count + local;
  const int64_t tile_channel_stride = int64_t(taps) * chunk.count;
  for (int c = 0; c < per_group; ++c, image += in_plane, tile += tile_channel_stride) {
    float value = 0.0f;
    for (int corner = 0; corner < 4; ++corner)
      value += weight[corner] * (valid[corner] ? to_float(image[index[corner]]) : 0.0f);
    *tile = from_float<T>(value);
  }
}

}  // namespace vrestore::kernels
