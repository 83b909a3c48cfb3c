// CPU operators against the upstream single-op fixtures (shared/fixtures/ops) and against naive
// references written here from the formulas (direct loops in double, no code shared with src/cpu).
#include <catch2/catch.hpp>

#include <cmath>
#include <cstdio>
#include <random>
#include <string>
#include <vector>

#include "core/matmul_precision.h"
#include "core/ops.h"
#include "cpu/amx_bf16.h"
#include "cpu/conv_winograd.h"
#include "cpu/dispatch.h"
#include "cpu/weight_cache.h"
#include "support/checks.h"
#include "support/fixtures.h"
#include "vrestore/error.h"

using vrestore::Shape;
using vrestore::Tensor;
using vrestore::HighestMatmulPrecision;
using vrestore::MatmulPrecision;
using vrestore::ops::Activation;
using vrestore::float32_matmul_precision;
using vrestore::set_float32_matmul_precision;
using Catch::Matchers::Contains;
namespace ops = vrestore::ops;
namespace cpu = vrestore::cpu;
namespace test = vrestore::test;

namespace {

// A CPU op against its reference at the op acceptance (docs/design.md): 1e-5 + 1e-4 |ref|.
using test::check_close;
using test::random_tensor;

float activated(double v, Activation a) {
  const float f = static_cast<float>(v);
  switch (a) {
    case Activation::None: return f;
    case Activation::ReLU: return f < 0.0f ? 0.0f : f;
    case Activation::LeakyReLU: return f >= 0.0f ? f : f * 0.1f;
  }
  return f;
}

// Channels [begin, begin+count) of an (N, C, H, W) tensor, copied.
Tensor channel_slice(const Tensor& t, int64_t begin, int64_t count) {
  const int64_t n = t.size(0), c = t.size(1), plane = t.size(2) * t.size(3);
  Tensor out = Tensor::empty({n, count, t.size(2), t.size(3)});
  for (int64_t i = 0; i < n; ++i)
    for (int64_t k = 0; k < count * plane; ++k)
      out.data()[i * count * plane + k] = t.data()[(i * c + begin) * plane + k];
  return out;
}

// ---- naive references ----------------------------------------------------------------------------

// out[n,o,y,x] = bias[o] + sum_{c,i,j} w[o,c,i,j] * x[n,c,y*s-ph+i*d, x*s-pw+j*d] (zero outside).
Tensor naive_conv2d(const Tensor& x, const Tensor& w, const Tensor* bias, int stride, int pad_h, int pad_w,
                    int dilation, Activation act) {
  const int64_t N = x.size(0), C = x.size(1), H = x.size(2), W = x.size(3);
  const int64_t O = w.size(0), KH = w.size(2), KW = w.size(3);
  const int64_t HO = (H + 2 * pad_h - dilation * (KH - 1) - 1) / stride + 1;
  const int64_t WO = (W + 2 * pad_w - dilation * (KW - 1) - 1) / stride + 1;
  Tensor out = Tensor::empty({N, O, HO, WO});
  const float* xd = x.data();
  const float* wd = w.data();
  for (int64_t n = 0; n < N; ++n)
    for (int64_t o = 0; o < O; ++o)
      for (int64_t oy = 0; oy < HO; ++oy)
        for (int64_t ox = 0; ox < WO; ++ox) {
          double acc = bias ? bias->data()[o] : 0.0;
          for (int64_t c = 0; c < C; ++c)
            for (int64_t i = 0; i < KH; ++i)
              for (int64_t j = 0; j < KW; ++j) {
                const int64_t iy = oy * stride - pad_h + i * dilation, ix = ox * stride - pad_w + j * dilation;
                if (iy < 0 || iy >= H || ix < 0 || ix >= W) continue;
                acc += static_cast<double>(wd[((o * C + c) * KH + i) * KW + j]) * xd[((n * C + c) * H + iy) * W + ix];
              }
          out.data()[((n * O + o) * HO + oy) * WO + ox] = activated(acc, act);
        }
  return out;
}

// torchvision's DCNv2 sample of plane p (H, W) at (y, x), in double.
double naive_deform_sample(const float* p, int64_t H, int64_t W, double y, double x) {
  if (y <= -1 || y >= H || x <= -1 || x >= W) return 0.0;
  const int64_t y0 = static_cast<int64_t>(std::floor(y)), x0 = static_cast<int64_t>(std::floor(x));
  const double ly = y - y0, lx = x - x0;
  auto at = [&](int64_t yy, int64_t xx) { return yy < 0 || yy >= H || xx < 0 || xx >= W ? 0.0 : p[yy * W + xx]; };
  return (1 - ly) * (1 - lx) * at(y0, x0) + (1 - ly) * lx * at(y0, x0 + 1) + ly * (1 - lx) * at(y0 + 1, x0) +
         ly * lx * at(y0 + 1, x0 + 1);
}

Tensor naive_deform_conv2d(const Tensor& x, const Tensor& offset, const Tensor& mask, const Tensor& w,
                           const Tensor* bias, int stride, int pad, int dilation) {
  const int64_t N = x.size(0), C = x.size(1), H = x.size(2), W = x.size(3);
  const int64_t O = w.size(0), KH = w.size(2), KW = w.size(3), K = KH * KW;
  const int64_t HO = offset.size(2), WO = offset.size(3), G = offset.size(1) / (2 * K);
  auto off = [&](int64_t n, int64_t ch, int64_t y, int64_t xx) {
    return offset.data()[((n * offset.size(1) + ch) * HO + y) * WO + xx];
  };
  auto msk = [&](int64_t n, int64_t ch, int64_t y, int64_t xx) {
    return mask.data()[((n * mask.size(1) + ch) * HO + y) * WO + xx];
  };
  Tensor out = Tensor::empty({N, O, HO, WO});
  for (int64_t n = 0; n < N; ++n)
    for (int64_t o = 0; o < O; ++o)
      for (int64_t oy = 0; oy < HO; ++oy)
        for (int64_t ox = 0; ox < WO; ++ox) {
          double acc = bias ? bias->data()[o] : 0.0;
          for (int64_t c = 0; c < C; ++c) {
            const int64_t g = c / (C / G);
            for (int64_t i = 0; i < KH; ++i)
              for (int64_t j = 0; j < KW; ++j) {
                const int64_t k = i * KW + j;
                const double y = oy * stride - pad + i * dilation + static_cast<double>(off(n, 2 * (g * K + k), oy, ox));
                const double xx = ox * stride - pad + j * dilation + static_cast<double>(off(n, 2 * (g * K + k) + 1, oy, ox));
                const double v = naive_deform_sample(x.data() + (n * C + c) * H * W, H, W, y, xx);
                acc += static_cast<double>(w.data()[((o * C + c) * KH + i) * KW + j]) * msk(n, g * K + k, oy, ox) * v;
              }
          }
          out.data()[((n * O + o) * HO + oy) * WO + ox] = static_cast<float>(acc);
        }
  return out;
}

std::string activation_name(Activation a) {
  return a == Activation::None ? "none" : a == Activation::ReLU ? "relu" : "lrelu";
}

}  // namespace

