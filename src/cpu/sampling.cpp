// Resampling ops, CPU bodies (arguments checked by core/ops.cpp): bilinear resize/upsample
// (PyTorch F.interpolate semantics), pixel_shuffle, max/avg pooling. All are memory-bound; loops
// run over output rows in parallel.
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>
#include <vector>

#include "core/check.h"
#include "core/op_list.h"
#include "core/ops.h"

namespace vrestore::cpu {
namespace {

// Parallelise only when there is enough work to pay for waking the thread team.
constexpr int64_t kParallelMinElements = 1 << 15;

// ---- bilinear ------------------------------------------------------------------------------------

// Source positions of one axis: output index d blends input lo[d] and hi[d] with weights
// (1 - frac[d], frac[d]).
struct BilinearAxis {
  std::vector<int32_t> lo, hi;
  std::vector<float> frac;
};

// `ratio` is PyTorch's fp32 scale (1/factor, in/out, or (in-1)/(out-1) with align_corners). The
// source coordinate is evaluated in double from that fp32 ratio and the weight rounded to fp32:
// that reproduces PyTorch's compiled kernel (which contracts scale*(d+0.5)-0.5 into one fma) to
// ~2e-7 at non-integer ratios, where plain fp32 evaluation is off by up to ~1e-5.
BilinearAxis make_bilinear_axis(int64_t in, int64_t out, float ratio, bool align_corners) {
  BilinearAxis axis;
  axis.lo.resize(out);
  axis.hi.resize(out);
  axis.frac.resize(out);
  for (int64_t d = 0; d < out; ++d) {
    const double r = ratio;
    const double src = align_corners ? r * static_cast<double>(d)
                                     : std::max(r * (static_cast<double>(d) + 0.5) - 0.5, 0.0);
    const int64_t i0 = std::min(static_cast<int64_t>(std::floor(src)), in - 1);
    axis.lo[d] = static_cast<int32_t>(i0);
    axis.hi[d] = static_cast<int32_t>(std::min(i0 + 1, in - 1));
    axis.frac[d] = std::clamp(static_cast<float>(src - static_cast<double>(i0)), 0.0f, 1.0f);
  }
  return axis;
}

// out[n, c, oy, ox] = (1-fy)·((1-fx)·a[y0,x0] + fx·a[y0,x1]) + fy·((1-fx)·a[y1,x0] + fx·a[y1,x1]),
// in PyTorch's order (width blend inside, height blend outside).
void bilinear(const Tensor& x, const BilinearAxis& rows, const BilinearAxis& cols, Tensor out) {
  const int64_t planes = x.size(0) * x.size(1), in_h = x.size(2), in_w = x.size(3);
  const int64_t out_h = static_cast<int64_t>(rows.lo.size()), out_w = static_cast<int64_t>(cols.lo.size());
  const float* src = x.data();
  float* dst = out.data();
  const int32_t* x0 = cols.lo.data();
  const int32_t* x1 = cols.hi.data();
  const float* fx = cols.frac.data();
#pragma omp parallel for schedule(static) if (out.numel() > kParallelMinElements)
  for (int64_t row = 0; row < planes * out_h; ++row) {
    const int64_t plane = row / out_h, oy = row % out_h;
    const float* top = src + (plane * in_h + rows.lo[oy]) * in_w;
    const float* bottom = src + (plane * in_h + rows.hi[oy]) * in_w;
    const float fy = rows.frac[oy], gy = 1.0f - fy;
    float* o = dst + row * out_w;
#pragma omp simd
    for (int64_t ox = 0; ox < out_w; ++ox) {
      const float gx = 1.0f - fx[ox];
      o[ox] = gy * (gx * top[x0[ox]] + fx[ox] * top[x1[ox]]) + fy * (gx * bottom[x0[ox]] + fx[ox] * bottom[x1[ox]]);
    }
  }
}

// ---- pixel shuffle -------------------------------------------------------------------------------

// out[2t] = a[t], out[2t + 1] = b[t] for t < n.
void interleave_pair(const float* a, const float* b, int64_t n, float* out) {
  int64_t t = 0;
#if defined(__GNUC__)
  constexpr int kLanes = 16;
  typedef float V __attribute__((vector_size(kLanes * sizeof(float)), aligned(alignof(float))));
  for (; t + kLanes <= n; t += kLanes) {
    const V va = *reinterpret_cast<const V*>(a + t), vb = *reinterpret_cast<const V*>(b + t);
    *reinterpret_cast<V*>(out + 2 * t) =
        __builtin_shufflevector(va, vb, 0, 16, 1, 17, 2, 18, 3, 19, 4, 20, 5, 21, 6, 22, 7, 23);
    *reinterpret_cast<V*>(out + 2 * t + kLanes) =
        __builtin_shufflevector(va, vb, 8, 24, 9, 25, 10, 26, 11, 27, 12, 28, 13, 29, 14, 30, 15, 31);
  }
#endif
  for (; t < n; ++t) {
    out[2 * t] = a[t];
    out[2 * t + 1] = b[t];
  }
}

// ---- pooling -------------------------------------------------------------------------------------

struct PoolShape {
  int64_t planes, height, width, out_h, out_w;
};

PoolShape pool_shape(const ops::Pool2dArgs& a) {
  return {a.x.size(0) * a.x.size(1), a.x.size(2), a.x.size(3), a.out.size(2), a.out.size(3)};
}

// Calls reduce(out_row_ptr, plane_ptr, oy) for every output row of every plane, in parallel.
template <class Reduce>
void pool(const Tensor& x, const PoolShape& s, Tensor out, Reduce&& reduce_row) {
  const float* src = x.data();
  float* dst = out.data();
#pragma omp parallel for schedule(static) if (x.numel() > kParallelMinElements)
  for (int64_t row = 0; row < s.planes * s.out_h; ++row) {
    const int64_t plane = row / s.out_h;
    reduce_row(dst + row * s.out_w, src + plane * s.height * s.width, row % s.out_h);
  }
}

}  // namespace

void run(const ops::ResizeBilinearArgs& a) {
  const int64_t in_h = a.x.size(2), in_w = a.x.size(3), out_h = a.out.size(2), out_w = a.out.size(3);
  bilinear(a.x, make_bilinear_axis(in_h, out_h, a.ratio_h, a.align_corners),
           make_bilinear_axis(in_w, out_w, a.ratio_w, a.align_corners), a.out);
}

void run(const ops::PixelShuffleArgs& a) {
  const Tensor& x = a.x;
  Tensor out = a.out;
  const int r = a.factor;
  const int64_t n = x.size(0), h = x.size(2), w = x.size(3), c = out.size(1);
  const float* src = x.data();
  float* dst = out.data();
  // One output row (n, c, y*r + i) interleaves rows y of the r input channels c*r*r + i*r + j.
#pragma omp parallel for schedule(static) if (x.numel() > kParallelMinElements)
  for (int64_t out_row = 0; out_row < n * c * h * r; ++out_row) {
    const int64_t nc = out_row / (h * r), y = (out_row % (h * r)) / r, i = out_row % r;
    float* o = dst + out_row * w * r;
    const float* first = src + ((nc * r * r + i * r) * h + y) * w;  // input row of j = 0; j steps h*w
    if (r == 2) {
      interleave_pair(first, first + h * w, w, o);
      continue;
    }
    for (int64_t xx = 0; xx < w; ++xx)
      for (int64_t j = 0; j < r; ++j) o[xx * r + j] = first[j * h * w + xx];
  }
}

namespace {

void max_pool2d(const ops::Pool2dArgs& a) {
  const PoolShape s = pool_shape(a);
  const int64_t kernel = a.kernel, stride = a.stride, padding = a.padding;
  pool(a.x, s, a.out, [&](float* out_row, const float* plane, int64_t oy) {
    const int64_t y0 = std::max<int64_t>(oy * stride - padding, 0);
    const int64_t y1 = std::min<int64_t>(oy * stride - padding + kernel, s.height);
    for (int64_t ox = 0; ox < s.out_w; ++ox) {
      const int64_t x0 = std::max<int64_t>(ox * stride - padding, 0);
      const int64_t x1 = std::min<int64_t>(ox * stride - padding + kernel, s.width);
      // Padding acts as -inf, i.e. only in-image values compete; NaN wins, as in PyTorch.
      float best = -std::numeric_limits<float>::infinity();
      for (int64_t y = y0; y < y1; ++y)
        for (int64_t xx = x0; xx < x1; ++xx) {
          const float v = plane[y * s.width + xx];
          if (v > best || std::isnan(v)) best = v;
        }
      out_row[ox] = best;
    }
  });
}

void avg_pool2d(const ops::Pool2dArgs& a) {
  const PoolShape s = pool_shape(a);
  const int64_t kernel = a.kernel, stride = a.stride, padding = a.padding;
  const bool count_include_pad = a.count_include_pad;
  pool(a.x, s, a.out, [&](float* out_row, const float* plane, int64_t oy) {
    // PyTorch: the padded window (clipped to the padded image) sets the divisor when padding counts.
    const int64_t py0 = oy * stride - padding, py1 = std::min<int64_t>(py0 + kernel, s.height + padding);
    const int64_t y0 = std::max<int64_t>(py0, 0), y1 = std::min<int64_t>(py1, s.height);
    for (int64_t ox = 0; ox < s.out_w; ++ox) {
      const int64_t px0 = ox * stride - padding, px1 = std::min<int64_t>(px0 + kernel, s.width + padding);
      const int64_t x0 = std::max<int64_t>(px0, 0), x1 = std::min<int64_t>(px1, s.width);
      float sum = 0.0f;
      for (int64_t y = y0; y < y1; ++y)
        for (int64_t xx = x0; xx < x1; ++xx) sum += plane[y * s.width + xx];
      const int64_t count = count_include_pad ? (py1 - py0) * (px1 - px0) : (y1 - y0) * (x1 - x0);
      out_row[ox] = sum / static_cast<float>(count);
    }
  });
}

}  // namespace

void run(const ops::Pool2dArgs& a) {
  if (a.kind == ops::PoolKind::Max) max_pool2d(a);
  else avg_pool2d(a);
}

}  // namespace vrestore::cpu
