// Whole-model forward passes. The weights are random unless $VRESTORE_BENCH_WEIGHTS names a
// converted file (timing does not depend on the values, except through the DCN offsets).
#include <benchmark/benchmark.h>

#include "bench_support.h"

namespace vrestore::bench {
namespace {

// Loaded on first use, so filtering to the op benchmarks skips the weight generation.
const BenchEdvr& shared_edvr() {
  static const BenchEdvr edvr = load_bench_edvr();
  return edvr;
}

// One sliding-window step: T low-resolution frames in, the centre frame x4 out.
void edvr_forward(benchmark::State& state) {
  const BenchEdvr* edvr = nullptr;
  try {
    edvr = &shared_edvr();
  } catch (const std::exception& e) {
    state.SkipWithError(e.what());
    return;
  }
  const EdvrConfig& cfg = edvr->model->config();
  const int64_t h = state.range(0), w = state.range(1);
  const Tensor x = random_uniform({1, cfg.num_frame, 3, h, w}, 0.0f, 1.0f, 7);
  for (auto _ : state) {
    const HostPoolCall call(edvr->host_pool);
    Tensor y = edvr->model->forward(x);
    benchmark::DoNotOptimize(y.data());
  }
  using benchmark::Counter;
  state.counters["frames"] = Counter(1.0, Counter::kIsIterationInvariantRate);
  state.counters["FLOPs"] = Counter(2.0 * edvr_macs(cfg, h, w), Counter::kIsIterationInvariantRate);
  state.counters["peak_host_MiB"] = peak_host_mib(*edvr->host_pool);
  state.SetLabel(edvr->source);
}

// 64x64, and the frame sizes of compare_pytorch.py --sizes (~15 s and ~1 min per call on 2 cores).
BENCHMARK(edvr_forward)
    ->Name("edvr_forward/1x5x3")
    ->ArgNames({"h", "w"})
    ->Args({64, 64})
    ->Args({180, 320})
    ->Args({360, 640})
    ->Unit(benchmark::kMillisecond)
    ->UseRealTime();

}  // namespace
}  // namespace vrestore::bench
