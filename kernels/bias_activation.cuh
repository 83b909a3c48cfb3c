// Device code of the bias + activation epilogue.
#pragma once

#include "cuda_compat.h"  // first: it decides what CUDA keywords mean

#include "activation.cuh"
#include "bias_activation.h"

namespace vrestore::kernels {

// grid (ceil(plane / blockDim.x), channels, batch): the channel comes from the grid, so no
// thread divides a 64-bit index; blocks stride along the plane when it exceeds the grid.
template <class T>
__global__ void bias_activation_kernel(BiasActivationParams<T> p) {
  const int c = blockIdx.y;
  const int64_t stride = p.channel_stride > 0 ? p.channel_stride : p.plane;
  const int64_t row = (int64_t(blockIdx.z) * p.channels + c) * stride;
  T* x = p.data + row;
  const T* r = p.residual ? p.residual + row : nullptr;
  const float b = p.bias ? to_float(p.bias[c]) : 0.0f;
  for (int64_t i = int64_t(blockIdx.x) * blockDim.x + threadIdx.x; i < p.plane; i += int64_t(gridDim.x) * blockDim.x) {
    const float y = activate(to_float(x[i]) + b, p.activation, p.leaky_slope);
    x[i] = from_float<T>(r ? y + to_float(r[i]) : y);
  }
}

}  // namespace vrestore::kernels
