// Device code of PixelShuffle.
#pragma once

#include "cuda_compat.h"  // first: it decides what CUDA keywords mean

#include <cstdint>

#include "activation.cuh"
#include "pixel_shuffle.h"

namespace vrestore::kernels {

template <class T>
struct PixelShuffleParams {
  const T* input;
  T* output;
  PixelShuffleShape shape;
  int64_t rows;  // output rows over all planes: batch * out_channels * height * factor
  int runs;      // runs per output row: width / V
};

// Output row (plane, oh = h*r + i) interleaves input rows h of the r planes plane*r*r + i*r + j:
// out[w*r + j] = in_j[w]. A thread owns a run of V consecutive input columns [w, w + V): it reads
// V contiguous elements from each of the r input rows (one vector load each) and writes the
// V*r contiguous output elements they become (r vector stores), so both sides are coalesced and
// as wide as the alignment allows. Block: x over the runs of a row, y over rows (strided).
// R is the factor when it is a compile-time constant (registers hold the r x V values), 0 for
// any other factor (then V = 1 and the r values go straight through).
template <class T, int R, int V>
__global__ void pixel_shuffle_kernel(PixelShuffleParams<T> p) {
  const int run = blockIdx.x * blockDim.x + threadIdx.x;
  if (run >= p.runs) return;
  const int r = R > 0 ? R : p.shape.factor;
  const int64_t in_plane = int64_t(p.shape.height) * p.shape.width;
  const int out_h = p.shape.height * r;
  const int64_t out_w = int64_t(p.shape.width) * r;
  for (int64_t row = int64_t(blockIdx.y) * blockDim.y + threadIdx.y; row < p.rows;
       row += int64_t(gridDim.y) * blockDim.y) {
    // One division per run of V*r elements; 32-bit whenever the row count allows.
    const int64_t plane = row <= INT32_MAX ? int64_t(unsigned(row) / unsigned(out_h)) : row / out_h;
    const int oh = int(row - plane * out_h);
    const int h = oh / r;
    const int i = oh - h * r;
    const T* in = p.input + ((plane * r * r + i * r) * p.shape.height + h) * p.shape.width + int64_t(run) * V;
    T* out = p.output + row * out_w + int64_t(run) * V * r;
    if constexpr (R == 0) {
      for (int j = 0; j < r; ++j) out[j] = in[j * in_plane];
    } else {
      Pack<T, V> values[R];
      for (int j = 0; j < R; ++j) values[j] = load_pack<T, V>(in + j * in_plane);
      for (int q = 0; q < R; ++q) {
        Pack<T, V> packed;
        for (int e = 0; e < V; ++e) {
          const int t = q * V + e;  // output element of the run: column t / R of input row t % R
          packed.v[e] = values[t % R].v[t / R];
        }
        store_pack<T, V>(out + q * V, packed);
      }
    }
  }
}

}  // namespace vrestore::kernels
