// Bilinear resize kernel (f32 and f16) vs the CPU ops upsample_bilinear / resize_bilinear, an
// independent double reference of F.interpolate, and the upstream fixtures.
#include <algorithm>
#include <cmath>
#include <tuple>
#include <type_traits>

#include "core/ops.h"
#include "device_buffer.h"
#include "resize_bilinear.h"
#include "support/fixtures.h"

using namespace vrestore;
using namespace vrestore::kernel_test;

namespace {

struct Case {
  int n, c, in_h, in_w;
  int out_h, out_w;  // explicit size when factor == 0
  int factor;
  bool align_corners;
  int result_h() const { return factor > 0 ? in_h * factor : out_h; }
  int result_w() const { return factor > 0 ? in_w * factor : out_w; }
};

// Integer factors 2 and 4 (SpyNet, BasicVSR's upsampling), explicit sizes up and down with
// non-integer ratios (SpyNet's resize back), 1-pixel inputs and outputs, W = 1 and H = 1, an
// output width that is not a multiple of the 32 x 8 block.
constexpr Case kCases[] = {
    {2, 3, 4, 6, 0, 0, 2, false}, {2, 3, 4, 6, 0, 0, 2, true},   {1, 2, 5, 3, 0, 0, 4, false},
    {1, 2, 5, 3, 0, 0, 4, true},  {1, 2, 64, 64, 36, 44, 0, false}, {1, 2, 64, 64, 36, 44, 0, true},
    {1, 3, 7, 9, 20, 33, 0, false}, {1, 3, 7, 9, 20, 33, 0, true}, {2, 1, 1, 1, 3, 5, 0, false},
    {2, 1, 1, 1, 3, 5, 0, true},  {1, 2, 9, 1, 4, 1, 0, false},  {1, 2, 1, 9, 1, 4, 0, true},
    {1, 4, 6, 5, 1, 1, 0, false}, {1, 4, 6, 5, 1, 1, 0, true},   {1, 2, 3, 37, 0, 0, 2, false},
};

// F.interpolate's definition in double: scale from the sizes (1/f for a scale factor, as PyTorch
// passes it), half-pixel source clamped at 0 (align_corners False) or d*(in-1)/(out-1).
std::vector<float> reference_resize(const std::vector<float>& x, const Case& k) {
  const int oh = k.result_h(), ow = k.result_w();
  std::vector<float> out(size_t(k.n) * k.c * oh * ow);
  auto source = [&](int d, int in, int out_size) {
    double s;
    if (k.align_corners) s = out_size > 1 ? double(d) * (in - 1) / (out_size - 1) : 0.0;
    else s = std::max((d + 0.5) * (k.factor > 0 ? 1.0 / k.factor : double(in) / out_size) - 0.5, 0.0);
    const int lo = std::min(int(std::floor(s)), in - 1);
    return std::tuple{lo, std::min(lo + 1, in - 1), s - lo};
  };
  size_t i = 0;
  for (int plane = 0; plane < k.n * k.c; ++plane)
    for (int oy = 0; oy < oh; ++oy)
      for (int ox = 0; ox < ow; ++ox, ++i) {
        const auto [y0, y1, fy] = source(oy, k.in_h, oh);
        const auto [x0, x1, fx] = source(ox, k.in_w, ow);
        const float* p = x.data() + size_t(plane) * k.in_h * k.in_w;
        auto v = [&](int y, int xx) { return double(p[size_t(y) * k.in_w + xx]); };
        out[i] = float((1 - fy) * ((1 - fx) * v(y0, x0) + fx * v(y0, x1)) + fy * ((1 - fx) * v(y1, x0) + fx * v(y1, x1)));
      }
  return out;
}

template <class T>
std::vector<float> run_kernel(const std::vector<float>& x, const Case& k) {
  std::vector<T> stored;
  if constexpr (std::is_same_v<T, float>) stored = x;
  else stored = to_half(x);
  DeviceBuffer<T> in(stored), out(size_t(k.n) * k.c * k.result_h() * k.result_w());
  out.fill_nan();
  kernels::ResizeBilinearParams<T> p;
  p.input = in.get();
  p.output = out.get();
  p.batch = k.n;
  p.channels = k.c;
  p.in_height = k.in_h;
  p.in_width = k.in_w;
  p.out_height = k.result_h();
  p.out_width = k.result_w();
  p.scale_factor = k.factor;
  p.align_corners = k.align_corners;
  CUDA_REQUIRE(kernels::resize_bilinear(p, nullptr));
  return to_float(out.download());
}

std::vector<float> run_cpu(const std::vector<float>& x, const Case& k) {
  const Tensor t = Tensor::from_data({k.n, k.c, k.in_h, k.in_w}, x.data());
  const Tensor out = k.factor > 0 ? ops::upsample_bilinear(t, k.factor, k.align_corners)
                                  : ops::resize_bilinear(t, k.out_h, k.out_w, k.align_corners);
  return std::vector<float>(out.data(), out.data() + out.numel());
}

}  // namespace

