// VRT's transformer ops and blocks (core/ops_vrt.h, models/vrt_blocks.h) on the CPU: against the
// upstream op fixtures (shared/fixtures/ops/vrt_*) and against naive references written here from
// the formulas in double (upstream's compute_mask slices, meshgrid relative index, np.roll + pad),
// sharing no code with src/cpu or kernels/vrt_common.h.
#include <catch2/catch.hpp>

#include <array>
#include <cmath>
#include <cstdio>
#include <map>
#include <string>
#include <vector>

#include "core/check.h"
#include "core/ops.h"
#include "core/ops_vrt.h"
#include "models/vrt_blocks.h"
#include "support/checks.h"
#include "support/fixtures.h"
#include "support/vrt_fixtures.h"
#include "vrestore/error.h"

using vrestore::Shape;
using vrestore::Tensor;
using vrestore::WindowGeometry;
using Catch::Matchers::Contains;
namespace ops = vrestore::ops;
namespace vrt = vrestore::vrt;
namespace test = vrestore::test;

namespace {

// Upstream op fixtures: max |diff| <= 1e-5 (fixtures README, VRT section); the naive double
// references: 1e-5 + 1e-4 |ref| (docs/adding_an_op.md).
using test::check_close;
using test::check_fixture;
using test::random_tensor;

vrt::TensorSource source_of(const std::map<std::string, Tensor>& f) { return test::fixture_source(f); }

// ---- naive references -----------------------------------------------------------------------

// Upstream compute_mask, literally: region ids assigned by the three slices per axis
// (slice(-w), slice(-w, -s), slice(-s, None), where -0 means "from 0"), then partitioned.
// Returns mask[w][i][j] in {0, -100} for windows in (d, h, w) order.
std::vector<std::vector<float>> upstream_mask(const std::array<int, 3>& padded, const std::array<int, 3>& window,
                                              const std::array<int, 3>& shift) {
  std::vector<int> img(size_t(padded[0]) * padded[1] * padded[2], 0);
  auto ranges = [](int p, int w, int s) {
    auto py_index = [p](int i) { return i < 0 ? p + i : i; };  // Python's negative index; -0 is 0
    return std::array<std::array<int, 2>, 3>{{{0, py_index(-w)}, {py_index(-w), s == 0 ? 0 : py_index(-s)},
                                             {s == 0 ? 0 : py_index(-s), p}}};
  };
  int cnt = 0;
  for (auto d : ranges(padded[0], window[0], shift[0]))
    for (auto h : ranges(padded[1], window[1], shift[1]))
      for (auto w : ranges(padded[2], window[2], shift[2])) {
        for (int a = d[0]; a < d[1]; ++a)
          for (int b = h[0]; b < h[1]; ++b)
            for (int c = w[0]; c < w[1]; ++c) img[(size_t(a) * padded[1] + b) * padded[2] + c] = cnt;
        ++cnt;
      }
  const int n = window[0] * window[1] * window[2];
  std::vector<std::vector<float>> masks;
  for (int wd = 0; wd < padded[0] / window[0]; ++wd)
    for (int wh = 0; wh < padded[1] / window[1]; ++wh)
      for (int ww = 0; ww < padded[2] / window[2]; ++ww) {
        std::vector<int> ids;
        for (int a = 0; a < window[0]; ++a)
          for (int b = 0; b < window[1]; ++b)
            for (int c = 0; c < window[2]; ++c)
              ids.push_back(img[(size_t(wd * window[0] + a) * padded[1] + wh * window[1] + b) * padded[2] +
                                ww * window[2] + c]);
        std::vector<float> m(size_t(n) * n);
        for (int i = 0; i < n; ++i)
          for (int j = 0; j < n; ++j) m[size_t(i) * n + j] = ids[size_t(i)] == ids[size_t(j)] ? 0.0f : -100.0f;
        masks.push_back(m);
      }
  return masks;
}

// Upstream get_position_index: coords of the full window (meshgrid, d/h/w order), pairwise
// differences shifted to start at 0 and flattened with multipliers (2Wh-1)(2Ww-1), (2Ww-1), 1.
std::vector<int> upstream_index(const std::array<int, 3>& full) {
  std::vector<std::array<int, 3>> coords;
  for (int d = 0; d < full[0]; ++d)
    for (int h = 0; h < full[1]; ++h)
      for (int w = 0; w < full[2]; ++w) coords.push_back({d, h, w});
  const size_t n = coords.size();
  std::vector<int> index(n * n);
  for (size_t i = 0; i < n; ++i)
    for (size_t j = 0; j < n; ++j) {
      const int a = coords[i][0] - coords[j][0] + full[0] - 1, b = coords[i][1] - coords[j][1] + full[1] - 1,
                c = coords[i][2] - coords[j][2] + full[2] - 1;
      index[i * n + j] = a * (2 * full[1] - 1) * (2 * full[2] - 1) + b * (2 * full[2] - 1) + c;
    }
  return index;
}

// F.pad at the end of D, H, W, then torch.roll by -shift, then window_partition.
Tensor naive_partition(const Tensor& x, const std::array<int, 3>& window, const std::array<int, 3>& shift,
                       const std::array<int, 3>& padded) {
  const int64_t n = x.size(0), c = x.size(4);
  const int64_t size[3] = {x.size(1), x.size(2), x.size(3)};
  const int64_t nw = int64_t{padded[0] / window[0]} * (padded[1] / window[1]) * (padded[2] / window[2]);
  const int64_t t = int64_t{window[0]} * window[1] * window[2];
  Tensor out = Tensor::empty({n * nw, t, c});
  int64_t row = 0;
  for (int64_t b = 0; b < n; ++b)
    for (int wd = 0; wd < padded[0] / window[0]; ++wd)
      for (int wh = 0; wh < padded[1] / window[1]; ++wh)
        for (int ww = 0; ww < padded[2] / window[2]; ++ww)
          for (int a = 0; a < window[0]; ++a)
            for (int bb = 0; bb < window[1]; ++bb)
              for (int cc = 0; cc < window[2]; ++cc, ++row) {
                // rolled[i] = padded_volume[(i + shift) mod P]
                const int64_t src[3] = {(wd * window[0] + a + shift[0]) % padded[0],
                                        (wh * window[1] + bb + shift[1]) % padded[1],
                                        (ww * window[2] + cc + shift[2]) % padded[2]};
                const bool inside = src[0] < size[0] && src[1] < size[1] && src[2] < size[2];
                for (int64_t ch = 0; ch < c; ++ch)
                  out.data()[row * c + ch] =
                      inside ? x.data()[(((b * size[0] + src[0]) * size[1] + src[1]) * size[2] + src[2]) * c + ch] : 0.0f;
              }
  return out;
}

// softmax(scale·q·kᵀ + bias + mask)·v in double for one (query set, key set) of one head.
void naive_attend(const float* qkv, int64_t stride, int64_t channels, int head, int head_dim, double scale,
                  const std::vector<int>& queries, const std::vector<int>& keys, const std::vector<double>& additive,
                  float* out, const std::vector<int>& slots) {
  const size_t nk = keys.size();
  for (size_t i = 0; i < queries.size(); ++i) {
    const float* q = qkv + queries[i] * stride + head * head_dim;
    std::vector<double> s(nk);
    double top = -1e300;
    for (size_t j = 0; j < nk; ++j) {
      const float* k = qkv + keys[j] * stride + channels + head * head_dim;
      double dot = 0;
      for (int d = 0; d < head_dim; ++d) dot += double(q[d]) * scale * k[d];
      s[j] = dot + additive[i * nk + j];
      top = std::max(top, s[j]);
    }
    double sum = 0;
    for (double& v : s) sum += (v = std::exp(v - top));
    for (int d = 0; d < head_dim; ++d) {
      double acc = 0;
      for (size_t j = 0; j < nk; ++j) acc += s[j] / sum * qkv[keys[j] * stride + 2 * channels + head * head_dim + d];
      out[slots[i] * channels + head * head_dim + d] = float(acc);
    }
  }
}

// The attention of upstream WindowAttention.attention for every window and head, with the mask of
// upstream_mask and the bias from upstream_index[:N, :N].
Tensor naive_window_attention(const Tensor& qkv, const Tensor* table, int heads, const std::array<int, 3>& full,
                              const std::array<int, 3>& window, const std::array<int, 3>& shift,
                              const std::array<int, 3>& padded, bool mutual) {
  const int64_t windows = qkv.size(0), n = qkv.size(1), channels = qkv.size(2) / 3;
  const int head_dim = int(channels / heads);
  const double scale = 1.0 / std::sqrt(double(head_dim));
  const bool shifted = shift[0] > 0 || shift[1] > 0 || shift[2] > 0;
  const auto masks = upstream_mask(padded, window, shift);
  const std::vector<int> index = table ? upstream_index(full) : std::vector<int>();
  const int64_t full_n = int64_t{full[0]} * full[1] * full[2];
  Tensor out = Tensor::empty({windows, n, channels});
  for (int64_t b = 0; b < windows; ++b) {
    const std::vector<float>& mask = masks[size_t(b % int64_t(masks.size()))];
    const float* base = qkv.data() + b * n * 3 * channels;
    float* o = out.data() + b * n * channels;
    for (int h = 0; h < heads; ++h) {
      if (!mutual) {
        std::vector<int> tokens(static_cast<size_t>(n), 0);
        for (int i = 0; i < n; ++i) tokens[size_t(i)] = i;
        std::vector<double> add(static_cast<size_t>(n * n));
        for (int64_t i = 0; i < n; ++i)
          for (int64_t j = 0; j < n; ++j)
            add[size_t(i * n + j)] = double(table->data()[index[size_t(i * full_n + j)] * heads + h]) +
                                     (shifted ? mask[size_t(i * n + j)] : 0.0);
        naive_attend(base, 3 * channels, channels, h, head_dim, scale, tokens, tokens, add, o, tokens);
      } else {
        const int half = int(n / 2);
        std::vector<int> first(static_cast<size_t>(half)), second(static_cast<size_t>(half));
        for (int i = 0; i < half; ++i) first[size_t(i)] = i, second[size_t(i)] = half + i;
        std::vector<double> add(static_cast<size_t>(half) * half);
        for (int i = 0; i < half; ++i)
          for (int j = 0; j < half; ++j) add[size_t(i) * half + j] = shifted ? mask[size_t(i * n + j)] : 0.0;
        naive_attend(base, 3 * channels, channels, h, head_dim, scale, second, first, add, o, first);
        naive_attend(base, 3 * channels, channels, h, head_dim, scale, first, second, add, o, second);
      }
    }
  }
  return out;
}

// The geometry's mask through the shared label formula, for comparison with a fixture's mask.
Tensor geometry_mask(const WindowGeometry& g) {
  const int n = g.tokens(), nw = g.windows_per_image();
  Tensor m = Tensor::empty({nw, n, n});
  for (int w = 0; w < nw; ++w)
    for (int i = 0; i < n; ++i)
      for (int j = 0; j < n; ++j)
        m.data()[(int64_t(w) * n + i) * n + j] =
            vrestore::window_token_label(g, w, i) == vrestore::window_token_label(g, w, j) ? 0.0f
                                                                                            : vrestore::kWindowMaskValue;
  return m;
}

}  // namespace

