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

// The epilogue of one pixel chunk of a convolution's output plane: `count` pixels from `data` in
// each of `channels` rows `channel_stride` apart (the GEMM wrote them there), with the residual (if
// any) laid out alike. Nothing to launch without bias, activation and residual.
template <class T>
cudaError_t chunk_epilogue(T* data, const T* bias, const T* residual, int channels, int64_t count,
                           int64_t channel_stride, Activation activation, float leaky_slope, cudaStream_t stream) {
  if (!bias && !residual && activation == Activation::None) return cudaSuccess;
  BiasActivationParams<T> p;
  p.data = data;
  p.bias = bias;
  p.residual = residual;
  p.batch = 1;
  p.channels = channels;
  p.plane = count;
  p.channel_stride = channel_stride;
  p.activation = activation;
  p.leaky_slope = leaky_slope;
  return bias_activation(p, stream);
}

}  // namespace vrestore::kernels
