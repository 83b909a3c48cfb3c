// flow_warp with f16 features (f32 flows, f32 arithmetic) vs ops::flow_warp on the same
// fp16-rounded features: 1e-3 + 1e-2·|ref|. Planar flows as the op passes them; samples leave the
// image, some flows are whole pixels, some NaN or huge; outputs start as NaN.
#include <cmath>

#include "core/ops.h"
#include "device_buffer.h"
#include "flow_warp.h"

using namespace vrestore;
using namespace vrestore::kernel_test;

namespace {

struct Case {
  int n, c, h, w;
};
// Widths around the 32-wide block, heights around 8, single-row and single-column images.
constexpr Case kCases[] = {{2, 3, 11, 37}, {1, 4, 20, 33}, {2, 2, 1, 9}, {1, 1, 9, 1}, {1, 2, 8, 32}};

}  // namespace

TEST_CASE("flow_warp f16 matches ops::flow_warp on rounded features, zeros and border", "[kernels][flow_warp]") {
  for (const Case& k : kCases) {
    const size_t pixels = size_t(k.n) * k.h * k.w;
    std::vector<float> flow = random_vector(pixels * 2, -6, 6, 41);  // planar (N, 2, H, W)
    for (size_t i = 0; i < flow.size(); i += 7) flow[i] = std::round(flow[i]);
    for (size_t i = 5; i < flow.size(); i += 13) flow[i] = std::nanf("");
    for (size_t i = 9; i < flow.size(); i += 17) flow[i] = 3e9f;
    const std::vector<float> x = round_to_half(random_vector(pixels * k.c, -4, 4, 42));
    for (bool border : {false, true}) {
      INFO("N=" << k.n << " C=" << k.c << " H=" << k.h << " W=" << k.w << (border ? " border" : " zeros"));
      DeviceBuffer<__half> input(to_half(x)), output(x.size());
      DeviceBuffer<float> flow_d(flow);
      output.fill_nan();
      kernels::FlowWarpParamsOf<__half> p;
      p.input = input.get();
      p.flow = flow_d.get();
      p.output = output.get();
      p.flow_layout = kernels::FlowLayout::Planar;
      p.batch = k.n;
      p.channels = k.c;
      p.height = k.h;
      p.width = k.w;
      p.padding = border ? kernels::WarpPadding::Border : kernels::WarpPadding::Zeros;
      CUDA_REQUIRE(kernels::flow_warp(p, nullptr));
      const Tensor cpu = ops::flow_warp(Tensor::from_data({k.n, k.c, k.h, k.w}, x.data()),
                                        Tensor::from_data({k.n, 2, k.h, k.w}, flow.data()),
                                        border ? ops::WarpPadding::Border : ops::WarpPadding::Zeros);
      REQUIRE_CLOSE(compare("flow_warp f16", to_float(output.download()),
                            std::vector<float>(cpu.data(), cpu.data() + cpu.numel()), kF16Atol, kF16Rtol));
    }
  }
}