// ---- upstream fixtures ------------------------------------------------------------------------

TEST_CASE("VRT self WindowAttention matches upstream (shifted (6,8,8) windows, C 96, 6 heads)", "[ops][vrt][fixture]") {
  const auto f = test::load_fixture("ops/vrt_attn_self_shift.safetensors");
  const vrt::WindowAttention attn = vrt::WindowAttention::load(source_of(f), "", 96, 6, {6, 8, 8}, false);
  // The fixture's padded volume (6, 16, 8) with shift (0, 4, 0): two windows.
  const WindowGeometry g = ops::window_geometry(1, {6, 16, 8}, {6, 8, 8}, {3, 4, 4});
  REQUIRE(g.shift[0] == 0);
  REQUIRE(g.shift[1] == 4);
  REQUIRE(g.shift[2] == 0);
  REQUIRE(test::compare(geometry_mask(g), f.at("mask")).max_abs == 0);
  check_fixture("vrt_attn_self_shift", attn(f.at("x"), g), f.at("out"));
}

TEST_CASE("VRT mutual WindowAttention matches upstream (shifted (2,8,8) windows, C 120, 6 heads)", "[ops][vrt][fixture]") {
  const auto f = test::load_fixture("ops/vrt_attn_mutual_shift.safetensors");
  const vrt::WindowAttention attn = vrt::WindowAttention::load(source_of(f), "", 120, 6, {2, 8, 8}, true);
  const WindowGeometry g = ops::window_geometry(1, {2, 16, 8}, {2, 8, 8}, {1, 4, 4});
  REQUIRE(test::compare(geometry_mask(g), f.at("mask")).max_abs == 0);
  Tensor proj_in;
  const Tensor out = attn(f.at("x"), g, &proj_in);
  check_fixture("vrt_attn_mutual_shift proj_in", proj_in, f.at("proj_in"));
  check_fixture("vrt_attn_mutual_shift", out, f.at("out"));
}

