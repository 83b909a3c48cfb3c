// Single operators at the size EDVR-M and BasicVSR run their full-resolution layers on REDS
// (180x320 LR frames, 64 channels). FLOPs count the convolution's multiply-adds as 2 FLOPs (bilinear sampling excluded).
#include <benchmark/benchmark.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <ctime>

#include "bench_support.h"
#include "core/op_args.h"
#include "core/ops.h"
#include "cpu/dispatch.h"

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
  const HostPoolCall call(HostPool::create());  // as in conv2d_shape
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

// ---- fp32 FMA peak and the plain GEMM path --------------------------------------------------------
//
// The peak: every OpenMP thread runs a loop of independent vector FMAs on register-resident
// accumulators (enough chains to cover the FMA latency on every pipe), the widest the CPU has.
// The GEMM cases then print their share of it ("pct_peak").

// Independent accumulators: more than FMA latency (4) x FMA pipes (2), so the loop is never
// latency-bound. Written in assembly so that the compiler can neither spill nor fold them; the
// operands are zero (no denormals), which does not change an FMA's speed.
#if defined(__x86_64__)
__attribute__((target("avx512f"))) double fma_loop_avx512(int64_t iterations) {
  constexpr int kChains = 24;  // zmm2..zmm25 += zmm0 * zmm1
  int64_t left = iterations;
  asm volatile(
      ".irp r,0,1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16,17,18,19,20,21,22,23,24,25\n vxorps %%zmm\\r, %%zmm\\r, %%zmm\\r\n .endr\n"
      "1:\n"
      ".irp r,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16,17,18,19,20,21,22,23,24,25\n vfmadd231ps %%zmm0, %%zmm1, %%zmm\\r\n .endr\n"
      "dec %0\n"
      "jnz 1b\n"
      : "+r"(left)
      :
      : "xmm0", "xmm1", "xmm2", "xmm3", "xmm4", "xmm5", "xmm6", "xmm7", "xmm8", "xmm9", "xmm10", "xmm11",
        "xmm12", "xmm13", "xmm14", "xmm15", "xmm16", "xmm17", "xmm18", "xmm19", "xmm20", "xmm21", "xmm22",
        "xmm23", "xmm24", "xmm25", "cc");
  return 2.0 * 16 * kChains * static_cast<double>(iterations);
}

__attribute__((target("avx2,fma"))) double fma_loop_avx2(int64_t iterations) {
  constexpr int kChains = 12;  // ymm2..ymm13 += ymm0 * ymm1
  int64_t left = iterations;
  asm volatile(
      ".irp r,0,1,2,3,4,5,6,7,8,9,10,11,12,13\n vxorps %%ymm\\r, %%ymm\\r, %%ymm\\r\n .endr\n"
      "1:\n"
      ".irp r,2,3,4,5,6,7,8,9,10,11,12,13\n vfmadd231ps %%ymm0, %%ymm1, %%ymm\\r\n .endr\n"
      "dec %0\n"
      "jnz 1b\n"
      : "+r"(left)
      :
      : "xmm0", "xmm1", "xmm2", "xmm3", "xmm4", "xmm5", "xmm6", "xmm7", "xmm8", "xmm9", "xmm10", "xmm11",
        "xmm12", "xmm13", "cc");
  return 2.0 * 8 * kChains * static_cast<double>(iterations);
}
#endif

// FLOPs of `iterations` FMA-loop iterations per thread on every OpenMP thread, all threads at once.
double fma_loop_all_threads(int64_t iterations) {
  double flops = 0.0;
#pragma omp parallel reduction(+ : flops)
  {
#if defined(__x86_64__)
    flops += __builtin_cpu_supports("avx512f") ? fma_loop_avx512(iterations)
             : __builtin_cpu_supports("fma")   ? fma_loop_avx2(iterations)
                                               : 0.0;
#endif
  }
  return flops;
}

double process_cpu_seconds() {
  timespec t{};
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &t);
  return static_cast<double>(t.tv_sec) + 1e-9 * static_cast<double>(t.tv_nsec);
}

// Wall-clock and CPU-time stopwatch: on a machine shared with other work, FLOPs per CPU-second
// (all threads' CPU time) still measure the code, while FLOPs per wall second measure the load too.
struct Stopwatch {
  std::chrono::steady_clock::time_point wall0 = std::chrono::steady_clock::now();
  double cpu0 = process_cpu_seconds();
  double wall() const { return std::chrono::duration<double>(std::chrono::steady_clock::now() - wall0).count(); }
  double cpu() const { return process_cpu_seconds() - cpu0; }
};

