// VRT's alignment side on the CPU (core/ops_vrt.h nearest4_warp / flow_guided_offset,
// models/vrt_align.h): the upstream op fixtures (shared/fixtures/ops/vrt_{flow_warp,flow_compose,
// dcn_pa*,parallel_warp_pa*,reshape_down,reshape_up}) and naive references written here from the
// spec's formulas in double, sharing no code with src/cpu or kernels/vrt_common.h.
#include <catch2/catch.hpp>

#include <cmath>
#include <cstdio>
#include <map>
#include <string>
#include <vector>

#include "core/check.h"
#include "core/ops.h"
#include "core/ops_vrt.h"
#include "models/vrt_align.h"
#include "support/checks.h"
#include "support/fixtures.h"
#include "support/vrt_fixtures.h"
#include "vrestore/error.h"

using vrestore::Shape;
using vrestore::Tensor;
using Catch::Matchers::Contains;
namespace ops = vrestore::ops;
namespace vrt = vrestore::vrt;
namespace test = vrestore::test;

namespace {

// Upstream op fixtures: max |diff| <= 1e-5 unless a case says otherwise (fixtures README, VRT section).
using test::check_fixture;
using test::random_tensor;

vrt::TensorSource source_of(const std::map<std::string, Tensor>& f) { return test::fixture_source(f); }

std::vector<Tensor> numbered(const std::map<std::string, Tensor>& f, const std::string& stem, int count) {
  std::vector<Tensor> out;
  for (int j = 0; j < count; ++j) out.push_back(f.at(stem + std::to_string(j)));
  return out;
}

}  // namespace

TEST_CASE("VRT flow_warp (bilinear zeros / border) and nearest4 match upstream", "[ops][vrt][fixture]") {
  const auto f = test::load_fixture("ops/vrt_flow_warp.safetensors");
  const Tensor flow = ops::channels_first(f.at("flow"));  // (N, H, W, 2) -> planar (N, 2, H, W)
  check_fixture("vrt_flow_warp bilinear zeros", ops::flow_warp(f.at("x"), flow, vrestore::WarpPadding::Zeros),
                f.at("out_bilinear_zeros"));
  check_fixture("vrt_flow_warp bilinear border", ops::flow_warp(f.at("x"), flow, vrestore::WarpPadding::Border),
                f.at("out_bilinear_border"));
  check_fixture("vrt_flow_warp nearest4", ops::nearest4_warp(f.at("x"), flow), f.at("out_nearest4"), 0.0);
}

TEST_CASE("VRT flow composition (get_flow_4frames / 6frames) matches upstream at 4 scales", "[ops][vrt][fixture]") {
  const auto f = test::load_fixture("ops/vrt_flow_compose.safetensors");
  for (int s = 0; s < 4; ++s) {
    for (const bool backward : {true, false}) {
      const std::string dir = backward ? "backward" : "forward";
      const std::vector<Tensor> flows = vrt::compose_flows(f.at("flows_" + dir + "_1_s" + std::to_string(s)), backward, 3);
      for (int j = 2; j <= 3; ++j) {
        const std::string key = "flows_" + dir + "_" + std::to_string(j) + "_s" + std::to_string(s);
        check_fixture("vrt_flow_compose " + key, flows[static_cast<size_t>(j - 1)], f.at(key));
      }
    }
  }
}

TEST_CASE("VRT DCNv2PackFlowGuided matches upstream for 1, 2 and 3 neighbours", "[ops][vrt][fixture]") {
  struct Case {
    int pa;
    int64_t channels, groups;
    float mrm;
  };
  for (const Case c : {Case{2, 16, 4, 10.0f}, Case{4, 16, 4, 2.5f}, Case{6, 12, 3, 5.0f}}) {
    const std::string name = "vrt_dcn_pa" + std::to_string(c.pa);
    const auto f = test::load_fixture("ops/" + name + ".safetensors");
    const int k = c.pa / 2;
    const vrt::DcnFlowGuided dcn = vrt::DcnFlowGuided::load(source_of(f), "", c.channels, c.pa, c.groups, c.mrm);
    std::vector<Tensor> neighbours;
    for (int j = 0; j < k; ++j) neighbours.push_back(ops::narrow1(f.at("x"), j * c.channels, c.channels));
    ops::FlowGuidedOffset om;
    const Tensor out = dcn(neighbours, numbered(f, "x_flow_warped_", k), f.at("x_current"), numbered(f, "flow_", k), &om);
    // Offsets reach ~mrm + a few px of flow; the acceptance is on values of order 1 (README).
    check_fixture(name + " offset", om.offset, f.at("offset"));
    check_fixture(name + " mask", om.mask, f.at("mask"));
    check_fixture(name + " out", out, f.at("out"));
  }
}

