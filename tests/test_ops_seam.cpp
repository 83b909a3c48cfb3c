// The op seam: tensor dtype/device and checked access, host f16 conversion, the op layer's operand
// checks, the CUDA stubs of a CPU-only build, and the shared flow-warp formula.
#include <catch2/catch.hpp>

#include <cmath>
#include <cstring>
#include <limits>
#include <vector>

#include "../kernels/op_common.h"
#include "core/half.h"
#include "core/op_list.h"
#include "core/ops.h"
#include "cuda/device.h"
#include "vrestore/error.h"
#include "vrestore/vrestore.h"

using namespace vrestore;
using Catch::Matchers::Contains;

namespace {

bool built_without_cuda() { return cuda::query_device().reason.find("built without CUDA") != std::string::npos; }

float bits_to_float(uint32_t b) {
  float f;
  std::memcpy(&f, &b, sizeof f);
  return f;
}

}  // namespace

TEST_CASE("tensors carry a dtype and a device; data<T>() checks both", "[tensor][seam]") {
  Tensor t = Tensor::zeros({2, 3});
  CHECK(t.dtype() == DType::F32);
  CHECK(t.device() == Device::CPU);
  CHECK(t.nbytes() == 24);
  CHECK(t.data<float>() == t.data());
  CHECK_THROWS_WITH(t.data<Half>(), Contains("(2, 3) f32 on cpu asked for its f16 elements on cpu"));
  CHECK_THROWS_WITH(t.data<float>(Device::CUDA), Contains("(2, 3) f32 on cpu asked for its f32 elements on cuda"));
  Tensor h = Tensor::empty({4, 2}, DType::F16);
  CHECK(h.nbytes() == 16);
  CHECK_THROWS_WITH(h.data(), Contains("(4, 2) f16 on cpu asked for its f32 elements"));
  // Views of f16 tensors step by 2-byte elements.
  CHECK(reinterpret_cast<char*>(h.narrow0(1, 2).data<Half>()) - reinterpret_cast<char*>(h.data<Half>()) == 4);
  CHECK(h.clone().dtype() == DType::F16);
}

TEST_CASE("to() converts f32 <-> f16 on the host with round to nearest even", "[tensor][seam]") {
  const float inf = std::numeric_limits<float>::infinity();
  // Values with known binary16 encodings, ties to even, subnormals, overflow and NaN.
  const std::vector<float> values = {0.0f,      -0.0f,     1.0f,       -2.5f,        65504.0f, 65519.0f, 65520.0f,
                                     1e-8f,     5.96e-8f,  6.1035156e-5f, 1.0009765625f, 1.00048828125f, inf, -inf,
                                     1.00146484375f};
  const std::vector<uint16_t> expected = {0x0000, 0x8000, 0x3C00, 0xC100, 0x7BFF, 0x7BFF, 0x7C00,
                                          0x0000, 0x0001, 0x0400, 0x3C01, 0x3C00, 0x7C00, 0xFC00,
                                          0x3C02};
  Tensor f = Tensor::from_data({static_cast<int64_t>(values.size())}, values.data());
  Tensor h = f.to(Device::CPU, DType::F16);
  REQUIRE(h.dtype() == DType::F16);
  for (size_t i = 0; i < values.size(); ++i) {
    INFO("value " << values[i]);
    CHECK(h.data<Half>()[i].bits == expected[i]);
  }
  // Back to f32: every binary16 value is exact in binary32.
  Tensor back = h.to(Device::CPU, DType::F32);
  CHECK(back.data()[4] == 65504.0f);
  CHECK(back.data()[8] == std::ldexp(1.0f, -24));
  CHECK(std::isinf(back.data()[6]));
  for (uint32_t bits = 0; bits < 0x10000; ++bits) {
    if ((bits & 0x7C00) == 0x7C00 && (bits & 0x3FF)) {
      CHECK(std::isnan(half_bits_to_float(static_cast<uint16_t>(bits))));
      continue;
    }
    const uint16_t round_trip = float_to_half_bits(half_bits_to_float(static_cast<uint16_t>(bits)));
    if (round_trip != bits) FAIL("binary16 " << bits << " does not survive the f32 round trip");
  }
  CHECK(std::isnan(half_bits_to_float(float_to_half_bits(std::nanf("")))));
  CHECK(float_to_half_bits(bits_to_float(0x387FC000)) == 0x03FF);  // 1023 * 2^-24, exact
  CHECK(float_to_half_bits(bits_to_float(0x387FE000)) == 0x0400);  // 1023.5 * 2^-24: tie, to even (normal)
  CHECK(f.to(Device::CPU, DType::F32).data() == f.data());           // nothing to do: same storage
}

