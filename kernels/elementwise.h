// Memory-bound element-wise kernels, f32 or f16 storage (f32 arithmetic), all in place except
// concat: activation, add (optionally fused with an activation), scale, and channel concat.
// Tensors are contiguous in device memory; `count` is the number of elements. Each entry runs on
// `stream` and moves 16 bytes per access when every pointer is 16-byte aligned, with a scalar tail.
#pragma once

#include <cuda_fp16.h>
#include <cuda_runtime_api.h>

#include <cstdint>

#include "activation.h"

namespace vrestore::kernels {

// x = act(x): ReLU, leaky ReLU (leaky_slope), sigmoid; None does nothing.
template <class T>  // float or __half
struct ActivateParams {
  T* data = nullptr;
  int64_t count = 0;
  Activation activation = Activation::None;
  float leaky_slope = 0.1f;
};
cudaError_t activate(const ActivateParams<float>& p, cudaStream_t stream);
cudaError_t activate(const ActivateParams<__half>& p, cudaStream_t stream);

// a = act(a + b), same shape (the residual adds of the models, with the activation that follows).
template <class T>
struct AddParams {
  T* a = nullptr;
  const T* b = nullptr;
  int64_t count = 0;
  Activation activation = Activation::None;
  float leaky_slope = 0.1f;
};
cudaError_t add(const AddParams<float>& p, cudaStream_t stream);
cudaError_t add(const AddParams<__half>& p, cudaStream_t stream);

// x = x * scale.
template <class T>
struct ScaleParams {
  T* data = nullptr;
  int64_t count = 0;
  float scale = 1.0f;
};
cudaError_t scale(const ScaleParams<float>& p, cudaStream_t stream);
cudaError_t scale(const ScaleParams<__half>& p, cudaStream_t stream);

// output[i] = input[i] converted between f32 and f16 (round to nearest even), i < count: the
// precision changes of mixed-precision models (f16 features into the f32 offset convs, f32
// images into f16 feature convs).
template <class From, class To>
struct CastParams {
  const From* input = nullptr;
  To* output = nullptr;
  int64_t count = 0;
};
cudaError_t cast(const CastParams<float, __half>& p, cudaStream_t stream);
cudaError_t cast(const CastParams<__half, float>& p, cudaStream_t stream);

// output (N, sum Ci, plane) = the parts (N, Ci, plane) one after another along dimension 1.
// `parts` and `part_channels` are host arrays of num_parts entries (device pointers / channel
// counts); the launcher copies them into the kernel's arguments, kConcatPartsPerLaunch at a time.
template <class T>
struct ConcatParams {
  const T* const* parts = nullptr;
  const int* part_channels = nullptr;
  int num_parts = 0;
  T* output = nullptr;
  int batch = 0;
  int64_t plane = 0;  // elements per channel: H*W
};
constexpr int kConcatPartsPerLaunch = 8;
cudaError_t concat(const ConcatParams<float>& p, cudaStream_t stream);
cudaError_t concat(const ConcatParams<__half>& p, cudaStream_t stream);

}  // namespace vrestore::kernels
