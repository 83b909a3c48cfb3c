// The upstream op fixtures the CPU op tests use (tests/test_ops.cpp, tests/test_flow_warp.cpp),
// through the emulated CUDA backend in f32 (the CPU tests' tolerance, 1e-5 + 1e-4|ref|; pixel
// shuffle bit-exact) and f16 (1e-2 + 1e-2|ref|). Offsets, masks and flows stay f32.
#include <string>

#include "core/ops.h"
#include "devices.h"
#include "support/fixtures.h"

using namespace vrestore;
using namespace vrestore::emulated_test;

namespace {

constexpr DType kDtypes[] = {DType::F32, DType::F16};

Tensor on_cuda(const Tensor& t, DType dtype) { return t.to(Device::CUDA, dtype); }

Tolerance fixture_tolerance(DType dtype) { return dtype == DType::F32 ? kFixtureF32 : kCudaF16; }

std::string run_name(const std::string& fixture, DType dtype) { return fixture + " [cuda " + dtype_name(dtype) + "]"; }

using test::planar_flow;

}  // namespace

TEST_CASE("deform_conv2d on cuda matches the torchvision fixtures", "[cuda][emulated][fixture]") {
  const ExecutionScope cuda = emulated_cuda_execution();
  for (const test::DeformConvFixture& c : test::deform_conv_fixtures()) {
    auto f = test::load_fixture(std::string("ops/") + c.name + ".safetensors");
    const ops::DeformConv2dParams& p = c.params;
    for (DType dtype : kDtypes) {
      const Tensor bias = on_cuda(f.at("bias"), dtype);
      const Tensor out = ops::deform_conv2d(on_cuda(f.at("input"), dtype), on_cuda(f.at("offset"), DType::F32),
                                            on_cuda(f.at("mask"), DType::F32), on_cuda(f.at("weight"), dtype), &bias, p);
      check_close(run_name(c.name, dtype), out, f.at("expected"), fixture_tolerance(dtype));
    }
  }
}

TEST_CASE("EDVR DCNv2Pack on cuda matches its fixture", "[cuda][emulated][fixture]") {
  auto f = test::load_fixture("ops/dcnv2pack_basicsr_dg4.safetensors");
  const ExecutionScope cuda = emulated_cuda_execution();
  for (DType dtype : kDtypes) {
    ops::Conv2dParams conv_p;
    conv_p.padding = 1;
    const Tensor conv_bias = on_cuda(f.at("conv_offset_bias"), dtype);
    const Tensor conv_offset_out =
        ops::conv2d(on_cuda(f.at("feat"), dtype), on_cuda(f.at("conv_offset_weight"), dtype), &conv_bias, conv_p);
    check_close(run_name("dcnv2pack conv_offset_out", dtype), conv_offset_out, f.at("conv_offset_out"),
                fixture_tolerance(dtype));
    // As the model does: offsets and masks in f32 whatever the features' precision.
    const Tensor offsets_masks = ops::to_dtype(conv_offset_out, DType::F32);
    const int64_t third = offsets_masks.size(1) / 3;
    const Tensor offset = ops::narrow1(offsets_masks, 0, 2 * third);
    Tensor mask = ops::narrow1(offsets_masks, 2 * third, third);
    ops::sigmoid_(mask);
    const Tensor bias = on_cuda(f.at("bias"), dtype);
    const Tensor out = ops::deform_conv2d(on_cuda(f.at("x"), dtype), offset, mask, on_cuda(f.at("weight"), dtype), &bias, {});
    check_close(run_name("dcnv2pack expected", dtype), out, f.at("expected"), fixture_tolerance(dtype));
  }
}

TEST_CASE("pixel_shuffle on cuda matches its fixture", "[cuda][emulated][fixture]") {
  auto f = test::load_fixture("ops/pixel_shuffle_r2.safetensors");
  const ExecutionScope cuda = emulated_cuda_execution();
  check_close(run_name("pixel_shuffle_r2", DType::F32), ops::pixel_shuffle(on_cuda(f.at("input"), DType::F32), 2),
              f.at("expected"), kExact);
  check_close(run_name("pixel_shuffle_r2", DType::F16), ops::pixel_shuffle(on_cuda(f.at("input"), DType::F16), 2),
              f.at("expected"), kCudaF16);
}

TEST_CASE("bilinear interpolation on cuda matches the F.interpolate fixtures", "[cuda][emulated][fixture]") {
  const ExecutionScope cuda = emulated_cuda_execution();
  for (const test::UnaryFixtureOp& c : test::bilinear_fixture_ops()) {
    auto f = test::load_fixture(std::string("ops/") + c.name + ".safetensors");
    for (DType dtype : kDtypes)
      check_close(run_name(c.name, dtype), c.op(on_cuda(f.at("input"), dtype)), f.at("expected"),
                  fixture_tolerance(dtype));
  }
}

TEST_CASE("pooling on cuda matches the SpyNet and TSA fixtures", "[cuda][emulated][fixture]") {
  const ExecutionScope cuda = emulated_cuda_execution();
  auto avg = test::load_fixture("ops/avg_pool_k2s2.safetensors");
  auto tsa_max = test::load_fixture("ops/tsa_max_pool_k3s2p1.safetensors");
  auto tsa_avg = test::load_fixture("ops/tsa_avg_pool_k3s2p1.safetensors");
  for (DType dtype : kDtypes) {
    check_close(run_name("avg_pool_k2s2", dtype), ops::avg_pool2d(on_cuda(avg.at("input"), dtype), 2, 2, 0),
                avg.at("expected"), fixture_tolerance(dtype));
    check_close(run_name("tsa_max_pool_k3s2p1", dtype), ops::max_pool2d(on_cuda(tsa_max.at("input"), dtype), 3, 2, 1),
                tsa_max.at("expected"), fixture_tolerance(dtype));
    check_close(run_name("tsa_avg_pool_k3s2p1", dtype),
                ops::avg_pool2d(on_cuda(tsa_avg.at("input"), dtype), 3, 2, 1, true), tsa_avg.at("expected"),
                fixture_tolerance(dtype));
  }
}

TEST_CASE("flow_warp on cuda matches the upstream grid_sample fixtures", "[cuda][emulated][fixture]") {
  const ExecutionScope cuda = emulated_cuda_execution();
  for (auto [name, padding] : {std::pair{"flow_warp_zeros", WarpPadding::Zeros},
                               std::pair{"flow_warp_border", WarpPadding::Border}}) {
    auto f = test::load_fixture(std::string("ops/") + name + ".safetensors");
    const Tensor flow = on_cuda(planar_flow(f.at("flow")), DType::F32);
    for (DType dtype : kDtypes)
      check_close(run_name(name, dtype), ops::flow_warp(on_cuda(f.at("input"), dtype), flow, padding), f.at("expected"),
                  fixture_tolerance(dtype));
  }
}
