// Every op of src/core/op_list.h through the public op layer on CPU f32, CUDA f32 and CUDA f16
// (the emulated CUDA backend, vrestore_emulated), CUDA compared with CPU f32 (tolerances in
// devices.h): awkward shapes (not multiples of block sizes, 1-pixel images), samples outside the
// image, strides and dilations, every activation. Fixture cases: tests/emulated/test_op_fixtures.cpp.
#include <array>
#include <set>
#include <string>

#include "core/op_list.h"
#include "core/ops.h"
#include "core/ops_vrt.h"
#include "devices.h"
#include "support/vrt_fixtures.h"

using namespace vrestore;
using namespace vrestore::emulated_test;
using Tensors = std::vector<Tensor>;

namespace {

constexpr Activation kActivations[] = {Activation::None, Activation::ReLU, Activation::LeakyReLU, Activation::Sigmoid};

std::string shape_name(const Shape& s) {
  std::string out = "(";
  for (size_t i = 0; i < s.size(); ++i) out += (i ? "," : "") + std::to_string(s[i]);
  return out + ")";
}
std::string activation_name(Activation a) {
  return a == Activation::None ? "none" : a == Activation::ReLU ? "relu" : a == Activation::LeakyReLU ? "lrelu" : "sigmoid";
}

// Weights scaled by 1/sqrt(fan-in), so conv outputs stay O(1) like the network's.
Tensor weight_tensor(const Shape& shape, unsigned seed) {
  const int64_t fan_in = shape[1] * shape[2] * shape[3];
  const float bound = 1.0f / std::sqrt(float(fan_in));
  return random_tensor(shape, seed, -bound, bound);
}

}  // namespace

// The harness names the ops it covers; a new op in op_list.h without a case here fails.
TEST_CASE("the device harness covers every op of op_list.h", "[cuda][emulated]") {
  const std::set<std::string> covered = {
      "conv2d", "deform_conv2d", "flow_warp", "resize_bilinear", "pixel_shuffle", "pool2d", "activate", "add",
      "scale", "cat", "narrow", "channel_dot", "mul_broadcast_channels", "mul_add", "affine_channels", "pad_crop",
      "index_select0", "copy_rows0", "sum_abs", "linear", "layer_norm", "gelu", "add_broadcast", "transpose",
      "window_partition", "window_attention", "cast", "nearest4_warp", "flow_guided_offset"};
  std::set<std::string> listed;
#define VRESTORE_OP_NAME(Args, name) listed.insert(name);
  VRESTORE_OP_LIST(VRESTORE_OP_NAME)
#undef VRESTORE_OP_NAME
  for (const std::string& name : listed) {
    INFO("op '" << name << "' of op_list.h has no case in tests/emulated/test_ops_devices.cpp");
    CHECK(covered.count(name) == 1);
  }
}

TEST_CASE("conv2d on cuda f32/f16 matches the cpu", "[cuda][emulated]") {
  struct Case {
    Shape x;
    int64_t cout, kh, kw;
    int stride, padding, dilation;
    bool bias;
  };
  const Case cases[] = {
      {{1, 3, 1, 1}, 5, 3, 3, 1, 1, 1, true},     // 1-pixel image, every tap but the centre in padding
      {{2, 5, 7, 9}, 6, 3, 3, 1, -1, 1, true},    // N = 2, odd sizes
      {{1, 4, 9, 11}, 3, 3, 3, 2, 1, 1, false},   // stride 2
      {{1, 3, 10, 13}, 4, 3, 3, 1, 2, 2, true},   // dilation 2
      {{1, 6, 5, 7}, 4, 1, 1, 1, 0, 1, true},     // pointwise (no im2col)
      {{1, 2, 12, 10}, 3, 7, 7, 1, 3, 1, true},   // SpyNet's 7x7
      {{1, 3, 8, 11}, 2, 2, 3, 3, 0, 1, true},    // 2x3 kernel, stride 3 > kernel, no padding
      {{1, 37, 17, 19}, 5, 3, 3, 1, 1, 1, true},  // 37 channels: a partial channel slice, 323 pixels
      {{1, 2, 1, 17}, 3, 3, 3, 1, 1, 1, true},    // H = 1
      {{1, 2, 15, 1}, 3, 3, 3, 1, 1, 1, true},    // W = 1
  };
  int seed = 1;
  for (const Case& c : cases)
    for (Activation act : kActivations) {
      const Tensor x = random_tensor(c.x, seed++);
      const Tensor w = weight_tensor({c.cout, c.x[1], c.kh, c.kw}, seed++);
      const Tensor b = random_tensor({c.cout}, seed++);
      ops::Conv2dParams p;
      p.stride = c.stride;
      p.padding = c.padding;
      p.dilation = c.dilation;
      p.activation = act;
      const bool bias = c.bias;
      check_devices("conv2d x" + shape_name(c.x) + " k" + std::to_string(c.kh) + "x" + std::to_string(c.kw) + " s" +
                        std::to_string(c.stride) + " d" + std::to_string(c.dilation) + " " + activation_name(act),
                    {{x}, {w}, {b}},
                    [&](const Tensors& t) { return ops::conv2d(t[0], t[1], bias ? &t[2] : nullptr, p); });
    }
}

