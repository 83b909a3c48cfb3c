// VRT's alignment side (core/ops_vrt.h nearest4_warp / flow_guided_offset, models/vrt_align.h) on
// CPU f32, CUDA f32 and CUDA f16 through the op layer, and the upstream op fixtures (flow warps,
// flow composition, flow-guided DCN, parallel warping, stage reshapes) through the emulated CUDA
// backend: f32 at the CPU fixture tests' acceptance (max |diff| <= 1e-5 + 1e-4|ref|), f16 at the
// harness's f16 class. Flows, DCN offset branches, offsets and masks stay f32 in the f16 runs, as
// in a mixed-precision model.
#include <cmath>
#include <cstdio>
#include <map>
#include <string>

#include "core/check.h"
#include "core/ops.h"
#include "core/ops_vrt.h"
#include "devices.h"
#include "models/vrt_align.h"
#include "support/fixtures.h"
#include "support/vrt_fixtures.h"

using namespace vrestore;
using namespace vrestore::emulated_test;

namespace {

using Tensors = std::vector<Tensor>;

bool stays_f32(const std::string& key) { return key.find("flow") != std::string::npos; }


Tensor on_device(const std::map<std::string, Tensor>& f, const std::string& key, DType dtype) {
  return f.at(key).to(Device::CUDA, stays_f32(key) ? DType::F32 : dtype);
}

Tensors numbered(const std::map<std::string, Tensor>& f, const std::string& stem, int count, DType dtype) {
  Tensors out;
  for (int j = 0; j < count; ++j) out.push_back(on_device(f, stem + std::to_string(j), dtype));
  return out;
}

void report(const std::string& what, const Tensor& got, const Tensor& want, DType dtype) {
  const test::Diff d = test::compare(got.to(Device::CPU, DType::F32), want);
  std::printf("  %-52s max|diff| = %.3g\n", (what + " [cuda " + dtype_name(dtype) + "]").c_str(), d.max_abs);
  check_close(what + " [cuda " + dtype_name(dtype) + "]", got, want, dtype == DType::F32 ? kFixtureF32 : kCudaF16);
}

}  // namespace

TEST_CASE("nearest4_warp and flow_guided_offset on cuda f32/f16 match the cpu", "[cuda][emulated][vrt]") {
  Tensor flow = random_tensor({2, 2, 9, 13}, 31, -4, 4);
  for (int64_t i = 0; i < flow.numel(); i += 7) flow.data()[i] = std::round(flow.data()[i]);  // integral points
  check_devices("nearest4_warp (2, 5, 9, 13)", {{random_tensor({2, 5, 9, 13}, 32)}, f32_only(flow)},
                [](const Tensors& t) { return ops::nearest4_warp(t[0], t[1]); }, {kExact, kCudaF16});
  const Tensor raw = random_tensor({2, 27 * 6, 5, 7}, 33, -3, 3);
  const Tensor flows = random_tensor({2, 6, 5, 7}, 34, -4, 4);
  check_devices("flow_guided_offset offset (G 6, 3 neighbours)", {{raw}, f32_only(flows)},
                [](const Tensors& t) { return ops::flow_guided_offset(t[0], t[1], 10.0f).offset; },
                {kCudaF32, kCudaF16, /*f32_output=*/true});
  check_devices("flow_guided_offset mask (G 6, 3 neighbours)", {{raw}, f32_only(flows)},
                [](const Tensors& t) { return ops::flow_guided_offset(t[0], t[1], 10.0f).mask; },
                {kCudaF32, kCudaF16, /*f32_output=*/true});
}

