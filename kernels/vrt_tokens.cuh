// Device code of VRT's per-token ops (vrt_tokens.h).
#pragma once

#include "cuda_compat.h"  // first: it decides what CUDA keywords mean

#include "activation.cuh"
#include "vrt_tokens.h"

namespace vrestore::kernels {

constexpr int kTransposeTile = 32;
constexpr int kTransposeRowsPerPass = 8;  // block (32, 8): each thread moves 4 elements of a tile

// grid (column tiles, row tiles, batch) with grid-stride loops on y and z; the tile goes through
// shared memory so that both the read and the write are coalesced.
template <class T>
__global__ void transpose_kernel(TransposeParams<T> p) {
  __shared__ T tile[kTransposeTile][kTransposeTile + 1];  // +1: no bank conflicts on the column read
  const int c0 = blockIdx.x * kTransposeTile;
  for (int n = blockIdx.z; n < p.batch; n += gridDim.z) {
    const T* x = p.x + int64_t(n) * p.rows * p.cols;
    T* out = p.out + int64_t(n) * p.rows * p.cols;
    for (int r0 = blockIdx.y * kTransposeTile; r0 < p.rows; r0 += gridDim.y * kTransposeTile) {
      for (int i = threadIdx.y; i < kTransposeTile; i += kTransposeRowsPerPass) {
        const int r = r0 + i, c = c0 + int(threadIdx.x);
        if (r < p.rows && c < p.cols) tile[i][threadIdx.x] = x[int64_t(r) * p.cols + c];
      }
      __syncthreads();
      for (int i = threadIdx.y; i < kTransposeTile; i += kTransposeRowsPerPass) {
        const int c = c0 + i, r = r0 + int(threadIdx.x);
        if (r < p.rows && c < p.cols) out[int64_t(c) * p.rows + r] = tile[threadIdx.x][i];
      }
      __syncthreads();
    }
  }
}

// out[r, c] = bias[c]: grid (column blocks, row blocks), rows grid-strided.
template <class T>
__global__ void bias_rows_kernel(T* out, const T* bias, int rows, int cols) {
  const int c = blockIdx.x * blockDim.x + threadIdx.x;
  if (c >= cols) return;
  const T b = bias[c];
  for (int r = blockIdx.y; r < rows; r += gridDim.y) out[int64_t(r) * cols + c] = b;
}

__device__ __forceinline__ float warp_sum(float v) {
  for (int lane_mask = 16; lane_mask > 0; lane_mask >>= 1) v += __shfl_xor_sync(0xffffffffu, v, lane_mask);
  return v;
}

// One warp per row: the mean, then the variance around it (two passes over the row, which stays in
// L1), then the normalised row. blockDim (32, rows per block).
template <class T>
__global__ void layer_norm_kernel(LayerNormParams<T> p) {
  const int r = blockIdx.x * blockDim.y + threadIdx.y;
  if (r >= p.rows) return;  // whole warps leave together: r is uniform per warp
  const T* x = p.x + int64_t(r) * p.channels;
  const int lane = threadIdx.x;
  float sum = 0.0f;
  for (int i = lane; i < p.channels; i += 32) sum += to_float(x[i]);
  const float mean = warp_sum(sum) / float(p.channels);
  float squares = 0.0f;
  for (int i = lane; i < p.channels; i += 32) {
    const float d = to_float(x[i]) - mean;
    squares += d * d;
  }
  const float rstd = rsqrtf(warp_sum(squares) / float(p.channels) + p.eps);
  T* out = p.out + int64_t(r) * p.channels;
  for (int i = lane; i < p.channels; i += 32)
    out[i] = from_float<T>((to_float(x[i]) - mean) * rstd * p.weight[i] + p.bias[i]);
}

template <class T>
__global__ void gelu_kernel(GeluParams<T> p) {
  for (int64_t i = int64_t(blockIdx.x) * blockDim.x + threadIdx.x; i < p.count; i += int64_t(gridDim.x) * blockDim.x) {
    const float v = gelu_erf(to_float(p.x[i]));
    p.out[i] = from_float<T>(p.gate ? v * to_float(p.gate[i]) : v);
  }
}

// grid (blocks over inner, blocks over outer); outer grid-strided.
template <class T>
__global__ void add_broadcast_kernel(AddBroadcastParams<T> p) {
  const int i = blockIdx.x * blockDim.x + threadIdx.x;
  if (i >= p.inner) return;
  const float y = to_float(p.y[i]);
  for (int64_t r = blockIdx.y; r < p.outer; r += gridDim.y) {
    T* x = p.x + r * p.inner + i;
    *x = from_float<T>(to_float(*x) + y);
  }
}

// One block per window token: grid (windows, tokens), both grid-strided (every count fits int: the
// op layer bounds the padded volume), threads over the channels. The block computes the token's
// voxel once; a token over padding writes zeros (partition) or nothing (reverse).
template <class T>
__global__ void window_partition_kernel(WindowPartitionParams<T> p) {
  const int tokens = p.g.tokens(), per_image = p.g.windows_per_image();
  const int windows = p.g.batch * per_image;
  for (int b = blockIdx.x; b < windows; b += gridDim.x) {
    const int n = b / per_image, w = b % per_image;
    for (int t = blockIdx.y; t < tokens; t += gridDim.y) {
      int pos[3], v[3] = {0, 0, 0};
      window_token_position(p.g, w, t, pos);
      const bool inside = window_source_voxel(p.g, pos, v);
      const int64_t voxel = ((int64_t(n) * p.g.size[0] + v[0]) * p.g.size[1] + v[1]) * p.g.size[2] + v[2];
      const int64_t row = int64_t(b) * tokens + t;
      if (!p.reverse) {
        T* dst = p.out + row * p.channels;
        const T* src = p.x + voxel * p.channels;
        for (int c = threadIdx.x; c < p.channels; c += blockDim.x) dst[c] = inside ? src[c] : from_float<T>(0.0f);
      } else if (inside) {
        T* dst = p.out + voxel * p.channels;
        const T* src = p.x + row * p.channels;
        for (int c = threadIdx.x; c < p.channels; c += blockDim.x) dst[c] = src[c];
      }
    }
  }
}

}  // namespace vrestore::kernels
