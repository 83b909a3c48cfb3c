// pixel_shuffle kernel vs the CPU backend (bit-exact), an independent reference and the fixture.
#include <cstring>

#include "core/ops.h"
#include "device_buffer.h"
#include "pixel_shuffle.h"
#include "support/fixtures.h"

using namespace vrestore;
using namespace vrestore::kernel_test;

namespace {

// Scatters every input element to its output position (the kernel gathers per output element).
template <class T>
std::vector<T> reference_pixel_shuffle(const std::vector<T>& in, int n, int c, int h, int w, int r) {
  std::vector<T> out(in.size());
  size_t i = 0;
  for (int b = 0; b < n; ++b)
    for (int ch = 0; ch < c * r * r; ++ch)
      for (int y = 0; y < h; ++y)
        for (int x = 0; x < w; ++x, ++i) {
          const int oc = ch / (r * r), dy = ch % (r * r) / r, dx = ch % r;
          out[((size_t(b) * c + oc) * h * r + y * r + dy) * size_t(w) * r + x * r + dx] = in[i];
        }
  return out;
}

// `misalign` shifts both buffers by one element, so no pointer is 16-byte (or 2-element) aligned
// and the kernel must take its narrow path.
template <class T>
std::vector<T> run_kernel(const std::vector<T>& in, const kernels::PixelShuffleShape& s, bool misalign = false) {
  const size_t shift = misalign ? 1 : 0;
  DeviceBuffer<T> input(in.size() + shift), output(in.size() + shift);
  CUDA_REQUIRE(cudaMemcpy(input.get() + shift, in.data(), in.size() * sizeof(T), cudaMemcpyHostToDevice));
  output.fill_nan();
  CUDA_REQUIRE(kernels::pixel_shuffle(s, input.get() + shift, output.get() + shift, nullptr));
  std::vector<T> all = output.download();
  return std::vector<T>(all.begin() + long(shift), all.end());
}

template <class T>
bool same_bits(const std::vector<T>& a, const std::vector<T>& b) {
  return a.size() == b.size() && std::memcmp(a.data(), b.data(), a.size() * sizeof(T)) == 0;
}

struct Case {
  int n, c, h, w, r;
};
// Every path of the kernel: widths that are multiples of 8 (16-byte runs for f32 and f16), of 4
// only (16-byte f32, 8-byte f16), of 2 only, odd widths (one element per run); r = 2, 3, 4 (the
// compile-time factors), 1 and 5 (the generic one); rows wider than a 256-thread block
// (W = 1100: 275 float4 runs) and many narrow rows (several rows per block); W = 1 and H = 1.
constexpr Case kCases[] = {{2, 3, 5, 7, 2},  {1, 2, 37, 3, 3},   {3, 1, 1, 300, 2}, {1, 4, 6, 64, 2},
                           {2, 5, 3, 1, 4},  {2, 3, 4, 8, 3},    {1, 2, 3, 12, 4},  {2, 3, 5, 6, 2},
                           {1, 2, 3, 10, 3}, {1, 2, 3, 4, 5},    {2, 3, 4, 5, 1},   {1, 1, 2, 1100, 2},
                           {1, 3, 1, 16, 4}, {2, 2, 9, 24, 2},   {1, 2, 40, 2, 4}};

}  // namespace

TEST_CASE("pixel_shuffle f32 matches the CPU backend and the reference bit for bit", "[kernels][pixel_shuffle]") {
  for (const Case& k : kCases) {
    INFO("N=" << k.n << " C=" << k.c << " H=" << k.h << " W=" << k.w << " r=" << k.r);
    const std::vector<float> in = random_vector(size_t(k.n) * k.c * k.r * k.r * k.h * k.w, -1, 1, 11);
    const std::vector<float> got = run_kernel(in, {k.n, k.c, k.h, k.w, k.r});
    REQUIRE(same_bits(got, reference_pixel_shuffle(in, k.n, k.c, k.h, k.w, k.r)));
    REQUIRE(same_bits(run_kernel(in, {k.n, k.c, k.h, k.w, k.r}, true), got));

    const Tensor cpu = ops::pixel_shuffle(Tensor::from_data({k.n, int64_t(k.c) * k.r * k.r, k.h, k.w}, in.data()), k.r);
    REQUIRE(cpu.shape() == Shape{k.n, k.c, int64_t(k.h) * k.r, int64_t(k.w) * k.r});
    REQUIRE(same_bits(got, std::vector<float>(cpu.data(), cpu.data() + cpu.numel())));
  }
}

TEST_CASE("pixel_shuffle f16 matches the reference bit for bit", "[kernels][pixel_shuffle]") {
  for (const Case& k : kCases) {
    INFO("N=" << k.n << " C=" << k.c << " H=" << k.h << " W=" << k.w << " r=" << k.r);
    const std::vector<float> values = random_vector(size_t(k.n) * k.c * k.r * k.r * k.h * k.w, -4, 4, 12);
    std::vector<__half> in(values.size());
    for (size_t i = 0; i < values.size(); ++i) in[i] = __float2half(values[i]);
    const std::vector<__half> want = reference_pixel_shuffle(in, k.n, k.c, k.h, k.w, k.r);
    REQUIRE(same_bits(run_kernel(in, {k.n, k.c, k.h, k.w, k.r}), want));
    REQUIRE(same_bits(run_kernel(in, {k.n, k.c, k.h, k.w, k.r}, true), want));
  }
}

TEST_CASE("pixel_shuffle f32 matches the upstream fixture", "[kernels][pixel_shuffle][fixture]") {
  auto f = test::load_fixture("ops/pixel_shuffle_r2.safetensors");
  const Tensor& x = f.at("input");  // (1, 20, 3, 4)
  const Tensor& want = f.at("expected");  // (1, 5, 6, 8)
  const std::vector<float> got = run_kernel(std::vector<float>(x.data(), x.data() + x.numel()),
                                            {int(x.size(0)), int(x.size(1) / 4), int(x.size(2)), int(x.size(3)), 2});
  REQUIRE(same_bits(got, std::vector<float>(want.data(), want.data() + want.numel())));
}
