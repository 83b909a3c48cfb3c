// max_pool2d / avg_pool2d kernels (f32 and f16) vs the CPU ops and the upstream fixtures.
#include <cmath>
#include <type_traits>

#include "core/ops.h"
#include "device_buffer.h"
#include "pool2d.h"
#include "support/fixtures.h"

using namespace vrestore;
using namespace vrestore::kernel_test;

namespace {

struct Case {
  int n, c, h, w, kernel, stride, padding;
  int out_h() const { return (h + 2 * padding - kernel) / stride + 1; }
  int out_w() const { return (w + 2 * padding - kernel) / stride + 1; }
};

// TSA's 3/2/1 and the 2/2/0 pyramid pool on odd and even sizes; windows that hang over the
// bottom/right edge; W = 1 and H = 1; kernel 1; stride larger than the kernel; outputs wider
// than the 32 x 8 block.
constexpr Case kCases[] = {{1, 4, 8, 12, 3, 2, 1}, {2, 3, 9, 7, 3, 2, 1}, {1, 2, 8, 6, 2, 2, 0},
                           {2, 2, 7, 5, 2, 2, 0},  {1, 3, 1, 9, 3, 2, 1}, {1, 3, 9, 1, 3, 1, 1},
                           {1, 2, 5, 5, 1, 1, 0},  {1, 2, 11, 13, 2, 3, 1}, {1, 1, 20, 70, 3, 1, 1},
                           {1, 2, 6, 6, 5, 1, 2}};

enum class Kind { Max, AvgIncludePad, AvgExcludePad };

template <class T>
std::vector<float> run_kernel(const std::vector<float>& x, const Case& k, Kind kind) {
  std::vector<T> stored;
  if constexpr (std::is_same_v<T, float>) stored = x;
  else stored = to_half(x);
  DeviceBuffer<T> in(stored), out(size_t(k.n) * k.c * k.out_h() * k.out_w());
  out.fill_nan();
  kernels::Pool2dParams<T> p;
  p.input = in.get();
  p.output = out.get();
  p.batch = k.n;
  p.channels = k.c;
  p.height = k.h;
  p.width = k.w;
  p.out_height = k.out_h();
  p.out_width = k.out_w();
  p.kernel = k.kernel;
  p.stride = k.stride;
  p.padding = k.padding;
  p.count_include_pad = kind != Kind::AvgExcludePad;
  CUDA_REQUIRE(kind == Kind::Max ? kernels::max_pool2d(p, nullptr) : kernels::avg_pool2d(p, nullptr));
  return to_float(out.download());
}

std::vector<float> run_cpu(const std::vector<float>& x, const Case& k, Kind kind) {
  const Tensor t = Tensor::from_data({k.n, k.c, k.h, k.w}, x.data());
  const Tensor out = kind == Kind::Max ? ops::max_pool2d(t, k.kernel, k.stride, k.padding)
                                       : ops::avg_pool2d(t, k.kernel, k.stride, k.padding, kind == Kind::AvgIncludePad);
  return std::vector<float>(out.data(), out.data() + out.numel());
}

template <class T>
void check_against_cpu(uint32_t seed) {
  for (const Case& k : kCases)
    for (Kind kind : {Kind::Max, Kind::AvgIncludePad, Kind::AvgExcludePad}) {
      INFO("N=" << k.n << " C=" << k.c << " " << k.h << "x" << k.w << " k" << k.kernel << " s" << k.stride << " p"
                << k.padding << " kind " << int(kind));
      std::vector<float> x = random_vector(size_t(k.n) * k.c * k.h * k.w, -3, 3, seed++);
      if constexpr (!std::is_same_v<T, float>) x = round_to_half(x);
      const std::vector<float> got = run_kernel<T>(x, k, kind), want = run_cpu(x, k, kind);
      if (kind == Kind::Max) {
        // Max pooling selects one of the stored values: bit-exact in f32 and f16.
        REQUIRE(got.size() == want.size());
        for (size_t i = 0; i < got.size(); ++i) {
          INFO("index " << i << ": got " << got[i] << ", expected " << want[i]);
          REQUIRE(got[i] == want[i]);
        }
      } else if constexpr (std::is_same_v<T, float>) {
        REQUIRE_CLOSE(compare("avg_pool2d", got, want));
      } else {
        REQUIRE_CLOSE(compare("avg_pool2d f16", got, want, kF16Atol, kF16Rtol));
      }
    }
}

}  // namespace

TEST_CASE("pool2d f32 matches the CPU ops", "[kernels][pool2d]") { check_against_cpu<float>(10); }
TEST_CASE("pool2d f16 matches the CPU ops on rounded inputs", "[kernels][pool2d][f16]") { check_against_cpu<__half>(50); }

TEST_CASE("max_pool2d lets NaN win, as the CPU op and PyTorch do", "[kernels][pool2d]") {
  const Case k{1, 1, 4, 4, 2, 2, 0};
  std::vector<float> x = random_vector(16, -1, 1, 7);
  x[5] = std::nanf("");  // inside the top-left window only
  const std::vector<float> got = run_kernel<float>(x, k, Kind::Max), want = run_cpu(x, k, Kind::Max);
  REQUIRE(std::isnan(got[0]));
  REQUIRE(std::isnan(want[0]));
  for (size_t i = 1; i < got.size(); ++i) REQUIRE(got[i] == want[i]);
}

TEST_CASE("pool2d f32 matches the upstream fixtures", "[kernels][pool2d][fixture]") {
  struct Fixture {
    const char* name;
    int kernel, stride, padding;
    Kind kind;
  };
  for (const Fixture& fx : {Fixture{"tsa_max_pool_k3s2p1", 3, 2, 1, Kind::Max},
                            Fixture{"tsa_avg_pool_k3s2p1", 3, 2, 1, Kind::AvgIncludePad},
                            Fixture{"avg_pool_k2s2", 2, 2, 0, Kind::AvgIncludePad}}) {
    INFO(fx.name);
    auto f = test::load_fixture(std::string("ops/") + fx.name + ".safetensors");
    const Tensor& x = f.at("input");
    const Tensor& want = f.at("expected");
    const Case k{int(x.size(0)), int(x.size(1)), int(x.size(2)), int(x.size(3)), fx.kernel, fx.stride, fx.padding};
    REQUIRE(k.out_h() == want.size(2));
    REQUIRE(k.out_w() == want.size(3));
    REQUIRE_CLOSE(compare("pool2d", run_kernel<float>(std::vector<float>(x.data(), x.data() + x.numel()), k, fx.kind),
                          std::vector<float>(want.data(), want.data() + want.numel())));
  }
}