TEST_CASE("deform_conv2d on cuda f32/f16 matches the cpu", "[cuda][emulated]") {
  struct Case {
    Shape x;
    int64_t cout, groups;
    int stride, padding, dilation;
    float offset_range;
  };
  const Case cases[] = {
      {{1, 4, 1, 1}, 3, 1, 1, 1, 1, 1.5f},     // 1-pixel image: every sample near or outside it
      {{2, 6, 7, 9}, 5, 2, 1, 1, 1, 2.0f},     // N = 2, G = 2
      {{1, 8, 9, 11}, 4, 8, 1, 1, 1, 3.0f},    // G = Cin
      {{1, 4, 11, 10}, 3, 4, 2, 2, 2, 2.5f},   // stride 2, padding 2, dilation 2
      {{1, 3, 17, 19}, 4, 1, 1, 1, 1, 12.0f},  // offsets far outside the image, 323 pixels
  };
  int seed = 100;
  for (const Case& c : cases)
    for (Activation act : kActivations) {
      const int64_t ho = (c.x[2] + 2 * c.padding - c.dilation * 2 - 1) / c.stride + 1;
      const int64_t wo = (c.x[3] + 2 * c.padding - c.dilation * 2 - 1) / c.stride + 1;
      const Tensor x = random_tensor(c.x, seed++);
      const Tensor offset = random_tensor({c.x[0], 2 * c.groups * 9, ho, wo}, seed++, -c.offset_range, c.offset_range);
      const Tensor mask = random_tensor({c.x[0], c.groups * 9, ho, wo}, seed++, 0.0f, 1.0f);
      const Tensor w = weight_tensor({c.cout, c.x[1], 3, 3}, seed++);
      const Tensor b = random_tensor({c.cout}, seed++);
      ops::DeformConv2dParams p;
      p.stride = c.stride;
      p.padding = c.padding;
      p.dilation = c.dilation;
      p.activation = act;
      check_devices("deform_conv2d x" + shape_name(c.x) + " G" + std::to_string(c.groups) + " s" +
                        std::to_string(c.stride) + " " + activation_name(act),
                    {{x}, f32_only(offset), f32_only(mask), {w}, {b}},
                    [&](const Tensors& t) { return ops::deform_conv2d(t[0], t[1], t[2], t[3], &t[4], p); });
    }
}

TEST_CASE("flow_warp on cuda f32/f16 matches the cpu", "[cuda][emulated]") {
  const Shape shapes[] = {{1, 3, 1, 1}, {2, 3, 8, 33}, {1, 2, 1, 9}, {1, 2, 11, 1}, {1, 5, 9, 37}};
  int seed = 200;
  for (const Shape& s : shapes)
    for (auto padding : {WarpPadding::Zeros, WarpPadding::Border})
      for (float range : {0.7f, 6.0f}) {  // within a pixel, and mostly outside the image at the edges
        const Tensor x = random_tensor(s, seed++);
        const Tensor flow = random_tensor({s[0], 2, s[2], s[3]}, seed++, -range, range);
        check_devices("flow_warp x" + shape_name(s) + (padding == WarpPadding::Zeros ? " zeros" : " border") +
                          " flow ±" + std::to_string(range),
                      {{x}, f32_only(flow)}, [&](const Tensors& t) { return ops::flow_warp(t[0], t[1], padding); });
      }
}

