// deform_conv2d kernel (deformable im2col + gemm seam + epilogue) vs the CPU backend, an
// independent reference written from spec §1.7 and the upstream (torchvision) fixtures.
#include <cmath>
#include <tuple>
#include <type_traits>

#include "core/ops.h"
#include "deform_conv2d.h"
#include "device_buffer.h"
#include "support/fixtures.h"

using namespace vrestore;
using namespace vrestore::kernel_test;

namespace {

struct Case {
  int n, cin, h, w, cout, kh, kw;
  int stride_h, stride_w, pad_h, pad_w, dil_h, dil_w, groups;
  bool bias;
  kernels::Activation activation;
  int out_h() const { return (h + 2 * pad_h - dil_h * (kh - 1) - 1) / stride_h + 1; }
  int out_w() const { return (w + 2 * pad_w - dil_w * (kw - 1) - 1) / stride_w + 1; }
  bool symmetric() const { return kh == kw && stride_h == stride_w && pad_h == pad_w && dil_h == dil_w; }
};

struct Inputs {
  std::vector<float> x, offset, mask, weight, bias;
};

Inputs make_inputs(const Case& k, uint32_t seed) {
  const size_t taps = size_t(k.kh) * k.kw, out_plane = size_t(k.out_h()) * k.out_w();
  Inputs in;
  in.x = random_vector(size_t(k.n) * k.cin * k.h * k.w, -1, 1, seed);
  // Fractional offsets of a few pixels; one in ten is x5 so that samples leave the image, one in
  // thirteen is a whole number so that samples land exactly on pixels and edges.
  in.offset = random_vector(size_t(k.n) * 2 * k.groups * taps * out_plane, -2, 2, seed + 1);
  for (size_t i = 0; i < in.offset.size(); i += 10) in.offset[i] *= 5;
  for (size_t i = 3; i < in.offset.size(); i += 13) in.offset[i] = std::round(in.offset[i]);
  in.mask = random_vector(size_t(k.n) * k.groups * taps * out_plane, 0, 1, seed + 2);
  in.weight = random_vector(size_t(k.cout) * k.cin * taps, -0.5, 0.5, seed + 3);
  if (k.bias) in.bias = random_vector(size_t(k.cout), -1, 1, seed + 4);
  return in;
}

// Spec §1.7 term by term, accumulated in double.
std::vector<float> reference_deform_conv2d(const Case& k, const Inputs& in) {
  const int ho = k.out_h(), wo = k.out_w(), taps = k.kh * k.kw, per_group = k.cin / k.groups;
  std::vector<float> out(size_t(k.n) * k.cout * ho * wo);
  auto at = [&](int b, int c, int y, int x) -> double {
    if (y < 0 || y >= k.h || x < 0 || x >= k.w) return 0.0;
    return in.x[((size_t(b) * k.cin + c) * k.h + y) * k.w + x];
  };
  for (int b = 0; b < k.n; ++b)
    for (int o = 0; o < k.cout; ++o)
      for (int oy = 0; oy < ho; ++oy)
        for (int ox = 0; ox < wo; ++ox) {
          double sum = k.bias ? in.bias[o] : 0.0;
          for (int c = 0; c < k.cin; ++c) {
            const int g = c / per_group;
            for (int ky = 0; ky < k.kh; ++ky)
              for (int kx = 0; kx < k.kw; ++kx) {
                const int tap = ky * k.kw + kx;
                auto offset = [&](int channel) {
                  return double(in.offset[((size_t(b) * 2 * k.groups * taps + channel) * ho + oy) * wo + ox]);
                };
                const double py = oy * k.stride_h - k.pad_h + ky * k.dil_h + offset(2 * (g * taps + tap));
                const double px = ox * k.stride_w - k.pad_w + kx * k.dil_w + offset(2 * (g * taps + tap) + 1);
                double v = 0.0;
                if (py > -1 && py < k.h && px > -1 && px < k.w) {
                  const int y0 = int(std::floor(py)), x0 = int(std::floor(px));
                  const double ly = py - y0, lx = px - x0;
                  v = (1 - ly) * (1 - lx) * at(b, c, y0, x0) + (1 - ly) * lx * at(b, c, y0, x0 + 1) +
                      ly * (1 - lx) * at(b, c, y0 + 1, x0) + ly * lx * at(b, c, y0 + 1, x0 + 1);
                }
                const double m = in.mask[((size_t(b) * k.groups * taps + g * taps + tap) * ho + oy) * wo + ox];
                sum += in.weight[((size_t(o) * k.cin + c) * k.kh + ky) * k.kw + kx] * m * v;
              }
          }
          if (k.activation == kernels::Activation::ReLU) sum = std::max(sum, 0.0);
          if (k.activation == kernels::Activation::LeakyReLU && sum < 0) sum *= 0.1;
          out[((size_t(b) * k.cout + o) * ho + oy) * wo + ox] = float(sum);
        }
  return out;
}

// Runs the kernel with T storage (inputs, weight, bias and output rounded to T; offset and mask
// stay f32) and returns the output as f32. chunk_pixels 0 lets the kernel choose.
template <class T>
std::vector<float> run_kernel(const Case& k, const Inputs& in, int64_t chunk_pixels = 0) {
  auto store = [](const std::vector<float>& v) {
    if constexpr (std::is_same_v<T, float>) return v;
    else return to_half(v);
  };
  DeviceBuffer<T> x(store(in.x)), weight(store(in.weight));
  DeviceBuffer<float> offset(in.offset), mask(in.mask);
  DeviceBuffer<T> bias(k.bias ? in.bias.size() : 1);
  if (k.bias) bias.upload(store(in.bias));
  DeviceBuffer<T> out(size_t(k.n) * k.cout * k.out_h() * k.out_w());
  out.fill_nan();
  kernels::DeformConv2dParams<T> p;
  p.input = x.get();
  p.offset = offset.get();
  p.mask = mask.get();
  p.weight = weight.get();
  p.bias = k.bias ? bias.get() : nullptr;
  p.output = out.get();
  p.batch = k.n;
  p.in_channels = k.cin;
  p.height = k.h;
  p.width = k.w;
  p.out_channels = k.cout;
  p.kernel_h = k.kh;
  p.kernel_w = k.kw;
  p.out_height = k.out_h();
  p.out_width = k.out_w();
  p.stride_h = k.stride_h;
  p.stride_w = k.stride_w;
  p.pad_h = k.pad_h;
  p.pad_w = k.pad_w;
  p.dilation_h = k.dil_h;
  p.dilation_w = k.dil_w;
  p.deformable_groups = k.groups;
  p.activation = k.activation;
  p.leaky_slope = 0.1f;
  p.chunk_pixels = chunk_pixels;
  // A tile element no thread writes stays NaN and poisons the GEMM output.
  const size_t bytes = kernels::deform_conv2d_workspace_bytes(p);
  REQUIRE(bytes % sizeof(T) == 0);
  DeviceBuffer<T> workspace(bytes / sizeof(T));
  workspace.fill_nan();
  p.workspace = workspace.get();
  CUDA_REQUIRE(kernels::deform_conv2d(p, kernels::GemmContext{}));
  return to_float(out.download());
}

std::vector<float> run_cpu(const Case& k, const Inputs& in) {
  const int taps = k.kh * k.kw;
  const Tensor x = Tensor::from_data({k.n, k.cin, k.h, k.w}, in.x.data());
  const Tensor offset = Tensor::from_data({k.n, 2 * k.groups * taps, k.out_h(), k.out_w()}, in.offset.data());
  const Tensor mask = Tensor::from_data({k.n, k.groups * taps, k.out_h(), k.out_w()}, in.mask.data());
  const Tensor weight = Tensor::from_data({k.cout, k.cin, k.kh, k.kw}, in.weight.data());
  const Tensor bias = k.bias ? Tensor::from_data({k.cout}, in.bias.data()) : Tensor();
  ops::DeformConv2dParams p;
  p.stride = k.stride_h;
  p.padding = k.pad_h;
  p.dilation = k.dil_h;
  p.activation = k.activation == kernels::Activation::ReLU        ? ops::Activation::ReLU
                 : k.activation == kernels::Activation::LeakyReLU ? ops::Activation::LeakyReLU
                                                                  : ops::Activation::None;
  const Tensor out = ops::deform_conv2d(x, offset, mask, weight, k.bias ? &bias : nullptr, p);
  return std::vector<float>(out.data(), out.data() + out.numel());
}

using kernels::Activation;
// EDVR's shape (3x3, stride 1, pad 1) with several groups; stride 2 + dilation 2; an output plane
// of 17*19 = 323 pixels (more than one 256-thread block, not a multiple); a 1x1 output; an
// asymmetric case (kh != kw, different strides/pads/dilations per axis) the CPU op cannot express;
// H = 1, W = 1 and one channel per group.
constexpr Case kCases[] = {
    {2, 8, 11, 9, 5, 3, 3, 1, 1, 1, 1, 1, 1, 2, true, Activation::None},
    {2, 8, 13, 10, 4, 3, 3, 2, 2, 2, 2, 2, 2, 4, true, Activation::LeakyReLU},
    {1, 6, 17, 19, 7, 3, 3, 1, 1, 1, 1, 1, 1, 3, false, Activation::ReLU},
    {2, 4, 3, 3, 3, 3, 3, 1, 1, 0, 0, 1, 1, 1, true, Activation::None},
    {2, 6, 9, 14, 3, 2, 3, 1, 2, 0, 1, 2, 1, 2, true, Activation::LeakyReLU},
    {1, 4, 1, 9, 3, 3, 3, 1, 1, 1, 1, 1, 1, 2, true, Activation::None},      // H = 1
    {2, 4, 9, 1, 3, 3, 3, 1, 1, 1, 1, 1, 1, 4, true, Activation::ReLU},      // W = 1
    {1, 8, 7, 5, 6, 3, 3, 1, 1, 1, 1, 1, 1, 8, false, Activation::LeakyReLU},  // G = Cin
};

}  // namespace

