// PixelShuffle on the device: (N, C*r*r, H, W) -> (N, C, H*r, W*r),
// out[n, c, h*r+i, w*r+j] = in[n, c*r*r + i*r + j, h, w]. Pure data movement: bit-exact.
#pragma once

#include <cuda_fp16.h>
#include <cuda_runtime_api.h>

namespace vrestore::kernels {

struct PixelShuffleShape {
  int batch = 0;
  int out_channels = 0;  // C; the input has C*r*r channels
  int height = 0;        // input H
  int width = 0;         // input W
  int factor = 0;        // r
};

cudaError_t pixel_shuffle(const PixelShuffleShape& s, const float* input, float* output, cudaStream_t stream);
cudaError_t pixel_shuffle(const PixelShuffleShape& s, const __half* input, __half* output, cudaStream_t stream);

}  // namespace vrestore::kernels
