// Epilogue after a GEMM: x[n, c, :] = act(x[n, c, :] + bias[c]), in place on the device.
#pragma once

#include <cuda_runtime_api.h>

#include <cstdint>

namespace vrestore::kernels {

enum class Activation { None, ReLU, LeakyReLU };

struct BiasActivationParams {
  float* data;        // (batch, channels, plane)
  const float* bias;  // (channels) or nullptr
  int batch = 0;
  int channels = 0;
  int64_t plane = 0;  // elements per channel (H*W)
  Activation activation = Activation::None;
  float leaky_slope = 0.1f;
};

cudaError_t bias_activation(const BiasActivationParams& p, cudaStream_t stream);

}  // namespace vrestore::kernels