TEST_CASE("deform_conv2d matches the independent reference", "[kernels][deform_conv2d]") {
  uint32_t seed = 100;
  for (const Case& k : kCases) {
    INFO("case N=" << k.n << " Cin=" << k.cin << " " << k.h << "x" << k.w << " G=" << k.groups << " stride "
                   << k.stride_h << "," << k.stride_w << " dil " << k.dil_h << "," << k.dil_w);
    const Inputs in = make_inputs(k, seed += 10);
    const Comparison c = compare("deform_conv2d", run_kernel<float>(k, in), reference_deform_conv2d(k, in));
    REQUIRE_CLOSE(c);
    std::printf("deform_conv2d vs reference N=%d Cin=%d %dx%d G=%d s%d d%d: max |diff| %.2e\n", k.n, k.cin, k.h, k.w,
                k.groups, k.stride_h, k.dil_h, c.max_abs);
  }
}

TEST_CASE("deform_conv2d matches the CPU backend", "[kernels][deform_conv2d]") {
  uint32_t seed = 100;
  for (const Case& k : kCases) {
    const Inputs in = make_inputs(k, seed += 10);
    if (!k.symmetric()) continue;
    INFO("case N=" << k.n << " Cin=" << k.cin << " " << k.h << "x" << k.w << " G=" << k.groups);
    const Comparison c = compare("deform_conv2d", run_kernel<float>(k, in), run_cpu(k, in));
    REQUIRE_CLOSE(c);
    std::printf("deform_conv2d vs CPU N=%d Cin=%d %dx%d G=%d s%d d%d: max |diff| %.2e\n", k.n, k.cin, k.h, k.w,
                k.groups, k.stride_h, k.dil_h, c.max_abs);
  }
}

