// VRT on the CPU (spec_vrt.md): its window attention modules and flow-guided DCN at the official
// shapes of checkpoint 001 on a 6x64x64 clip, and the whole network per frame.
//
//   vrt_window_attention/<self|mutual>/c<C>_h<heads>_w<window>/1x6x64x64: upstream's WindowAttention
//     module (qkv linear(s), attention, proj) on the clip's unshifted windows, fed as windows
//     (nW, N, C): self 6x8x8 (64 windows of 384 tokens; C 120 for stages 1-7, C 180 for stage 8)
//     and mutual+self 2x8x8 (192 windows of 128 tokens, C 120: TMSAG1 of stages 1-7).
//   vrt_window_attention_core/...: ops::window_attention alone (qkv precomputed): bias gather,
//     softmax and the two products.
//   vrt_dcn_flow_guided/pa<P>_dg<G>/c120/1x120x64x64: DCNv2PackFlowGuided (4 offset convs,
//     tanh/sigmoid, modulated deformable conv) for one position and direction: pa 2 (one
//     neighbour, dg 12: 001) and pa 6 (three neighbours, dg 24: 002).
//   vrt_forward/1x6x3/h:H/w:W: Model::forward of VRT-001 (random official-config weights, or the
//     converted file in $VRESTORE_BENCH_VRT_WEIGHTS), per output frame. A 180x320 REDS frame runs
//     at 184x320 (upstream pads to the 8-px window). Reports SkipWithError while the network cannot
//     be loaded.
//
// $VRESTORE_BENCH_VRT_OPS_DIR (compare_vrt.py): the op cases read their module weights and inputs
// from <dir>/<case id>.safetensors instead of random ones and write their output once to
// <dir>/<case id>.out.safetensors, so that a PyTorch run on the same file can be compared.
#include <benchmark/benchmark.h>
#include <unistd.h>

#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <map>
#include <memory>
#include <string>

#include "bench_support.h"
#include "bench_vrt_support.h"
#include "core/check.h"
#include "core/ops.h"
#include "core/ops_vrt.h"
#include "models/vrt_align.h"
#include "models/vrt_blocks.h"
#include "vrestore/vrestore.h"
#include "weights/safetensors.h"
#include "weights/weights.h"

namespace vrestore::bench {
namespace {

using benchmark::Counter;
constexpr int64_t kFrames = 6, kSide = 64;  // 001's training clip, 1/1 scale

std::string env_string(const char* name) {
  const char* v = std::getenv(name);
  return v && *v ? std::string(v) : std::string();
}

// The tensors of one op case: random ones, or those of $VRESTORE_BENCH_VRT_OPS_DIR/<id>.safetensors.
class OpCaseData {
 public:
  explicit OpCaseData(const std::string& id) : id_(id) {
    const std::string dir = env_string("VRESTORE_BENCH_VRT_OPS_DIR");
    if (!dir.empty()) {
      path_ = dir + "/" + id + ".safetensors";
      tensors_ = load_safetensors(path_);
    }
  }
  bool from_file() const { return !path_.empty(); }
  // The tensor `key` of the file (checked to have `shape`), or a random one (uniform in [lo, hi)).
  Tensor get(const std::string& key, const Shape& shape, float lo, float hi) {
    if (from_file()) {
      const auto it = tensors_.find(key);
      VR_CHECK(it != tensors_.end(), "'", path_, "' has no tensor '", key, "'");
      check_shape(path_.c_str(), key.c_str(), it->second, shape);
      return it->second;
    }
    return random_uniform(shape, lo, hi, seed_++);
  }
  // Module parameters: from the file, else PyTorch-default-like random values (+-1/sqrt(fan_in)
  // for 2-D and 4-D weights and their biases, 1 for norms; exact init does not change the timing).
  vrt::TensorSource source() {
    return [this](const std::string& key, const Shape& shape, vrt::Keep) {  // the CPU keeps everything f32
      const std::string name = !key.empty() && key[0] == '.' ? key.substr(1) : key;
      const int64_t fan_in = shape.size() >= 2 ? shape[1] * (shape.size() == 4 ? shape[2] * shape[3] : 1) : 64;
      const float bound = 1.0f / std::sqrt(static_cast<float>(fan_in));
      if (!from_file() && name.find("position_bias") != std::string::npos && shape.size() == 3) {
        const int side = static_cast<int>(std::lround(std::sqrt(double(shape[1]))));  // square windows here
        return sine_position_encoding(side, side, shape[2]);
      }
      if (name.find("relative_position_bias_table") != std::string::npos)
        return get(name, shape, -0.035f, 0.035f);  // trunc_normal(std 0.02)-sized
      return get(name, shape, -bound, bound);
    };
  }
  // Writes the output next to the inputs once (only when they came from a file).
  void write_output(const Tensor& y) {
    if (!from_file() || written_) return;
    save_safetensors(path_.substr(0, path_.size() - 12) + ".out.safetensors", {{"output", y}});
    written_ = true;
  }

