// Single operators at the size EDVR-M and BasicVSR run their full-resolution layers on REDS
// (180x320 LR frames, 64 channels). FLOPs count the convolution's multiply-adds as 2 FLOPs (bilinear sampling excluded).
#include <benchmark/benchmark.h>

#include <cmath>

#include "bench_support.h"
#include "core/ops.h"

namespace vrestore::bench {
namespace {

constexpr int64_t kChannels = 64, kHeight = 180, kWidth = 320, kTaps = 9;
constexpr double kConvFlops = 2.0 * kChannels * kChannels * kTaps * kHeight * kWidth;

struct ConvInputs {
  Tensor x, weight, bias;
};

ConvInputs conv_inputs() {
  const float bound = 1.0f / std::sqrt(static_cast<float>(kChannels * kTaps));
  return {random_uniform({1, kChannels, kHeight, kWidth}, -1.0f, 1.0f, 1),
          random_uniform({kChannels, kChannels, 3, 3}, -bound, bound, 2),
          random_uniform({kChannels}, -bound, bound, 3)};
}

void conv2d_3x3(benchmark::State& state) {
  const ConvInputs in = conv_inputs();
  for (auto _ : state) {
    Tensor y = ops::conv2d(in.x, in.weight, &in.bias);
    benchmark::DoNotOptimize(y.data());
  }
  state.counters["FLOPs"] = benchmark::Counter(kConvFlops, benchmark::Counter::kIsIterationInvariantRate);
}

// Offsets like a trained DCN's: per (group, tap) a fractional shift of up to 3 px, plus up to
// 0.5 px of per-pixel variation. Near the borders some samples fall outside the image.
Tensor realistic_offsets(int64_t groups) {
  const int64_t channels = 2 * groups * kTaps, pixels = kHeight * kWidth;
  Tensor offset = random_uniform({1, channels, kHeight, kWidth}, -0.5f, 0.5f, 4);
  Tensor shift = random_uniform({channels}, -3.0f, 3.0f, 5);
  for (int64_t ch = 0; ch < channels; ++ch)
    for (int64_t i = 0; i < pixels; ++i) offset.data()[ch * pixels + i] += shift.data()[ch];
  return offset;
}

void deform_conv2d_3x3(benchmark::State& state) {
  const int64_t groups = state.range(0);
  const ConvInputs in = conv_inputs();
  const Tensor offset = realistic_offsets(groups);
  const Tensor mask = random_uniform({1, groups * kTaps, kHeight, kWidth}, 0.0f, 1.0f, 6);
  for (auto _ : state) {
    Tensor y = ops::deform_conv2d(in.x, offset, mask, in.weight, &in.bias);
    benchmark::DoNotOptimize(y.data());
  }
  using benchmark::Counter;
  state.counters["FLOPs"] = Counter(kConvFlops, Counter::kIsIterationInvariantRate);
  // Each output pixel samples every input channel at every tap (4 neighbours each).
  state.counters["samples"] =
      Counter(double(kChannels * kTaps * kHeight * kWidth), Counter::kIsIterationInvariantRate);
  // Compulsory traffic: input, offsets, mask and output read/written once.
  const double floats = double(in.x.numel() + offset.numel() + mask.numel() + kChannels * kHeight * kWidth);
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * floats * sizeof(float)));
}

// A smooth, fractional flow of a few pixels, like a propagation warp's (compare_pytorch.py builds
// the same field): dx = 2.5 sin(0.021 x + 0.013 y) + 0.5, dy = 1.5 cos(0.017 x - 0.029 y) - 0.25.
Tensor smooth_flow(int64_t h, int64_t w) {
  Tensor flow = Tensor::empty({1, 2, h, w});
  for (int64_t y = 0; y < h; ++y)
    for (int64_t x = 0; x < w; ++x) {
      const double fx = static_cast<double>(x), fy = static_cast<double>(y);
      flow.data()[y * w + x] = static_cast<float>(2.5 * std::sin(0.021 * fx + 0.013 * fy) + 0.5);
      flow.data()[h * w + y * w + x] = static_cast<float>(1.5 * std::cos(0.017 * fx - 0.029 * fy) - 0.25);
    }
  return flow;
}

// BasicVSR's propagation warp of the 64-channel state (zeros padding).
void flow_warp_zeros(benchmark::State& state) {
  const Tensor x = random_uniform({1, kChannels, kHeight, kWidth}, -1.0f, 1.0f, 1);
  const Tensor flow = smooth_flow(kHeight, kWidth);
  for (auto _ : state) {
    Tensor y = ops::flow_warp(x, flow, ops::WarpPadding::Zeros);
    benchmark::DoNotOptimize(y.data());
  }
  // Compulsory traffic: input, flow and output once.
  const double floats = double(2 * x.numel() + flow.numel());
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * floats * sizeof(float)));
  state.counters["samples"] =
      benchmark::Counter(double(kChannels * kHeight * kWidth), benchmark::Counter::kIsIterationInvariantRate);
}

BENCHMARK(conv2d_3x3)->Name("conv2d_3x3_c64/1x64x180x320")->Unit(benchmark::kMillisecond)->UseRealTime();
BENCHMARK(deform_conv2d_3x3)
    ->Name("deform_conv2d_3x3_c64/1x64x180x320")
    ->ArgName("groups")
    ->Arg(8)
    ->Unit(benchmark::kMillisecond)
    ->UseRealTime();

BENCHMARK(flow_warp_zeros)->Name("flow_warp_zeros_c64/1x64x180x320")->Unit(benchmark::kMillisecond)->UseRealTime();

}  // namespace
}  // namespace vrestore::bench
