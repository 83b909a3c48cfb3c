// conv2d kernel (im2col over pixel chunks + gemm seam + epilogue) vs the CPU backend's
// ops::conv2d and an independent direct reference (double accumulation). The f32 tolerance is
// the CPU op tests' own (1e-5 + 1e-4|ref|, tests/test_ops.cpp), which its Winograd path meets.
#include <algorithm>
#include <cmath>
#include <type_traits>

#include "conv2d.h"
#include "core/ops.h"
#include "device_buffer.h"

using namespace vrestore;
using namespace vrestore::kernel_test;
using kernels::Activation;

namespace {

struct Case {
  int n, cin, h, w, cout, kh, kw;
  int stride_h, stride_w, pad_h, pad_w, dil_h, dil_w;
  bool bias;
  Activation activation;
  int out_h() const { return (h + 2 * pad_h - dil_h * (kh - 1) - 1) / stride_h + 1; }
  int out_w() const { return (w + 2 * pad_w - dil_w * (kw - 1) - 1) / stride_w + 1; }
  // ops::conv2d takes one stride, dilation and padding for both axes.
  bool cpu_expressible() const { return stride_h == stride_w && pad_h == pad_w && dil_h == dil_w; }
};

struct Inputs {
  std::vector<float> x, weight, bias;
  std::vector<float> residual;  // (N, Cout, Ho, Wo) added after the activation, or empty
};

Inputs make_inputs(const Case& k, uint32_t seed) {
  Inputs in;
  in.x = random_vector(size_t(k.n) * k.cin * k.h * k.w, -1, 1, seed);
  const float scale = 1.0f / std::sqrt(float(k.cin * k.kh * k.kw));
  in.weight = random_vector(size_t(k.cout) * k.cin * k.kh * k.kw, -scale, scale, seed + 1);
  if (k.bias) in.bias = random_vector(size_t(k.cout), -1, 1, seed + 2);
  return in;
}

double activate(double v, Activation a) {
  switch (a) {
    case Activation::ReLU: return std::max(v, 0.0);
    case Activation::LeakyReLU: return v < 0 ? v * 0.1 : v;
    case Activation::Sigmoid: return 1.0 / (1.0 + std::exp(-v));
    default: return v;
  }
}

// The definition of F.conv2d, term by term.
std::vector<float> reference_conv2d(const Case& k, const Inputs& in) {
  const int ho = k.out_h(), wo = k.out_w();
  std::vector<float> out(size_t(k.n) * k.cout * ho * wo);
  for (int b = 0; b < k.n; ++b)
    for (int o = 0; o < k.cout; ++o)
      for (int oy = 0; oy < ho; ++oy)
        for (int ox = 0; ox < wo; ++ox) {
          double sum = k.bias ? in.bias[o] : 0.0;
          for (int c = 0; c < k.cin; ++c)
            for (int ky = 0; ky < k.kh; ++ky)
              for (int kx = 0; kx < k.kw; ++kx) {
                const int y = oy * k.stride_h - k.pad_h + ky * k.dil_h;
                const int x = ox * k.stride_w - k.pad_w + kx * k.dil_w;
                if (y < 0 || y >= k.h || x < 0 || x >= k.w) continue;
                sum += double(in.weight[((size_t(o) * k.cin + c) * k.kh + ky) * k.kw + kx]) *
                       in.x[((size_t(b) * k.cin + c) * k.h + y) * k.w + x];
              }
          const size_t i = ((size_t(b) * k.cout + o) * ho + oy) * wo + ox;
          out[i] = float(activate(sum, k.activation));
          if (!in.residual.empty()) out[i] += in.residual[i];  // rounded like the kernels: once after the activation
        }
  return out;
}

template <class T>
kernels::Conv2dParams<T> params_of(const Case& k) {
  kernels::Conv2dParams<T> p;
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
  p.activation = k.activation;
  p.leaky_slope = 0.1f;
  return p;
}

// Runs the kernel with T storage (inputs, weight, bias and output rounded to T) into a
// NaN-filled output and workspace, and returns the output as f32. chunk_pixels 0 lets the kernel
// choose.
template <class T>
std::vector<float> run_kernel(const Case& k, const Inputs& in, int64_t chunk_pixels = 0) {
  auto store = [](const std::vector<float>& v) {
    if constexpr (std::is_same_v<T, float>) return v;
    else return to_half(v);
  };
  DeviceBuffer<T> x(store(in.x)), weight(store(in.weight));
  DeviceBuffer<T> bias(k.bias ? in.bias.size() : 1);
  if (k.bias) bias.upload(store(in.bias));
  DeviceBuffer<T> out(size_t(k.n) * k.cout * k.out_h() * k.out_w());
  out.fill_nan();
  DeviceBuffer<T> residual(std::max<size_t>(in.residual.size(), 1));
  if (!in.residual.empty()) residual.upload(store(in.residual));
  kernels::Conv2dParams<T> p = params_of<T>(k);
  p.input = x.get();
  p.weight = weight.get();
  p.bias = k.bias ? bias.get() : nullptr;
  p.residual = in.residual.empty() ? nullptr : residual.get();
  p.output = out.get();
  p.chunk_pixels = chunk_pixels;
  // A tile element no thread writes stays NaN and poisons the GEMM output.
  const size_t bytes = kernels::conv2d_workspace_bytes(p);
  REQUIRE(bytes % sizeof(T) == 0);
  DeviceBuffer<T> workspace(std::max<size_t>(bytes / sizeof(T), 1));
  workspace.fill_nan();
  p.workspace = bytes ? workspace.get() : nullptr;
  CUDA_REQUIRE(kernels::conv2d(p, kernels::GemmContext{}));
  return to_float(out.download());
}

std::vector<float> run_cpu(const Case& k, const Inputs& in) {
  const Tensor x = Tensor::from_data({k.n, k.cin, k.h, k.w}, in.x.data());
  const Tensor weight = Tensor::from_data({k.cout, k.cin, k.kh, k.kw}, in.weight.data());
  const Tensor bias = k.bias ? Tensor::from_data({k.cout}, in.bias.data()) : Tensor();
  ops::Conv2dParams p;
  p.stride = k.stride_h;
  p.padding = k.pad_h;
  p.dilation = k.dil_h;
  p.activation = k.activation;
  const Tensor residual =
      in.residual.empty() ? Tensor() : Tensor::from_data({k.n, k.cout, k.out_h(), k.out_w()}, in.residual.data());
  const Tensor out = ops::conv2d(x, weight, k.bias ? &bias : nullptr, p, in.residual.empty() ? nullptr : &residual);
  return std::vector<float>(out.data(), out.data() + out.numel());
}

// 1x1 pointwise (no tile) and 1x1 stride 2 (tile); 3x3 dilation 2; 3x3 stride 2; SpyNet's 7x7;
// a 64 -> 64 3x3 on a plane the CPU takes through Winograd; an output plane of 17*19 = 323 pixels
// (more than one 256-thread block) with 37 input channels (a partial 16-channel slice); H = 1,
// W = 1; padding larger than the kernel reach; an asymmetric kernel/stride/padding/dilation case
// the CPU op cannot express.
constexpr Case kCases[] = {
    {2, 20, 13, 11, 17, 1, 1, 1, 1, 0, 0, 1, 1, true, Activation::None},
    {1, 11, 12, 13, 7, 1, 1, 2, 2, 0, 0, 1, 1, true, Activation::ReLU},
    {1, 8, 15, 14, 6, 3, 3, 1, 1, 2, 2, 2, 2, true, Activation::LeakyReLU},
    {2, 9, 13, 10, 5, 3, 3, 2, 2, 1, 1, 1, 1, false, Activation::ReLU},
    {2, 5, 20, 30, 2, 7, 7, 1, 1, 3, 3, 1, 1, true, Activation::None},
    {1, 64, 40, 52, 64, 3, 3, 1, 1, 1, 1, 1, 1, true, Activation::LeakyReLU},
    {1, 37, 17, 19, 7, 3, 3, 1, 1, 1, 1, 1, 1, true, Activation::Sigmoid},
    {1, 4, 1, 9, 3, 3, 3, 1, 1, 1, 1, 1, 1, true, Activation::None},   // H = 1
    {2, 4, 9, 1, 3, 3, 3, 1, 1, 1, 1, 1, 1, true, Activation::ReLU},   // W = 1
    {1, 32, 2, 2, 8, 7, 7, 1, 1, 3, 3, 1, 1, true, Activation::None},  // SpyNet's coarsest level
    {1, 9, 5, 6, 3, 3, 3, 3, 3, 4, 4, 1, 1, true, Activation::LeakyReLU},
    {2, 6, 9, 14, 3, 2, 3, 1, 2, 0, 1, 2, 1, true, Activation::LeakyReLU},
};

std::string describe(const Case& k) {
  char s[160];
  std::snprintf(s, sizeof s, "N=%d Cin=%d %dx%d -> %d k%dx%d s%d,%d p%d,%d d%d,%d", k.n, k.cin, k.h, k.w, k.cout, k.kh,
                k.kw, k.stride_h, k.stride_w, k.pad_h, k.pad_w, k.dil_h, k.dil_w);
  return s;
}

}  // namespace