TEST_CASE("VRT TMSAG with mutual attention matches upstream (padded, shifted)", "[ops][vrt][fixture]") {
  const auto f = test::load_fixture("ops/vrt_tmsag_mutual.safetensors");
  const vrt::Tmsag group = vrt::Tmsag::load(source_of(f), "", 32, 2, 4, {2, 8, 8}, true);
  const Tensor& x = f.at("x");  // (1, 32, 3, 10, 12)
  const WindowGeometry g = ops::window_geometry(1, {3, 10, 12}, {2, 8, 8}, {1, 4, 4});
  REQUIRE(test::compare(geometry_mask(g), f.at("mask")).max_abs == 0);
  Tensor block0;
  const Tensor out = group(x, &block0);
  check_fixture("vrt_tmsag_mutual block0_out", block0, f.at("block0_out"));
  check_fixture("vrt_tmsag_mutual", out, f.at("out"));
}

TEST_CASE("VRT TMSAG with a temporally clipped (6,8,8) window matches upstream", "[ops][vrt][fixture]") {
  const auto f = test::load_fixture("ops/vrt_tmsag_self_clip.safetensors");
  const vrt::Tmsag group = vrt::Tmsag::load(source_of(f), "", 32, 2, 4, {6, 8, 8}, false);
  Tensor block0;
  const Tensor out = group(f.at("x"), &block0);
  check_fixture("vrt_tmsag_self_clip block0_out", block0, f.at("block0_out"));
  check_fixture("vrt_tmsag_self_clip", out, f.at("out"));
}

