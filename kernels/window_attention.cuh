// Device code of the fused window attention (window_attention.h).
#pragma once

#include "cuda_compat.h"  // first: it decides what CUDA keywords mean

#include "activation.cuh"
#include "window_attention.h"

// The register arrays below stay out of local memory only because their loops unroll completely
// (`VR_UNROLL`, i.e. `#pragma unroll`; without it ptxas puts the score tile on the stack). The emulated build's host
// compiler ignores the pragma (GCC 12 warns -Wunknown-pragmas; nothing else changes).

namespace vrestore::kernels {

constexpr int kAttentionQueries = 64;  // threads per block, one query each
constexpr int kAttentionKeyTile = 16;  // keys staged in shared memory per step (their scores live in registers)
constexpr float kAttentionNoScore = -3.402823466e38f;  // below every real score; exp of the difference is 0

// A block computes up to kAttentionQueries queries of one head of one window against all keys of
// its key set, one key tile at a time with an online softmax (running max and sum in f32).
// Query groups: self attention has one (queries = keys = the window's tokens); mutual attention
// two, group 0 = second-frame queries on first-frame keys written to slots [0, T/2), group 1 = the
// reverse written to slots [T/2, T). Inside a group, i and j number queries and keys from 0, which
// is also how the bias index and the mask (first-frame block for mutual) are addressed.
// grid (windows, groups * query tiles per group, heads); windows grid-strided.
template <class T, int kMaxHeadDim>
__global__ void window_attention_kernel(WindowAttentionParams<T> p) {
  __shared__ float keys[kAttentionKeyTile][kMaxHeadDim];
  __shared__ float values[kAttentionKeyTile][kMaxHeadDim];
  __shared__ int key_label[kAttentionKeyTile];
  __shared__ int key_offset[kAttentionKeyTile];  // minus the key's part of the relative-position index

  const int tokens = p.g.tokens(), per_image = p.g.windows_per_image();
  const int windows = p.g.batch * per_image;
  const int group_size = p.mutual ? tokens / 2 : tokens;
  const int tiles_per_group = (group_size + kAttentionQueries - 1) / kAttentionQueries;
  const int group = blockIdx.y / tiles_per_group;
  const int i = (blockIdx.y % tiles_per_group) * kAttentionQueries + threadIdx.x;
  const bool active = i < group_size;
  const int query_begin = p.mutual && group == 0 ? group_size : 0;
  const int key_begin = p.mutual && group == 1 ? group_size : 0;
  const int slot_begin = group * group_size;
  const int h = blockIdx.z;
  const int channels = p.heads * p.head_dim;
  const int64_t stride = 3 * int64_t(channels);
  const bool masked = p.g.shifted();
  const bool biased = p.bias_table != nullptr;
  // relative_position_index(full, i, j) = base(i) - offset(j), both linear in the coordinates.
  const int span_w = 2 * p.full_window[2] - 1, span_hw = (2 * p.full_window[1] - 1) * span_w;
  const int plane = p.full_window[1] * p.full_window[2];
  const int index_base = (p.full_window[0] - 1) * span_hw + (p.full_window[1] - 1) * span_w + p.full_window[2] - 1;

  for (int b = blockIdx.x; b < windows; b += gridDim.x) {
    const int w = b % per_image;
    const T* base = p.qkv + int64_t(b) * tokens * stride + int64_t(h) * p.head_dim;

    float q[kMaxHeadDim], acc[kMaxHeadDim];
    int query_label = 0, query_index = 0;
VR_UNROLL
    for (int d = 0; d < kMaxHeadDim; ++d) {
      // upstream scales q before the product (q * scale, rounded to f32, then q·kᵀ)
      q[d] = active && d < p.head_dim ? to_float(base[int64_t(query_begin + i) * stride + d]) * p.scale : 0.0f;
      acc[d] = 0.0f;
    }
    if (active) {
      if (masked) query_label = window_token_label(p.g, w, i);
      query_index = index_base + (i / plane) * span_hw + ((i / p.full_window[2]) % p.full_window[1]) * span_w +
                    i % p.full_window[2];
    }
    float running_max = kAttentionNoScore, running_sum = 0.0f;

    for (int j0 = 0; j0 < group_size; j0 += kAttentionKeyTile) {
      const int count = group_size - j0 < kAttentionKeyTile ? group_size - j0 : kAttentionKeyTile;
      __syncthreads();  // the previous tile has been read by every thread
      for (int e = threadIdx.x; e < count * p.head_dim; e += blockDim.x) {
        const int j = e / p.head_dim, d = e - j * p.head_dim;
        const int64_t row = int64_t(key_begin + j0 + j) * stride;
        keys[j][d] = to_float(base[row + channels + d]);
        values[j][d] = to_float(base[row + 2 * channels + d]);
      }
      for (int j = threadIdx.x; j < count; j += blockDim.x) {
        const int key = j0 + j;
        key_label[j] = masked ? window_token_label(p.g, w, key) : 0;
        key_offset[j] = (key / plane) * span_hw + ((key / p.full_window[2]) % p.full_window[1]) * span_w +
                        key % p.full_window[2];
      }
      __syncthreads();
      if (!active) continue;

      float score[kAttentionKeyTile];
      float tile_max = kAttentionNoScore;
VR_UNROLL
      for (int j = 0; j < kAttentionKeyTile; ++j) {
        score[j] = kAttentionNoScore;
        if (j < count) {
          float dot = 0.0f;
VR_UNROLL
          for (int d = 0; d < kMaxHeadDim; ++d)
            if (d < p.head_dim) dot += q[d] * keys[j][d];
          if (biased) dot += to_float(p.bias_table[int64_t(query_index - key_offset[j]) * p.heads + h]);
          if (masked && key_label[j] != query_label) dot += kWindowMaskValue;
          score[j] = dot;
          tile_max = fmaxf(tile_max, dot);
        }
      }
      const float new_max = fmaxf(running_max, tile_max);
      const float correction = expf(running_max - new_max);
      running_sum *= correction;
VR_UNROLL
      for (int d = 0; d < kMaxHeadDim; ++d) acc[d] *= correction;
VR_UNROLL
      for (int j = 0; j < kAttentionKeyTile; ++j) {
        if (j < count) {
          const float weight = expf(score[j] - new_max);
          running_sum += weight;
VR_UNROLL
          for (int d = 0; d < kMaxHeadDim; ++d)
            if (d < p.head_dim) acc[d] += weight * values[j][d];
        }
      }
      running_max = new_max;
    }
    if (active) {
      T* out = p.out + (int64_t(b) * tokens + slot_begin + i) * channels + int64_t(h) * p.head_dim;
      const float inverse = 1.0f / running_sum;
VR_UNROLL
      for (int d = 0; d < kMaxHeadDim; ++d)
        if (d < p.head_dim) out[d] = from_float<T>(acc[d] * inverse);
    }
  }
}

}  // namespace vrestore::kernels