TEST_CASE("VRT parallel warping (aligned features + pa_fuse) matches upstream for pa 2, 4, 6", "[ops][vrt][fixture]") {
  struct Case {
    int pa;
    int64_t dim, groups;
    float mrm;
  };
  for (const Case c : {Case{2, 16, 4, 10.0f}, Case{4, 16, 4, 5.0f}, Case{6, 12, 3, 2.5f}}) {
    const std::string name = "vrt_parallel_warp_pa" + std::to_string(c.pa);
    const auto f = test::load_fixture("ops/" + name + ".safetensors");
    const vrt::ParallelWarp warp = vrt::ParallelWarp::load(source_of(f), "", c.dim, c.pa, c.groups, c.mrm);
    Tensor xb, xf;
    const Tensor out = warp(f.at("x"), numbered(f, "flows_backward_", c.pa / 2), numbered(f, "flows_forward_", c.pa / 2),
                            &xb, &xf);
    check_fixture(name + " x_backward", xb, f.at("x_backward"));
    check_fixture(name + " x_forward", xf, f.at("x_forward"));
    check_fixture(name + " out", out, f.at("out"));
  }
}

TEST_CASE("VRT stage reshapes 'down' and 'up' match upstream", "[ops][vrt][fixture]") {
  {
    const auto f = test::load_fixture("ops/vrt_reshape_down.safetensors");
    const auto r = vrt::StageReshape::load(source_of(f), "reshape", vrt::StageReshape::Mode::Down, 120, 120);
    check_fixture("vrt_reshape_down", r(f.at("x")), f.at("out"));
  }
  {
    const auto f = test::load_fixture("ops/vrt_reshape_up.safetensors");
    const auto r = vrt::StageReshape::load(source_of(f), "reshape", vrt::StageReshape::Mode::Up, 120, 120);
    check_fixture("vrt_reshape_up", r(f.at("x")), f.at("out"));
  }
}

TEST_CASE("nearest4_warp equals the naive corner sampling on borders, integral points and N > 1", "[ops][vrt]") {
  const int64_t n = 2, c = 3, h = 5, w = 7;
  const Tensor x = random_tensor({n, c, h, w}, 11);
  Tensor flow = random_tensor({n, 2, h, w}, 12, -3.0f, 3.0f);
  // Integral sample points (floor = ceil) and points exactly on the image edges.
  for (int64_t i = 0; i < n * 2 * h * w; i += 5) flow.data()[i] = std::round(flow.data()[i]);
  flow.data()[0] = -1.0f;                        // x sample -1: outside
  flow.data()[h * w - 1] = 0.5f;                 // last column + 0.5: ceil outside
  const Tensor got = ops::nearest4_warp(x, flow);
  REQUIRE(got.shape() == Shape{n, 4 * c, h, w});
  for (int64_t b = 0; b < n; ++b)
    for (int64_t y = 0; y < h; ++y)
      for (int64_t xo = 0; xo < w; ++xo) {
        const float vx = static_cast<float>(xo) + flow.data()[(b * 2) * h * w + y * w + xo];
        const float vy = static_cast<float>(y) + flow.data()[(b * 2 + 1) * h * w + y * w + xo];
        const double xs[2] = {std::floor(vx), std::ceil(vx)}, ys[2] = {std::floor(vy), std::ceil(vy)};
        for (int q = 0; q < 4; ++q) {
          const double sx = xs[q / 2], sy = ys[q % 2];
          const bool inside = sx >= 0 && sx <= w - 1 && sy >= 0 && sy <= h - 1;
          for (int64_t ch = 0; ch < c; ++ch) {
            const float want = inside ? x.data()[((b * c + ch) * h + static_cast<int64_t>(sy)) * w + static_cast<int64_t>(sx)] : 0.0f;
            const float have = got.data()[((b * 4 * c + q * c + ch) * h + y) * w + xo];
            INFO("n " << b << " y " << y << " x " << xo << " corner " << q << " channel " << ch);
            REQUIRE(have == want);
          }
        }
      }
}

