// flow_warp kernel vs an independent reference (upstream's normalise / unnormalise round trip,
// in double), the CPU backend (planar flows) and the upstream fixtures.
#include <algorithm>
#include <cmath>

#include "core/ops.h"

#include "device_buffer.h"
#include "flow_warp.h"
#include "support/fixtures.h"

using namespace vrestore;
using namespace vrestore::kernel_test;

namespace {

// BasicSR flow_warp literally: grid = 2*(p + flow)/max(size-1, 1) - 1, then grid_sample with
// align_corners=True, which maps g back to (g + 1)/2 * (size - 1).
std::vector<float> reference_flow_warp(const std::vector<float>& x, const std::vector<float>& flow, int n, int c,
                                       int h, int w, bool border) {
  std::vector<float> out(x.size());
  for (int b = 0; b < n; ++b)
    for (int r = 0; r < h; ++r)
      for (int col = 0; col < w; ++col) {
        const size_t f = ((size_t(b) * h + r) * w + col) * 2;
        const double gx = 2.0 * (col + double(flow[f])) / std::max(w - 1, 1) - 1.0;
        const double gy = 2.0 * (r + double(flow[f + 1])) / std::max(h - 1, 1) - 1.0;
        double sx = (gx + 1.0) / 2.0 * (w - 1);
        double sy = (gy + 1.0) / 2.0 * (h - 1);
        if (border) {
          sx = std::clamp(sx, 0.0, double(w - 1));
          sy = std::clamp(sy, 0.0, double(h - 1));
        }
        const double x0 = std::floor(sx), y0 = std::floor(sy);
        for (int ch = 0; ch < c; ++ch) {
          const float* plane = x.data() + (size_t(b) * c + ch) * h * w;
          auto pixel = [&](double yy, double xx) {
            const bool inside = yy >= 0 && yy < h && xx >= 0 && xx < w;
            return inside ? double(plane[size_t(yy) * w + size_t(xx)]) : 0.0;
          };
          const double v = pixel(y0, x0) * (x0 + 1 - sx) * (y0 + 1 - sy) + pixel(y0, x0 + 1) * (sx - x0) * (y0 + 1 - sy) +
                           pixel(y0 + 1, x0) * (x0 + 1 - sx) * (sy - y0) + pixel(y0 + 1, x0 + 1) * (sx - x0) * (sy - y0);
          out[((size_t(b) * c + ch) * h + r) * w + col] = float(v);
        }
      }
  return out;
}

std::vector<float> run_kernel(const std::vector<float>& x, const std::vector<float>& flow, int n, int c, int h, int w,
                              kernels::WarpPadding padding,
                              kernels::FlowLayout layout = kernels::FlowLayout::Interleaved) {
  DeviceBuffer<float> input(x), flow_d(flow), output(x.size());
  output.fill_nan();
  kernels::FlowWarpParams p;
  p.input = input.get();
  p.flow = flow_d.get();
  p.output = output.get();
  p.batch = n;
  p.channels = c;
  p.height = h;
  p.width = w;
  p.padding = padding;
  p.flow_layout = layout;
  CUDA_REQUIRE(kernels::flow_warp(p, nullptr));
  return output.download();
}

// (N, H, W, 2) -> (N, 2, H, W)
std::vector<float> to_planar(const std::vector<float>& flow, int n, int h, int w) {
  std::vector<float> planar(flow.size());
  const size_t plane = size_t(h) * w;
  for (int b = 0; b < n; ++b)
    for (size_t i = 0; i < plane; ++i)
      for (int d = 0; d < 2; ++d) planar[(size_t(b) * 2 + d) * plane + i] = flow[(size_t(b) * plane + i) * 2 + d];
  return planar;
}

struct Case {
  int n, c, h, w;
};
// Widths around the 32-wide block, heights around 8, single-row and single-column images.
constexpr Case kCases[] = {{2, 3, 11, 37}, {1, 4, 20, 33}, {2, 2, 1, 9}, {1, 1, 9, 1}, {1, 2, 8, 32}};

}  // namespace

