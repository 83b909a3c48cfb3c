// Epilogue after a GEMM: x[b, c, i] = act(x[b, c, i] + bias[c]) + residual[b, c, i], in place on
// the device, f32 or f16 storage (f32 arithmetic, one rounding). The residual (optional) is the
// skip connection of a residual block, added here instead of in a pass of its own.
#pragma once

#include <cuda_fp16.h>
#include <cuda_runtime_api.h>

#include <cstdint>

#include "activation.h"

namespace vrestore::kernels {

template <class T>  // float or __half
struct BiasActivationParams {
  T* data = nullptr;        // element (b, c, i) at data[(b * channels + c) * channel_stride + i]
  const T* bias = nullptr;  // (channels) or nullptr
  const T* residual = nullptr;  // laid out like data (same strides), or nullptr
  int batch = 0;
  int channels = 0;
  int64_t plane = 0;           // elements per channel row that are processed (H*W, or a chunk of it)
  int64_t channel_stride = 0;  // distance between channel rows; 0 means `plane` (dense)
  Activation activation = Activation::None;
  float leaky_slope = 0.1f;
};

cudaError_t bias_activation(const BiasActivationParams<float>& p, cudaStream_t stream);
cudaError_t bias_activation(const BiasActivationParams<__half>& p, cudaStream_t stream);

}  // namespace vrestore::kernels