TEST_CASE("VRT warp, flow composition and reshape fixtures on cuda", "[cuda][emulated][vrt][fixture]") {
  const ExecutionScope cuda = emulated_cuda_execution();
  for (DType dtype : {DType::F32, DType::F16}) {
    {
      const auto f = test::load_fixture("ops/vrt_flow_warp.safetensors");
      const Tensor x = on_device(f, "x", dtype);
      const Tensor flow = ops::channels_first(on_device(f, "flow", dtype));
      report("vrt_flow_warp bilinear zeros", ops::flow_warp(x, flow, WarpPadding::Zeros), f.at("out_bilinear_zeros"), dtype);
      report("vrt_flow_warp bilinear border", ops::flow_warp(x, flow, WarpPadding::Border), f.at("out_bilinear_border"), dtype);
      report("vrt_flow_warp nearest4", ops::nearest4_warp(x, flow), f.at("out_nearest4"), dtype);
    }
    if (dtype == DType::F32) {  // flows are f32 in every model
      const auto f = test::load_fixture("ops/vrt_flow_compose.safetensors");
      for (int s = 0; s < 4; ++s)
        for (const bool backward : {true, false}) {
          const std::string dir = backward ? "backward" : "forward", scale = "_s" + std::to_string(s);
          const Tensors flows = vrt::compose_flows(on_device(f, "flows_" + dir + "_1" + scale, dtype), backward, 3);
          for (int j = 2; j <= 3; ++j) {
            const std::string key = "flows_" + dir + "_" + std::to_string(j) + scale;
            report("vrt_flow_compose " + key, flows[size_t(j - 1)], f.at(key), dtype);
          }
        }
    }
    for (const bool down : {true, false}) {
      const auto f = test::load_fixture(down ? "ops/vrt_reshape_down.safetensors" : "ops/vrt_reshape_up.safetensors");
      const auto mode = down ? vrt::StageReshape::Mode::Down : vrt::StageReshape::Mode::Up;
      const auto r = vrt::StageReshape::load(test::fixture_source(f, Device::CUDA, dtype), "reshape", mode, 120, 120);
      report(down ? "vrt_reshape_down" : "vrt_reshape_up", r(on_device(f, "x", dtype)), f.at("out"), dtype);
    }
  }
}

TEST_CASE("VRT flow-guided DCN and parallel warping fixtures on cuda", "[cuda][emulated][vrt][fixture]") {
  const ExecutionScope cuda = emulated_cuda_execution();
  struct Case {
    int pa;
    int64_t channels, groups;
    float mrm;
  };
  for (DType dtype : {DType::F32, DType::F16}) {
    for (const Case c : {Case{2, 16, 4, 10.0f}, Case{4, 16, 4, 2.5f}, Case{6, 12, 3, 5.0f}}) {
      const std::string name = "vrt_dcn_pa" + std::to_string(c.pa);
      const auto f = test::load_fixture("ops/" + name + ".safetensors");
      const int k = c.pa / 2;
      const auto dcn = vrt::DcnFlowGuided::load(test::fixture_source(f, Device::CUDA, dtype), "", c.channels, c.pa, c.groups, c.mrm);
      const Tensor x = on_device(f, "x", dtype);
      Tensors neighbours;
      for (int j = 0; j < k; ++j) neighbours.push_back(ops::narrow1(x, j * c.channels, c.channels));
      ops::FlowGuidedOffset om;
      const Tensor out = dcn(neighbours, numbered(f, "x_flow_warped_", k, dtype), on_device(f, "x_current", dtype),
                             numbered(f, "flow_", k, dtype), &om);
      report(name + " offset", om.offset, f.at("offset"), dtype);
      report(name + " mask", om.mask, f.at("mask"), dtype);
      report(name + " out", out, f.at("out"), dtype);
    }
    for (const Case c : {Case{2, 16, 4, 10.0f}, Case{4, 16, 4, 5.0f}, Case{6, 12, 3, 2.5f}}) {
      const std::string name = "vrt_parallel_warp_pa" + std::to_string(c.pa);
      const auto f = test::load_fixture("ops/" + name + ".safetensors");
      const auto warp = vrt::ParallelWarp::load(test::fixture_source(f, Device::CUDA, dtype), "", c.channels, c.pa, c.groups, c.mrm);
      Tensor xb, xf;
      const Tensor out = warp(on_device(f, "x", dtype), numbered(f, "flows_backward_", c.pa / 2, dtype),
                              numbered(f, "flows_forward_", c.pa / 2, dtype), &xb, &xf);
      report(name + " x_backward", xb, f.at("x_backward"), dtype);
      report(name + " x_forward", xf, f.at("x_forward"), dtype);
      report(name + " out", out, f.at("out"), dtype);
    }
  }
}