TEST_CASE("VRT stage reshape 'none' and the stage-8 projection match upstream", "[ops][vrt][fixture]") {
  {
    const auto f = test::load_fixture("ops/vrt_reshape_none.safetensors");
    const vrt::LayerNorm norm = vrt::LayerNorm::load(source_of(f), "reshape.1", 120);
    check_fixture("vrt_reshape_none", ops::channels_first(norm(ops::channels_last(f.at("x")))), f.at("out"));
  }
  {
    const auto f = test::load_fixture("ops/vrt_stage8_proj.safetensors");
    const vrt::LayerNorm norm = vrt::LayerNorm::load(source_of(f), "stage8.0.1", 120);
    const vrt::Linear linear = vrt::Linear::load(source_of(f), "stage8.0.2", 120, 180);
    check_fixture("vrt_stage8_proj", ops::channels_first(linear(norm(ops::channels_last(f.at("x"))))), f.at("out"));
  }
}

// ---- naive references -------------------------------------------------------------------------

TEST_CASE("linear, layer_norm, gelu and gelu_mul match their formulas in double", "[ops][vrt]") {
  const Tensor x = random_tensor({2, 3, 5, 7}, 1, -3, 3);
  const Tensor w = random_tensor({11, 7}, 2), bias = random_tensor({11}, 3);
  Tensor want = Tensor::empty({2, 3, 5, 11}), want_nobias = Tensor::empty({2, 3, 5, 11});
  for (int64_t r = 0; r < 30; ++r)
    for (int64_t o = 0; o < 11; ++o) {
      double acc = 0;
      for (int64_t k = 0; k < 7; ++k) acc += double(x.data()[r * 7 + k]) * w.data()[o * 7 + k];
      want_nobias.data()[r * 11 + o] = float(acc);
      want.data()[r * 11 + o] = float(acc + bias.data()[o]);
    }
  check_close("linear", ops::linear(x, w, &bias), want);
  check_close("linear without bias", ops::linear(x, w, nullptr), want_nobias);

  // Rows of very different offsets and spreads: the statistics must not lose precision.
  Tensor y = random_tensor({4, 9, 37}, 4, -1, 1);
  for (int64_t r = 0; r < 36; ++r)
    for (int64_t c = 0; c < 37; ++c) y.data()[r * 37 + c] = y.data()[r * 37 + c] * float(r + 1) * 0.3f + float(r) * 10.0f;
  const Tensor gamma = random_tensor({37}, 5, 0.5f, 1.5f), beta = random_tensor({37}, 6);
  Tensor want_norm = Tensor::empty(y.shape());
  for (int64_t r = 0; r < 36; ++r) {
    double mean = 0, var = 0;
    for (int64_t c = 0; c < 37; ++c) mean += y.data()[r * 37 + c] / 37.0;
    for (int64_t c = 0; c < 37; ++c) var += std::pow(y.data()[r * 37 + c] - mean, 2) / 37.0;
    for (int64_t c = 0; c < 37; ++c)
      want_norm.data()[r * 37 + c] = float((y.data()[r * 37 + c] - mean) / std::sqrt(var + 1e-5) * gamma.data()[c] + beta.data()[c]);
  }
  check_close("layer_norm", ops::layer_norm(y, gamma, beta), want_norm);

  const Tensor a = random_tensor({3, 5, 17}, 7, -6, 6), gate = random_tensor({3, 5, 17}, 8, -2, 2);
  Tensor want_gelu = Tensor::empty(a.shape()), want_geglu = Tensor::empty(a.shape());
  for (int64_t i = 0; i < a.numel(); ++i) {
    const double v = a.data()[i], g = 0.5 * v * (1.0 + std::erf(v / std::sqrt(2.0)));
    want_gelu.data()[i] = float(g);
    want_geglu.data()[i] = float(g * gate.data()[i]);
  }
  check_close("gelu", ops::gelu(a), want_gelu);
  check_close("gelu_mul", ops::gelu_mul(a, gate), want_geglu);
}

