// VRT's transformer ops (core/ops_vrt.h) on CPU f32, CUDA f32 and CUDA f16 through the op layer,
// and the upstream VRT op fixtures (WindowAttention self / mutual, TMSAG, reshape, stage-8
// projection) through the emulated CUDA backend: f32 at the CPU fixture tests' acceptance
// (max |diff| <= 1e-5 + 1e-4|ref|), f16 at the harness's f16 class.
#include <array>
#include <cstdio>
#include <map>
#include <string>

#include "core/check.h"
#include "core/ops.h"
#include "core/ops_vrt.h"
#include "devices.h"
#include "models/vrt_blocks.h"
#include "support/fixtures.h"
#include "support/vrt_fixtures.h"

using namespace vrestore;
using namespace vrestore::emulated_test;

namespace {

using Tensors = std::vector<Tensor>;


Tolerance fixture_tolerance(DType dtype) { return dtype == DType::F32 ? kFixtureF32 : kCudaF16; }

void report(const std::string& what, const Tensor& got, const Tensor& want, DType dtype) {
  const test::Diff d = test::compare(got.to(Device::CPU, DType::F32), want);
  std::printf("  %-52s max|diff| = %.3g\n", (what + " [cuda " + dtype_name(dtype) + "]").c_str(), d.max_abs);
  check_close(what + " [cuda " + dtype_name(dtype) + "]", got, want, fixture_tolerance(dtype));
}

}  // namespace

TEST_CASE("VRT per-token ops on cuda f32/f16 match the cpu", "[cuda][emulated][vrt]") {
  const Tensor x = random_tensor({2, 3, 5, 40}, 1, -2, 2);
  const Tensor w = random_tensor({45, 40}, 2), b = random_tensor({45}, 3);
  check_devices("linear (2, 3, 5, 40) -> 45", {{x}, {w}, {b}}, [](const Tensors& t) { return ops::linear(t[0], t[1], &t[2]); });
  check_devices("linear without bias", {{x}, {w}}, [](const Tensors& t) { return ops::linear(t[0], t[1], nullptr); });
  const Tensor gamma = random_tensor({40}, 4, 0.5f, 1.5f), beta = random_tensor({40}, 5);
  check_devices("layer_norm C 40", {{x}, f32_only(gamma), f32_only(beta)},
                [](const Tensors& t) { return ops::layer_norm(t[0], t[1], t[2]); });
  const Tensor gate = random_tensor(x.shape(), 6);
  check_devices("gelu", {{x}}, [](const Tensors& t) { return ops::gelu(t[0]); });
  check_devices("gelu_mul", {{x}, {gate}}, [](const Tensors& t) { return ops::gelu_mul(t[0], t[1]); });
  check_devices("add_broadcast_", {{x}, {random_tensor({5, 40}, 7)}}, [](const Tensors& t) {
    Tensor y = t[0].clone();
    ops::add_broadcast_(y, t[1]);
    return y;
  });
  const Tensor volume = random_tensor({2, 7, 3, 5, 9}, 8);
  check_devices("channels_last", {{volume}}, [](const Tensors& t) { return ops::channels_last(t[0]); },
                {kExact, kCudaF16});
  check_devices("channels_first", {{volume}}, [](const Tensors& t) { return ops::channels_first(t[0]); },
                {kExact, kCudaF16});
}

TEST_CASE("VRT window partition and attention on cuda f32/f16 match the cpu", "[cuda][emulated][vrt]") {
  using Case = test::WindowAttentionCase;
  const Case cases[] = {
      {2, 5, 7, 9, {3, 4, 4}, {1, 2, 2}, 3, 5, false},   // padding and shifts on every axis, N = 2
      {1, 4, 6, 5, {6, 4, 8}, {3, 2, 4}, 2, 20, false},  // clipped window, head dim 20
      {1, 3, 10, 8, {2, 8, 8}, {1, 4, 4}, 2, 30, true},  // mutual, head dim 30, temporal wrap-around
      {1, 2, 4, 4, {2, 4, 4}, {0, 0, 0}, 1, 36, false},  // unshifted, head dim above 32
  };
  unsigned seed = 20;
  for (const Case& k : cases) {
    const WindowGeometry g = k.geometry();
    const std::string name = "volume " + std::to_string(k.d) + "x" + std::to_string(k.h) + "x" + std::to_string(k.w) +
                             " hd " + std::to_string(k.head_dim) + (k.mutual ? " mutual" : " self");
    const int64_t channels = k.channels();
    const Tensor volume = random_tensor({k.n, k.d, k.h, k.w, channels}, seed++);
    check_devices("window_partition " + name, {{volume}}, [&](const Tensors& t) { return ops::window_partition(t[0], g); },
                  {kExact, kCudaF16});
    const Tensor windows = random_tensor({int64_t{g.batch} * g.windows_per_image(), g.tokens(), channels}, seed++);
    check_devices("window_reverse " + name, {{windows}}, [&](const Tensors& t) { return ops::window_reverse(t[0], g); },
                  {kExact, kCudaF16});
    const Tensor qkv = random_tensor({windows.size(0), g.tokens(), 3 * channels}, seed++, -2, 2);
    const Tensor table = random_tensor({k.bias_rows(), k.heads}, seed++, -3, 3);
    const ops::WindowAttentionParams p = k.params(g);
    const bool mutual = k.mutual;
    check_devices("window_attention " + name, {{qkv}, {table}},
                  [&](const Tensors& t) { return ops::window_attention(t[0], mutual ? nullptr : &t[1], p); });
  }
}