TEST_CASE("bilinear resize on cuda f32/f16 matches the cpu", "[cuda][emulated]") {
  int seed = 300;
  for (bool ac : {false, true}) {
    const std::string corners = ac ? " align_corners" : "";
    for (int factor : {2, 4})
      for (const Shape& s : {Shape{1, 3, 1, 1}, Shape{2, 2, 5, 7}, Shape{1, 1, 1, 9}}) {
        const Tensor x = random_tensor(s, seed++);
        check_devices("upsample_bilinear x" + std::to_string(factor) + " " + shape_name(s) + corners, {{x}},
                      [&](const Tensors& t) { return ops::upsample_bilinear(t[0], factor, ac); });
      }
    struct Size {
      Shape in;
      int64_t h, w;
    };
    for (const Size& z : {Size{{1, 2, 9, 13}, 5, 7}, Size{{1, 2, 7, 6}, 17, 11}, Size{{1, 3, 1, 1}, 4, 3},
                          Size{{1, 2, 6, 9}, 1, 1}, Size{{2, 1, 10, 3}, 3, 10}}) {
      const Tensor x = random_tensor(z.in, seed++);
      check_devices("resize_bilinear " + shape_name(z.in) + " -> " + std::to_string(z.h) + "x" + std::to_string(z.w) +
                        corners,
                    {{x}}, [&](const Tensors& t) { return ops::resize_bilinear(t[0], z.h, z.w, ac); });
    }
  }
}

TEST_CASE("pixel_shuffle on cuda f32/f16 matches the cpu exactly", "[cuda][emulated]") {
  int seed = 400;
  for (int r : {1, 2, 3, 4, 5})
    for (const Shape& hw : {Shape{1, 1}, Shape{3, 7}, Shape{2, 8}, Shape{5, 6}, Shape{1, 33}}) {
      const Shape s{2, int64_t(2 * r * r), hw[0], hw[1]};
      const Tensor x = random_tensor(s, seed++);
      // Data movement: bit-exact on f32; f16 is the rounding of the input and nothing else.
      check_devices("pixel_shuffle r" + std::to_string(r) + " " + shape_name(s), {{x}},
                    [&](const Tensors& t) { return ops::pixel_shuffle(t[0], r); }, {kExact, {0, 1.0 / 1024}});
    }
}

TEST_CASE("pooling on cuda f32/f16 matches the cpu", "[cuda][emulated]") {
  struct Case {
    Shape x;
    int kernel, stride, padding;
  };
  const Case cases[] = {{{1, 3, 9, 11}, 3, 2, 1}, {{2, 2, 8, 10}, 2, 2, 0}, {{1, 2, 1, 1}, 3, 2, 1},
                        {{1, 2, 1, 9}, 3, 2, 1},  {{1, 2, 7, 1}, 1, 1, 0},  {{1, 1, 13, 12}, 2, 3, 0},
                        {{1, 2, 10, 11}, 5, 2, 2}};
  int seed = 500;
  for (const Case& c : cases) {
    Tensor x = random_tensor(c.x, seed++);
    if (x.numel() > 4) x.data()[3] = NAN;  // NaN wins the max (and poisons the average)
    const std::string name = shape_name(c.x) + " k" + std::to_string(c.kernel) + " s" + std::to_string(c.stride) +
                             " p" + std::to_string(c.padding);
    // Max picks an input: bit-exact on f32, the input's rounding on f16.
    check_devices("max_pool2d " + name, {{x}},
                  [&](const Tensors& t) { return ops::max_pool2d(t[0], c.kernel, c.stride, c.padding); },
                  {kExact, {0, 1.0 / 1024}});
    for (bool include_pad : {true, false})
      check_devices("avg_pool2d " + name + (include_pad ? " count_include_pad" : ""), {{x}}, [&](const Tensors& t) {
        return ops::avg_pool2d(t[0], c.kernel, c.stride, c.padding, include_pad);
      });
  }
}