TEST_CASE("channels_last / channels_first and add_broadcast_ move every element to its place", "[ops][vrt]") {
  const Tensor x = random_tensor({2, 5, 3, 4, 7}, 9);  // (N, C, D, H, W)
  const Tensor last = ops::channels_last(x);
  REQUIRE(last.shape() == Shape{2, 3, 4, 7, 5});
  for (int64_t n = 0; n < 2; ++n)
    for (int64_t c = 0; c < 5; ++c)
      for (int64_t s = 0; s < 84; ++s) REQUIRE(last.data()[(n * 84 + s) * 5 + c] == x.data()[(n * 5 + c) * 84 + s]);
  const Tensor back = ops::channels_first(last);
  REQUIRE(back.shape() == x.shape());
  REQUIRE(test::compare(back, x).max_abs == 0);

  Tensor z = random_tensor({3, 2, 4, 6}, 10);
  const Tensor before = z.clone(), y = random_tensor({4, 6}, 11);
  ops::add_broadcast_(z, y);
  for (int64_t i = 0; i < z.numel(); ++i) REQUIRE(z.data()[i] == before.data()[i] + y.data()[i % 24]);
}

TEST_CASE("window_partition / window_reverse equal pad + roll + partition, and invert it", "[ops][vrt]") {
  struct Case {
    int64_t n, d, h, w, c;
    std::array<int, 3> window, shift;
  };
  // Padding on every axis with shifts, a window clipped on two axes (shift dropped there), no shift.
  const Case cases[] = {{2, 5, 7, 9, 3, {3, 4, 4}, {1, 2, 2}},
                        {1, 4, 6, 5, 4, {6, 4, 8}, {3, 2, 4}},
                        {1, 3, 8, 8, 2, {2, 8, 8}, {0, 0, 0}}};
  for (const Case& k : cases) {
    INFO("x (" << k.n << ", " << k.d << ", " << k.h << ", " << k.w << ", " << k.c << ")");
    const Tensor x = random_tensor({k.n, k.d, k.h, k.w, k.c}, 12);
    const WindowGeometry g = ops::window_geometry(k.n, {k.d, k.h, k.w}, k.window, k.shift);
    const std::array<int, 3> window{g.window[0], g.window[1], g.window[2]}, shift{g.shift[0], g.shift[1], g.shift[2]},
        padded{g.padded[0], g.padded[1], g.padded[2]};
    const Tensor windows = ops::window_partition(x, g);
    REQUIRE(test::compare(windows, naive_partition(x, window, shift, padded)).max_abs == 0);
    REQUIRE(test::compare(ops::window_reverse(windows, g), x).max_abs == 0);
  }
  // Effective geometry: "<=" clips the window and drops the shift; padding to a window multiple.
  const WindowGeometry g = ops::window_geometry(1, {6, 9, 8}, {6, 8, 8}, {3, 4, 4});
  CHECK(g.window[0] == 6);
  CHECK(g.shift[0] == 0);
  CHECK(g.window[1] == 8);
  CHECK(g.shift[1] == 4);
  CHECK(g.padded[1] == 16);
  CHECK(g.window[2] == 8);
  CHECK(g.shift[2] == 0);
}

