// flow_warp against the upstream grid_sample fixtures and an independent double-precision loop.
#include <catch2/catch.hpp>
#include <cmath>
#include <cstdio>
#include <random>

#include "core/ops.h"
#include "support/fixtures.h"

using namespace vrestore;

namespace {

// (N, H, W, 2) -> (N, 2, H, W)
Tensor planar_flow(const Tensor& nhwc) {
  const int64_t n = nhwc.size(0), h = nhwc.size(1), w = nhwc.size(2);
  Tensor out = Tensor::empty({n, 2, h, w});
  for (int64_t b = 0; b < n; ++b)
    for (int64_t k = 0; k < 2; ++k)
      for (int64_t p = 0; p < h * w; ++p) out.data()[(b * 2 + k) * h * w + p] = nhwc.data()[(b * h * w + p) * 2 + k];
  return out;
}

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

TEST_CASE("flow_warp equals a double-precision reference on awkward shapes", "[ops][flow_warp]") {
  std::mt19937 rng(7);
  std::uniform_real_distribution<float> value(-1, 1), shift(-4, 4);
  for (auto [h, w] : {std::pair<int64_t, int64_t>{1, 1}, {1, 9}, {7, 1}, {13, 17}}) {
    for (bool border : {false, true}) {
      const int64_t n = 2, c = 3;
      Tensor x = Tensor::empty({n, c, h, w}), flow = Tensor::empty({n, 2, h, w});
      for (int64_t i = 0; i < x.numel(); ++i) x.data()[i] = value(rng);
      for (int64_t i = 0; i < flow.numel(); ++i) flow.data()[i] = shift(rng);
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
      INFO("h " << h << " w " << w << " border " << border);
      CHECK(worst <= 1e-5);
    }
  }
}

TEST_CASE("flow_warp names bad arguments", "[ops][flow_warp]") {
  CHECK_THROWS_WITH(ops::flow_warp(Tensor::zeros({1, 3, 4, 5}), Tensor::zeros({1, 4, 5, 2}), ops::WarpPadding::Zeros),
                    "flow_warp: flow has shape (1, 4, 5, 2), expected (1, 2, 4, 5)");
}