TEST_CASE("element-wise ops on cuda f32/f16 match the cpu", "[cuda][emulated]") {
  int seed = 600;
  for (const Shape& s : {Shape{1}, Shape{13}, Shape{1, 3, 1, 1}, Shape{2, 3, 17, 21}, Shape{2053}}) {
    const Tensor a = random_tensor(s, seed++, -4, 4);
    const Tensor b = random_tensor(s, seed++, -4, 4);
    for (Activation act : kActivations)
      check_devices("activate_ " + activation_name(act) + " " + shape_name(s), {{a}}, [&](const Tensors& t) {
        Tensor y = t[0].clone();
        ops::activate_(y, act);
        return y;
      });
    for (float slope : {0.01f, 0.2f})  // VRT's heads: F.leaky_relu defaults and linear_fuse's 0.2
      check_devices("activate_ LeakyReLU(" + std::to_string(slope) + ") " + shape_name(s), {{a}},
                    [&](const Tensors& t) {
                      Tensor y = t[0].clone();
                      ops::activate_(y, Activation::LeakyReLU, slope);
                      return y;
                    });
    check_devices("sigmoid_ " + shape_name(s), {{a}}, [&](const Tensors& t) {
      Tensor y = t[0].clone();
      ops::sigmoid_(y);
      return y;
    });
    check_devices("add_ " + shape_name(s), {{a}, {b}}, [&](const Tensors& t) {
      Tensor y = t[0].clone();
      ops::add_(y, t[1]);
      return y;
    });
    for (float factor : {0.5f, -3.25f})
      check_devices("scale_ " + std::to_string(factor) + " " + shape_name(s), {{a}}, [&](const Tensors& t) {
        Tensor y = t[0].clone();
        ops::scale_(y, factor);
        return y;
      });
  }
}

TEST_CASE("concatenation and narrowing on cuda f32/f16 match the cpu", "[cuda][emulated]") {
  int seed = 700;
  // Data movement: bit-exact on f32, the inputs' rounding on f16.
  const DeviceTolerances movement{kExact, {0, 1.0 / 1024}};
  for (int parts : {1, 3, 10}) {
    std::vector<Operand> operands;
    for (int i = 0; i < parts; ++i) operands.push_back({random_tensor({2, int64_t(i % 3), 3, 5}, seed++)});
    check_devices("cat1 of " + std::to_string(parts) + " parts (one with 0 channels)", operands,
                  [](const Tensors& t) { return ops::cat1(t); }, movement);
    std::vector<Operand> frames;
    for (int i = 0; i < parts; ++i) frames.push_back({random_tensor({1, 3, 1, 7}, seed++)});
    check_devices("cat0 of " + std::to_string(parts) + " frames", frames, [](const Tensors& t) { return ops::cat0(t); },
                  movement);
  }
  const Tensor x = random_tensor({2, 7, 3, 5}, seed++);
  for (auto [begin, count] : {std::pair{0, 7}, std::pair{2, 3}, std::pair{6, 1}, std::pair{3, 0}})
    check_devices("narrow1 " + std::to_string(begin) + "+" + std::to_string(count), {{x}},
                  [&](const Tensors& t) { return ops::narrow1(t[0], begin, count); }, movement);
  const Tensor r2 = random_tensor({3, 11}, seed++);
  check_devices("narrow1 of a matrix", {{r2}}, [&](const Tensors& t) { return ops::narrow1(t[0], 4, 6); }, movement);
  const Tensor rows = random_tensor({5, 2, 3}, seed++);
  check_devices("index_select0 repeated and reversed", {{rows}},
                [](const Tensors& t) { return ops::index_select0(t[0], {4, 0, 0, 2, 1}); }, movement);
  const Tensor src = random_tensor({2, 2, 3}, seed++);
  check_devices("copy_rows0_", {{rows}, {src}}, [](const Tensors& t) {
    Tensor y = t[0].clone();
    ops::copy_rows0_(y, {3, 0}, t[1]);
    return y;
  }, movement);
}

