// Every kernel of kernels/ at the official shapes (gpu_anchors.md, docs/gpu.md), f32 and f16,
// called on device buffers the way src/cuda's adapters call them, timed with CUDA events. Case
// names are "<kernel>/<variant>/<HxW>/<dtype>"; torch_gpu_bench.py times PyTorch's equivalent
// under the same name. N = 1 unless the variant says otherwise (t5: 5 frames, n15: 15 frames).
#include <benchmark/benchmark.h>
#include <cuda_fp16.h>

#include <functional>
#include <string>
#include <type_traits>
#include <vector>

#include "bias_activation.h"
#include "conv2d.h"
#include "deform_conv2d.h"
#include "elementwise.h"
#include "flow_warp.h"
#include "gemm.h"
#include "gpu_bench_support.h"
#include "gpu_fill.h"
#include "model_ops.h"
#include "pixel_shuffle.h"
#include "pool2d.h"
#include "resize_bilinear.h"

namespace vrestore::gpu_bench {
namespace {

using kernels::Activation;

struct Size {
  int h, w;
  std::string name() const { return std::to_string(h) + "x" + std::to_string(w); }
  double pixels() const { return double(h) * double(w); }
};
// A REDS low-resolution frame (EDVR-M's and BasicVSR's full-resolution layers) and 720p.
const Size kSizes[] = {{180, 320}, {720, 1280}};

template <class T>
const char* dtype_name() {
  return std::is_same_v<T, float> ? "f32" : "f16";
}

// "<kernel>/<variant>/<HxW>/<dtype>", the name torch_gpu_bench.py gives the same case.
template <class T>
std::string case_name(const std::string& kernel_variant, const Size& s) {
  std::string name = kernel_variant;
  name.append("/").append(s.name()).append("/").append(dtype_name<T>());
  return name;
}

// Device buffer of `count` T filled with uniform values in [lo, hi).
template <class T>
DeviceBuffer<T> random_buffer(size_t count, float lo, float hi, uint32_t seed) {
  DeviceBuffer<T> b(count);
  check_cuda(fill_uniform(b.get(), int64_t(count), lo, hi, seed, gpu_context().stream), "fill_uniform");
  return b;
}

// Registers `body` as case `name` with its cost (also listed by --roofline).
void add_case(const std::string& name, const Cost& cost, bool smoke,
              std::function<void(benchmark::State&)> body) {
  roofline_entries().push_back({name, cost});
  auto* b = benchmark::RegisterBenchmark(name.c_str(), guarded([body, cost](benchmark::State& state) {
    body(state);
    report_cost(state, cost);
  }));
  b->UseManualTime()->Unit(benchmark::kMillisecond);
  if (smoke) b->Iterations(1);
}

constexpr int kC = 64, kG = 8, kTaps = 9;  // EDVR's DCN: 64 -> 64, 3x3, 8 deformable groups

// ---- convolutions (the GEMM-bound kernels) --------------------------------------------------------

template <class T>
void deform_conv2d_case(const Size& s, bool smoke) {
  const double e = sizeof(T), px = s.pixels();
  Cost cost;
  cost.bytes = kC * px * e + 3.0 * kG * kTaps * px * 4 + (kC * kC * kTaps + kC) * e + kC * px * e;
  cost.flops = 2.0 * kC * kC * kTaps * px;
  cost.tensor_cores = std::is_same_v<T, __half>;
  add_case(case_name<T>("deform_conv2d/c64_g8_k3", s), cost, smoke,
           [s](benchmark::State& state) {
             GpuContext& ctx = gpu_context();
             const size_t plane = size_t(s.h) * s.w;
             auto in = random_buffer<T>(kC * plane, -1, 1, 1);
             auto weight = random_buffer<T>(kC * kC * kTaps, -0.04f, 0.04f, 2);  // +-1/sqrt(fan_in)
             auto bias = random_buffer<T>(kC, -0.04f, 0.04f, 3);
             DeviceBuffer<T> out(kC * plane);
             DeviceBuffer<float> offset(2 * kG * kTaps * plane), mask(kG * kTaps * plane);
             check_cuda(fill_dcn_offsets(offset.get(), mask.get(), 1, kG * kTaps, s.h, s.w, ctx.stream), "fill");
             kernels::DeformConv2dParams<T> p;
             p.input = in.get(), p.offset = offset.get(), p.mask = mask.get(), p.weight = weight.get();
             p.bias = bias.get(), p.output = out.get();
             p.batch = 1, p.in_channels = kC, p.height = s.h, p.width = s.w;
             p.out_channels = kC, p.kernel_h = p.kernel_w = 3, p.out_height = s.h, p.out_width = s.w;
             p.pad_h = p.pad_w = 1, p.deformable_groups = kG;
             DeviceBuffer<unsigned char> workspace(kernels::deform_conv2d_workspace_bytes(p));
             p.workspace = reinterpret_cast<T*>(workspace.get());
             const kernels::GemmContext gemm{ctx.blas, ctx.stream};
             time_launches(state, [&] { return kernels::deform_conv2d(p, gemm); });
             state.counters["workspace_MiB"] = double(workspace.count()) / (1 << 20);
           });
}

template <class T>
void conv2d_case(const Size& s, bool smoke) {
  const double e = sizeof(T), px = s.pixels();
  Cost cost;
  cost.bytes = 2.0 * kC * px * e + (kC * kC * kTaps + kC) * e;
  cost.flops = 2.0 * kC * kC * kTaps * px;
  cost.tensor_cores = std::is_same_v<T, __half>;
  add_case(case_name<T>("conv2d/c64_k3_lrelu", s), cost, smoke,
           [s](benchmark::State& state) {
             GpuContext& ctx = gpu_context();
             const size_t plane = size_t(s.h) * s.w;
             auto in = random_buffer<T>(kC * plane, -1, 1, 1);
             auto weight = random_buffer<T>(kC * kC * kTaps, -0.04f, 0.04f, 2);
             auto bias = random_buffer<T>(kC, -0.04f, 0.04f, 3);
             DeviceBuffer<T> out(kC * plane);
             kernels::Conv2dParams<T> p;
             p.input = in.get(), p.weight = weight.get(), p.bias = bias.get(), p.output = out.get();
             p.batch = 1, p.in_channels = kC, p.height = s.h, p.width = s.w;
             p.out_channels = kC, p.kernel_h = p.kernel_w = 3, p.out_height = s.h, p.out_width = s.w;
             p.pad_h = p.pad_w = 1, p.activation = Activation::LeakyReLU, p.leaky_slope = kernels::kLeakySlope;
             DeviceBuffer<unsigned char> workspace(kernels::conv2d_workspace_bytes(p));
             p.workspace = reinterpret_cast<T*>(workspace.get());
             const kernels::GemmContext gemm{ctx.blas, ctx.stream};
             time_launches(state, [&] { return kernels::conv2d(p, gemm); });
             state.counters["workspace_MiB"] = double(workspace.count()) / (1 << 20);
           });
}

// The conv's GEMM alone: weight (64, 576) x a whole-image column matrix (576, H*W).
template <class T>
void gemm_case(const Size& s, bool smoke) {
  const double e = sizeof(T), px = s.pixels(), k = kC * kTaps;
  Cost cost;
  cost.bytes = (kC * k + k * px + kC * px) * e;
  cost.flops = 2.0 * kC * k * px;
  cost.tensor_cores = std::is_same_v<T, __half>;
  add_case(case_name<T>("gemm/m64_k576", s), cost, smoke,
           [s](benchmark::State& state) {
             GpuContext& ctx = gpu_context();
             const int64_t n = int64_t(s.h) * s.w, k = kC * kTaps;
             auto a = random_buffer<T>(kC * k, -0.04f, 0.04f, 2);
             auto b = random_buffer<T>(size_t(k * n), -1, 1, 1);
             DeviceBuffer<T> c(size_t(kC * n));
             const kernels::GemmContext gemm{ctx.blas, ctx.stream};
             time_launches(state, [&] { return kernels::gemm(gemm, kC, n, k, a.get(), k, b.get(), n, c.get(), n); });
           });
}

// ---- data movement and sampling ---------------------------------------------------------------------

template <class T>
void bias_activation_case(const Size& s, bool smoke) {
  const double e = sizeof(T), px = s.pixels();
  Cost cost;
  cost.bytes = 2.0 * kC * px * e + kC * e;
  cost.flops = 2.0 * kC * px;
  add_case(case_name<T>("bias_activation/c64_lrelu", s), cost, smoke,
           [s](benchmark::State& state) {
             const size_t plane = size_t(s.h) * s.w;
             auto x = random_buffer<T>(kC * plane, -1, 1, 1);
             auto bias = random_buffer<T>(kC, -0.001f, 0.001f, 3);
             kernels::BiasActivationParams<T> p;
             p.data = x.get(), p.bias = bias.get(), p.batch = 1, p.channels = kC, p.plane = int64_t(plane);
             p.activation = Activation::LeakyReLU, p.leaky_slope = kernels::kLeakySlope;
             time_launches(state, [&] { return kernels::bias_activation(p, gpu_context().stream); });
           });
}

template <class T>
void pixel_shuffle_case(const Size& s, int in_channels, int factor, bool smoke) {
  const double e = sizeof(T), px = s.pixels();
  Cost cost;
  cost.bytes = 2.0 * in_channels * px * e;
  const std::string variant = std::string("pixel_shuffle/c").append(std::to_string(in_channels)).append("_r");
  add_case(case_name<T>(variant + std::to_string(factor), s), cost, smoke,
           [s, in_channels, factor](benchmark::State& state) {
             const size_t count = size_t(in_channels) * s.h * s.w;
             auto in = random_buffer<T>(count, -1, 1, 1);
             DeviceBuffer<T> out(count);
             const kernels::PixelShuffleShape shape{1, in_channels / (factor * factor), s.h, s.w, factor};
             time_launches(state, [&] { return kernels::pixel_shuffle(shape, in.get(), out.get(), gpu_context().stream); });
           });
}

template <class T>
void flow_warp_case(const Size& s, bool smoke) {
  const double e = sizeof(T), px = s.pixels();
  Cost cost;
  cost.bytes = 2.0 * kC * px * e + 2.0 * px * 4;
  cost.flops = 8.0 * kC * px;  // bilinear blend per output element
  add_case(case_name<T>("flow_warp/c64_zeros", s), cost, smoke,
           [s](benchmark::State& state) {
             GpuContext& ctx = gpu_context();
             const size_t plane = size_t(s.h) * s.w;
             auto in = random_buffer<T>(kC * plane, -1, 1, 1);
             DeviceBuffer<T> out(kC * plane);
             DeviceBuffer<float> flow(2 * plane);
             check_cuda(fill_flow(flow.get(), 1, s.h, s.w, /*interleaved=*/true, ctx.stream), "fill_flow");
             kernels::FlowWarpParamsOf<T> p;
             p.input = in.get(), p.flow = flow.get(), p.output = out.get();
             p.flow_layout = kernels::FlowLayout::Interleaved;
             p.batch = 1, p.channels = kC, p.height = s.h, p.width = s.w, p.padding = kernels::WarpPadding::Zeros;
             time_launches(state, [&] { return kernels::flow_warp(p, ctx.stream); });
           });
}

template <class T>
void resize_case(const Size& s, int channels, int factor, bool smoke) {
  const double e = sizeof(T), px = s.pixels(), out_px = px * factor * factor;
  Cost cost;
  cost.bytes = channels * (px + out_px) * e;
  cost.flops = 9.0 * channels * out_px;
  const std::string variant = std::string("resize_bilinear/c").append(std::to_string(channels)).append("_x");
  add_case(case_name<T>(variant + std::to_string(factor), s), cost, smoke,
           [s, channels, factor](benchmark::State& state) {
             const size_t plane = size_t(s.h) * s.w;
             auto in = random_buffer<T>(channels * plane, 0, 1, 1);
             DeviceBuffer<T> out(channels * plane * factor * factor);
             kernels::ResizeBilinearParams<T> p;
             p.input = in.get(), p.output = out.get(), p.batch = 1, p.channels = channels;
             p.in_height = s.h, p.in_width = s.w, p.out_height = s.h * factor, p.out_width = s.w * factor;
             p.scale_factor = factor, p.align_corners = false;
             time_launches(state, [&] { return kernels::resize_bilinear(p, gpu_context().stream); });
           });
}

// max_pool2d / avg_pool2d k3 s2 p1 (EDVR's TSA pyramid).
template <class T>
void pool_case(const Size& s, bool max, bool smoke) {
  const int oh = (s.h + 2 - 3) / 2 + 1, ow = (s.w + 2 - 3) / 2 + 1;
  const double e = sizeof(T);
  Cost cost;
  cost.bytes = kC * (s.pixels() + double(oh) * ow) * e;
  cost.flops = 9.0 * kC * oh * ow;
  add_case(case_name<T>(max ? "max_pool2d/c64_k3s2p1" : "avg_pool2d/c64_k3s2p1", s), cost,
           smoke, [s, max, oh, ow](benchmark::State& state) {
             auto in = random_buffer<T>(size_t(kC) * s.h * s.w, -1, 1, 1);
             DeviceBuffer<T> out(size_t(kC) * oh * ow);
             kernels::Pool2dParams<T> p;
             p.input = in.get(), p.output = out.get(), p.batch = 1, p.channels = kC, p.height = s.h, p.width = s.w;
             p.out_height = oh, p.out_width = ow, p.kernel = 3, p.stride = 2, p.padding = 1;
             time_launches(state, [&] {
               return max ? kernels::max_pool2d(p, gpu_context().stream) : kernels::avg_pool2d(p, gpu_context().stream);
             });
           });
}

// ---- element-wise ------------------------------------------------------------------------------

template <class T>
void elementwise_cases(const Size& s, bool smoke) {
  const double e = sizeof(T), n = kC * s.pixels();
  const size_t count = size_t(kC) * s.h * s.w;
  add_case(case_name<T>("activate/c64_sigmoid", s), Cost{2 * n * e, 4 * n, false}, smoke, [count](benchmark::State& state) {
    auto x = random_buffer<T>(count, -4, 4, 1);
    kernels::ActivateParams<T> p{x.get(), int64_t(count), Activation::Sigmoid, kernels::kLeakySlope};
    time_launches(state, [&] { return kernels::activate(p, gpu_context().stream); });
  });
  add_case(case_name<T>("add/c64_lrelu", s), Cost{3 * n * e, 2 * n, false}, smoke, [count](benchmark::State& state) {
    auto a = random_buffer<T>(count, -1, 1, 1);
    auto b = random_buffer<T>(count, -0.001f, 0.001f, 2);  // small: repeated calls stay finite
    kernels::AddParams<T> p{a.get(), b.get(), int64_t(count), Activation::LeakyReLU, kernels::kLeakySlope};
    time_launches(state, [&] { return kernels::add(p, gpu_context().stream); });
  });
  add_case(case_name<T>("scale/c64", s), Cost{2 * n * e, n, false}, smoke, [count](benchmark::State& state) {
    auto x = random_buffer<T>(count, -1, 1, 1);
    kernels::ScaleParams<T> p{x.get(), int64_t(count), -1.0f};  // sign flips: stays bounded
    time_launches(state, [&] { return kernels::scale(p, gpu_context().stream); });
  });
  add_case(case_name<T>("concat/c64+c64", s), Cost{4 * n * e, 0, false}, smoke, [count, s](benchmark::State& state) {
    auto a = random_buffer<T>(count, -1, 1, 1);
    auto b = random_buffer<T>(count, -1, 1, 2);
    DeviceBuffer<T> out(2 * count);
    const T* parts[] = {a.get(), b.get()};
    const int channels[] = {kC, kC};
    kernels::ConcatParams<T> p{parts, channels, 2, out.get(), 1, int64_t(s.h) * s.w};
    time_launches(state, [&] { return kernels::concat(p, gpu_context().stream); });
  });
}

// The ops extracted from the models (kernels/model_ops.h) at the shapes the models use them.
template <class T>
void model_op_cases(const Size& s, bool smoke) {
  const double e = sizeof(T), px = s.pixels();
  const int64_t plane = int64_t(s.h) * s.w;
  constexpr int kFrames = 5;  // EDVR's window: TSA correlates each frame with the centre one
  add_case(case_name<T>("channel_dot/t5_c64", s), Cost{(2.0 * kC + 1) * kFrames * px * e, 2.0 * kFrames * kC * px, false},
           smoke, [plane](benchmark::State& state) {
             auto a = random_buffer<T>(size_t(kFrames * kC * plane), -1, 1, 1);
             auto b = random_buffer<T>(size_t(kFrames * kC * plane), -1, 1, 2);
             DeviceBuffer<T> out(size_t(kFrames * plane));
             kernels::ChannelDotParams<T> p{a.get(), b.get(), out.get(), kFrames, kC, plane};
             time_launches(state, [&] { return kernels::channel_dot(p, gpu_context().stream); });
           });
  add_case(case_name<T>("mul_broadcast_channels/t5_c64", s), Cost{(2.0 * kC + 1) * kFrames * px * e, double(kFrames) * kC * px, false},
           smoke, [plane](benchmark::State& state) {
             auto x = random_buffer<T>(size_t(kFrames * kC * plane), -1, 1, 1);
             auto w = random_buffer<T>(size_t(kFrames * plane), 0, 1, 2);
             kernels::MulBroadcastChannelsParams<T> p{x.get(), w.get(), kFrames, kC, plane};
             time_launches(state, [&] { return kernels::mul_broadcast_channels(p, gpu_context().stream); });
           });
  add_case(case_name<T>("mul_add/c64", s), Cost{4.0 * kC * px * e, 3.0 * kC * px, false}, smoke,
           [plane](benchmark::State& state) {
             auto x = random_buffer<T>(size_t(kC * plane), -1, 1, 1);
             auto m = random_buffer<T>(size_t(kC * plane), 0, 1, 2);
             auto add = random_buffer<T>(size_t(kC * plane), -0.001f, 0.001f, 3);
             kernels::MulAddParams<T> p{x.get(), m.get(), add.get(), kC * plane, 2.0f};
             time_launches(state, [&] { return kernels::mul_add(p, gpu_context().stream); });
           });
  constexpr int kClip = 15;  // SpyNet's input normalisation over a 15-frame clip
  add_case(case_name<T>("affine_channels/n15_c3", s), Cost{2.0 * kClip * 3 * px * e, 2.0 * kClip * 3 * px, false}, smoke,
           [plane](benchmark::State& state) {
             auto in = random_buffer<T>(size_t(kClip * 3 * plane), 0, 1, 1);
             DeviceBuffer<T> out(size_t(kClip * 3 * plane));
             DeviceBuffer<float> shift(3), scale(3);
             check_cuda(fill_uniform(shift.get(), 3, 0.4f, 0.5f, 4, gpu_context().stream), "fill");
             check_cuda(fill_uniform(scale.get(), 3, 0.2f, 0.3f, 5, gpu_context().stream), "fill");
             kernels::AffineChannelsParams<T> p{in.get(), out.get(), shift.get(), scale.get(), kClip, 3, plane, true};
             time_launches(state, [&] { return kernels::affine_channels(p, gpu_context().stream); });
           });
  // Padding a frame up to a multiple of 32 (SpyNet's input size): 180 -> 192, 720 -> 736 rows.
  const int64_t padded_h = (s.h + 31) / 32 * 32, padded_w = (s.w + 31) / 32 * 32;
  add_case(case_name<T>("pad_crop/c3_to32", s), Cost{3.0 * (px + double(padded_h) * padded_w) * e, 0, false}, smoke,
           [s, plane, padded_h, padded_w](benchmark::State& state) {
             auto in = random_buffer<T>(size_t(3 * plane), 0, 1, 1);
             DeviceBuffer<T> out(size_t(3 * padded_h * padded_w));
             kernels::PadCropParams<T> p{in.get(), out.get(), 3, s.h, s.w, padded_h, padded_w};
             time_launches(state, [&] { return kernels::pad_crop(p, gpu_context().stream); });
           });
  add_case(case_name<T>("sum_abs/c64", s), Cost{kC * px * e, 2.0 * kC * px, false}, smoke, [plane](benchmark::State& state) {
    auto in = random_buffer<T>(size_t(kC * plane), -1, 1, 1);
    DeviceBuffer<unsigned char> workspace(kernels::sum_abs_workspace_bytes());
    DeviceBuffer<double> result(1);
    kernels::SumAbsParams<T> p{in.get(), kC * plane, 0.0, reinterpret_cast<double*>(workspace.get()), result.get()};
    time_launches(state, [&] { return kernels::sum_abs(p, gpu_context().stream); });
  });
}

template <class T>
void register_dtype(bool smoke) {
  for (const Size& s : kSizes) {
    deform_conv2d_case<T>(s, smoke);
    conv2d_case<T>(s, smoke);
    gemm_case<T>(s, smoke);
    bias_activation_case<T>(s, smoke);
    pixel_shuffle_case<T>(s, 256, 2, smoke);  // EDVR/BasicVSR upconv1: 256 -> 64 channels
    flow_warp_case<T>(s, smoke);
    resize_case<T>(s, kC, 2, smoke);  // TSA / PCD pyramid upsampling
    pool_case<T>(s, true, smoke);
    pool_case<T>(s, false, smoke);
    elementwise_cases<T>(s, smoke);
    model_op_cases<T>(s, smoke);
  }
  pixel_shuffle_case<T>(kSizes[1], 48, 4, smoke);  // gpu_anchors.md's r=4 shape (48 -> 3 channels)
  resize_case<T>(kSizes[0], 3, 4, smoke);          // the x4 bilinear skip of the input frame
}

}  // namespace

void register_kernel_benchmarks(bool smoke) {
  register_dtype<float>(smoke);
  register_dtype<__half>(smoke);
}

}  // namespace vrestore::gpu_bench

int main(int argc, char** argv) {
  using namespace vrestore::gpu_bench;
  const Flags flags = take_flags(&argc, argv);
  register_kernel_benchmarks(flags.smoke);
  if (flags.roofline) {
    print_roofline_markdown();
    return 0;
  }
  return run_main(argc, argv, flags);
}