TEST_CASE("conv2d matches the independent reference", "[kernels][conv2d]") {
  uint32_t seed = 500;
  for (const Case& k : kCases) {
    INFO("case " << describe(k));
    const Inputs in = make_inputs(k, seed += 10);
    const Comparison c = compare("conv2d", run_kernel<float>(k, in), reference_conv2d(k, in), kF32Atol, kF32Rtol);
    REQUIRE_CLOSE(c);
    std::printf("conv2d vs reference %s: max |diff| %.2e\n", describe(k).c_str(), c.max_abs);
  }
}

TEST_CASE("conv2d matches the CPU backend", "[kernels][conv2d]") {
  uint32_t seed = 500;
  for (const Case& k : kCases) {
    const Inputs in = make_inputs(k, seed += 10);
    if (!k.cpu_expressible()) continue;
    INFO("case " << describe(k));
    const Comparison c = compare("conv2d", run_kernel<float>(k, in), run_cpu(k, in), kF32Atol, kF32Rtol);
    REQUIRE_CLOSE(c);
    std::printf("conv2d vs CPU %s: max |diff| %.2e\n", describe(k).c_str(), c.max_abs);
  }
}

TEST_CASE("conv2d in chunks that split rows matches the reference", "[kernels][conv2d]") {
  uint32_t seed = 500;
  for (const Case& k : kCases) {
    const Inputs in = make_inputs(k, seed += 10);
    const std::vector<float> want = reference_conv2d(k, in);
    const int64_t plane = int64_t(k.out_h()) * k.out_w();
    // One pixel per chunk, chunks that start mid-row, one short of the plane (a 1-pixel remainder).
    for (int64_t chunk : {int64_t(1), int64_t(7), int64_t(13), plane - 1}) {
      if (chunk < 1) continue;
      INFO("case " << describe(k) << ", chunk " << chunk);
      REQUIRE_CLOSE(compare("conv2d", run_kernel<float>(k, in, chunk), want, kF32Atol, kF32Rtol));
    }
  }
}