// ---- fixtures ------------------------------------------------------------------------------------

TEST_CASE("deform_conv2d matches the torchvision fixtures", "[ops]") {
  for (const test::DeformConvFixture& c : test::deform_conv_fixtures()) {
    auto f = test::load_fixture(std::string("ops/") + c.name + ".safetensors");
    const Tensor out =
        ops::deform_conv2d(f.at("input"), f.at("offset"), f.at("mask"), f.at("weight"), &f.at("bias"), c.params);
    check_close(c.name, out, f.at("expected"));
  }
}

TEST_CASE("EDVR DCNv2Pack (conv_offset, split, sigmoid, deform_conv2d) matches its fixture", "[ops]") {
  auto f = test::load_fixture("ops/dcnv2pack_basicsr_dg4.safetensors");
  ops::Conv2dParams conv_p;
  conv_p.padding = 1;
  const Tensor conv_offset_out = ops::conv2d(f.at("feat"), f.at("conv_offset_weight"), &f.at("conv_offset_bias"), conv_p);
  check_close("dcnv2pack conv_offset_out", conv_offset_out, f.at("conv_offset_out"));

  const int64_t third = conv_offset_out.size(1) / 3;
  const Tensor offset = channel_slice(conv_offset_out, 0, 2 * third);
  Tensor mask = channel_slice(conv_offset_out, 2 * third, third);
  ops::sigmoid_(mask);
  const Tensor out = ops::deform_conv2d(f.at("x"), offset, mask, f.at("weight"), &f.at("bias"), {});
  check_close("dcnv2pack expected", out, f.at("expected"));
}

TEST_CASE("pixel_shuffle matches its fixture bit for bit", "[ops]") {
  auto f = test::load_fixture("ops/pixel_shuffle_r2.safetensors");
  const Tensor out = ops::pixel_shuffle(f.at("input"), 2);
  const test::Diff d = test::compare(out, f.at("expected"));
  std::printf("  %-44s max|diff| = %.3g\n", "pixel_shuffle_r2", d.max_abs);
  CHECK(d.max_abs == 0.0);
}

TEST_CASE("bilinear interpolation matches the F.interpolate fixtures", "[ops]") {
  for (const test::UnaryFixtureOp& c : test::bilinear_fixture_ops()) {
    auto f = test::load_fixture(std::string("ops/") + c.name + ".safetensors");
    check_close(c.name, c.op(f.at("input")), f.at("expected"));
  }
}

TEST_CASE("pooling matches the SpyNet and TSA fixtures", "[ops]") {
  auto avg = test::load_fixture("ops/avg_pool_k2s2.safetensors");
  check_close("avg_pool_k2s2", ops::avg_pool2d(avg.at("input"), 2, 2, 0), avg.at("expected"));
  auto tsa_max = test::load_fixture("ops/tsa_max_pool_k3s2p1.safetensors");
  check_close("tsa_max_pool_k3s2p1", ops::max_pool2d(tsa_max.at("input"), 3, 2, 1), tsa_max.at("expected"));
  auto tsa_avg = test::load_fixture("ops/tsa_avg_pool_k3s2p1.safetensors");
  check_close("tsa_avg_pool_k3s2p1", ops::avg_pool2d(tsa_avg.at("input"), 3, 2, 1, true), tsa_avg.at("expected"));
}