TEST_CASE("the ops extracted from the models on cuda f32/f16 match the cpu", "[cuda][emulated]") {
  int seed = 800;
  for (const Shape& s : {Shape{1, 1, 1, 1}, Shape{2, 3, 5, 7}, Shape{1, 64, 3, 30}, Shape{1, 2, 17, 1}}) {
    const Tensor a = random_tensor(s, seed++);
    const Tensor b = random_tensor(s, seed++);
    const Tensor c = random_tensor(s, seed++);
    check_devices("channel_dot " + shape_name(s), {{a}, {b}}, [](const Tensors& t) { return ops::channel_dot(t[0], t[1]); });
    const Tensor w = random_tensor({s[0], 1, s[2], s[3]}, seed++);
    check_devices("mul_broadcast_channels_ " + shape_name(s), {{a}, {w}}, [](const Tensors& t) {
      Tensor y = t[0].clone();
      ops::mul_broadcast_channels_(y, t[1]);
      return y;
    });
    check_devices("mul_add_ " + shape_name(s), {{a}, {b}, {c}}, [](const Tensors& t) {
      Tensor y = t[0].clone();
      ops::mul_add_(y, t[1], t[2], -1.5f);
      return y;
    });
    std::vector<float> shift, scale;
    for (int64_t i = 0; i < s[1]; ++i) {
      shift.push_back(0.1f * float(i) - 0.3f);
      scale.push_back(0.5f + 0.25f * float(i % 5));
    }
    for (bool divide : {false, true})
      check_devices(std::string("affine_channels ") + (divide ? "divide " : "multiply ") + shape_name(s), {{a}},
                    [&](const Tensors& t) { return ops::affine_channels(t[0], shift, scale, divide); });
    for (auto [h, ww] : {std::pair{s[2] + 2, s[3] + 3}, std::pair{int64_t{1}, int64_t{1}}, std::pair{s[2], s[3] + 1}})
      check_devices("pad_crop " + shape_name(s) + " -> " + std::to_string(h) + "x" + std::to_string(ww), {{a}},
                    [&](const Tensors& t) { return ops::pad_crop(t[0], h, ww); }, {kExact, {0, 1.0 / 1024}});
    for (PadMode mode : {PadMode::Replicate, PadMode::Reflect, PadMode::Symmetric})
      check_devices("pad2d mode " + std::to_string(static_cast<int>(mode)) + " " + shape_name(s), {{a}},
                    [&](const Tensors& t) {
                      // As much as one reflection allows (F.pad's limit), at most 3.
                      const int64_t reach = mode == PadMode::Reflect ? 1 : 0;
                      const int64_t ph = std::min<int64_t>(3, s[2] - reach), pw = std::min<int64_t>(3, s[3] - reach);
                      return ops::pad2d(t[0], ph, std::min<int64_t>(ph, 1), std::min<int64_t>(pw, 1), pw, mode);
                    },
                    {kExact, {0, 1.0 / 1024}});
  }
  const Tensor x5 = random_tensor({2, 3, 4, 5, 6}, seed++);
  const Tensor w5 = random_tensor({2, 3, 1, 5, 6}, seed++);
  check_devices("mul_broadcast_channels_ rank 5", {{x5}, {w5}}, [](const Tensors& t) {
    Tensor y = t[0].clone();
    ops::mul_broadcast_channels_(y, t[1]);
    return y;
  });
}

TEST_CASE("sum_abs on cuda f32/f16 matches the cpu", "[cuda][emulated]") {
  int seed = 900;
  for (int64_t n : {int64_t{1}, int64_t{257}, int64_t{1000}, int64_t{1024 * 256 + 3}})
    for (double start : {0.0, 12.5}) {
      const Tensor x = random_tensor({n}, seed++);
      const double want = ops::sum_abs(x, start);
      const ExecutionScope cuda = emulated_cuda_execution();
      const double f32 = ops::sum_abs(x.to(Device::CUDA, DType::F32), start);
      const double f16 = ops::sum_abs(x.to(Device::CUDA, DType::F16), start);
      INFO("sum_abs of " << n << " from " << start << ": cpu " << want << ", cuda f32 " << f32 << ", cuda f16 " << f16);
      CHECK(std::fabs(f32 - want) <= 1e-6 * want);  // f64 sums of the same f32 values, another order
      CHECK(std::fabs(f16 - want) <= 1e-2 * want);
    }
}