TEST_CASE("flow_guided_offset equals mrm·tanh + flipped flow per neighbour chunk and sigmoid", "[ops][vrt]") {
  const int64_t n = 2, groups = 6, k = 3, h = 3, w = 4, plane = h * w;
  const Tensor raw = random_tensor({n, 27 * groups, h, w}, 21, -3.0f, 3.0f);
  const Tensor flows = random_tensor({n, 2 * k, h, w}, 22, -4.0f, 4.0f);
  const ops::FlowGuidedOffset om = ops::flow_guided_offset(raw, flows, 7.5f);
  REQUIRE(om.offset.shape() == Shape{n, 18 * groups, h, w});
  REQUIRE(om.mask.shape() == Shape{n, 9 * groups, h, w});
  const int64_t pairs = 9 * groups, per_neighbour = pairs / k;
  double worst = 0;
  for (int64_t b = 0; b < n; ++b)
    for (int64_t ch = 0; ch < 3 * pairs; ++ch)
      for (int64_t p = 0; p < plane; ++p) {
        const double r = raw.data()[(b * 27 * groups + ch) * plane + p];
        if (ch < 2 * pairs) {
          const int64_t j = (ch / 2) / per_neighbour;
          const double fl = flows.data()[(b * 2 * k + 2 * j + (ch % 2 == 0 ? 1 : 0)) * plane + p];
          worst = std::max(worst, std::abs(om.offset.data()[(b * 2 * pairs + ch) * plane + p] - (7.5 * std::tanh(r) + fl)));
        } else {
          const double want = 1.0 / (1.0 + std::exp(-r));
          worst = std::max(worst, std::abs(om.mask.data()[(b * pairs + ch - 2 * pairs) * plane + p] - want));
        }
      }
  INFO("max |diff| = " << worst);
  CHECK(worst <= 1e-5);
}

TEST_CASE("VRT warp ops name the operand and the expected shape in their errors", "[ops][vrt]") {
  const Tensor x = random_tensor({1, 3, 4, 5}, 1);
  CHECK_THROWS_WITH(ops::nearest4_warp(x, random_tensor({1, 2, 4, 4}, 2)), Contains("nearest4_warp") && Contains("flow"));
  CHECK_THROWS_WITH(ops::flow_guided_offset(random_tensor({1, 26, 4, 5}, 3), random_tensor({1, 2, 4, 5}, 4), 1.0f),
                    Contains("27·G"));
  CHECK_THROWS_WITH(ops::flow_guided_offset(random_tensor({1, 27, 4, 5}, 3), random_tensor({1, 4, 4, 5}, 4), 1.0f),
                    Contains("neighbours"));
  CHECK_THROWS_WITH(vrt::compose_flows(random_tensor({1, 2, 2, 4, 5}, 5), true, 3), Contains("compose_flows"));
  const vrt::TensorSource any = [](const std::string&, const Shape& shape, vrt::Keep) { return random_tensor(shape, 6); };
  const auto down = vrt::StageReshape::load(any, "reshape", vrt::StageReshape::Mode::Down, 8, 16);
  CHECK_THROWS_WITH(down(random_tensor({1, 8, 2, 5, 6}, 7)), Contains("even H and W") && Contains("(1, 8, 2, 5, 6)"));
  CHECK_THROWS_WITH(vrt::StageReshape::load(any, "reshape", vrt::StageReshape::Mode::Up, 10, 16), Contains("multiple of 4"));
  CHECK_THROWS_WITH(vrt::DcnFlowGuided::load(any, "pa_deform", 16, 3, 4, 10.0f), Contains("pa_frames is 3"));
}