TEST_CASE("VRT WindowAttention fixtures on cuda", "[cuda][emulated][vrt][fixture]") {
  const ExecutionScope cuda = emulated_cuda_execution();
  for (DType dtype : {DType::F32, DType::F16}) {
    {
      const auto f = test::load_fixture("ops/vrt_attn_self_shift.safetensors");
      const vrt::WindowAttention attn = vrt::WindowAttention::load(test::fixture_source(f, Device::CUDA, dtype), "", 96, 6, {6, 8, 8}, false);
      const WindowGeometry g = ops::window_geometry(1, {6, 16, 8}, {6, 8, 8}, {3, 4, 4});
      report("vrt_attn_self_shift", attn(f.at("x").to(Device::CUDA, dtype), g), f.at("out"), dtype);
    }
    {
      const auto f = test::load_fixture("ops/vrt_attn_mutual_shift.safetensors");
      const vrt::WindowAttention attn = vrt::WindowAttention::load(test::fixture_source(f, Device::CUDA, dtype), "", 120, 6, {2, 8, 8}, true);
      const WindowGeometry g = ops::window_geometry(1, {2, 16, 8}, {2, 8, 8}, {1, 4, 4});
      Tensor proj_in;
      const Tensor out = attn(f.at("x").to(Device::CUDA, dtype), g, &proj_in);
      report("vrt_attn_mutual_shift proj_in", proj_in, f.at("proj_in"), dtype);
      report("vrt_attn_mutual_shift", out, f.at("out"), dtype);
    }
  }
}

TEST_CASE("VRT TMSAG, reshape and stage-8 fixtures on cuda", "[cuda][emulated][vrt][fixture]") {
  const ExecutionScope cuda = emulated_cuda_execution();
  for (DType dtype : {DType::F32, DType::F16}) {
    for (const bool mutual : {true, false}) {
      const auto f = test::load_fixture(mutual ? "ops/vrt_tmsag_mutual.safetensors" : "ops/vrt_tmsag_self_clip.safetensors");
      const vrt::Tmsag group =
          vrt::Tmsag::load(test::fixture_source(f, Device::CUDA, dtype), "", 32, 2, 4, mutual ? std::array<int, 3>{2, 8, 8} : std::array<int, 3>{6, 8, 8}, mutual);
      Tensor block0;
      const Tensor out = group(f.at("x").to(Device::CUDA, dtype), &block0);
      const std::string name = mutual ? "vrt_tmsag_mutual" : "vrt_tmsag_self_clip";
      report(name + " block0_out", block0, f.at("block0_out"), dtype);
      report(name, out, f.at("out"), dtype);
    }
    {
      const auto f = test::load_fixture("ops/vrt_reshape_none.safetensors");
      const vrt::LayerNorm norm = vrt::LayerNorm::load(test::fixture_source(f, Device::CUDA, dtype), "reshape.1", 120);
      report("vrt_reshape_none", ops::channels_first(norm(ops::channels_last(f.at("x").to(Device::CUDA, dtype)))),
             f.at("out"), dtype);
    }
    {
      const auto f = test::load_fixture("ops/vrt_stage8_proj.safetensors");
      const vrt::LayerNorm norm = vrt::LayerNorm::load(test::fixture_source(f, Device::CUDA, dtype), "stage8.0.1", 120);
      const vrt::Linear linear = vrt::Linear::load(test::fixture_source(f, Device::CUDA, dtype), "stage8.0.2", 120, 180);
      report("vrt_stage8_proj",
             ops::channels_first(linear(norm(ops::channels_last(f.at("x").to(Device::CUDA, dtype))))), f.at("out"),
             dtype);
    }
  }
}
