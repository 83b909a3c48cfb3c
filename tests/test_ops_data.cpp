// The data-movement and small arithmetic ops extracted from the models (pad/crop, row gather and
// scatter, concatenation, channel slices, TSA's correlation and modulation, SpyNet's per-channel
// affine maps, RealBasicVSR's residue sum), each against a plain loop written here.
#include <catch2/catch.hpp>

#include <cmath>
#include <cstring>
#include <vector>

#include "core/ops.h"
#include "support/fixtures.h"
#include "vrestore/error.h"

using namespace vrestore;
using Catch::Matchers::Contains;

namespace {

// Values in [-2, 2): this file's data-movement ops see magnitudes above 1.
Tensor random_tensor(const Shape& shape, unsigned seed) { return vrestore::test::random_tensor(shape, seed, -2.0f, 2.0f); }

bool same_bits(const Tensor& a, const Tensor& b) {
  return a.shape() == b.shape() && std::memcmp(a.data(), b.data(), a.nbytes()) == 0;
}

}  // namespace

TEST_CASE("pad_crop repeats the last row/column or crops the top-left window", "[ops][data]") {
  const Tensor x = random_tensor({2, 3, 5, 7}, 1);
  for (auto [h, w] : std::vector<std::pair<int64_t, int64_t>>{{8, 16}, {5, 7}, {3, 4}, {1, 1}, {9, 2}}) {
    INFO(h << "x" << w);
    const Tensor y = ops::pad_crop(x, h, w);
    REQUIRE(y.shape() == Shape{2, 3, h, w});
    for (int64_t p = 0; p < 6; ++p)
      for (int64_t r = 0; r < h; ++r)
        for (int64_t c = 0; c < w; ++c)
          REQUIRE(y.data()[(p * h + r) * w + c] == x.data()[(p * 5 + std::min<int64_t>(r, 4)) * 7 + std::min<int64_t>(c, 6)]);
  }
  const Tensor frame = random_tensor({3, 4, 6}, 2);  // rank 3 works the same
  const Tensor cropped = ops::pad_crop(frame, 2, 3);
  for (int64_t p = 0; p < 3; ++p)
    for (int64_t r = 0; r < 2; ++r)
      for (int64_t c = 0; c < 3; ++c) CHECK(cropped.data()[(p * 2 + r) * 3 + c] == frame.data()[(p * 4 + r) * 6 + c]);
  CHECK_THROWS_WITH(ops::pad_crop(x, 0, 4), "pad_crop: output size is 0x4, expected at least 1x1");
}

TEST_CASE("pad2d reflects, mirrors with the edge or replicates like F.pad / torch.flip", "[ops][data]") {
  // One row 0..3, padded 2 left and 3 right; the expected rows are written out by hand.
  const Tensor row = Tensor::from_data({1, 1, 4}, std::vector<float>{0, 1, 2, 3}.data());
  auto values = [](const Tensor& t) { return std::vector<float>(t.data(), t.data() + t.numel()); };
  CHECK(values(ops::pad2d(row, 0, 0, 2, 3, PadMode::Reflect)) == std::vector<float>{2, 1, 0, 1, 2, 3, 2, 1, 0});
  CHECK(values(ops::pad2d(row, 0, 0, 2, 3, PadMode::Symmetric)) == std::vector<float>{1, 0, 0, 1, 2, 3, 3, 2, 1});
  CHECK(values(ops::pad2d(row, 0, 0, 2, 3, PadMode::Replicate)) == std::vector<float>{0, 0, 0, 1, 2, 3, 3, 3, 3});
  // Rows take the same rule: a 3x2 image padded 1 on top and 2 at the bottom (reflect).
  const Tensor img = Tensor::from_data({3, 2}, std::vector<float>{0, 1, 10, 11, 20, 21}.data());
  CHECK(values(ops::pad2d(img, 1, 2, 0, 0, PadMode::Reflect)) ==
        std::vector<float>{10, 11, 0, 1, 10, 11, 20, 21, 10, 11, 0, 1});
  CHECK_THROWS_WITH(ops::pad2d(row, 0, 0, 4, 0, PadMode::Reflect),
                    Catch::Contains("expected at most 0 rows and 3 columns for reflect padding"));
  CHECK_THROWS_WITH(ops::pad2d(row, 0, 0, 5, 0, PadMode::Symmetric),
                    Catch::Contains("expected at most 1 rows and 4 columns for symmetric padding"));
  CHECK_THROWS_WITH(ops::pad2d(row, -1, 0, 0, 0, PadMode::Replicate), Catch::Contains("must be >= 0"));
}

