// VRT on the GPU (spec_vrt.md), f32 and f16, timed with CUDA events on the benchmark stream:
//
//   vrt_window_attention/<self|mutual>_c<C>_h6_w<window>_t6/<HxW>/<dtype>: the fused attention op
//     (ops::window_attention: bias gather, softmax, both products) on the unshifted windows of a
//     6-frame clip, qkv given: self 6x8x8 (C 120: stages 1-7; C 180: stage 8, head dim 30) and
//     mutual 2x8x8 (C 120). At 64x64 (001's training clip) and 184x320 (stage 1 of a REDS frame).
//   vrt_dcn_flow_guided/pa<P>_dg<G>_c120/<HxW>/<dtype>: DCNv2PackFlowGuided (4 offset convs in f32,
//     tanh/sigmoid, deformable conv in the feature dtype) for one position and direction.
//   model/vrt_001/<HxW>/<dtype>: VRT-001 per output frame through Model::load(path, {CUDA, dtype})
//     over a 6-frame clip, with the model's peak device memory. gpu_anchors.md: PyTorch fp16
//     115 ms/frame and 9.2 GB at 6x184x320 (a 180x320 frame padded to the 8-px window).
//
// Program vrestore_gpu_vrt_bench (scripts/gpu_check.sh runs it against torch_gpu_bench.py's
// upstream-VRT cases of the same names); weights random in the official configuration (benchmarks/bench_vrt_support.cpp) or the converted file in
// $VRESTORE_GPU_BENCH_VRT_WEIGHTS. Without a device every case reports "skipped: no CUDA device";
// while the network cannot be loaded the model cases report "VRT network not available".
#include <benchmark/benchmark.h>
#include <unistd.h>

#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include "bench_support.h"
#include "bench_vrt_support.h"
#include "core/execution.h"
#include "core/ops.h"
#include "core/ops_vrt.h"
#include "gpu_bench_support.h"
#include "models/vrt_align.h"
#include "vrestore/vrestore.h"