TEST_CASE("conv2d f16 matches the CPU backend on the same rounded inputs", "[kernels][conv2d][f16]") {
  uint32_t seed = 700;
  for (const Case& k : kCases) {
    Inputs in = make_inputs(k, seed += 10);
    in.x = round_to_half(in.x);
    in.weight = round_to_half(in.weight);
    in.bias = round_to_half(in.bias);
    // The asymmetric case has no CPU op; the independent reference stands in for it.
    const std::vector<float> want = k.cpu_expressible() ? run_cpu(k, in) : reference_conv2d(k, in);
    for (int64_t chunk : {int64_t(0), int64_t(7)}) {
      INFO("case " << describe(k) << ", chunk " << chunk);
      const Comparison c = compare("conv2d f16", run_kernel<__half>(k, in, chunk), want, kF16Atol, kF16Rtol);
      REQUIRE_CLOSE(c);
      if (chunk == 0) std::printf("conv2d f16 vs CPU %s: max |diff| %.2e\n", describe(k).c_str(), c.max_abs);
    }
  }
}

TEST_CASE("conv2d adds a residual in its epilogue, also without bias or activation", "[kernels][conv2d]") {
  uint32_t seed = 900;
  for (Case k : kCases) {
    for (bool bias : {true, false}) {
      k.bias = bias;
      Inputs in = make_inputs(k, seed += 10);
      in.residual = random_vector(size_t(k.n) * k.cout * k.out_h() * k.out_w(), -1, 1, seed + 5);
      const std::vector<float> want = reference_conv2d(k, in);
      for (int64_t chunk : {int64_t(0), int64_t(7)}) {
        INFO("case " << describe(k) << ", bias " << bias << ", chunk " << chunk);
        REQUIRE_CLOSE(compare("conv2d + residual", run_kernel<float>(k, in, chunk), want, kF32Atol, kF32Rtol));
        if (k.cpu_expressible())
          REQUIRE_CLOSE(compare("conv2d + residual vs CPU", run_kernel<float>(k, in, chunk), run_cpu(k, in), kF32Atol,
                                kF32Rtol));
      }
      if (!k.cpu_expressible()) continue;
      Inputs rounded = in;
      for (auto* v : {&rounded.x, &rounded.weight, &rounded.bias, &rounded.residual}) *v = round_to_half(*v);
      INFO("f16 case " << describe(k) << ", bias " << bias);
      REQUIRE_CLOSE(compare("conv2d f16 + residual", run_kernel<__half>(k, rounded), run_cpu(k, rounded), kF16Atol,
                            kF16Rtol));
    }
  }
}