TEST_CASE("index_select0, copy_rows0_ and cat0 move whole rows", "[ops][data]") {
  const Tensor x = random_tensor({5, 2, 3}, 3);
  const Tensor g = ops::index_select0(x, {4, 0, 4});
  REQUIRE(g.shape() == Shape{3, 2, 3});
  CHECK(std::memcmp(g.data(), x.data() + 24, 6 * sizeof(float)) == 0);
  CHECK(std::memcmp(g.data() + 6, x.data(), 6 * sizeof(float)) == 0);
  CHECK(std::memcmp(g.data() + 12, x.data() + 24, 6 * sizeof(float)) == 0);
  CHECK_THROWS_WITH(ops::index_select0(x, {5}), "index_select0: index 5 out of range for shape (5, 2, 3)");

  Tensor dst = Tensor::zeros({4, 2, 3});
  ops::copy_rows0_(dst, {3, 1}, ops::index_select0(x, {0, 2}));
  CHECK(std::memcmp(dst.data() + 18, x.data(), 6 * sizeof(float)) == 0);
  CHECK(std::memcmp(dst.data() + 6, x.data() + 12, 6 * sizeof(float)) == 0);
  CHECK(dst.data()[0] == 0.0f);
  CHECK_THROWS_WITH(ops::copy_rows0_(dst, {4}, x.narrow0(0, 1)), "copy_rows0: row 4 out of range for dst (4, 2, 3)");
  CHECK_THROWS_WITH(ops::copy_rows0_(dst, {0}, x), Contains("copy_rows0: src has shape (5, 2, 3), expected (1, 2, 3)"));

  const Tensor c = ops::cat0({x.narrow0(1, 2), x.narrow0(0, 1)});
  REQUIRE(c.shape() == Shape{3, 2, 3});
  CHECK(std::memcmp(c.data(), x.data() + 6, 12 * sizeof(float)) == 0);
  CHECK(std::memcmp(c.data() + 12, x.data(), 6 * sizeof(float)) == 0);
  CHECK_THROWS_WITH(ops::cat0({x, Tensor::zeros({1, 3, 3})}), Contains("outside dimension 0"));
}

TEST_CASE("narrow1 copies a channel range", "[ops][data]") {
  const Tensor x = random_tensor({2, 7, 3, 5}, 4);
  const Tensor y = ops::narrow1(x, 2, 4);
  REQUIRE(y.shape() == Shape{2, 4, 3, 5});
  for (int64_t n = 0; n < 2; ++n)
    CHECK(std::memcmp(y.data() + n * 60, x.data() + (n * 7 + 2) * 15, 60 * sizeof(float)) == 0);
  CHECK(ops::narrow1(x, 7, 0).numel() == 0);
  CHECK_THROWS_WITH(ops::narrow1(x, 5, 3), "narrow: channels [5, 8) out of range for x (2, 7, 3, 5)");
}

TEST_CASE("channel_dot, mul_broadcast_channels_ and mul_add_ compute in the models' order", "[ops][data]") {
  const Tensor a = random_tensor({2, 5, 3, 4}, 5), b = random_tensor({2, 5, 3, 4}, 6);
  const Tensor d = ops::channel_dot(a, b);
  REQUIRE(d.shape() == Shape{2, 1, 3, 4});
  for (int64_t n = 0; n < 2; ++n)
    for (int64_t p = 0; p < 12; ++p) {
      float want = 0.0f;
      for (int64_t c = 0; c < 5; ++c) want += a.data()[(n * 5 + c) * 12 + p] * b.data()[(n * 5 + c) * 12 + p];
      REQUIRE(d.data()[n * 12 + p] == want);
    }
  CHECK_THROWS_WITH(ops::channel_dot(a, b.narrow0(0, 1)), Contains("channel_dot: b has shape (1, 5, 3, 4)"));

  Tensor x = random_tensor({2, 3, 4, 2, 5}, 7);
  const Tensor w = random_tensor({2, 3, 1, 2, 5}, 8);
  const Tensor before = x.clone();
  ops::mul_broadcast_channels_(x, w);
  for (int64_t f = 0; f < 6; ++f)
    for (int64_t c = 0; c < 4; ++c)
      for (int64_t p = 0; p < 10; ++p)
        REQUIRE(x.data()[(f * 4 + c) * 10 + p] == before.data()[(f * 4 + c) * 10 + p] * w.data()[f * 10 + p]);
  CHECK_THROWS_WITH(ops::mul_broadcast_channels_(x, before), Contains("expected (2, 3, 1, 2, 5)"));

  Tensor y = random_tensor({3, 7}, 9);
  const Tensor m = random_tensor({3, 7}, 10), add = random_tensor({3, 7}, 11), y0 = y.clone();
  ops::mul_add_(y, m, add, 2.0f);
  for (int64_t i = 0; i < 21; ++i) REQUIRE(y.data()[i] == y0.data()[i] * m.data()[i] * 2.0f + add.data()[i]);
}

TEST_CASE("affine_channels divides or multiplies per channel; sum_abs continues a running sum", "[ops][data]") {
  const Tensor x = random_tensor({2, 3, 4, 5}, 12);
  const std::vector<float> mean = {0.485f, 0.456f, 0.406f}, stdev = {0.229f, 0.224f, 0.225f};
  const Tensor n = ops::affine_channels(x, mean, stdev, true);
  const Tensor s = ops::affine_channels(x, {0, 0, 0}, {2.5f, -1.0f, 0.5f}, false);
  for (int64_t b = 0; b < 2; ++b)
    for (int64_t c = 0; c < 3; ++c)
      for (int64_t p = 0; p < 20; ++p) {
        const float v = x.data()[(b * 3 + c) * 20 + p];
        REQUIRE(n.data()[(b * 3 + c) * 20 + p] == (v - mean[c]) / stdev[c]);
        REQUIRE(s.data()[(b * 3 + c) * 20 + p] == v * std::vector<float>{2.5f, -1.0f, 0.5f}[c]);
      }
  CHECK_THROWS_WITH(ops::affine_channels(x, {0, 0}, {1, 1}, false),
                    "affine_channels: got 2 shifts and 2 scales, expected 3 (the channels of x (2, 3, 4, 5))");

  // A running sum over two tensors rounds exactly like one loop over both.
  const Tensor p = random_tensor({1000}, 13), q = random_tensor({777}, 14);
  double loop = 0;
  for (int64_t i = 0; i < 1000; ++i) loop += std::fabs(p.data()[i]);
  for (int64_t i = 0; i < 777; ++i) loop += std::fabs(q.data()[i]);
  CHECK(ops::sum_abs(q, ops::sum_abs(p)) == loop);
}