TEST_CASE("resize_bilinear f32 matches the CPU ops and the reference", "[kernels][resize_bilinear]") {
  uint32_t seed = 40;
  for (const Case& k : kCases) {
    INFO(k.in_h << "x" << k.in_w << " -> " << k.result_h() << "x" << k.result_w() << " factor " << k.factor
                << " align_corners " << k.align_corners);
    const std::vector<float> x = random_vector(size_t(k.n) * k.c * k.in_h * k.in_w, -1, 1, seed++);
    const std::vector<float> got = run_kernel<float>(x, k);
    REQUIRE_CLOSE(compare("resize_bilinear vs CPU", got, run_cpu(x, k)));
    REQUIRE_CLOSE(compare("resize_bilinear vs reference", got, reference_resize(x, k)));
  }
}

TEST_CASE("resize_bilinear f16 matches the CPU ops on rounded inputs", "[kernels][resize_bilinear][f16]") {
  uint32_t seed = 80;
  for (const Case& k : kCases) {
    INFO(k.in_h << "x" << k.in_w << " -> " << k.result_h() << "x" << k.result_w() << " factor " << k.factor
                << " align_corners " << k.align_corners);
    const std::vector<float> x = round_to_half(random_vector(size_t(k.n) * k.c * k.in_h * k.in_w, -4, 4, seed++));
    REQUIRE_CLOSE(compare("resize_bilinear f16", run_kernel<__half>(x, k), run_cpu(x, k), kF16Atol, kF16Rtol));
  }
}

TEST_CASE("resize_bilinear f32 matches the upstream fixtures", "[kernels][resize_bilinear][fixture]") {
  struct Fixture {
    const char* name;
    int factor;  // 0: explicit size, that of the expected output
    bool align_corners;
  };
  for (const Fixture& fx : {Fixture{"interp_bilinear_x2_ac0", 2, false}, Fixture{"interp_bilinear_x2_ac1", 2, true},
                            Fixture{"interp_bilinear_x4_ac0", 4, false},
                            Fixture{"interp_bilinear_resize_down_ac0", 0, false},
                            Fixture{"interp_bilinear_resize_up_ac0", 0, false}}) {
    INFO(fx.name);
    auto f = test::load_fixture(std::string("ops/") + fx.name + ".safetensors");
    const Tensor& x = f.at("input");
    const Tensor& want = f.at("expected");
    const Case k{int(x.size(0)), int(x.size(1)), int(x.size(2)), int(x.size(3)), int(want.size(2)), int(want.size(3)),
                 fx.factor, fx.align_corners};
    REQUIRE(k.result_h() == want.size(2));
    REQUIRE(k.result_w() == want.size(3));
    const Comparison c = compare("resize_bilinear", run_kernel<float>(std::vector<float>(x.data(), x.data() + x.numel()), k),
                                 std::vector<float>(want.data(), want.data() + want.numel()));
    REQUIRE_CLOSE(c);
    std::printf("resize_bilinear fixture %s: max |diff| %.2e\n", fx.name, c.max_abs);
  }
}
