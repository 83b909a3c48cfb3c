#include "support/fixtures.h"

#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <random>

#include "core/check.h"
#include "weights/safetensors.h"

namespace vrestore::test {

std::string fixtures_dir() {
  if (const char* env = std::getenv("VRESTORE_FIXTURES")) return env;
  return std::string(VRESTORE_SOURCE_DIR) + "/../shared/fixtures";
}

std::string scratch_dir() {
  std::string dir = std::string(VRESTORE_BINARY_DIR) + "/test_scratch";
  std::filesystem::create_directories(dir);
  return dir;
}

std::map<std::string, Tensor> load_fixture(const std::string& relative_path) {
  return load_safetensors(fixtures_dir() + "/" + relative_path);
}

Diff compare(const Tensor& a, const Tensor& b, double atol, double rtol) {
  VR_CHECK(a.shape() == b.shape(), "compare: got shape ", a.shape_str(), ", expected ", b.shape_str());
  Diff d;
  d.max_excess = -INFINITY;
  for (int64_t i = 0; i < a.numel(); ++i) {
    double ref = b.data()[i];
    double e = std::fabs(static_cast<double>(a.data()[i]) - ref);
    if (std::isnan(e)) e = INFINITY;
    d.max_abs = std::max(d.max_abs, e);
    d.max_excess = std::max(d.max_excess, e - (atol + rtol * std::fabs(ref)));
    d.ref_abs_max = std::max(d.ref_abs_max, std::fabs(ref));
    d.mean_abs += e;
  }
  if (a.numel() > 0) d.mean_abs /= static_cast<double>(a.numel());
  return d;
}

Tensor random_tensor(const Shape& shape, unsigned seed, float lo, float hi) {
  Tensor t = Tensor::empty(shape);
  std::mt19937 gen(seed);
  std::uniform_real_distribution<float> dist(lo, hi);
  for (int64_t i = 0; i < t.numel(); ++i) t.data()[i] = dist(gen);
  return t;
}

const std::vector<UnaryFixtureOp>& bilinear_fixture_ops() {
  static const std::vector<UnaryFixtureOp> cases = {
      {"interp_bilinear_x4_ac0", [](const Tensor& x) { return ops::upsample_bilinear(x, 4, false); }},
      {"interp_bilinear_x2_ac0", [](const Tensor& x) { return ops::upsample_bilinear(x, 2, false); }},
      {"interp_bilinear_x2_ac1", [](const Tensor& x) { return ops::upsample_bilinear(x, 2, true); }},
      {"interp_bilinear_resize_up_ac0", [](const Tensor& x) { return ops::resize_bilinear(x, 64, 64, false); }},
      {"interp_bilinear_resize_down_ac0", [](const Tensor& x) { return ops::resize_bilinear(x, 36, 44, false); }},
  };
  return cases;
}

const std::vector<DeformConvFixture>& deform_conv_fixtures() {
  static const std::vector<DeformConvFixture> cases = [] {
    std::vector<DeformConvFixture> out;
    const struct {
      const char* name;
      int stride, padding, dilation;
    } made[] = {{"deform_conv2d_dg1_s1_p1_d1", 1, 1, 1}, {"deform_conv2d_dg2_s1_p1_d1", 1, 1, 1},
                {"deform_conv2d_dg8_s1_p1_d1", 1, 1, 1}, {"deform_conv2d_dg4_s2_p2_d2", 2, 2, 2}};
    for (const auto& m : made) {
      ops::DeformConv2dParams p;
      p.stride = m.stride;
      p.padding = m.padding;
      p.dilation = m.dilation;
      out.push_back({m.name, p});
    }
    return out;
  }();
  return cases;
}

Tensor planar_flow(const Tensor& nhwc) {
  VR_CHECK(nhwc.dim() == 4 && nhwc.size(3) == 2, "planar_flow: got shape ", nhwc.shape_str(), ", expected (N, H, W, 2)");
  const int64_t n = nhwc.size(0), h = nhwc.size(1), w = nhwc.size(2);
  Tensor out = Tensor::empty({n, 2, h, w});
  for (int64_t b = 0; b < n; ++b)
    for (int64_t k = 0; k < 2; ++k)
      for (int64_t p = 0; p < h * w; ++p) out.data()[(b * 2 + k) * h * w + p] = nhwc.data()[(b * h * w + p) * 2 + k];
  return out;
}

}  // namespace vrestore::test

#include "support/models.h"

namespace vrestore::test {

std::string converted_weights(const std::string& fixture_case) {
  std::string path = std::string(VRESTORE_BINARY_DIR) + "/test_scratch/weights/" + fixture_case + ".safetensors";
  VR_CHECK(std::filesystem::exists(path), "test: ", path,
           " does not exist; run the 'convert_fixture_weights' test first (ctest does)");
  return path;
}

}  // namespace vrestore::test