TEST_CASE("deform_conv2d matches the upstream fixtures", "[kernels][deform_conv2d][fixture]") {
  struct Fixture {
    const char* name;
    int groups, stride, pad, dil;
  };
  for (const Fixture& fx : {Fixture{"dg1_s1_p1_d1", 1, 1, 1, 1}, Fixture{"dg2_s1_p1_d1", 2, 1, 1, 1},
                            Fixture{"dg4_s2_p2_d2", 4, 2, 2, 2}, Fixture{"dg8_s1_p1_d1", 8, 1, 1, 1}}) {
    INFO(fx.name);
    auto f = test::load_fixture(std::string("ops/deform_conv2d_") + fx.name + ".safetensors");
    const Tensor& x = f.at("input");
    const Tensor& weight = f.at("weight");
    auto vec = [](const Tensor& t) { return std::vector<float>(t.data(), t.data() + t.numel()); };
    const Case k{int(x.size(0)), int(x.size(1)), int(x.size(2)), int(x.size(3)), int(weight.size(0)),
                 int(weight.size(2)), int(weight.size(3)), fx.stride, fx.stride, fx.pad, fx.pad, fx.dil, fx.dil,
                 fx.groups, true, Activation::None};
    const Inputs in{vec(x), vec(f.at("offset")), vec(f.at("mask")), vec(weight), vec(f.at("bias"))};
    const Comparison c = compare("deform_conv2d", run_kernel<float>(k, in), vec(f.at("expected")));
    REQUIRE_CLOSE(c);
    std::printf("deform_conv2d fixture %s: max |diff| %.2e\n", fx.name, c.max_abs);
  }
}