namespace vrestore::gpu_bench {
namespace {

namespace fs = std::filesystem;
using benchmark::Counter;

constexpr int64_t kFrames = 6;
struct Size {
  int64_t h, w;
  std::string name() const { return std::to_string(h) + "x" + std::to_string(w); }
};
const Size kSizes[] = {{64, 64}, {184, 320}};

// The ops below run on the benchmark's stream and cuBLAS handle while this is alive.
struct DeviceScope {
  Execution e;
  ExecutionScope scope;
  DeviceScope() : e(make()), scope(e) {}
  static Execution make() {
    Execution e;
    e.device = Device::CUDA;
    e.stream = gpu_context().stream;
    e.blas = gpu_context().blas;
    return e;
  }
};

Tensor on_device(const Shape& shape, float lo, float hi, uint32_t seed, DType dtype) {
  return bench::random_uniform(shape, lo, hi, seed).to(Device::CUDA, dtype);
}

// One warm-up call, then per iteration: flush L2, time `call` with CUDA events.
template <class Call>
void time_op_calls(benchmark::State& state, Call call) {
  { Tensor y = call(); }
  check_cuda(cudaStreamSynchronize(gpu_context().stream), "warm-up");
  time_calls(state, call, /*flush_l2=*/true);
}

struct AttentionCase {
  const char* variant;
  int64_t dim, heads;
  std::array<int, 3> window;
  bool mutual;
};
const AttentionCase kAttention[] = {{"self_c120_h6_w6x8x8_t6", 120, 6, {6, 8, 8}, false},
                                    {"mutual_c120_h6_w2x8x8_t6", 120, 6, {2, 8, 8}, true},
                                    {"self_c180_h6_w6x8x8_t6", 180, 6, {6, 8, 8}, false}};

void attention_case(benchmark::State& state, const AttentionCase& c, const Size& s, DType dtype) {
  DeviceScope device;
  const WindowGeometry g = ops::window_geometry(1, {kFrames, s.h, s.w}, c.window, {0, 0, 0});
  const int64_t windows = g.windows_per_image(), tokens = g.tokens();
  const int64_t rows = int64_t{2 * c.window[0] - 1} * (2 * c.window[1] - 1) * (2 * c.window[2] - 1);
  const Tensor qkv = on_device({windows, tokens, 3 * c.dim}, -1.0f, 1.0f, 1, dtype);
  const Tensor table = on_device({rows, c.heads}, -0.035f, 0.035f, 2, dtype);
  ops::WindowAttentionParams p;
  p.heads = c.heads;
  p.full_window = c.window;
  p.geometry = g;
  p.mutual = c.mutual;
  time_op_calls(state, [&] { return ops::window_attention(qkv, c.mutual ? nullptr : &table, p); });
  const double products = double(windows) * double(tokens * tokens * c.dim) * (c.mutual ? 1.0 : 2.0);
  state.counters["FLOPs"] = Counter(2.0 * products, Counter::kIsIterationInvariantRate);
  state.counters["windows"] = double(windows);
}

struct DcnCase {
  const char* variant;
  int pa_frames;
  int64_t groups;
};
const DcnCase kDcn[] = {{"pa2_dg12_c120", 2, 12}, {"pa6_dg24_c120", 6, 24}};
constexpr int64_t kDcnChannels = 120;

void dcn_case(benchmark::State& state, const DcnCase& c, const Size& s, DType dtype) {
  DeviceScope device;
  const int64_t ch = kDcnChannels, k = c.pa_frames / 2;
  uint32_t seed = 10;
  // The offset branch stays f32 in an f16 model (vrt_align.h); the rest in the feature dtype.
  const vrt::TensorSource source = [&](const std::string&, const Shape& shape, vrt::Keep keep) {
    const float bound = 1.0f / std::sqrt(float(shape.size() == 4 ? shape[1] * shape[2] * shape[3] : 64));
    return on_device(shape, -bound, bound, seed++, keep == vrt::Keep::F32 ? DType::F32 : dtype);
  };
  const vrt::DcnFlowGuided dcn = vrt::DcnFlowGuided::load(source, "", ch, c.pa_frames, c.groups, 10.0f);
  std::vector<Tensor> neighbours, warped, flows;
  for (int64_t j = 0; j < k; ++j) {
    neighbours.push_back(on_device({1, ch, s.h, s.w}, -1.0f, 1.0f, seed++, dtype));
    flows.push_back(on_device({1, 2, s.h, s.w}, -3.0f, 3.0f, seed++, DType::F32));  // a few pixels, any direction
    warped.push_back(ops::flow_warp(neighbours.back(), flows.back(), ops::WarpPadding::Zeros));
  }
  const Tensor current = on_device({1, ch, s.h, s.w}, -1.0f, 1.0f, seed++, dtype);
  time_op_calls(state, [&] { return dcn(neighbours, warped, current, flows); });
  state.counters["FLOPs"] =
      Counter(2.0 * bench::dcn_flow_guided_macs(ch, c.pa_frames, c.groups, s.h, s.w), Counter::kIsIterationInvariantRate);
}

// ---- the whole network ---------------------------------------------------------------------------

// The model of the case that ran last (Google Benchmark calls a case more than once); one at a time.
struct LoadedVrt {
  std::string key;
  std::unique_ptr<Model> model;
  Tensor input;
};
LoadedVrt loaded_vrt;

const fs::path& vrt_weights() {
  static const fs::path path = [] {
    if (const char* env = std::getenv("VRESTORE_GPU_BENCH_VRT_WEIGHTS"); env && *env) return fs::path(env);
    const fs::path p = fs::temp_directory_path() / ("vrestore_gpu_bench_vrt_001_" + std::to_string(getpid()) +
                                                    ".safetensors");
    bench::write_random_vrt_weights(p.string(), bench::VrtConfig{}, 2028);
    std::atexit([] {
      std::error_code ignored;
      fs::remove(fs::temp_directory_path() / ("vrestore_gpu_bench_vrt_001_" + std::to_string(getpid()) +
                                              ".safetensors"),
                 ignored);
    });
    return p;
  }();
  return path;
}

void model_case(benchmark::State& state, const Size& s, DType dtype) {
  const std::string key = s.name() + "/" + dtype_name(dtype);
  if (loaded_vrt.key != key) {
    loaded_vrt = LoadedVrt{};  // free the previous model first
    ModelOptions options;
    options.device = Device::CUDA;
    options.precision = dtype;
    options.stream = gpu_context().stream;
    try {
      loaded_vrt.model = std::make_unique<Model>(Model::load(vrt_weights().string(), options));
    } catch (const std::exception& e) {
      state.SkipWithError((std::string("VRT network not available (Model::load: ") + e.what() + ")").c_str());
      return;
    }
    loaded_vrt.input = bench::random_uniform({1, kFrames, 3, s.h, s.w}, 0.0f, 1.0f, 7).to(Device::CUDA, dtype);
    { Tensor y = loaded_vrt.model->forward(loaded_vrt.input); }  // warm-up: cuBLAS, the pool's growth
    check_cuda(cudaStreamSynchronize(gpu_context().stream), "warm-up forward");
    loaded_vrt.key = key;
    // Registered after the CUDA runtime's own teardown handler, so it runs before it: a model
    // freed after that teardown could fail.
    static const bool release_at_exit = [] { return std::atexit([] { loaded_vrt = LoadedVrt{}; }) == 0; }();
    (void)release_at_exit;
  }
  const Model& model = *loaded_vrt.model;
  model.reset_peak_device_memory();
  time_calls(state, [&] { return model.forward(loaded_vrt.input); }, /*flush_l2=*/false);
  const DeviceMemoryStats mem = model.device_memory();
  const double frames = double(kFrames);
  state.counters["frames"] = Counter(frames, Counter::kIsIterationInvariantRate);
  state.counters["sec_per_frame"] = Counter(frames, Counter::kIsIterationInvariantRate | Counter::kInvert);
  state.counters["FLOPs"] =
      Counter(2.0 * bench::vrt_macs(bench::VrtConfig{}, kFrames, s.h, s.w), Counter::kIsIterationInvariantRate);
  state.counters["peak_device_MiB"] = double(mem.peak_bytes) / (1 << 20);
  state.counters["weights_MiB"] = double(mem.weights_bytes) / (1 << 20);
  state.counters["clip_frames"] = frames;
  state.SetLabel(std::getenv("VRESTORE_GPU_BENCH_VRT_WEIGHTS") ? "weights from VRESTORE_GPU_BENCH_VRT_WEIGHTS"
                                                                 : "VRT-001, random weights");
}

bool smoke = false;  // --smoke: one iteration per case

template <class Body>
void add(const std::string& name, Body body) {
  auto* b = benchmark::RegisterBenchmark(name.c_str(), guarded(body));
  b->UseManualTime()->Unit(benchmark::kMillisecond);
  if (smoke) b->Iterations(1);
}

void register_vrt_benchmarks() {
  for (DType dtype : {DType::F32, DType::F16})
    for (const Size& s : kSizes) {
      // Appended piecewise: GCC 12 warns (-Wrestrict, a false positive) on "/" + std::string&&.
      std::string tail("/");
      tail.append(s.name()).append("/").append(dtype_name(dtype));
      for (const AttentionCase& c : kAttention)
        add(std::string("vrt_window_attention/") + c.variant + tail,
            [&c, s, dtype](benchmark::State& st) { attention_case(st, c, s, dtype); });
      for (const DcnCase& c : kDcn)
        add(std::string("vrt_dcn_flow_guided/") + c.variant + tail,
            [&c, s, dtype](benchmark::State& st) { dcn_case(st, c, s, dtype); });
      add("model/vrt_001" + tail, [s, dtype](benchmark::State& st) { model_case(st, s, dtype); });
    }
}

}  // namespace
}  // namespace vrestore::gpu_bench

int main(int argc, char** argv) {
  using namespace vrestore::gpu_bench;
  const Flags flags = take_flags(&argc, argv);
  smoke = flags.smoke;
  register_vrt_benchmarks();
  return run_main(argc, argv, flags);
}