// ---- conv2d against the naive reference ----------------------------------------------------------

TEST_CASE("conv2d matches a direct convolution on awkward shapes", "[ops]") {
  struct Case {
    Shape x;
    int64_t out_channels, kh, kw;
    int stride, padding, dilation;  // padding -1 = "same"
    bool bias;
  };
  const std::vector<Case> cases = {
      {{1, 3, 7, 9}, 5, 3, 3, 1, -1, 1, true},      // odd sizes, Cout not a multiple of the row block
      {{2, 13, 11, 10}, 19, 3, 3, 2, 1, 1, true},   // N = 2, stride 2, Cin not a multiple of 8
      {{1, 6, 15, 17}, 8, 3, 3, 1, 2, 2, false},    // dilation 2
      {{2, 20, 37, 53}, 17, 1, 1, 1, 0, 1, true},   // 1x1 on H*W not a multiple of the panel width
      {{1, 16, 16, 24}, 9, 1, 1, 1, 0, 1, false},   // 1x1 on a whole number of panels
      {{1, 11, 12, 13}, 7, 1, 1, 2, 0, 1, true},    // 1x1 stride 2 (goes through im2col)
      {{1, 3, 23, 19}, 16, 7, 7, 1, 3, 1, true},    // 7x7
      {{2, 5, 9, 8}, 4, 2, 3, 1, 0, 1, true},       // even, non-square kernel, no padding
      {{1, 4, 10, 11}, 6, 3, 5, 1, -1, 1, true},    // non-square "same": padding 1 x 2
      {{1, 9, 5, 6}, 3, 3, 3, 3, 4, 1, true},       // stride 3, padding larger than the kernel reach
      {{1, 64, 41, 77}, 64, 3, 3, 2, 1, 1, true},   // EDVR's stride-2 3x3, odd sizes: im2col's vector gathers, row ends
      {{1, 8, 30, 250}, 16, 3, 3, 2, 1, 1, false},  // stride 2, wide rows: runs inside and at both edges
      {{2, 5, 19, 40}, 6, 7, 7, 2, 3, 1, true},     // stride 2, 7x7, N = 2
      {{1, 6, 17, 70}, 4, 3, 3, 2, 2, 2, true},     // stride 2 with dilation 2
      {{1, 64, 40, 52}, 64, 3, 3, 1, 1, 1, true},   // a model shape, several tiles per image
      {{1, 16, 37, 101}, 3, 3, 3, 1, -1, 1, true},  // few output channels: wide panels (conv_last)
      {{2, 5, 20, 30}, 2, 7, 7, 1, 3, 1, true},     // SpyNet's last conv, N = 2
      {{1, 7, 3, 200}, 1, 3, 3, 1, -1, 1, false},   // one output channel, panels straddling rows
      {{1, 4, 50, 9}, 4, 5, 5, 1, 2, 2, true},      // dilation 2 on the wide panels
      {{1, 32, 14, 15}, 24, 3, 3, 1, -1, 1, true},  // too few tiles for Winograd: direct
      {{1, 32, 2, 2}, 64, 7, 7, 1, 3, 1, true},     // SpyNet's coarsest level: mostly padding
      {{1, 6, 9, 400}, 8, 3, 5, 1, -1, 1, true},    // wide: tiles side by side
      {{1, 300, 30, 60}, 5, 3, 3, 1, 1, 1, true},   // many input channels: tiles of a few rows
      {{1, 16, 24, 24}, 32, 7, 7, 1, 3, 1, true},   // small image cut into row tiles for the threads
      {{2, 3, 40, 41}, 4, 7, 7, 1, 2, 1, true},     // N = 2, padding smaller than "same"
      {{1, 600, 9, 70}, 200, 1, 1, 1, 0, 1, true},  // 1x1: several weight groups, depth slices, ragged tile
      {{1, 1024, 5, 37}, 130, 1, 1, 1, 0, 1, true}, // 1x1: long reduction, Cout past a row block
  };
  int index = 0;
  for (const Case& c : cases) {
    for (Activation act : {Activation::None, Activation::ReLU, Activation::LeakyReLU}) {
      const unsigned seed = 100 + index * 3;
      const Tensor x = random_tensor(c.x, seed);
      const float scale = 1.0f / std::sqrt(static_cast<float>(c.x[1] * c.kh * c.kw));
      const Tensor w = random_tensor({c.out_channels, c.x[1], c.kh, c.kw}, seed + 1, -scale, scale);
      const Tensor b = random_tensor({c.out_channels}, seed + 2);
      ops::Conv2dParams p;
      p.stride = c.stride;
      p.padding = c.padding;
      p.dilation = c.dilation;
      p.activation = act;
      const int pad_h = c.padding == -1 ? c.dilation * static_cast<int>(c.kh - 1) / 2 : c.padding;
      const int pad_w = c.padding == -1 ? c.dilation * static_cast<int>(c.kw - 1) / 2 : c.padding;
      const Tensor got = ops::conv2d(x, w, c.bias ? &b : nullptr, p);
      const Tensor ref = naive_conv2d(x, w, c.bias ? &b : nullptr, c.stride, pad_h, pad_w, c.dilation, act);
      check_close("conv2d " + x.shape_str() + " -> " + ref.shape_str() + " k" + std::to_string(c.kh) + "x" +
                      std::to_string(c.kw) + " s" + std::to_string(c.stride) + " d" + std::to_string(c.dilation) +
                      (c.bias ? " bias " : " ") + activation_name(act),
                  got, ref);
    }
    ++index;
  }
}

