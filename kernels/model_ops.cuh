// Device code of the ops extracted from the models (model_ops.h). Plane-shaped kernels take the
// row (channel or image row) from blockIdx.y and the image / frame from blockIdx.z, each in a
// grid-stride loop, so no thread divides an index; x strides over the plane.
#pragma once

#include "cuda_compat.h"  // first: it decides what CUDA keywords mean

#include <cstdint>

#include "activation.cuh"
#include "model_ops.h"

namespace vrestore::kernels {

// Threads of the sum_abs blocks: a power of two (the shared-memory tree halves it).
constexpr int kSumAbsThreads = 256;
// Blocks of the first sum_abs pass: one partial sum each, all read by the second pass's one block.
constexpr int kSumAbsBlocks = 1024;

#define VR_GRID_STRIDE(var, first, dim, end) for (int64_t var = (first); var < (end); var += int64_t(dim))

template <class T>
__global__ void channel_dot_kernel(ChannelDotParams<T> p) {
  VR_GRID_STRIDE(n, blockIdx.z, gridDim.z, p.batch) {
    const T* a = p.a + n * p.channels * p.plane;
    const T* b = p.b + n * p.channels * p.plane;
    VR_GRID_STRIDE(i, int64_t(blockIdx.x) * blockDim.x + threadIdx.x, gridDim.x * blockDim.x, p.plane) {
      float sum = 0.0f;  // the CPU's order: channel 0 first, one f32 accumulator
      for (int64_t c = 0; c < p.channels; ++c) sum += to_float(a[c * p.plane + i]) * to_float(b[c * p.plane + i]);
      p.output[n * p.plane + i] = from_float<T>(sum);
    }
  }
}

template <class T>
__global__ void mul_broadcast_channels_kernel(MulBroadcastChannelsParams<T> p) {
  VR_GRID_STRIDE(f, blockIdx.z, gridDim.z, p.frames) {
    const T* w = p.w + f * p.plane;
    VR_GRID_STRIDE(c, blockIdx.y, gridDim.y, p.channels) {
      T* x = p.x + (f * p.channels + c) * p.plane;
      VR_GRID_STRIDE(i, int64_t(blockIdx.x) * blockDim.x + threadIdx.x, gridDim.x * blockDim.x, p.plane)
      x[i] = from_float<T>(to_float(x[i]) * to_float(w[i]));
    }
  }
}

template <class T>
__global__ void mul_add_kernel(MulAddParams<T> p) {
  VR_GRID_STRIDE(i, int64_t(blockIdx.x) * blockDim.x + threadIdx.x, gridDim.x * blockDim.x, p.count)
  p.x[i] = from_float<T>(to_float(p.x[i]) * to_float(p.m[i]) * p.scale + to_float(p.add[i]));
}

template <class T>
__global__ void affine_channels_kernel(AffineChannelsParams<T> p) {
  VR_GRID_STRIDE(n, blockIdx.z, gridDim.z, p.batch) {
    VR_GRID_STRIDE(c, blockIdx.y, gridDim.y, p.channels) {
      const float shift = p.shift[c], scale = p.scale[c];
      const int64_t base = (n * p.channels + c) * p.plane;
      VR_GRID_STRIDE(i, int64_t(blockIdx.x) * blockDim.x + threadIdx.x, gridDim.x * blockDim.x, p.plane) {
        const float centred = to_float(p.input[base + i]) - shift;
        p.output[base + i] = from_float<T>(p.divide ? centred / scale : centred * scale);
      }
    }
  }
}

template <class T>
__global__ void pad_crop_kernel(PadCropParams<T> p) {
  VR_GRID_STRIDE(plane, blockIdx.z, gridDim.z, p.planes) {
    VR_GRID_STRIDE(y, blockIdx.y, gridDim.y, p.out_height) {
      const int64_t sy = pad_source_index(y - p.top, p.in_height, p.mode);
      const T* src = p.input + (plane * p.in_height + sy) * p.in_width;
      T* dst = p.output + (plane * p.out_height + y) * p.out_width;
      VR_GRID_STRIDE(x, int64_t(blockIdx.x) * blockDim.x + threadIdx.x, gridDim.x * blockDim.x, p.out_width)
      dst[x] = src[pad_source_index(x - p.left, p.in_width, p.mode)];
    }
  }
}

// Sums the block's kSumAbsThreads values of `shared` into shared[0] (every thread calls it).
__device__ inline void block_tree_sum(double* shared) {
  for (int half = kSumAbsThreads / 2; half > 0; half /= 2) {
    __syncthreads();
    if (int(threadIdx.x) < half) shared[threadIdx.x] += shared[threadIdx.x + half];
  }
  __syncthreads();
}

// Pass 1: partials[block] = sum of |input| over the block's grid-stride share, in f64.
template <class T>
__global__ void sum_abs_partial_kernel(const T* input, int64_t count, double* partials) {
  __shared__ double shared[kSumAbsThreads];
  double sum = 0.0;
  VR_GRID_STRIDE(i, int64_t(blockIdx.x) * blockDim.x + threadIdx.x, gridDim.x * blockDim.x, count)
  sum += fabs(double(to_float(input[i])));
  shared[threadIdx.x] = sum;
  block_tree_sum(shared);
  if (threadIdx.x == 0) partials[blockIdx.x] = shared[0];
}

// Pass 2, one block: *result = start + sum of the `count` partials.
__global__ void sum_abs_final_kernel(const double* partials, int count, double start, double* result) {
  __shared__ double shared[kSumAbsThreads];
  double sum = 0.0;
  for (int i = threadIdx.x; i < count; i += kSumAbsThreads) sum += partials[i];
  shared[threadIdx.x] = sum;
  block_tree_sum(shared);
  if (threadIdx.x == 0) *result = start + shared[0];
}

#undef VR_GRID_STRIDE

}  // namespace vrestore::kernels
