// Device code of the element-wise kernels.
#pragma once

#include "cuda_compat.h"  // first: it decides what CUDA keywords mean

#include <cstdint>

#include "activation.cuh"
#include "elementwise.h"

namespace vrestore::kernels {

// The per-element operations; each is applied to V elements at a time.
struct ActivateOp {
  Activation activation;
  float leaky_slope;
  __device__ float operator()(float x, float) const { return activate(x, activation, leaky_slope); }
};
struct AddOp {
  Activation activation;
  float leaky_slope;
  __device__ float operator()(float a, float b) const { return activate(a + b, activation, leaky_slope); }
};
struct ScaleOp {
  float scale;
  __device__ float operator()(float x, float) const { return x * scale; }
};

// x[i] = op(x[i], other[i]) for i < count (other may be nullptr for unary ops). Packs of V
// elements over [0, count / V * V) in a grid-stride loop, then the tail one element per thread;
// the launcher picks V > 1 only when every pointer is aligned to V elements.
template <class T, int V, class Op>
__global__ void elementwise_kernel(T* x, const T* other, int64_t count, Op op) {
  const int64_t packs = count / V;
  const int64_t stride = int64_t(gridDim.x) * blockDim.x;
  const int64_t first = int64_t(blockIdx.x) * blockDim.x + threadIdx.x;
  for (int64_t i = first; i < packs; i += stride) {
    Pack<T, V> a = load_pack<T, V>(x + i * V);
    Pack<T, V> b{};
    if (other) b = load_pack<T, V>(other + i * V);
    for (int e = 0; e < V; ++e) a.v[e] = from_float<T>(op(to_float(a.v[e]), other ? to_float(b.v[e]) : 0.0f));
    store_pack<T, V>(x + i * V, a);
  }
  const int64_t tail = packs * V + first;
  if (tail < count) x[tail] = from_float<T>(op(to_float(x[tail]), other ? to_float(other[tail]) : 0.0f));
}

// output[i] = input[i] in the other precision, grid-stride (the two arrays differ in element size,
// so one element per step: the loads and stores are still coalesced).
template <class From, class To>
__global__ void cast_kernel(const From* input, To* output, int64_t count) {
  const int64_t stride = int64_t(gridDim.x) * blockDim.x;
  for (int64_t i = int64_t(blockIdx.x) * blockDim.x + threadIdx.x; i < count; i += stride)
    output[i] = from_float<To>(to_float(input[i]));
}

template <class T>
struct ConcatLaunch {
  const T* parts[kConcatPartsPerLaunch];
  int part_begin[kConcatPartsPerLaunch + 1];  // first output channel of each part, relative to `channel0`
  int num_parts;
  int channel0;        // output channel of this launch's first part
  int total_channels;  // channels of the output
  T* output;
  int64_t plane;
};

// grid (x strides over the plane in packs of V, y = output channel of this launch, z = image): the
// part is found from the channel once per block; the copy is one contiguous row per (image,
// channel), so loads and stores are coalesced and V wide.
template <class T, int V>
__global__ void concat_kernel(ConcatLaunch<T> p) {
  const int channel = blockIdx.y;  // relative to channel0
  const int n = blockIdx.z;
  // Constant indices only (the loop unrolls), so the argument arrays stay out of local memory.
  const T* part = p.parts[0];
  int begin = 0, end = p.part_begin[1];
  for (int i = 1; i < kConcatPartsPerLaunch; ++i) {
    if (i < p.num_parts && channel >= p.part_begin[i]) {
      part = p.parts[i];
      begin = p.part_begin[i];
      end = p.part_begin[i + 1];
    }
  }
  const T* src = part + (int64_t(n) * (end - begin) + (channel - begin)) * p.plane;
  T* dst = p.output + (int64_t(n) * p.total_channels + p.channel0 + channel) * p.plane;
  const int64_t packs = p.plane / V;
  const int64_t stride = int64_t(gridDim.x) * blockDim.x;
  const int64_t first = int64_t(blockIdx.x) * blockDim.x + threadIdx.x;
  for (int64_t i = first; i < packs; i += stride) store_pack<T, V>(dst + i * V, load_pack<T, V>(src + i * V));
  const int64_t tail = packs * V + first;
  if (tail < p.plane) dst[tail] = src[tail];
}

}  // namespace vrestore::kernels