TEST_CASE("conv2d 3x3 by Winograd F(4x4, 3x3) matches a direct convolution on awkward shapes", "[ops]") {
  struct Case {
    Shape x;
    int64_t out_channels;
    int padding;
  };
  const std::vector<Case> cases = {
      {{2, 13, 37, 53}, 19, 1},  // N = 2; partial tiles; 14 tiles per row padded to a vector; 19 = 16 + 3 rows
      {{1, 8, 21, 150}, 40, 0},  // no padding; a block is exactly one tile row
      {{1, 24, 18, 100}, 8, 2},  // padding 2; blocks straddle tile rows
      {{1, 67, 20, 33}, 64, 1},  // the trunk's first conv (3 + 64 input channels)
      {{3, 16, 9, 70}, 16, 1},   // N = 3; last tile row has one valid output row
      {{1, 64, 64, 64}, 64, 1},  // residual block conv at a 64x64 input
      {{1, 8, 360, 400}, 16, 1},  // a 9 MB output, written with streaming stores
  };
  int index = 0;
  for (const Case& c : cases) {
    const unsigned seed = 900 + index++ * 7;
    const Tensor x = random_tensor(c.x, seed);
    const float scale = 1.0f / std::sqrt(static_cast<float>(c.x[1] * 9));
    const Tensor w = random_tensor({c.out_channels, c.x[1], 3, 3}, seed + 1, -scale, scale);
    const Tensor b = random_tensor({c.out_channels}, seed + 2);
    const cpu::WinogradShape ws{c.x[0], c.x[1], c.x[2], c.x[3], c.out_channels, c.padding, c.padding,
                                c.x[2] + 2 * c.padding - 2, c.x[3] + 2 * c.padding - 2};
    INFO("x " << x.shape_str() << " -> " << c.out_channels << " channels, padding " << c.padding);
    CHECK(cpu::winograd_worthwhile(ws));  // so ops::conv2d below takes this path too
    for (Activation act : {Activation::None, Activation::ReLU, Activation::LeakyReLU}) {
      const Tensor ref = naive_conv2d(x, w, &b, 1, c.padding, c.padding, 1, act);
      Tensor direct = Tensor::empty(ref.shape());
      cpu::winograd_conv3x3(x.data(), w.data(), &b.data()[0], act, nullptr, ws, direct.data());
      const std::string what = "winograd " + x.shape_str() + " -> " + ref.shape_str() + " " + activation_name(act);
      check_close(what, direct, ref);
      ops::Conv2dParams p;
      p.padding = c.padding;
      p.activation = act;
      check_close("conv2d " + what, ops::conv2d(x, w, &b, p), ref);
      // A residual block's sum, which the Winograd epilogue adds in registers.
      const Tensor residual = random_tensor(ref.shape(), seed + 3);
      Tensor ref_sum = Tensor::empty(ref.shape());
      for (int64_t i = 0; i < ref.numel(); ++i) ref_sum.data()[i] = ref.data()[i] + residual.data()[i];
      check_close("conv2d + residual " + what, ops::conv2d(x, w, &b, p, &residual), ref_sum);
    }
  }
}