TEST_CASE("conv2d workspace stays within 64 MiB at any size", "[kernels][conv2d]") {
  constexpr size_t kLimit = size_t(64) << 20;
  struct Size {
    int h, w, channels, kernel;
  };
  // The trunk's 3x3 at 720p, 4K and 8K, a wide 3x3 layer, SpyNet's 7x7 at 720p; f32 and f16, the
  // automatic chunk and an absurd requested one.
  for (const Size s : {Size{720, 1280, 64, 3}, Size{2160, 3840, 64, 3}, Size{4320, 7680, 64, 3},
                       Size{720, 1280, 1024, 3}, Size{720, 1280, 32, 7}}) {
    for (int64_t requested : {int64_t(0), int64_t(1) << 40}) {
      const Case k{1, s.channels, s.h, s.w, s.channels, s.kernel, s.kernel, 1, 1, s.kernel / 2, s.kernel / 2,
                   1, 1, true, Activation::None};
      auto p = params_of<float>(k);
      auto h = params_of<__half>(k);
      p.chunk_pixels = h.chunk_pixels = requested;
      INFO(s.h << "x" << s.w << " Cin=" << s.channels << " k" << s.kernel << " requested chunk " << requested);
      const size_t column = size_t(s.channels) * s.kernel * s.kernel;
      CHECK(kernels::conv2d_workspace_bytes(p) <= kLimit);
      CHECK(kernels::conv2d_workspace_bytes(h) <= kLimit);
      CHECK(kernels::conv2d_chunk_pixels(p) >= 1);
      CHECK(kernels::conv2d_workspace_bytes(p) == size_t(kernels::conv2d_chunk_pixels(p)) * column * sizeof(float));
      CHECK(kernels::conv2d_workspace_bytes(h) == size_t(kernels::conv2d_chunk_pixels(h)) * column * sizeof(__half));
      if (requested == 0 && s.h == 720 && s.channels == 64)
        std::printf("conv2d 720x1280 64ch 3x3: %lld px per chunk, %.1f MiB workspace (f32); whole image %.0f MiB\n",
                    (long long)kernels::conv2d_chunk_pixels(p), double(kernels::conv2d_workspace_bytes(p)) / (1 << 20),
                    double(column) * s.h * s.w * sizeof(float) / (1 << 20));
    }
  }
  // A pointwise conv reads the input directly: no workspace.
  auto pointwise = params_of<float>(kCases[0]);
  CHECK(kernels::conv2d_is_pointwise(pointwise));
  CHECK(kernels::conv2d_workspace_bytes(pointwise) == 0);
  // A column of one pixel above the limit cannot be chunked: no workspace, and the entry refuses.
  auto huge = params_of<float>(Case{1, 2'000'000, 4, 4, 8, 3, 3, 1, 1, 1, 1, 1, 1, false, Activation::None});
  CHECK(kernels::conv2d_chunk_pixels(huge) == 0);
  CHECK(kernels::conv2d_workspace_bytes(huge) == 0);
  CHECK(kernels::conv2d(huge, kernels::GemmContext{}) == cudaErrorInvalidValue);
}