 private:
  std::string id_, path_;
  std::map<std::string, Tensor> tensors_;
  uint32_t seed_ = 100;
  bool written_ = false;
};

struct AttentionCase {
  const char* id;  // file stem for compare_vrt.py
  int64_t dim, heads;
  std::array<int, 3> window;
  bool mutual;
};

const AttentionCase kSelf120{"wa_self_c120", 120, 6, {6, 8, 8}, false};
const AttentionCase kMutual120{"wa_mutual_c120", 120, 6, {2, 8, 8}, true};
const AttentionCase kSelf180{"wa_self_c180", 180, 6, {6, 8, 8}, false};

WindowGeometry clip_geometry(const AttentionCase& c) {
  return ops::window_geometry(1, {kFrames, kSide, kSide}, c.window, {0, 0, 0});
}

void window_attention_module(benchmark::State& state, const AttentionCase& c) {
  try {
    OpCaseData data(c.id);
    const vrt::WindowAttention attn = vrt::WindowAttention::load(data.source(), "", c.dim, c.heads, c.window, c.mutual);
    const WindowGeometry g = clip_geometry(c);
    const int64_t windows = g.windows_per_image(), tokens = g.tokens();
    const Tensor x = data.get("input", {windows, tokens, c.dim}, -1.0f, 1.0f);
    data.write_output(attn(x, g));
    for (auto _ : state) {
      Tensor y = attn(x, g);
      benchmark::DoNotOptimize(y.data());
    }
    state.counters["FLOPs"] =
        Counter(2.0 * window_attention_macs(windows, tokens, c.dim, c.mutual), Counter::kIsIterationInvariantRate);
    state.counters["windows"] = double(windows);
    state.SetLabel(data.from_file() ? "weights and input from VRESTORE_BENCH_VRT_OPS_DIR" : "random");
  } catch (const std::exception& e) {
    state.SkipWithError(e.what());
  }
}

// The attention core only (what the fused kernel does): qkv (nW, N, 3C) in, (nW, N, C) out.
void window_attention_core(benchmark::State& state, const AttentionCase& c) {
  const WindowGeometry g = clip_geometry(c);
  const int64_t windows = g.windows_per_image(), tokens = g.tokens();
  const Tensor qkv = random_uniform({windows, tokens, 3 * c.dim}, -1.0f, 1.0f, 21);
  const int64_t rows = int64_t{2 * c.window[0] - 1} * (2 * c.window[1] - 1) * (2 * c.window[2] - 1);
  const Tensor table = random_uniform({rows, c.heads}, -0.035f, 0.035f, 22);
  ops::WindowAttentionParams p;
  p.heads = c.heads;
  p.full_window = c.window;
  p.geometry = g;
  p.mutual = c.mutual;
  for (auto _ : state) {
    Tensor y = ops::window_attention(qkv, c.mutual ? nullptr : &table, p);
    benchmark::DoNotOptimize(y.data());
  }
  // QKᵀ and PV per window: N² C each (mutual: two products of (N/2)² C each).
  const double products = double(windows) * double(tokens * tokens * c.dim) * (c.mutual ? 1.0 : 2.0);
  state.counters["FLOPs"] = Counter(2.0 * products, Counter::kIsIterationInvariantRate);
  state.counters["scores"] =  // softmax elements per second
      Counter(double(windows * c.heads * tokens * tokens) / (c.mutual ? 2.0 : 1.0), Counter::kIsIterationInvariantRate);
}

// A smooth fractional flow of a few pixels (the field of bench_ops.cpp's flow_warp case), shifted
// per neighbour so that the three neighbours of pa 6 do not share one flow.
Tensor smooth_flow(int64_t h, int64_t w, double phase) {
  Tensor flow = Tensor::empty({1, 2, h, w});
  for (int64_t y = 0; y < h; ++y)
    for (int64_t x = 0; x < w; ++x) {
      const double fx = double(x), fy = double(y);
      flow.data()[y * w + x] = static_cast<float>(2.5 * std::sin(0.021 * fx + 0.013 * fy + phase) + 0.5);
      flow.data()[h * w + y * w + x] = static_cast<float>(1.5 * std::cos(0.017 * fx - 0.029 * fy + phase) - 0.25);
    }
  return flow;
}

struct DcnCase {
  const char* id;
  int pa_frames;
  int64_t groups;
};
const DcnCase kDcnPa2{"dcn_pa2_dg12", 2, 12};
const DcnCase kDcnPa6{"dcn_pa6_dg24", 6, 24};
constexpr int64_t kDcnChannels = 120;

void dcn_flow_guided(benchmark::State& state, const DcnCase& c) {
  try {
    OpCaseData data(c.id);
    const int64_t ch = kDcnChannels, k = c.pa_frames / 2;
    const vrt::DcnFlowGuided dcn = vrt::DcnFlowGuided::load(data.source(), "", ch, c.pa_frames, c.groups, 10.0f);
    std::vector<Tensor> neighbours, warped, flows;
    for (int64_t j = 0; j < k; ++j) {
      const std::string n = std::to_string(j);
      neighbours.push_back(data.get("neighbour_" + n, {1, ch, kSide, kSide}, -1.0f, 1.0f));
      Tensor flow = data.from_file() ? data.get("flow_" + n, {1, 2, kSide, kSide}, 0, 0)
                                     : smooth_flow(kSide, kSide, 0.7 * double(j));
      // The module's input: the neighbour warped by its flow (bilinear, zeros), as Stage does.
      warped.push_back(data.from_file() ? data.get("warped_" + n, {1, ch, kSide, kSide}, 0, 0)
                                        : ops::flow_warp(neighbours.back(), flow, ops::WarpPadding::Zeros));
      flows.push_back(std::move(flow));
    }
    const Tensor current = data.get("current", {1, ch, kSide, kSide}, -1.0f, 1.0f);
    data.write_output(dcn(neighbours, warped, current, flows));
    for (auto _ : state) {
      Tensor y = dcn(neighbours, warped, current, flows);
      benchmark::DoNotOptimize(y.data());
    }
    state.counters["FLOPs"] = Counter(2.0 * dcn_flow_guided_macs(ch, c.pa_frames, c.groups, kSide, kSide),
                                      Counter::kIsIterationInvariantRate);
    // Bilinear samples of the deformable conv: every input channel of every neighbour, 9 taps.
    state.counters["samples"] = Counter(double(ch * 9 * kSide * kSide), Counter::kIsIterationInvariantRate);
    state.SetLabel(data.from_file() ? "weights and inputs from VRESTORE_BENCH_VRT_OPS_DIR" : "random");
  } catch (const std::exception& e) {
    state.SkipWithError(e.what());
  }
}

// ---- the whole network ---------------------------------------------------------------------------

VrtConfig config_of(const nlohmann::json& j) {
  VrtConfig c;
  c.upscale = j.at("upscale").get<int64_t>();
  c.in_chans = j.at("in_chans").get<int64_t>();
  c.out_chans = j.at("out_chans").get<int64_t>();
  c.img_size = j.at("img_size").get<std::array<int, 3>>();
  c.window = j.at("window_size").get<std::array<int, 3>>();
  c.depths = j.at("depths").get<std::vector<int64_t>>();
  c.embed_dims = j.at("embed_dims").get<std::vector<int64_t>>();
  c.num_heads = j.at("num_heads").get<std::vector<int64_t>>();
  c.indep_reconsts = j.at("indep_reconsts").get<std::vector<int64_t>>();
  c.mul_attn_ratio = j.at("mul_attn_ratio").get<double>();
  c.mlp_ratio = j.at("mlp_ratio").get<double>();
  c.pa_frames = j.at("pa_frames").get<int>();
  c.deformable_groups = j.at("deformable_groups").get<int64_t>();
  c.nonblind_denoising = j.at("nonblind_denoising").get<bool>();
  return c;
}

struct BenchVrt {
  std::unique_ptr<Model> model;
  VrtConfig config;
  std::string source;
};

BenchVrt load_bench_vrt() {
  BenchVrt b;
  std::string path = env_string("VRESTORE_BENCH_VRT_WEIGHTS");
  std::filesystem::path temp;
  if (path.empty()) {
    temp = std::filesystem::temp_directory_path() / ("vrestore_bench_vrt_001_" + std::to_string(getpid()) + ".safetensors");
    write_random_vrt_weights(temp.string(), b.config, /*seed=*/2028);
    path = temp.string();
    b.source = "VRT-001, random weights";
  } else {
    b.config = config_of(Weights::open(path).config());
    b.source = path;
  }
  std::error_code ignored;
  try {
    b.model = std::make_unique<Model>(Model::load(path));
  } catch (...) {
    if (!temp.empty()) std::filesystem::remove(temp, ignored);
    throw;
  }
  if (!temp.empty()) std::filesystem::remove(temp, ignored);  // the model copied every weight at load
  return b;
}

// Loaded on first use (writing and loading 165 MB of weights takes seconds); a failure is kept so
// that every case reports it.
const BenchVrt& shared_vrt() {
  static std::string error;
  static const BenchVrt vrt = [] {
    try {
      return load_bench_vrt();
    } catch (const std::exception& e) {
      error = e.what();
      return BenchVrt{};
    }
  }();
  if (!vrt.model) throw std::runtime_error("VRT network not available (Model::load: " + error + ")");
  return vrt;
}

void vrt_forward(benchmark::State& state) {
  const BenchVrt* vrt = nullptr;
  try {
    vrt = &shared_vrt();
  } catch (const std::exception& e) {
    state.SkipWithError(e.what());
    return;
  }
  const int64_t t = kFrames, h = state.range(0), w = state.range(1);
  const int64_t in_chans = vrt->config.in_chans + (vrt->config.nonblind_denoising ? 1 : 0);
  const Tensor x = random_uniform({1, t, in_chans, h, w}, 0.0f, 1.0f, 31);
  try {
    benchmark::DoNotOptimize(vrt->model->forward(x).data());  // warm-up: the pool's first growth
    for (auto _ : state) {
      Tensor y = vrt->model->forward(x);
      benchmark::DoNotOptimize(y.data());
    }
  } catch (const std::exception& e) {
    state.SkipWithError(e.what());
    return;
  }
  const double frames = double(t);
  state.counters["frames"] = Counter(frames, Counter::kIsIterationInvariantRate);
  state.counters["sec_per_frame"] = Counter(frames, Counter::kIsIterationInvariantRate | Counter::kInvert);
  state.counters["FLOPs"] = Counter(2.0 * vrt_macs(vrt->config, t, h, w), Counter::kIsIterationInvariantRate);
  // The model's tensors and kept blocks at their most (weights included), not the process's RSS.
  state.counters["peak_host_MiB"] = double(vrt->model->host_memory().peak_reserved_bytes) / (1 << 20);
  state.SetLabel(vrt->source);
}

BENCHMARK_CAPTURE(window_attention_module, self_c120, kSelf120)
    ->Name("vrt_window_attention/self/c120_h6_w6x8x8/1x6x64x64")
    ->Unit(benchmark::kMillisecond)
    ->UseRealTime();
BENCHMARK_CAPTURE(window_attention_module, mutual_c120, kMutual120)
    ->Name("vrt_window_attention/mutual/c120_h6_w2x8x8/1x6x64x64")
    ->Unit(benchmark::kMillisecond)
    ->UseRealTime();
BENCHMARK_CAPTURE(window_attention_module, self_c180, kSelf180)
    ->Name("vrt_window_attention/self/c180_h6_w6x8x8/1x6x64x64")
    ->Unit(benchmark::kMillisecond)
    ->UseRealTime();
BENCHMARK_CAPTURE(window_attention_core, self_c120, kSelf120)
    ->Name("vrt_window_attention_core/self/c120_h6_w6x8x8/1x6x64x64")
    ->Unit(benchmark::kMillisecond)
    ->UseRealTime();
BENCHMARK_CAPTURE(window_attention_core, mutual_c120, kMutual120)
    ->Name("vrt_window_attention_core/mutual/c120_h6_w2x8x8/1x6x64x64")
    ->Unit(benchmark::kMillisecond)
    ->UseRealTime();
BENCHMARK_CAPTURE(window_attention_core, self_c180, kSelf180)
    ->Name("vrt_window_attention_core/self/c180_h6_w6x8x8/1x6x64x64")
    ->Unit(benchmark::kMillisecond)
    ->UseRealTime();
BENCHMARK_CAPTURE(dcn_flow_guided, pa2, kDcnPa2)
    ->Name("vrt_dcn_flow_guided/pa2_dg12/c120/1x120x64x64")
    ->Unit(benchmark::kMillisecond)
    ->UseRealTime();
BENCHMARK_CAPTURE(dcn_flow_guided, pa6, kDcnPa6)
    ->Name("vrt_dcn_flow_guided/pa6_dg24/c120/1x120x64x64")
    ->Unit(benchmark::kMillisecond)
    ->UseRealTime();
BENCHMARK(vrt_forward)
    ->Name("vrt_forward/1x6x3")
    ->ArgNames({"h", "w"})
    ->Args({64, 64})
    ->Args({184, 320})
    ->Unit(benchmark::kMillisecond)
    ->UseRealTime();

}  // namespace
}  // namespace vrestore::bench