TEST_CASE("conv2d at float32 matmul precision High: AMX bf16x3 products within their error bound", "[ops]") {
  if (!cpu::amx::available() || cpu::active_isa() != cpu::Isa::Avx512) {
    WARN("this CPU (or its OS) runs no AMX-BF16, or the AVX-512 level is not in use: High computes as Highest here");
    return;
  }
  struct RestorePrecision {
    MatmulPrecision saved = float32_matmul_precision();
    ~RestorePrecision() { set_float32_matmul_precision(saved); }
  } restore;
  // Each fp32 operand becomes hi + lo bf16 (2^-17 of it is lost) and lo * lo is dropped: ~1e-5 of
  // each product; the F(4x4) transforms (coefficients up to 8) amplify that in the output. Bound:
  // 1e-4 of the output's largest magnitude (measured 3.6e-5 to 4.6e-5 on the Winograd shapes; the
  // direct path, untransformed, stays near 1e-5).
  constexpr double kBf16x3Scale = 1e-4;
  struct Case {
    Shape x;
    int64_t out_channels, kernel;
    int dilation, stride;
  };
  int index = 0;
  // Winograd (the first three); the direct path, with each way of moving taps into virtual
  // channels (conv2d.cpp): none (SpyNet's 7x7 with 32 channels, a dilated 3x3 with 64: two steps
  // per tap), the kernel's columns (7x7 with 16 channels and with SpyNet's 8, padded from 56 to 64
  // virtual channels), all taps (a dilated 3x3 with 24 channels, a 3x3 with too few input channels
  // for Winograd); output channels that are no multiple of the 16-row tile; the lowered path:
  // stride 2 (EDVR's pyramid; and with 3 channels, less than one depth step), a 5x5 at stride 3,
  // 1x1 (fusion convs), all with a last partial panel.
  for (const Case& c : {Case{{1, 64, 64, 64}, 64, 3, 1, 1}, Case{{1, 67, 20, 33}, 64, 3, 1, 1},
                        Case{{2, 13, 37, 53}, 19, 3, 1, 1}, Case{{1, 32, 30, 50}, 64, 7, 1, 1},
                        Case{{1, 64, 21, 27}, 48, 3, 2, 1}, Case{{2, 16, 23, 29}, 20, 7, 1, 1},
                        Case{{1, 8, 25, 41}, 32, 7, 1, 1}, Case{{1, 24, 26, 31}, 40, 3, 2, 1},
                        Case{{1, 3, 33, 47}, 64, 3, 1, 1}, Case{{2, 64, 45, 37}, 64, 3, 1, 2},
                        Case{{1, 3, 31, 45}, 24, 3, 1, 2}, Case{{1, 16, 29, 34}, 20, 5, 1, 3},
                        Case{{1, 96, 19, 41}, 36, 1, 1, 1}}) {
    const unsigned seed = 1300 + index++ * 7;
    const Tensor x = random_tensor(c.x, seed);
    const float scale = 1.0f / std::sqrt(static_cast<float>(c.x[1] * c.kernel * c.kernel));
    const Tensor w = random_tensor({c.out_channels, c.x[1], c.kernel, c.kernel}, seed + 1, -scale, scale);
    const Tensor b = random_tensor({c.out_channels}, seed + 2);
    ops::Conv2dParams p;
    p.dilation = c.dilation;
    p.stride = c.stride;
    p.padding = c.dilation * static_cast<int>(c.kernel - 1) / 2;
    p.activation = Activation::LeakyReLU;
    const Tensor ref = naive_conv2d(x, w, &b, p.stride, p.padding, p.padding, p.dilation, p.activation);
    set_float32_matmul_precision(MatmulPrecision::Highest);
    const Tensor fp32 = ops::conv2d(x, w, &b, p);
    set_float32_matmul_precision(MatmulPrecision::High);
    const Tensor bf16x3 = ops::conv2d(x, w, &b, p);
    Tensor capped;
    {
      const HighestMatmulPrecision scope;  // what VRT does: fp32 products at any setting
      capped = ops::conv2d(x, w, &b, p);
    }
    const test::Diff d = test::compare(bf16x3, ref);
    std::printf("  bf16x3 conv2d %lldx%lld dilation %d stride %d %-22s max|diff| = %.3g (max|ref| = %.3g, %.2g of it)"
                "\n",
                static_cast<long long>(c.kernel), static_cast<long long>(c.kernel), c.dilation, c.stride,
                x.shape_str().c_str(), d.max_abs, d.ref_abs_max, d.max_abs / d.ref_abs_max);
    INFO("x " << x.shape_str() << ", " << c.kernel << "x" << c.kernel << " dilation " << c.dilation << " stride "
              << c.stride << " -> " << c.out_channels << " channels");
    CHECK(d.max_abs <= kBf16x3Scale * d.ref_abs_max);
    CHECK(test::compare(bf16x3, fp32).max_abs > 0.0);   // the tile unit did compute it
    CHECK(test::compare(capped, fp32).max_abs == 0.0);  // and the scope keeps the fp32 products
  }
}

TEST_CASE("conv2d follows weights edited in place (prepared weights are never stale)", "[ops]") {
  struct Case {
    Shape x;
    int64_t out_channels, kernel;
    int stride;
  };
  // Winograd, direct (7x7 and narrow), im2col (stride 2).
  for (const Case& c : {Case{{1, 16, 24, 40}, 16, 3, 1}, Case{{1, 8, 12, 20}, 32, 7, 1}, Case{{1, 8, 12, 20}, 3, 3, 1},
                        Case{{1, 8, 12, 20}, 16, 3, 2}}) {
    const Tensor x = random_tensor(c.x, 31);
    Tensor w = random_tensor({c.out_channels, c.x[1], c.kernel, c.kernel}, 32, -0.2f, 0.2f);
    const Tensor b = random_tensor({c.out_channels}, 33);
    ops::Conv2dParams p;
    p.stride = c.stride;
    const int pad = static_cast<int>(c.kernel / 2);
    for (int round = 0; round < 3; ++round) {
      if (round == 1) w.data()[5] += 0.5f;                                             // one value
      if (round == 2) for (int64_t i = 0; i < w.numel(); ++i) w.data()[i] *= -1.0f;  // all of them
      const Tensor got = ops::conv2d(x, w, &b, p);
      check_close("conv2d k" + std::to_string(c.kernel) + " s" + std::to_string(c.stride) + " weights v" +
                      std::to_string(round),
                  got, naive_conv2d(x, w, &b, c.stride, pad, pad, 1, Activation::None));
    }
  }
  CHECK(cpu::weight_cache_stats().bytes <= cpu::kWeightCacheBytes);
}

