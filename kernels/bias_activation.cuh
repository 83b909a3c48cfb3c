// Device code of the bias + activation epilogue.
#pragma once

#include "cuda_compat.h"  // first: it decides what CUDA keywords mean

#include "bias_activation.h"

namespace vrestore::kernels {

__device__ __forceinline__ float activate(float v, Activation a, float leaky_slope) {
  if (a == Activation::ReLU) return v > 0.0f ? v : 0.0f;
  if (a == Activation::LeakyReLU) return v > 0.0f ? v : v * leaky_slope;
  return v;
}

// grid (ceil(plane / blockDim.x), channels, batch): the channel comes from the grid, so no
// thread divides a 64-bit index; blocks stride along the plane when it exceeds the grid.
__global__ void bias_activation_kernel(BiasActivationParams p) {
  const int c = blockIdx.y;
  float* x = p.data + (int64_t(blockIdx.z) * p.channels + c) * p.plane;
  const float b = p.bias ? p.bias[c] : 0.0f;
  for (int64_t i = int64_t(blockIdx.x) * blockDim.x + threadIdx.x; i < p.plane; i += int64_t(gridDim.x) * blockDim.x)
    x[i] = activate(x[i] + b, p.activation, p.leaky_slope);
}

}  // namespace vrestore::kernels