// The machine's fp32 FMA peak: over all OpenMP threads per wall second, and per CPU-second (one
// core's peak), GFLOP/s. Best of a few 0.1 s runs (load from elsewhere only ever lowers it);
// measured once per process.
struct FmaPeak {
  double wall_gflops, core_gflops;
};
FmaPeak fma_peak_gflops() {
  static const FmaPeak peak = [] {
    fma_loop_all_threads(100000);  // wakes the threads and the clocks
    const int64_t iterations = 2000000;
    FmaPeak best{0.0, 0.0};
    for (int run = 0; run < 5; ++run) {
      const Stopwatch watch;
      const double flops = fma_loop_all_threads(iterations);
      best.wall_gflops = std::max(best.wall_gflops, flops / watch.wall() * 1e-9);
      best.core_gflops = std::max(best.core_gflops, flops / watch.cpu() * 1e-9);
    }
    return best;
  }();
  return peak;
}

void fma_peak(benchmark::State& state) {
  const int64_t iterations = 1000000;
  double flops = 0.0;
  for (auto _ : state) flops = fma_loop_all_threads(iterations);
  if (flops == 0.0) state.SkipWithError("no FMA unit (needs AVX2+FMA or AVX-512)");
  state.counters["FLOPs"] = benchmark::Counter(flops, benchmark::Counter::kIsIterationInvariantRate);
  state.counters["core_GFLOPs"] = fma_peak_gflops().core_gflops;
}

// FLOPs (rate) and the share of the peak: pct_peak = GFLOP/s (wall) over the all-thread peak of
// fma_peak_gflops(); pct_peak_cpu = GFLOP per CPU-second over one core's peak, which a loaded
// machine distorts far less (it counts time the OpenMP threads spend waiting at barriers as used).
void set_flop_counters(benchmark::State& state, double flops_per_call, const FmaPeak& peak, const Stopwatch& watch) {
  const double total = flops_per_call * static_cast<double>(state.iterations());
  state.counters["FLOPs"] = benchmark::Counter(flops_per_call, benchmark::Counter::kIsIterationInvariantRate);
  state.counters["pct_peak"] = total / watch.wall() * 1e-9 / peak.wall_gflops * 100.0;
  state.counters["pct_peak_cpu"] = total / watch.cpu() * 1e-9 / peak.core_gflops * 100.0;
}

// The plain GEMM path: a 1x1 convolution multiplies the (Cout, Cin) weight by the image viewed as
// a (Cin, H*W) matrix in place, M = Cout, K = Cin, N = H*W (core/ops conv2d -> cpu/conv2d.cpp ->
// cpu/gemm.h). Shapes: square (1024, 2048), a 3x3 64->64 conv at 180x320 as one GEMM (K = 576,
// what its im2col matrix would be), the 1x1 576-channel conv, and VRT's linear 120 -> 360 over
// 24576 tokens (in the transposed orientation: the weight is the broadcast operand).
void gemm_plain(benchmark::State& state) {
  const int64_t m = state.range(0), k = state.range(1), n = state.range(2);
  int64_t h = 1, w = n;  // any factorisation: the 1x1 conv sees H*W columns
  for (int64_t f = static_cast<int64_t>(std::sqrt(static_cast<double>(n))); f > 1; --f)
    if (n % f == 0) {
      h = f;
      w = n / f;
      break;
    }
  const float bound = 1.0f / std::sqrt(static_cast<float>(k));
  const Tensor x = random_uniform({1, k, h, w}, -1.0f, 1.0f, 11);
  const Tensor weight = random_uniform({m, k, 1, 1}, -bound, bound, 12);
  const Tensor bias = random_uniform({m}, -bound, bound, 13);
  // The CPU kernel itself, into one preallocated output: ops::conv2d would allocate a fresh
  // output per call, and above glibc's mmap threshold (32 MB: the VRT shape's 35 MB) half the
  // time would go to page faults, which is the host pool's business, not the GEMM's.
  ops::Conv2dArgs args;
  args.x = x;
  args.weight = weight;
  args.bias = bias;
  args.g = {1, k, h, w, m, 1, 1, 1, 0, 0, 1, h, w};
  args.out = Tensor::empty({1, m, h, w});
  const FmaPeak peak = fma_peak_gflops();
  const Stopwatch watch;
  for (auto _ : state) {
    cpu::active_kernels().conv2d(args);
    benchmark::DoNotOptimize(args.out.data());
  }
  set_flop_counters(state, 2.0 * static_cast<double>(m * k * n), peak, watch);
  state.counters["peak_GFLOPs"] = peak.wall_gflops;
}