TEST_CASE("conv2d prepares weights per kernel shape: views of the same values do not share a preparation", "[ops]") {
  struct RestorePrecision {
    MatmulPrecision saved = float32_matmul_precision();
    ~RestorePrecision() { set_float32_matmul_precision(saved); }
  } restore;
  // One weight storage seen as (16, 72, 1, 1), (16, 8, 3, 3) and (16, 24, 1, 3): the same address,
  // count and values. At High the direct path's preparation depends on the kernel's layout (taps
  // moved into virtual channels), and two of these once had the same prepared depth (96).
  const Tensor storage = random_tensor({16, 72, 1, 1}, 41, -0.2f, 0.2f);
  for (const MatmulPrecision precision : {MatmulPrecision::Highest, MatmulPrecision::High}) {
    set_float32_matmul_precision(precision);
    for (const Shape& shape : {Shape{16, 72, 1, 1}, Shape{16, 8, 3, 3}, Shape{16, 24, 1, 3}, Shape{16, 72, 1, 1}}) {
      const Tensor w = storage.reshape(shape);
      const Tensor x = random_tensor({1, shape[1], 10, 12}, 42);
      ops::Conv2dParams p;
      p.padding = 1;  // a 1x1 with padding takes the direct path too
      const Tensor ref = naive_conv2d(x, w, nullptr, 1, 1, 1, 1, Activation::None);
      const test::Diff d = test::compare(ops::conv2d(x, w, nullptr, p), ref);
      INFO("weight " << w.shape_str() << (precision == MatmulPrecision::High ? " at High" : " at Highest"));
      CHECK(d.max_abs <= 1e-4 * d.ref_abs_max);
    }
  }
}

TEST_CASE("pixel_shuffle matches the formula at widths that are not a multiple of the vector", "[ops]") {
  for (auto [shape, r] : {std::pair<Shape, int>{{2, 8, 5, 37}, 2}, {{1, 12, 3, 16}, 2}, {{1, 18, 4, 7}, 3}}) {
    const Tensor x = random_tensor(shape, 77);
    const Tensor out = ops::pixel_shuffle(x, r);
    const int64_t n = shape[0], c = shape[1] / (r * r), h = shape[2], w = shape[3];
    REQUIRE(out.shape() == Shape{n, c, h * r, w * r});
    double worst = 0;
    for (int64_t b = 0; b < n; ++b)
      for (int64_t ch = 0; ch < c; ++ch)
        for (int64_t y = 0; y < h * r; ++y)
          for (int64_t xx = 0; xx < w * r; ++xx) {
            const float want = x.data()[((b * shape[1] + ch * r * r + (y % r) * r + xx % r) * h + y / r) * w + xx / r];
            worst = std::max(worst, static_cast<double>(std::fabs(out.data()[((b * c + ch) * h * r + y) * w * r + xx] - want)));
          }
    INFO("pixel_shuffle " << x.shape_str() << " r " << r);
    CHECK(worst == 0.0);
  }
}

// ---- deform_conv2d against conv2d and the naive reference ----------------------------------------

TEST_CASE("deform_conv2d with zero offsets and unit mask equals conv2d", "[ops]") {
  struct Case {
    Shape x;
    int64_t out_channels, groups;
    int stride, padding, dilation;
  };
  for (const Case& c : {Case{{2, 16, 9, 11}, 10, 4, 1, 1, 1}, Case{{1, 8, 13, 12}, 8, 2, 2, 2, 2},
                        Case{{1, 24, 30, 50}, 16, 8, 1, 1, 1}}) {
    const Tensor x = random_tensor(c.x, 7);
    const Tensor w = random_tensor({c.out_channels, c.x[1], 3, 3}, 8, -0.2f, 0.2f);
    const Tensor b = random_tensor({c.out_channels}, 9);
    ops::Conv2dParams cp;
    cp.stride = c.stride;
    cp.padding = c.padding;
    cp.dilation = c.dilation;
    cp.activation = Activation::LeakyReLU;
    const Tensor conv = ops::conv2d(x, w, &b, cp);
    const Tensor offset = Tensor::zeros({c.x[0], 2 * c.groups * 9, conv.size(2), conv.size(3)});
    const Tensor mask = Tensor::full({c.x[0], c.groups * 9, conv.size(2), conv.size(3)}, 1.0f);
    ops::DeformConv2dParams dp;
    dp.stride = c.stride;
    dp.padding = c.padding;
    dp.dilation = c.dilation;
    dp.activation = Activation::LeakyReLU;
    const Tensor deform = ops::deform_conv2d(x, offset, mask, w, &b, dp);
    check_close("deform(zero offset) vs conv2d " + x.shape_str(), deform, conv);
    check_close("deform(zero offset) vs naive " + x.shape_str(), deform,
                naive_conv2d(x, w, &b, c.stride, c.padding, c.padding, c.dilation, Activation::LeakyReLU));
  }
}

