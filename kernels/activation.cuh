// Device side of the activations and of the f32/f16 storage conversions shared by the kernels.
#pragma once

#include "cuda_compat.h"  // first: it decides what CUDA keywords mean

#include "activation.h"

namespace vrestore::kernels {

// Matches the CPU ops (and PyTorch) also for NaN, which passes through: ReLU v < 0 ? 0 : v; leaky v >= 0 ? v : v * slope (the same for -0: -0 * slope
// is -0); sigmoid 1 / (1 + exp(-v)) with the accurate expf (the fast __expf differs by ~2 ulp
// more, which the tolerance would hide but nothing needs).
__device__ __forceinline__ float activate(float v, Activation a, float leaky_slope) {
  switch (a) {
    case Activation::ReLU: return v < 0.0f ? 0.0f : v;
    case Activation::LeakyReLU: return v > 0.0f ? v : v * leaky_slope;
    case Activation::Sigmoid: return 1.0f / (1.0f + expf(-v));
    default: return v;
  }
}

// Storage types are float or __half; arithmetic is always float.
__device__ __forceinline__ float to_float(float v) { return v; }
__device__ __forceinline__ float to_float(__half v) { return __half2float(v); }
template <class T>
__device__ __forceinline__ T from_float(float v);
template <>
__device__ __forceinline__ float from_float<float>(float v) { return v; }
template <>
__device__ __forceinline__ __half from_float<__half>(float v) { return __float2half_rn(v); }

// V consecutive elements moved as one aligned load/store (float4 / 8 halves at V*sizeof(T) = 16).
// An aggregate whose members are T may alias a T array, so the casts below are well-defined C++
// for the emulator and compile to one vector instruction under nvcc.
template <class T, int V>
struct alignas(V * sizeof(T)) Pack {
  T v[V];
};
template <class T, int V>
__device__ __forceinline__ Pack<T, V> load_pack(const T* p) {
  return *reinterpret_cast<const Pack<T, V>*>(p);
}
template <class T, int V>
__device__ __forceinline__ void store_pack(T* p, const Pack<T, V>& value) {
  *reinterpret_cast<Pack<T, V>*>(p) = value;
}

}  // namespace vrestore::kernels