TEST_CASE("the relative position index and the region labels equal upstream's construction", "[ops][vrt]") {
  for (const std::array<int, 3> full : {std::array<int, 3>{6, 8, 8}, {2, 8, 8}, {1, 4, 4}, {3, 2, 5}}) {
    const std::vector<int> want = upstream_index(full);
    const int n = full[0] * full[1] * full[2];
    for (int i = 0; i < n; ++i)
      for (int j = 0; j < n; ++j) REQUIRE(vrestore::relative_position_index(full.data(), i, j) == want[size_t(i) * n + j]);
  }
  const WindowGeometry g = ops::window_geometry(1, {5, 7, 9}, {3, 4, 4}, {1, 2, 2});
  const auto masks = upstream_mask({g.padded[0], g.padded[1], g.padded[2]}, {3, 4, 4}, {1, 2, 2});
  const Tensor mine = geometry_mask(g);
  REQUIRE(int64_t(masks.size()) == mine.size(0));
  for (size_t w = 0; w < masks.size(); ++w)
    for (size_t e = 0; e < masks[w].size(); ++e) REQUIRE(mine.data()[w * masks[w].size() + e] == masks[w][e]);
}

TEST_CASE("window_attention matches the naive attention on awkward shapes", "[ops][vrt]") {
  using Case = test::WindowAttentionCase;
  const Case cases[] = {
      {2, 5, 7, 9, {3, 4, 4}, {1, 2, 2}, 3, 5, false},  // padding and a shift on every axis, N = 2
      {1, 4, 6, 5, {6, 4, 8}, {3, 2, 4}, 2, 7, false},  // window clipped on D and W: top-left index block
      {1, 3, 6, 8, {2, 4, 4}, {1, 2, 2}, 2, 6, true},   // mutual, temporal wrap-around in the last window
      {2, 2, 4, 4, {2, 4, 4}, {1, 2, 2}, 3, 4, true},   // mutual, one window, no shift
      {1, 3, 5, 4, {2, 4, 4}, {0, 0, 0}, 1, 33, false}, // unshifted, head dim above 32
  };
  for (const Case& k : cases) {
    INFO("volume (" << k.n << ", " << k.d << ", " << k.h << ", " << k.w << "), heads " << k.heads << ", head dim "
                    << k.head_dim << (k.mutual ? ", mutual" : ", self"));
    const WindowGeometry g = k.geometry();
    const Tensor qkv = random_tensor({int64_t{g.batch} * g.windows_per_image(), g.tokens(), 3 * k.channels()}, 13, -2, 2);
    const Tensor table = random_tensor({k.bias_rows(), k.heads}, 14, -3, 3);
    const Tensor got = ops::window_attention(qkv, k.mutual ? nullptr : &table, k.params(g));
    const Tensor want = naive_window_attention(qkv, k.mutual ? nullptr : &table, k.heads, k.full,
                                               {g.window[0], g.window[1], g.window[2]},
                                               {g.shift[0], g.shift[1], g.shift[2]},
                                               {g.padded[0], g.padded[1], g.padded[2]}, k.mutual);
    check_close("window_attention", got, want);
  }
}

