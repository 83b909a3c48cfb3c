// flow_warp against the upstream grid_sample fixtures and an independent double-precision loop.
#include <catch2/catch.hpp>
#include <cmath>
#include <cstdio>
#include <random>

#include "core/ops.h"
#include "support/fixtures.h"

using namespace vrestore;

namespace {

using test::planar_flow;

// Sample point (px, py) of plane `src` per the spec's definition, in double.
double reference_sample(const float* src, int64_t h, int64_t w, double px, double py, bool border) {
  if (border) {
    px = std::clamp(px, 0.0, static_cast<double>(w - 1));
    py = std::clamp(py, 0.0, static_cast<double>(h - 1));
  }
  const double x0 = std::floor(px), y0 = std::floor(py), lx = px - x0, ly = py - y0;
  double v = 0;
  for (int dy = 0; dy < 2; ++dy)
    for (int dx = 0; dx < 2; ++dx) {
      const int64_t xi = static_cast<int64_t>(x0) + dx, yi = static_cast<int64_t>(y0) + dy;
      if (xi < 0 || xi >= w || yi < 0 || yi >= h) continue;
      v += (dx ? lx : 1 - lx) * (dy ? ly : 1 - ly) * src[yi * w + xi];
    }
  return v;
}

}  // namespace

TEST_CASE("flow_warp matches the upstream grid_sample fixtures", "[ops][flow_warp]") {
  for (auto [name, padding] : {std::pair{"flow_warp_zeros", ops::WarpPadding::Zeros},
                               std::pair{"flow_warp_border", ops::WarpPadding::Border}}) {
    auto f = test::load_fixture(std::string("ops/") + name + ".safetensors");
    Tensor out = ops::flow_warp(f.at("input"), planar_flow(f.at("flow")), padding);
    test::Diff d = test::compare(out, f.at("expected"), 1e-5, 1e-4);
    std::printf("  %-18s max_abs %.3e\n", name, d.max_abs);
    CHECK(d.max_excess <= 0);
  }
}

namespace {

// Largest |flow_warp - reference| over all outputs.
double max_error_vs_reference(const Tensor& x, const Tensor& flow, bool border) {
  const int64_t n = x.size(0), c = x.size(1), h = x.size(2), w = x.size(3);
  Tensor out = ops::flow_warp(x, flow, border ? ops::WarpPadding::Border : ops::WarpPadding::Zeros);
  double worst = 0;
  for (int64_t b = 0; b < n; ++b)
    for (int64_t ch = 0; ch < c; ++ch)
      for (int64_t y = 0; y < h; ++y)
        for (int64_t xx = 0; xx < w; ++xx) {
          const int64_t p = y * w + xx;
          double px = xx + flow.data()[(b * 2) * h * w + p], py = y + flow.data()[(b * 2 + 1) * h * w + p];
          // Upstream's normalise/unnormalise round trip multiplies by (size - 1): an axis of
          // size 1 always samples at 0, whatever the flow.
          if (w == 1) px = 0;
          if (h == 1) py = 0;
          double ref = reference_sample(x.data() + (b * c + ch) * h * w, h, w, px, py, border);
          worst = std::max(worst, std::fabs(ref - out.data()[(b * c + ch) * h * w + p]));
        }
  return worst;
}

}  // namespace

TEST_CASE("flow_warp equals a double-precision reference on awkward shapes", "[ops][flow_warp]") {
  std::mt19937 rng(7);
  std::uniform_real_distribution<float> value(-1, 1), shift(-4, 4);
  for (auto [h, w] : {std::pair<int64_t, int64_t>{1, 1}, {1, 9}, {7, 1}, {13, 17}}) {
    for (bool border : {false, true}) {
      const int64_t n = 2, c = 3;
      Tensor x = Tensor::empty({n, c, h, w}), flow = Tensor::empty({n, 2, h, w});
      for (int64_t i = 0; i < x.numel(); ++i) x.data()[i] = value(rng);
      for (int64_t i = 0; i < flow.numel(); ++i) flow.data()[i] = shift(rng);
      INFO("h " << h << " w " << w << " border " << border);
      CHECK(max_error_vs_reference(x, flow, border) <= 1e-5);
    }
  }
}