TEST_CASE("cast between f32 and f16 on cuda rounds like the cpu", "[cuda][emulated]") {
  Tensor x = random_tensor({3, 5, 7}, 950, -70000, 70000);  // beyond f16's range: ±inf
  x.data()[0] = 1.0f + 1.0f / 2048;                         // a tie: rounds to even (1.0)
  x.data()[1] = 6e-8f;                                      // subnormal in f16
  x.data()[2] = NAN;
  const Tensor want = x.to(Device::CPU, DType::F16).to(Device::CPU, DType::F32);
  const ExecutionScope cuda = emulated_cuda_execution();
  const Tensor on_device = x.to(Device::CUDA, DType::F32);
  const Tensor half = ops::to_dtype(on_device, DType::F16);
  CHECK(half.device() == Device::CUDA);
  CHECK(half.dtype() == DType::F16);
  check_close("to_dtype f32 -> f16 on cuda", half, want, kExact);
  const Tensor back = ops::to_dtype(half, DType::F32);
  CHECK(back.dtype() == DType::F32);
  check_close("to_dtype f16 -> f32 on cuda", back, want, kExact);
}

// ---- VRT's transformer ops (ops_vrt.h) -------------------------------------------------------------

TEST_CASE("VRT token ops on cuda f32/f16 match the cpu", "[cuda][emulated][vrt]") {
  int seed = 1000;
  for (const Shape& s : {Shape{1, 1}, Shape{3, 7}, Shape{2, 5, 33}}) {
    const int64_t in = s.back(), out = 2 * in + 1;
    const Tensor x = random_tensor(s, seed++);
    const Tensor w = random_tensor({out, in}, seed++, -1.0f / std::sqrt(float(in)), 1.0f / std::sqrt(float(in)));
    const Tensor b = random_tensor({out}, seed++);
    check_devices("linear " + shape_name(s), {{x}, {w}, {b}}, [](const Tensors& t) { return ops::linear(t[0], t[1], &t[2]); });
    check_devices("linear without bias " + shape_name(s), {{x}, {w}},
                  [](const Tensors& t) { return ops::linear(t[0], t[1], nullptr); });
    const Tensor gamma = random_tensor({in}, seed++, 0.5f, 1.5f);
    const Tensor beta = random_tensor({in}, seed++);
    if (in > 1)
      check_devices("layer_norm " + shape_name(s), {{x}, f32_only(gamma), f32_only(beta)},
                    [](const Tensors& t) { return ops::layer_norm(t[0], t[1], t[2]); });
    const Tensor g = random_tensor(s, seed++, -4, 4);
    check_devices("gelu " + shape_name(s), {{g}}, [](const Tensors& t) { return ops::gelu(t[0]); });
    check_devices("gelu_mul " + shape_name(s), {{g}, {x}}, [](const Tensors& t) { return ops::gelu_mul(t[0], t[1]); });
    const Tensor tail = random_tensor({s.back()}, seed++);
    check_devices("add_broadcast_ " + shape_name(s), {{x}, {tail}}, [](const Tensors& t) {
      Tensor y = t[0].clone();
      ops::add_broadcast_(y, t[1]);
      return y;
    });
  }
  const DeviceTolerances movement{kExact, {0, 1.0 / 1024}};
  for (const Shape& s : {Shape{1, 3, 1, 1}, Shape{2, 5, 3, 4, 7}}) {
    const Tensor x = random_tensor(s, seed++);
    check_devices("channels_last " + shape_name(s), {{x}}, [](const Tensors& t) { return ops::channels_last(t[0]); },
                  movement);
    check_devices("channels_first " + shape_name(s), {{x}}, [](const Tensors& t) { return ops::channels_first(t[0]); },
                  movement);
  }
  struct Volume {
    int64_t n, d, h, w, c;
    std::array<int, 3> window, shift;
  };
  for (const Volume& v : {Volume{1, 1, 1, 1, 3, {2, 4, 4}, {1, 2, 2}}, Volume{2, 5, 7, 9, 4, {3, 4, 4}, {1, 2, 2}},
                          Volume{1, 4, 6, 5, 2, {6, 4, 8}, {0, 0, 0}}}) {
    const WindowGeometry g = ops::window_geometry(v.n, {v.d, v.h, v.w}, v.window, v.shift);
    const Tensor x = random_tensor({v.n, v.d, v.h, v.w, v.c}, seed++);
    const std::string name = shape_name({v.n, v.d, v.h, v.w, v.c});
    check_devices("window_partition " + name, {{x}}, [&](const Tensors& t) { return ops::window_partition(t[0], g); },
                  movement);
    const Tensor windows = random_tensor({int64_t{g.batch} * g.windows_per_image(), g.tokens(), v.c}, seed++);
    check_devices("window_reverse " + name, {{windows}},
                  [&](const Tensors& t) { return ops::window_reverse(t[0], g); }, movement);
  }
}

