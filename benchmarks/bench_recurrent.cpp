// The recurrent family: one SpyNet flow, and BasicVSR / RealBasicVSR forward passes over short clips
// reported per frame. Weights are random in the official configurations unless
// $VRESTORE_BENCH_BASICVSR_WEIGHTS / $VRESTORE_BENCH_REALBASICVSR_WEIGHTS name converted files
// (timing does not depend on the values, except through the flows and the cleaning pass count).
#include <benchmark/benchmark.h>

#include <string>

#include "bench_support.h"

namespace vrestore::bench {
namespace {

using benchmark::Counter;

// Loaded on first use, so filtering to other benchmarks skips the weight generation.
const BenchBasicVsr& shared_basicvsr() {
  static const BenchBasicVsr model = load_bench_basicvsr();
  return model;
}
const BenchSpyNet& shared_spynet() {
  static const BenchSpyNet model = load_bench_spynet();
  return model;
}
const BenchRealBasicVsr& shared_realbasicvsr() {
  static const BenchRealBasicVsr model = load_bench_realbasicvsr();
  return model;
}

// Calls `get` and reports a failure to load as a skipped benchmark.
template <typename Get>
auto* loaded(benchmark::State& state, Get get) {
  try {
    return &get();
  } catch (const std::exception& e) {
    state.SkipWithError(e.what());
    return static_cast<decltype(&get())>(nullptr);
  }
}

// Per-frame counters of a forward over t frames: frames/s, seconds per frame and FLOPs.
void per_frame_counters(benchmark::State& state, int64_t t, double macs_per_frame) {
  const double frames = static_cast<double>(t);
  state.counters["frames"] = Counter(frames, Counter::kIsIterationInvariantRate);
  state.counters["sec_per_frame"] = Counter(frames, Counter::kIsIterationInvariantRate | Counter::kInvert);
  state.counters["FLOPs"] = Counter(2.0 * macs_per_frame * frames, Counter::kIsIterationInvariantRate);
}

// One flow (ref -> supp) between two frames, N = 1.
void spynet_flow(benchmark::State& state) {
  const BenchSpyNet* spynet = loaded(state, shared_spynet);
  if (!spynet) return;
  const int64_t h = state.range(0), w = state.range(1);
  const Tensor ref = random_uniform({1, 3, h, w}, 0.0f, 1.0f, 11);
  const Tensor supp = random_uniform({1, 3, h, w}, 0.0f, 1.0f, 12);
  for (auto _ : state) {
    const HostPoolCall call(spynet->host_pool);
    Tensor flow = spynet->model(ref, supp);
    benchmark::DoNotOptimize(flow.data());
  }
  state.counters["FLOPs"] = Counter(2.0 * spynet_macs(h, w), Counter::kIsIterationInvariantRate);
  state.SetLabel(spynet->source);
}

// The whole-clip forward, upstream's way: t frames in, t x4 frames out.
void basicvsr_forward(benchmark::State& state) {
  const BenchBasicVsr* bv = loaded(state, shared_basicvsr);
  if (!bv) return;
  const int64_t t = state.range(0), h = state.range(1), w = state.range(2);
  const Tensor x = random_uniform({1, t, 3, h, w}, 0.0f, 1.0f, 13);
  for (auto _ : state) {
    const HostPoolCall call(bv->host_pool);
    Tensor y = bv->model->forward(x);
    benchmark::DoNotOptimize(y.data());
  }
  per_frame_counters(state, t, basicvsr_macs_per_frame(bv->config, t, h, w));
  state.counters["peak_host_MiB"] = peak_host_mib(*bv->host_pool);
  state.SetLabel(bv->source);
}

void realbasicvsr_forward(benchmark::State& state) {
  const BenchRealBasicVsr* rb = loaded(state, shared_realbasicvsr);
  if (!rb) return;
  const int64_t t = state.range(0), h = state.range(1), w = state.range(2);
  const Tensor x = random_uniform({1, t, 3, h, w}, 0.0f, 1.0f, 13);
  // The pass count decides the cost; with threshold 255 it is 1 for any sane weights.
  RealBasicVsrTrace trace;
  benchmark::DoNotOptimize(rb->model->forward(x, &trace).data());
  const int passes = static_cast<int>(trace.residue_means.size());
  for (auto _ : state) {
    const HostPoolCall call(rb->host_pool);
    Tensor y = rb->model->forward(x);
    benchmark::DoNotOptimize(y.data());
  }
  per_frame_counters(state, t, realbasicvsr_macs_per_frame(rb->config, t, h, w, passes));
  state.counters["peak_host_MiB"] = peak_host_mib(*rb->host_pool);
  state.counters["cleaning_passes"] = passes;
  state.SetLabel(rb->source);
}

BENCHMARK(spynet_flow)
    ->Name("spynet_flow/1x3")
    ->ArgNames({"h", "w"})
    ->Args({180, 320})
    ->Unit(benchmark::kMillisecond)
    ->UseRealTime();

// T = 10 at 64x64 (the spec's 10-frame clip), T = 5 at 180x320 (a REDS frame; ~25 s per call on
// 2 cores, so one iteration per repetition) and at 360x640 (~2 min per call; compare_pytorch.py
// --sizes).
BENCHMARK(basicvsr_forward)
    ->Name("basicvsr_forward/1xTx3")
    ->ArgNames({"t", "h", "w"})
    ->Args({10, 64, 64})
    ->Args({5, 180, 320})
    ->Args({5, 360, 640})
    ->Unit(benchmark::kMillisecond)
    ->UseRealTime();

BENCHMARK(realbasicvsr_forward)
    ->Name("realbasicvsr_forward/1xTx3")
    ->ArgNames({"t", "h", "w"})
    ->Args({10, 64, 64})
    ->Args({5, 180, 320})
    ->Args({5, 360, 640})
    ->Unit(benchmark::kMillisecond)
    ->UseRealTime();

}  // namespace
}  // namespace vrestore::bench
