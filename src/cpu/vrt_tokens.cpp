// CPU bodies of VRT's per-token ops (arguments checked by core/ops_vrt.cpp): layer_norm, GELU /
// GEGLU product, broadcast add, channel-first <-> channel-last transpose, and the fused window
// partition / reverse. They are the reference: plain loops in the op's own order, f32 storage,
// layer-norm statistics in double. linear and window_attention are in vrt_kernels.cpp (per ISA).
#include <algorithm>
#include <cmath>
#include <cstring>
#include <vector>

#include "core/op_list.h"

namespace vrestore::cpu {

void run(const ops::LayerNormArgs& a) {
  const int64_t rows = a.rows, c = a.channels;
  const float* x = a.x.data();
  const float* w = a.weight.data();
  const float* b = a.bias.data();
  Tensor out_tensor = a.out;
  float* out = out_tensor.data();
#pragma omp parallel for schedule(static) if (rows * c > (1 << 16))
  for (int64_t r = 0; r < rows; ++r) {
    const float* xr = x + r * c;
    double sum = 0;
    for (int64_t i = 0; i < c; ++i) sum += xr[i];
    const double mean = sum / static_cast<double>(c);
    double squares = 0;
    for (int64_t i = 0; i < c; ++i) squares += (xr[i] - mean) * (xr[i] - mean);
    const double rstd = 1.0 / std::sqrt(squares / static_cast<double>(c) + static_cast<double>(a.eps));
    float* y = out + r * c;
    for (int64_t i = 0; i < c; ++i) y[i] = static_cast<float>((xr[i] - mean) * rstd) * w[i] + b[i];
  }
}

void run(const ops::GeluArgs& a) {
  const int64_t n = a.x.numel();
  const float* x = a.x.data();
  const float* gate = a.gate.defined() ? a.gate.data() : nullptr;
  Tensor out_tensor = a.out;
  float* out = out_tensor.data();
#pragma omp parallel for schedule(static) if (n > (1 << 15))
  for (int64_t i = 0; i < n; ++i) out[i] = gate ? gelu_erf(x[i]) * gate[i] : gelu_erf(x[i]);
}

void run(const ops::AddBroadcastArgs& a) {
  Tensor x_tensor = a.x;
  float* x = x_tensor.data();
  const float* y = a.y.data();
  const int64_t inner = a.y.numel(), outer = a.x.numel() / inner;
#pragma omp parallel for schedule(static) if (outer * inner > (1 << 16))
  for (int64_t r = 0; r < outer; ++r)
    for (int64_t i = 0; i < inner; ++i) x[r * inner + i] += y[i];
}

void run(const ops::TransposeArgs& a) {
  const float* x = a.x.data();
  Tensor out_tensor = a.out;
  float* out = out_tensor.data();
  const int64_t rows = a.rows, cols = a.cols;
  constexpr int64_t kTile = 32;  // square tiles keep both sides' cache lines in use
#pragma omp parallel for collapse(2) schedule(static) if (a.x.numel() > (1 << 16))
  for (int64_t n = 0; n < a.batch; ++n)
    for (int64_t r0 = 0; r0 < rows; r0 += kTile)
      for (int64_t c0 = 0; c0 < cols; c0 += kTile)
        for (int64_t r = r0; r < std::min(rows, r0 + kTile); ++r)
          for (int64_t c = c0; c < std::min(cols, c0 + kTile); ++c)
            out[(n * cols + c) * rows + r] = x[(n * rows + r) * cols + c];
}

void run(const ops::WindowPartitionArgs& a) {
  const WindowGeometry& g = a.g;
  const int64_t channels = a.channels, tokens = g.tokens(), per_image = g.windows_per_image();
  const int64_t windows = int64_t{g.batch} * per_image;
  const float* src = a.x.data();
  Tensor out_tensor = a.out;
  float* dst = out_tensor.data();
  const size_t row_bytes = static_cast<size_t>(channels) * sizeof(float);
  // Both directions walk the window tokens; a token over padding is zero (partition) or dropped
  // (reverse), and every voxel of the volume is exactly one window token.
#pragma omp parallel for schedule(static) if (windows * tokens * channels > (1 << 16))
  for (int64_t b = 0; b < windows; ++b) {
    const int64_t n = b / per_image;
    const int w = static_cast<int>(b % per_image);
    for (int t = 0; t < tokens; ++t) {
      int p[3], v[3] = {0, 0, 0};
      window_token_position(g, w, t, p);
      const bool inside = window_source_voxel(g, p, v);
      const int64_t voxel = ((n * g.size[0] + v[0]) * g.size[1] + v[1]) * g.size[2] + v[2];
      const int64_t token_row = b * tokens + t;
      if (!a.reverse) {
        if (inside) std::memcpy(dst + token_row * channels, src + voxel * channels, row_bytes);
        else std::memset(dst + token_row * channels, 0, row_bytes);
      } else if (inside) {
        std::memcpy(dst + voxel * channels, src + token_row * channels, row_bytes);
      }
    }
  }
}

}  // namespace vrestore::cpu