TEST_CASE("VRT window attention on cuda f32/f16 matches the cpu", "[cuda][emulated][vrt]") {
  using Case = test::WindowAttentionCase;
  const Case cases[] = {
      {2, 5, 7, 9, {3, 4, 4}, {1, 2, 2}, 3, 5, false},  // padding and a shift on every axis
      {1, 4, 6, 5, {6, 4, 8}, {3, 2, 4}, 2, 7, false},  // window clipped on D and W
      {1, 3, 6, 8, {2, 4, 4}, {1, 2, 2}, 2, 6, true},   // mutual
      {1, 3, 5, 4, {2, 4, 4}, {0, 0, 0}, 1, 33, false}, // unshifted, head dim above 32
  };
  int seed = 1100;
  for (const Case& k : cases) {
    const WindowGeometry g = k.geometry();
    const Tensor qkv = random_tensor({int64_t{g.batch} * g.windows_per_image(), g.tokens(), 3 * k.channels()}, seed++, -2, 2);
    const Tensor table = random_tensor({k.bias_rows(), k.heads}, seed++, -3, 3);
    const ops::WindowAttentionParams p = k.params(g);
    const bool mutual = k.mutual;
    check_devices(std::string("window_attention ") + (mutual ? "mutual " : "self ") + std::to_string(k.heads) +
                      " heads of " + std::to_string(k.head_dim),
                  {{qkv}, {table}},
                  [&](const Tensors& t) { return ops::window_attention(t[0], mutual ? nullptr : &t[1], p); });
  }
}

TEST_CASE("VRT warps on cuda f32/f16 match the cpu", "[cuda][emulated][vrt]") {
  int seed = 1200;
  for (const Shape& s : {Shape{1, 3, 1, 1}, Shape{2, 2, 7, 9}, Shape{1, 3, 5, 33}})
    for (float range : {0.7f, 5.0f}) {  // near the pixel, and far outside the image at the edges
      const Tensor x = random_tensor(s, seed++);
      const Tensor flow = random_tensor({s[0], 2, s[2], s[3]}, seed++, -range, range);
      check_devices("nearest4_warp " + shape_name(s) + " flow ±" + std::to_string(range), {{x}, f32_only(flow)},
                    [](const Tensors& t) { return ops::nearest4_warp(t[0], t[1]); });
    }
  struct Case {
    int64_t groups, neighbours, h, w;
  };
  for (const Case& c : {Case{1, 1, 1, 1}, Case{2, 2, 5, 7}, Case{8, 4, 3, 17}}) {
    const Tensor raw = random_tensor({1, 27 * c.groups, c.h, c.w}, seed++, -3, 3);
    const Tensor flows = random_tensor({1, 2 * c.neighbours, c.h, c.w}, seed++, -4, 4);
    const std::string name = "flow_guided_offset G" + std::to_string(c.groups) + " k" + std::to_string(c.neighbours);
    // Offsets and masks are f32 whatever the raw branch's dtype.
    const DeviceTolerances f32_out{kCudaF32, kCudaF16, true};
    check_devices(name + " offset", {{raw}, f32_only(flows)},
                  [](const Tensors& t) { return ops::flow_guided_offset(t[0], t[1], 10.0f).offset; }, f32_out);
    check_devices(name + " mask", {{raw}, f32_only(flows)},
                  [](const Tensors& t) { return ops::flow_guided_offset(t[0], t[1], 10.0f).mask; }, f32_out);
  }
}