// One convolution shape the models use, 1 x Cin x H x W, "same" padding: args Cin, Cout, k,
// stride, dilation, H, W. compare_pytorch.py's conv cases time F.conv2d (oneDNN) on the same shapes.
void conv2d_shape(benchmark::State& state) {
  const int64_t cin = state.range(0), cout = state.range(1), k = state.range(2);
  const int stride = static_cast<int>(state.range(3)), dilation = static_cast<int>(state.range(4));
  const int64_t h = state.range(5), w = state.range(6);
  // Tensors from a pool of huge pages, reused between iterations, as inside a Model call.
  const HostPoolCall call(HostPool::create());
  const float bound = 1.0f / std::sqrt(static_cast<float>(cin * k * k));
  const Tensor x = random_uniform({1, cin, h, w}, -1.0f, 1.0f, 21);
  const Tensor weight = random_uniform({cout, cin, k, k}, -bound, bound, 22);
  const Tensor bias = random_uniform({cout}, -bound, bound, 23);
  ops::Conv2dParams p;
  p.stride = stride;
  p.dilation = dilation;
  const int64_t pad = dilation * (k - 1) / 2;
  const int64_t out_h = (h + 2 * pad - dilation * (k - 1) - 1) / stride + 1;
  const int64_t out_w = (w + 2 * pad - dilation * (k - 1) - 1) / stride + 1;
  const FmaPeak peak = fma_peak_gflops();
  const Stopwatch watch;
  for (auto _ : state) {
    Tensor y = ops::conv2d(x, weight, &bias, p);
    benchmark::DoNotOptimize(y.data());
  }
  set_flop_counters(state, 2.0 * static_cast<double>(cout * cin * k * k * out_h * out_w), peak, watch);
}

BENCHMARK(conv2d_3x3)->Name("conv2d_3x3_c64/1x64x180x320")->Unit(benchmark::kMillisecond)->UseRealTime();
BENCHMARK(deform_conv2d_3x3)
    ->Name("deform_conv2d_3x3_c64/1x64x180x320")
    ->ArgName("groups")
    ->Arg(8)
    ->Unit(benchmark::kMillisecond)
    ->UseRealTime();

BENCHMARK(flow_warp_zeros)->Name("flow_warp_zeros_c64/1x64x180x320")->Unit(benchmark::kMillisecond)->UseRealTime();

BENCHMARK(fma_peak)->Name("fma_peak_fp32")->Unit(benchmark::kMillisecond)->UseRealTime();
// M (Cout), K (Cin), N (pixels).
BENCHMARK(gemm_plain)
    ->Name("gemm_plain")
    ->ArgNames({"m", "k", "n"})
    ->Args({1024, 1024, 1024})
    ->Args({2048, 2048, 2048})
    ->Args({64, 576, 57600})
    ->Args({360, 120, 24576})
    ->Unit(benchmark::kMillisecond)
    ->UseRealTime();
// Cin, Cout, k, stride, dilation, H, W: the dilated 3x3 of issue 10's table, EDVR's stride-2 3x3
// (pyramid levels) and TSA 1x1 convs (5 x 64 -> 64), a 1x1 576 -> 64 conv, and SpyNet's five 7x7
// convs at its finest level (192x320 for a 180x320 frame), and the trunks' 3x3 64 -> 64 at 360x640.
BENCHMARK(conv2d_shape)
    ->Name("conv2d_shape")
    ->ArgNames({"cin", "cout", "k", "s", "d", "h", "w"})
    ->Args({64, 64, 3, 1, 2, 180, 320})
    ->Args({64, 64, 3, 2, 1, 180, 320})
    ->Args({320, 64, 1, 1, 1, 180, 320})
    ->Args({576, 64, 1, 1, 1, 180, 320})
    ->Args({8, 32, 7, 1, 1, 192, 320})
    ->Args({32, 64, 7, 1, 1, 192, 320})
    ->Args({64, 32, 7, 1, 1, 192, 320})
    ->Args({32, 16, 7, 1, 1, 192, 320})
    ->Args({16, 2, 7, 1, 1, 192, 320})
    ->Args({64, 64, 3, 1, 1, 360, 640})
    ->Unit(benchmark::kMillisecond)
    ->UseRealTime();

}  // namespace
}  // namespace vrestore::bench
