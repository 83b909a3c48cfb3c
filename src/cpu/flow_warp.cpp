// flow_warp on the CPU. Bilinear weights and neighbour offsets are computed once per output
// pixel (one row at a time) and reused for every channel, so the channel loop is 4 gathers and
// 4 multiply-adds per value.
#include <algorithm>
#include <cmath>
#include <vector>

#include "core/check.h"
#include "core/ops.h"

namespace vrestore::ops {
namespace {

// One output pixel's sampling recipe: up to 4 neighbours (offset into the plane, weight);
// neighbours outside the image get weight 0 and offset 0.
struct Taps {
  int64_t offset[4];
  float weight[4];
};

// Upstream normalises the sample point to [-1, 1] and grid_sample maps it back; both steps are
// done in fp32 like PyTorch so the sample point carries the same rounding.
inline float round_trip(float pixel, int64_t size) {
  const float norm = 2.0f * pixel / static_cast<float>(std::max<int64_t>(size - 1, 1)) - 1.0f;
  return (norm + 1.0f) / 2.0f * static_cast<float>(size - 1);
}

Taps make_taps(float px, float py, int64_t h, int64_t w, WarpPadding padding) {
  if (padding == WarpPadding::Border) {
    px = std::clamp(px, 0.0f, static_cast<float>(w - 1));
    py = std::clamp(py, 0.0f, static_cast<float>(h - 1));
  }
  Taps t{};
  if (!std::isfinite(px) || !std::isfinite(py)) return t;  // grid_sample yields 0 for NaN samples
  const float x0f = std::floor(px), y0f = std::floor(py);
  const int64_t x0 = static_cast<int64_t>(x0f), y0 = static_cast<int64_t>(y0f);
  const float fx = px - x0f, fy = py - y0f;
  const int64_t xs[4] = {x0, x0 + 1, x0, x0 + 1}, ys[4] = {y0, y0, y0 + 1, y0 + 1};
  const float ws[4] = {(1 - fx) * (1 - fy), fx * (1 - fy), (1 - fx) * fy, fx * fy};
  for (int k = 0; k < 4; ++k) {
    if (xs[k] >= 0 && xs[k] < w && ys[k] >= 0 && ys[k] < h) {
      t.offset[k] = ys[k] * w + xs[k];
      t.weight[k] = ws[k];
    }
  }
  return t;
}

}  // namespace

Tensor flow_warp(const Tensor& x, const Tensor& flow, WarpPadding padding) {
  check_rank("flow_warp", "x", x, 4);
  const int64_t n = x.size(0), c = x.size(1), h = x.size(2), w = x.size(3);
  check_shape("flow_warp", "flow", flow, {n, 2, h, w});
  Tensor out = Tensor::empty({n, c, h, w});  // (N, C, H, W)
  const int64_t plane = h * w;
#pragma omp parallel
  {
    std::vector<Taps> row(static_cast<size_t>(w));
#pragma omp for collapse(2) schedule(static)
    for (int64_t b = 0; b < n; ++b) {
      for (int64_t y = 0; y < h; ++y) {
        const float* dx = flow.data() + (b * 2) * plane + y * w;
        const float* dy = dx + plane;
        for (int64_t i = 0; i < w; ++i)
          row[static_cast<size_t>(i)] = make_taps(round_trip(static_cast<float>(i) + dx[i], w),
                                                  round_trip(static_cast<float>(y) + dy[i], h), h, w, padding);
        for (int64_t ch = 0; ch < c; ++ch) {
          const float* src = x.data() + (b * c + ch) * plane;
          float* dst = out.data() + (b * c + ch) * plane + y * w;
          for (int64_t i = 0; i < w; ++i) {
            const Taps& t = row[static_cast<size_t>(i)];
            dst[i] = t.weight[0] * src[t.offset[0]] + t.weight[1] * src[t.offset[1]] +
                     t.weight[2] * src[t.offset[2]] + t.weight[3] * src[t.offset[3]];
          }
        }
      }
    }
  }
  return out;
}

}  // namespace vrestore::ops