TEST_CASE("deform_conv2d matches a direct DCNv2 on awkward shapes and boundary samples", "[ops]") {
  struct Case {
    Shape x;
    int64_t out_channels, groups, kh, kw;
    int stride, padding, dilation;
    bool exact_offsets;  // offsets from a set that puts samples exactly on integers and on -1 / H
  };
  const std::vector<Case> cases = {
      {{2, 6, 8, 7}, 11, 3, 3, 3, 1, 1, 1, false},
      {{1, 4, 9, 10}, 3, 1, 2, 3, 1, 0, 1, false},   // non-square even kernel
      {{1, 8, 12, 9}, 9, 2, 3, 3, 2, 1, 2, false},
      {{2, 4, 6, 5}, 5, 4, 1, 1, 1, 0, 1, false},    // 1x1 deformable
      {{1, 4, 7, 8}, 6, 2, 3, 3, 1, 1, 1, true},
      {{1, 30, 9, 13}, 7, 2, 3, 3, 1, 1, 1, false},  // 15 channels per group (two channel blocks, one partial)
      {{1, 16, 7, 19}, 5, 1, 3, 3, 1, 1, 1, false},  // 16 channels per group, width not a multiple of 8
  };
  const float exact[] = {-2.0f, -1.0f, -0.5f, 0.0f, 0.25f, 1.0f, 1.5f, 3.0f, 7.0f, -9.0f};
  int index = 0;
  for (const Case& c : cases) {
    const unsigned seed = 300 + 5 * index++;
    const Tensor x = random_tensor(c.x, seed);
    const int64_t K = c.kh * c.kw;
    const int64_t ho = (c.x[2] + 2 * c.padding - c.dilation * (c.kh - 1) - 1) / c.stride + 1;
    const int64_t wo = (c.x[3] + 2 * c.padding - c.dilation * (c.kw - 1) - 1) / c.stride + 1;
    Tensor offset = random_tensor({c.x[0], 2 * c.groups * K, ho, wo}, seed + 1, -3.0f, 3.0f);
    if (c.exact_offsets) {
      std::mt19937 gen(seed);
      for (int64_t i = 0; i < offset.numel(); ++i) offset.data()[i] = exact[gen() % 10];
    }
    const Tensor mask = random_tensor({c.x[0], c.groups * K, ho, wo}, seed + 2, 0.0f, 1.0f);
    const Tensor w = random_tensor({c.out_channels, c.x[1], c.kh, c.kw}, seed + 3, -0.3f, 0.3f);
    const Tensor b = random_tensor({c.out_channels}, seed + 4);
    ops::DeformConv2dParams p;
    p.stride = c.stride;
    p.padding = c.padding;
    p.dilation = c.dilation;
    const Tensor got = ops::deform_conv2d(x, offset, mask, w, &b, p);
    const Tensor ref = naive_deform_conv2d(x, offset, mask, w, &b, c.stride, c.padding, c.dilation);
    check_close("deform_conv2d " + x.shape_str() + " G" + std::to_string(c.groups) + " k" + std::to_string(c.kh) +
                    "x" + std::to_string(c.kw) + (c.exact_offsets ? " exact offsets" : ""),
                got, ref);
  }
}

// ---- resampling properties -----------------------------------------------------------------------

TEST_CASE("bilinear resize to the same size and corner alignment behave like PyTorch", "[ops]") {
  const Tensor x = random_tensor({2, 3, 5, 7}, 11);
  CHECK(test::compare(ops::resize_bilinear(x, 5, 7, false), x).max_abs == 0.0);
  CHECK(test::compare(ops::resize_bilinear(x, 5, 7, true), x).max_abs == 0.0);
  CHECK(test::compare(ops::upsample_bilinear(x, 1, false), x).max_abs == 0.0);
  // align_corners keeps the corner pixels; a 1-pixel output reads the top-left corner.
  const Tensor up = ops::resize_bilinear(x, 9, 13, true);
  CHECK(up.data()[0] == x.data()[0]);
  CHECK(up.data()[9 * 13 - 1] == x.data()[5 * 7 - 1]);
  const Tensor one = ops::resize_bilinear(x, 1, 1, true);
  CHECK(one.shape() == Shape{2, 3, 1, 1});
  CHECK(one.data()[1] == x.data()[35]);
  // Without align_corners a 2x downscale of a 2x2 block samples its centre: the block mean.
  const Tensor block = Tensor::from_data({1, 1, 2, 2}, std::vector<float>{1, 2, 3, 5}.data());
  CHECK(ops::resize_bilinear(block, 1, 1, false).data()[0] == Approx(2.75f));
}

TEST_CASE("leaky ReLU takes F.leaky_relu's negative_slope", "[ops]") {
  Tensor x = Tensor::from_data({5}, std::vector<float>{-2.0f, -0.5f, 0.0f, 0.25f, 3.0f}.data());
  for (float slope : {0.01f, 0.1f, 0.2f}) {
    Tensor y = x.clone();
    ops::activate_(y, Activation::LeakyReLU, slope);
    const float want[5] = {-2.0f * slope, -0.5f * slope, 0.0f, 0.25f, 3.0f};
    for (int i = 0; i < 5; ++i) CHECK(y.data()[i] == want[i]);
  }
  Tensor y = x.clone();
  ops::activate_(y, Activation::LeakyReLU);  // default: BasicSR's 0.1
  CHECK(y.data()[0] == -0.2f);
  CHECK_THROWS_WITH(ops::activate_(y, Activation::LeakyReLU, NAN), Catch::Contains("negative_slope nan is not finite"));
}