TEST_CASE("CUDA tensors and ops of a CPU-only build say so", "[tensor][seam]") {
  if (!built_without_cuda()) return;  // a CUDA build has real bodies; its own tests cover them
  CHECK_THROWS_WITH(Tensor::empty({2, 2}, DType::F32, Device::CUDA), Contains("built without CUDA"));
  CHECK_THROWS_WITH(Tensor::zeros({2}).to(Device::CUDA, DType::F32), Contains("built without CUDA"));
  CHECK_THROWS_WITH(cuda::run(ops::ScaleArgs{}), "scale: built without CUDA (vrestore was configured with "
                                                 "VRESTORE_CUDA=OFF or found no nvcc)");
  CHECK_THROWS_WITH(cuda::run(ops::Conv2dArgs{}), Contains("conv2d: built without CUDA"));
  CHECK_THROWS_WITH(cuda::run(ops::DeformConv2dArgs{}), Contains("deform_conv2d: built without CUDA"));
  // A wrapped device pointer reaches the op layer, which sends it to the (missing) backend.
  float fake = 0;
  Tensor on_device = Tensor::wrap({1}, DType::F32, Device::CUDA, &fake, nullptr);
  CHECK_THROWS_WITH(ops::scale_(on_device, 2.0f), Contains("scale: built without CUDA"));
}

TEST_CASE("ops check that their operands share a device and dtype", "[ops][seam]") {
  Tensor x = Tensor::zeros({1, 2, 4, 4});
  Tensor h = Tensor::empty({1, 2, 4, 4}, DType::F16);
  CHECK_THROWS_WITH(ops::add_(x, h), "add: b is (1, 2, 4, 4) f16 on cpu, expected f32 on cpu (where the first input is)");
  CHECK_THROWS_WITH(ops::activate_(h, ops::Activation::ReLU),
                    Contains("activate: x is (1, 2, 4, 4) f16 on cpu; the CPU backend computes in f32"));
  CHECK_THROWS_WITH(ops::cat1({x, h}), Contains("cat: tensor 1 is (1, 2, 4, 4) f16 on cpu, expected f32"));
  Tensor flow16 = Tensor::empty({1, 2, 4, 4}, DType::F16);
  CHECK_THROWS_WITH(ops::flow_warp(x, flow16, ops::WarpPadding::Zeros), Contains("flow_warp: flow is"));
  Tensor undefined;
  CHECK_THROWS_WITH(ops::scale_(undefined, 2.0f), "scale: a is an empty tensor");
}

TEST_CASE("Sigmoid is one of the activations and matches sigmoid_", "[ops][seam]") {
  std::vector<float> v = {-80.0f, -3.0f, -0.5f, 0.0f, 0.25f, 4.0f, 90.0f};
  Tensor a = Tensor::from_data({1, 7, 1, 1}, v.data());
  Tensor b = a.clone();
  ops::activate_(a, ops::Activation::Sigmoid);
  ops::sigmoid_(b);
  for (size_t i = 0; i < v.size(); ++i) CHECK(a.data()[i] == 1.0f / (1.0f + std::exp(-v[i])));
  CHECK(std::memcmp(a.data(), b.data(), a.nbytes()) == 0);
  // Fused into a 1x1 convolution's epilogue: identity weights give sigmoid(x).
  std::vector<float> eye(49, 0.0f);
  for (int i = 0; i < 7; ++i) eye[i * 8] = 1.0f;
  Tensor w = Tensor::from_data({7, 7, 1, 1}, eye.data());
  ops::Conv2dParams p;
  p.activation = ops::Activation::Sigmoid;
  Tensor c = ops::conv2d(Tensor::from_data({1, 7, 1, 1}, v.data()), w, nullptr, p);
  for (size_t i = 0; i < v.size(); ++i) CHECK(c.data()[i] == b.data()[i]);
}

TEST_CASE("the flow-warp sample point is PyTorch's fp32 round trip, shared by both backends", "[ops][seam]") {
  float px, py;
  // A size-1 axis samples 0 whatever the flow; NaN stays NaN (grid_sample then samples nothing).
  flow_warp_source(5.5f, 0.25f, 0, 0, 1, 1, WarpPadding::Zeros, px, py);
  CHECK(px == 0.0f);
  CHECK(py == 0.0f);
  flow_warp_source(std::nanf(""), 0.0f, 3, 0, 1, 8, WarpPadding::Border, px, py);
  CHECK(std::isnan(px));
  // Border clamps into the image.
  flow_warp_source(-9.0f, 100.0f, 1, 2, 5, 7, WarpPadding::Border, px, py);
  CHECK(px == 0.0f);
  CHECK(py == 4.0f);
  // The round trip is not the identity in fp32: 2*p/(w-1) - 1 then back.
  const float p_in = 0.1f + 3.0f;
  const float norm = 2.0f * p_in / 12.0f - 1.0f;
  flow_warp_source(0.1f, 0.0f, 3, 0, 2, 13, WarpPadding::Zeros, px, py);
  CHECK(px == (norm + 1.0f) / 2.0f * 12.0f);
  CHECK(conv_output_size(10, 3, 2, 1, 1) == 5);
  CHECK(conv_output_size(2, 5, 1, 0, 1) == 0);
}