TEST_CASE("VRT ops name the operand and the expected shape in their errors", "[ops][vrt]") {
  const Tensor x = Tensor::zeros({2, 3, 8});
  CHECK_THROWS_WITH(ops::linear(x, Tensor::zeros({4, 7}), nullptr), Contains("linear: x has shape (2, 3, 8)") && Contains("(..., 7)"));
  const Tensor b5 = Tensor::zeros({5});
  CHECK_THROWS_WITH(ops::linear(x, Tensor::zeros({4, 8}), &b5), Contains("linear: bias"));
  CHECK_THROWS_WITH(ops::layer_norm(x, Tensor::zeros({7}), Tensor::zeros({8})), Contains("layer_norm: weight"));
  CHECK_THROWS_WITH(ops::gelu_mul(x, Tensor::zeros({2, 3, 7})), Contains("gelu: gate"));
  Tensor y = Tensor::zeros({2, 3, 8});
  CHECK_THROWS_WITH(ops::add_broadcast_(y, Tensor::zeros({4, 8})), Contains("add_broadcast: y has shape (4, 8)"));
  CHECK_THROWS_WITH(ops::channels_last(Tensor::zeros({3, 4})), Contains("channels_last: x has shape (3, 4)"));
  CHECK_THROWS_WITH(ops::window_geometry(1, {4, 8, 8}, {2, 8, 8}, {2, 0, 0}), Contains("shift D is 2"));
  const WindowGeometry g = ops::window_geometry(1, {4, 8, 8}, {2, 8, 8}, {1, 4, 4});
  CHECK_THROWS_WITH(ops::window_partition(Tensor::zeros({1, 4, 8, 9, 3}), g), Contains("window_partition: volume (1, 4, 8, 9, 3)"));
  CHECK_THROWS_WITH(ops::window_reverse(Tensor::zeros({2, 127, 3}), g), Contains("window_reverse: windows has shape (2, 127, 3)"));
  ops::WindowAttentionParams p;
  p.heads = 2;
  p.full_window = {2, 8, 8};
  p.geometry = g;
  const Tensor table = Tensor::zeros({3 * 15 * 15, 2});
  CHECK_THROWS_WITH(ops::window_attention(Tensor::zeros({2, 128, 12}), nullptr, p),
                    Contains("self attention needs the relative position bias table"));
  CHECK_THROWS_WITH(ops::window_attention(Tensor::zeros({2, 128, 10}), &table, p), Contains("multiple of 3 * heads = 6"));
  CHECK_THROWS_WITH(ops::window_attention(Tensor::zeros({3, 128, 12}), &table, p), Contains("qkv has shape (3, 128, 12)"));
  CHECK_THROWS_WITH(ops::window_attention(Tensor::zeros({2, 128, 12}), &b5, p), Contains("bias_table"));
  p.mutual = true;
  CHECK_THROWS_WITH(ops::window_attention(Tensor::zeros({2, 128, 12}), &table, p), Contains("mutual attention has no relative position bias"));
  p.geometry = ops::window_geometry(1, {1, 8, 8}, {2, 8, 8}, {0, 0, 0});
  CHECK_THROWS_WITH(ops::window_attention(Tensor::zeros({1, 64, 12}), nullptr, p), Contains("2-frame windows"));
}
