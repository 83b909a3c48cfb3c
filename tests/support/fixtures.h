// Test helpers: where the golden fixtures live and how outputs are compared with them.
#pragma once

#include <functional>
#include <map>
#include <string>
#include <vector>

#include "core/ops.h"
#include "vrestore/tensor.h"

namespace vrestore::test {

// $VRESTORE_FIXTURES, else <repo>/../shared/fixtures.
std::string fixtures_dir();
// Directory for files the tests write (converted weights, outputs); created on demand.
std::string scratch_dir();

// All tensors of a fixture safetensors file, as float32.
std::map<std::string, Tensor> load_fixture(const std::string& relative_path);

struct Diff {
  double max_abs = 0;        // max |a - b|
  double max_excess = 0;     // max (|a - b| - (atol + rtol*|b|)); <= 0 means within tolerance
  double ref_abs_max = 0;
  double mean_abs = 0;       // mean |a - b|
};
// Compares same-shaped tensors (b is the reference); throws on a shape mismatch.
Diff compare(const Tensor& a, const Tensor& b, double atol = 0, double rtol = 0);

// A float32 CPU tensor of `shape` drawn uniformly from [lo, hi) by std::mt19937(seed): the same seed
// gives the same values in every test binary.
Tensor random_tensor(const Shape& shape, unsigned seed, float lo = -1.0f, float hi = 1.0f);

// Upstream grid_sample's (N, H, W, 2) flow as the planar (N, 2, H, W) flow ops::flow_warp takes.
Tensor planar_flow(const Tensor& nhwc);

// A single-op fixture (shared/fixtures/ops/<name>.safetensors, tensors "input" and "expected") and
// the op call that reproduces it.
struct UnaryFixtureOp {
  const char* name;
  std::function<Tensor(const Tensor& input)> op;
};
// The F.interpolate bilinear fixtures: upsample_bilinear x2/x4 and resize_bilinear up/down, with
// and without align_corners.
const std::vector<UnaryFixtureOp>& bilinear_fixture_ops();

// A torchvision deform_conv2d fixture (shared/fixtures/ops/<name>.safetensors: input, offset, mask,
// weight, bias, expected) and the stride / padding / dilation it was made with.
struct DeformConvFixture {
  const char* name;
  ops::DeformConv2dParams params;
};
// 1, 2 and 8 deformable groups at stride 1; 4 groups at stride 2, padding 2, dilation 2.
const std::vector<DeformConvFixture>& deform_conv_fixtures();

}  // namespace vrestore::test