namespace {
// The inputs fp16 storage holds (offsets and masks stay f32).
Inputs rounded_to_half(const Inputs& in) {
  Inputs r = in;
  r.x = round_to_half(in.x);
  r.weight = round_to_half(in.weight);
  r.bias = round_to_half(in.bias);
  return r;
}

kernels::DeformConv2dParams<float> edvr_params(int height, int width, int channels) {
  kernels::DeformConv2dParams<float> p;
  p.batch = 1;
  p.in_channels = p.out_channels = channels;
  p.height = p.out_height = height;
  p.width = p.out_width = width;
  p.kernel_h = p.kernel_w = 3;
  p.pad_h = p.pad_w = 1;
  p.deformable_groups = 8;
  return p;
}
template <class T>
kernels::DeformConv2dParams<T> with_storage(const kernels::DeformConv2dParams<float>& f) {
  kernels::DeformConv2dParams<T> p;
  p.batch = f.batch;
  p.in_channels = f.in_channels;
  p.out_channels = f.out_channels;
  p.height = f.height;
  p.width = f.width;
  p.out_height = f.out_height;
  p.out_width = f.out_width;
  p.kernel_h = f.kernel_h;
  p.kernel_w = f.kernel_w;
  p.deformable_groups = f.deformable_groups;
  p.chunk_pixels = f.chunk_pixels;
  return p;
}
}  // namespace

TEST_CASE("deform_conv2d in chunks that split rows matches the reference", "[kernels][deform_conv2d]") {
  uint32_t seed = 100;
  for (const Case& k : kCases) {
    const Inputs in = make_inputs(k, seed += 10);
    const std::vector<float> want = reference_deform_conv2d(k, in);
    const int64_t plane = int64_t(k.out_h()) * k.out_w();
    // One pixel per chunk, chunks that start mid-row, one short of the plane (a 1-pixel remainder).
    for (int64_t chunk : {int64_t(1), int64_t(7), int64_t(13), plane - 1}) {
      if (chunk < 1) continue;
      INFO("case N=" << k.n << " Cin=" << k.cin << " " << k.h << "x" << k.w << " G=" << k.groups << ", chunk " << chunk);
      REQUIRE_CLOSE(compare("deform_conv2d", run_kernel<float>(k, in, chunk), want));
    }
  }
}