// Smooth flows take the vectorised path (16 adjacent pixels sampling within a few rows and 31
// columns); rough patches, large and NaN flows fall back to the per-pixel path within a row.
TEST_CASE("flow_warp equals the reference on smooth, rough, large and NaN flows", "[ops][flow_warp]") {
  std::mt19937 rng(11);
  std::uniform_real_distribution<float> value(-1, 1), unit(0, 1);
  struct Case {
    int64_t n, c, h, w;
    float amplitude, noise;  // smooth displacement up to `amplitude` px plus per-pixel noise
  };
  for (const Case& k : {Case{1, 3, 9, 16, 1.5f, 0.2f}, Case{2, 10, 23, 53, 3.0f, 0.4f}, Case{1, 9, 20, 37, 6.0f, 0.0f},
                        Case{1, 4, 31, 70, 12.0f, 1.5f}, Case{1, 2, 5, 100, 0.5f, 3.0f}, Case{1, 3, 12, 48, 0.0f, 0.0f}}) {
    Tensor x = Tensor::empty({k.n, k.c, k.h, k.w}), flow = Tensor::empty({k.n, 2, k.h, k.w});
    for (int64_t i = 0; i < x.numel(); ++i) x.data()[i] = value(rng);
    const float phase = 6.28f * unit(rng);
    for (int64_t b = 0; b < k.n; ++b)
      for (int64_t y = 0; y < k.h; ++y)
        for (int64_t xx = 0; xx < k.w; ++xx) {
          const int64_t p = y * k.w + xx;
          float* dx = flow.data() + (b * 2) * k.h * k.w;
          float* dy = dx + k.h * k.w;
          dx[p] = k.amplitude * std::sin(0.11f * xx + 0.07f * y + phase) + k.noise * (unit(rng) - 0.5f);
          dy[p] = k.amplitude * std::cos(0.05f * xx - 0.13f * y + phase) + k.noise * (unit(rng) - 0.5f);
        }
    // A few outliers: far outside the image, exactly on the last row/column, NaN.
    if (k.w >= 40) {
      flow.data()[3] = 1e6f;
      flow.data()[k.h * k.w + 20] = -1e6f;
      flow.data()[k.w + 5] = static_cast<float>(k.w - 1 - 5);
      flow.data()[k.h * k.w + k.w + 6] = static_cast<float>(k.h - 1 - 1);
      flow.data()[2 * k.w + 30] = std::nanf("");
    }
    for (bool border : {false, true}) {
      INFO("shape " << x.shape_str() << " amplitude " << k.amplitude << " noise " << k.noise << " border " << border);
      Tensor out = ops::flow_warp(x, flow, border ? ops::WarpPadding::Border : ops::WarpPadding::Zeros);
      if (k.w >= 40) {
        // grid_sample gives 0 for a NaN sample point.
        for (int64_t ch = 0; ch < k.c; ++ch) CHECK(out.data()[ch * k.h * k.w + 2 * k.w + 30] == 0.0f);
        flow.data()[2 * k.w + 30] = 0.0f;  // the double reference cannot take NaN
        CHECK(max_error_vs_reference(x, flow, border) <= 1e-5);
        flow.data()[2 * k.w + 30] = std::nanf("");
      } else {
        CHECK(max_error_vs_reference(x, flow, border) <= 1e-5);
      }
    }
  }
}

TEST_CASE("flow_warp names bad arguments", "[ops][flow_warp]") {
  CHECK_THROWS_WITH(ops::flow_warp(Tensor::zeros({1, 3, 4, 5}), Tensor::zeros({1, 4, 5, 2}), ops::WarpPadding::Zeros),
                    "flow_warp: flow has shape (1, 4, 5, 2), expected (1, 2, 4, 5)");
}
