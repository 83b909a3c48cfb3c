// Device code of the modulated deformable im2col.
#pragma once

#include "cuda_compat.h"  // first: it decides what CUDA keywords mean

#include <cstdint>

#include "deform_conv2d.h"

namespace vrestore::kernels {

// Bilinear sample of one (H, W) plane with torchvision's out-of-image rule: a point outside
// (-1, H) x (-1, W) is 0; otherwise each of the four neighbours contributes only if it is inside.
__device__ __forceinline__ float deform_bilinear(const float* plane, int height, int width, float y, float x) {
  if (!(y > -1.0f && y < float(height) && x > -1.0f && x < float(width))) return 0.0f;  // also catches NaN
  const float fy = floorf(y);
  const float fx = floorf(x);
  const int y_low = int(fy);
  const int x_low = int(fx);
  const int y_high = y_low + 1;
  const int x_high = x_low + 1;
  const float ly = y - fy;
  const float lx = x - fx;
  const float hy = 1.0f - ly;
  const float hx = 1.0f - lx;
  const float v1 = (y_low >= 0 && x_low >= 0) ? plane[int64_t(y_low) * width + x_low] : 0.0f;
  const float v2 = (y_low >= 0 && x_high < width) ? plane[int64_t(y_low) * width + x_high] : 0.0f;
  const float v3 = (y_high < height && x_low >= 0) ? plane[int64_t(y_high) * width + x_low] : 0.0f;
  const float v4 = (y_high < height && x_high < width) ? plane[int64_t(y_high) * width + x_high] : 0.0f;
  return hy * hx * v1 + hy * lx * v2 + ly * hx * v3 + ly * lx * v4;
}

// One thread per (input channel, output pixel) of image `n`: grid.x covers Ho*Wo, grid.y is the
// channel (so no thread divides a 64-bit index). The thread fills the kh*kw column rows of its
// channel: columns[(c*K + k), pixel] = mask * sample. Neighbouring threads are neighbouring output
// pixels, so offset/mask reads and column writes are coalesced.
__global__ void deform_im2col_kernel(DeformConv2dParams p, int n) {
  const int out_plane = p.out_height * p.out_width;
  const int pixel = blockIdx.x * blockDim.x + threadIdx.x;
  if (pixel >= out_plane) return;
  const int c = blockIdx.y;
  const int oy = pixel / p.out_width;
  const int ox = pixel - oy * p.out_width;
  const int taps = p.kernel_h * p.kernel_w;
  const int group = c / (p.in_channels / p.deformable_groups);

  const float* image = p.input + (int64_t(n) * p.in_channels + c) * p.height * p.width;
  const float* offset = p.offset + (int64_t(n) * p.deformable_groups + group) * 2 * taps * out_plane + pixel;
  const float* mask = p.mask + (int64_t(n) * p.deformable_groups + group) * taps * out_plane + pixel;
  float* column = p.columns + int64_t(c) * taps * out_plane + pixel;

  const int y_base = oy * p.stride_h - p.pad_h;
  const int x_base = ox * p.stride_w - p.pad_w;
  for (int ky = 0; ky < p.kernel_h; ++ky) {
    for (int kx = 0; kx < p.kernel_w; ++kx) {
      const int k = ky * p.kernel_w + kx;
      const float dy = offset[int64_t(2 * k) * out_plane];
      const float dx = offset[int64_t(2 * k + 1) * out_plane];
      const float y = float(y_base + ky * p.dilation_h) + dy;
      const float x = float(x_base + kx * p.dilation_w) + dx;
      column[int64_t(k) * out_plane] = mask[int64_t(k) * out_plane] * deform_bilinear(image, p.height, p.width, y, x);
    }
  }
}

}  // namespace vrestore::kernels