TEST_CASE("deform_conv2d f16 matches the CPU backend on the same rounded inputs", "[kernels][deform_conv2d][f16]") {
  uint32_t seed = 300;
  for (const Case& k : kCases) {
    const Inputs in = rounded_to_half(make_inputs(k, seed += 10));
    // The asymmetric case has no CPU op; the independent reference stands in for it.
    const std::vector<float> want = k.symmetric() ? run_cpu(k, in) : reference_deform_conv2d(k, in);
    for (int64_t chunk : {int64_t(0), int64_t(7)}) {
      INFO("case N=" << k.n << " Cin=" << k.cin << " " << k.h << "x" << k.w << " G=" << k.groups << ", chunk " << chunk);
      const Comparison c = compare("deform_conv2d f16", run_kernel<__half>(k, in, chunk), want, kF16Atol, kF16Rtol);
      REQUIRE_CLOSE(c);
      if (chunk == 0)
        std::printf("deform_conv2d f16 vs CPU N=%d Cin=%d %dx%d G=%d: max |diff| %.2e\n", k.n, k.cin, k.h, k.w,
                    k.groups, c.max_abs);
    }
  }
}

TEST_CASE("deform_conv2d workspace stays within 64 MiB at any size", "[kernels][deform_conv2d]") {
  constexpr size_t kLimit = size_t(64) << 20;
  struct Size {
    int h, w, channels;
  };
  // The official 720p shape (where a whole-image column buffer is 2.1 GB), 4K, 8K, and a wide
  // layer; f32 and f16, the automatic chunk and an absurd requested one.
  for (const Size s : {Size{720, 1280, 64}, Size{2160, 3840, 64}, Size{4320, 7680, 64}, Size{720, 1280, 1024}}) {
    for (int64_t requested : {int64_t(0), int64_t(1) << 40}) {
      kernels::DeformConv2dParams<float> p = edvr_params(s.h, s.w, s.channels);
      p.chunk_pixels = requested;
      const auto h = with_storage<__half>(p);
      INFO(s.h << "x" << s.w << " Cin=" << s.channels << " requested chunk " << requested);
      const size_t column = size_t(s.channels) * 9;
      for (auto [bytes, chunk, element] :
           {std::tuple{kernels::deform_conv2d_workspace_bytes(p), kernels::deform_conv2d_chunk_pixels(p), sizeof(float)},
            std::tuple{kernels::deform_conv2d_workspace_bytes(h), kernels::deform_conv2d_chunk_pixels(h),
                       sizeof(__half)}}) {
        CHECK(bytes <= kLimit);
        CHECK(chunk >= 1);
        CHECK(bytes == size_t(chunk) * column * element);
      }
      if (requested == 0 && s.h == 720 && s.channels == 64)
        std::printf("deform_conv2d 720x1280 64ch: %lld px per chunk, %.1f MiB workspace (f32); whole image %.0f MiB\n",
                    (long long)kernels::deform_conv2d_chunk_pixels(p),
                    double(kernels::deform_conv2d_workspace_bytes(p)) / (1 << 20),
                    double(column) * s.h * s.w * sizeof(float) / (1 << 20));
    }
  }
  // A column of one pixel above the limit cannot be chunked: no workspace, and the entry refuses.
  kernels::DeformConv2dParams<float> huge = edvr_params(4, 4, 8);
  huge.in_channels = 2'000'000;
  CHECK(kernels::deform_conv2d_chunk_pixels(huge) == 0);
  CHECK(kernels::deform_conv2d_workspace_bytes(huge) == 0);
  CHECK(kernels::deform_conv2d(huge, kernels::GemmContext{}) == cudaErrorInvalidValue);
}