TEST_CASE("flow_warp matches the reference, zeros and border padding", "[kernels][flow_warp]") {
  for (const Case& k : kCases) {
    const size_t pixels = size_t(k.n) * k.h * k.w;
    // Flows up to 6 px leave the image; every 7th one is a whole number (exact-corner sampling).
    std::vector<float> flow = random_vector(pixels * 2, -6, 6, 21);
    for (size_t i = 0; i < flow.size(); i += 7) flow[i] = std::round(flow[i]);
    const std::vector<float> x = random_vector(pixels * k.c, -1, 1, 22);
    for (bool border : {false, true}) {
      INFO("N=" << k.n << " C=" << k.c << " H=" << k.h << " W=" << k.w << (border ? " border" : " zeros"));
      const auto padding = border ? kernels::WarpPadding::Border : kernels::WarpPadding::Zeros;
      const Comparison c = compare("flow_warp", run_kernel(x, flow, k.n, k.c, k.h, k.w, padding),
                                   reference_flow_warp(x, flow, k.n, k.c, k.h, k.w, border));
      REQUIRE_CLOSE(c);
      std::printf("flow_warp vs reference N=%d C=%d H=%d W=%d %s: max |diff| %.2e\n", k.n, k.c, k.h, k.w, border ? "border" : "zeros",
                  c.max_abs);
    }
  }
}

TEST_CASE("flow_warp with planar flows matches the CPU backend to 1e-6, NaN flows included", "[kernels][flow_warp]") {
  for (const Case& k : kCases) {
    const size_t pixels = size_t(k.n) * k.h * k.w;
    std::vector<float> flow = random_vector(pixels * 2, -6, 6, 31);
    for (size_t i = 0; i < flow.size(); i += 7) flow[i] = std::round(flow[i]);
    // NaN and huge flows: both backends compute the sample point with op_common.h's one function,
    // so a NaN sample point samples nothing (0) on both, also with Border padding and on size-1 axes.
    for (size_t i = 5; i < flow.size(); i += 13) flow[i] = std::nanf("");
    for (size_t i = 9; i < flow.size(); i += 17) flow[i] = 3e9f;
    const std::vector<float> planar = to_planar(flow, k.n, k.h, k.w);
    const std::vector<float> x = random_vector(pixels * k.c, -1, 1, 32);
    for (bool border : {false, true}) {
      INFO("N=" << k.n << " C=" << k.c << " H=" << k.h << " W=" << k.w << (border ? " border" : " zeros"));
      const Tensor cpu = ops::flow_warp(Tensor::from_data({k.n, k.c, k.h, k.w}, x.data()),
                                        Tensor::from_data({k.n, 2, k.h, k.w}, planar.data()),
                                        border ? ops::WarpPadding::Border : ops::WarpPadding::Zeros);
      const Comparison c = compare("flow_warp", run_kernel(x, planar, k.n, k.c, k.h, k.w,
                                                           border ? kernels::WarpPadding::Border : kernels::WarpPadding::Zeros,
                                                           kernels::FlowLayout::Planar),
                                   std::vector<float>(cpu.data(), cpu.data() + cpu.numel()), 1e-6, 0);
      REQUIRE_CLOSE(c);
      std::printf("flow_warp vs CPU N=%d C=%d H=%d W=%d %s: max |diff| %.2e\n", k.n, k.c, k.h, k.w,
                  border ? "border" : "zeros", c.max_abs);
    }
  }
}

TEST_CASE("flow_warp matches the upstream fixtures", "[kernels][flow_warp][fixture]") {
  for (bool border : {false, true}) {
    auto f = test::load_fixture(border ? "ops/flow_warp_border.safetensors" : "ops/flow_warp_zeros.safetensors");
    const Tensor& x = f.at("input");  // (2, 3, 11, 13)
    const Tensor& flow = f.at("flow");  // (2, 11, 13, 2)
    const Tensor& want = f.at("expected");
    const Comparison c = compare(
        "flow_warp", run_kernel(std::vector<float>(x.data(), x.data() + x.numel()),
                                std::vector<float>(flow.data(), flow.data() + flow.numel()), int(x.size(0)),
                                int(x.size(1)), int(x.size(2)), int(x.size(3)),
                                border ? kernels::WarpPadding::Border : kernels::WarpPadding::Zeros),
        std::vector<float>(want.data(), want.data() + want.numel()));
    REQUIRE_CLOSE(c);
    std::printf("flow_warp fixture %s: max |diff| %.2e\n", border ? "border" : "zeros", c.max_abs);
  }
}