TEST_CASE("pooling pads max with -inf and counts padding in the average only when asked", "[ops]") {
  const Tensor negative = Tensor::full({1, 2, 4, 5}, -3.0f);
  const Tensor maxed = ops::max_pool2d(negative, 3, 2, 1);
  REQUIRE(maxed.shape() == Shape{1, 2, 2, 3});
  for (int64_t i = 0; i < maxed.numel(); ++i) CHECK(maxed.data()[i] == -3.0f);

  const Tensor ones = Tensor::full({1, 1, 4, 4}, 1.0f);
  const Tensor with_pad = ops::avg_pool2d(ones, 3, 2, 1, true);
  const Tensor without_pad = ops::avg_pool2d(ones, 3, 2, 1, false);
  REQUIRE(with_pad.shape() == Shape{1, 1, 2, 2});
  CHECK(with_pad.data()[0] == Approx(4.0f / 9.0f));  // corner window: 4 of 9 taps in the image
  CHECK(with_pad.data()[3] == Approx(1.0f));         // interior window
  for (int64_t i = 0; i < without_pad.numel(); ++i) CHECK(without_pad.data()[i] == Approx(1.0f));
}

// ---- argument errors -----------------------------------------------------------------------------

TEST_CASE("operators reject bad arguments with got-vs-expected messages", "[ops]") {
  const Tensor x = Tensor::zeros({1, 64, 8, 8});
  const Tensor w = Tensor::zeros({16, 64, 3, 3});
  const Tensor b = Tensor::zeros({16});

  CHECK_THROWS_WITH(ops::conv2d(x, Tensor::zeros({16, 32, 3, 3}), &b),
                    Contains("weight has shape (16, 32, 3, 3) with 32 input channels, expected 64"));
  const Tensor short_bias = Tensor::zeros({15});
  CHECK_THROWS_WITH(ops::conv2d(x, w, &short_bias), Contains("bias has shape (15), expected (16)"));
  CHECK_THROWS_WITH(ops::conv2d(Tensor::zeros({64, 8, 8}), w, &b), Contains("x has shape (64, 8, 8), expected 4"));
  ops::Conv2dParams p;
  p.stride = 0;
  CHECK_THROWS_WITH(ops::conv2d(x, w, &b, p), Contains("stride is 0, expected >= 1"));
  CHECK_THROWS_WITH(ops::conv2d(x, Tensor::zeros({16, 64, 2, 2}), &b), Contains("got a 2x2 kernel, expected odd"));
  p = {};
  p.padding = 0;
  CHECK_THROWS_WITH(ops::conv2d(Tensor::zeros({1, 64, 2, 2}), w, &b, p),
                    Contains("output would be 0x0") && Contains("expected at least 1x1"));
  CHECK_NOTHROW(ops::conv2d(x, w, &b));

  const Tensor offset = Tensor::zeros({1, 72, 8, 8});  // G = 4
  const Tensor mask = Tensor::zeros({1, 36, 8, 8});
  CHECK_NOTHROW(ops::deform_conv2d(x, offset, mask, w, &b));
  CHECK_THROWS_WITH(ops::deform_conv2d(x, Tensor::zeros({1, 70, 8, 8}), mask, w, &b),
                    Contains("70 channels, expected a positive multiple of 2*kh*kw = 18"));
  CHECK_THROWS_WITH(ops::deform_conv2d(x, offset, Tensor::zeros({1, 18, 8, 8}), w, &b),
                    Contains("mask has shape (1, 18, 8, 8), expected (1, 36, 8, 8)"));
  CHECK_THROWS_WITH(ops::deform_conv2d(x, Tensor::zeros({1, 72, 7, 8}), mask, w, &b),
                    Contains("offset has shape (1, 72, 7, 8), expected (1, 72, 8, 8)"));
  CHECK_THROWS_WITH(ops::deform_conv2d(Tensor::zeros({1, 6, 8, 8}), Tensor::zeros({1, 72, 8, 8}), mask,
                                       Tensor::zeros({16, 6, 3, 3}), &b),
                    Contains("x has 6 channels, expected a multiple of the 4 deformable groups"));
  CHECK_THROWS_WITH(ops::deform_conv2d(x, offset, mask, Tensor::zeros({16, 32, 3, 3}), &b),
                    Contains("32 input channels, expected 64"));

  CHECK_THROWS_WITH(ops::pixel_shuffle(Tensor::zeros({1, 6, 2, 2}), 2),
                    Contains("6 channels, expected a multiple of r*r = 4"));
  CHECK_THROWS_WITH(ops::max_pool2d(x, 3, 2, 2), Contains("padding is 2, expected 0 to kernel/2 = 1"));
  CHECK_THROWS_WITH(ops::avg_pool2d(x, 3, 0, 1), Contains("stride is 0, expected >= 1"));
  CHECK_THROWS_WITH(ops::avg_pool2d(Tensor::zeros({1, 1, 2, 2}), 3, 1, 0), Contains("output would be 0x0"));
  CHECK_THROWS_WITH(ops::resize_bilinear(x, 0, 4, false), Contains("output size is 0x4, expected at least 1x1"));
  CHECK_THROWS_WITH(ops::upsample_bilinear(x, 0, false), Contains("factor is 0, expected >= 1"));
}
