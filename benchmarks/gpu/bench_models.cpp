// Whole models per output frame on the GPU through the public API, f32 and f16:
//   vrestore::Model::load(path, ModelOptions{Device::CUDA, precision, 0, stream})
// with the input already on the device in the model's precision (as an engine hands it over),
// timed with CUDA events on the stream the model runs on, and the model's peak device memory
// (Model::device_memory().peak_bytes, from reset_peak_device_memory() before the timed calls).
//
// Cases "model/<name>/<HxW>/<dtype>": EDVR-M and EDVR-L (5 frames in, the centre frame x4 out),
// BasicVSR and RealBasicVSR over a T-frame clip (T = 15 at 180x320 as gpu_anchors.md measured
// PyTorch, 5 at 720x1280), reported per frame. Weights: official configurations with random
// values written by benchmarks/bench_support.cpp (DCN offsets of a few pixels, as trained models
// have), or the files of $VRESTORE_GPU_BENCH_WEIGHTS_DIR ({edvr_m,edvr_l,basicvsr,realbasicvsr}
// .safetensors, e.g. written by --write-weights, which compare_gpu.py shares with PyTorch).
#include <benchmark/benchmark.h>
#include <cuda_fp16.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <memory>
#include <string>

#include "bench_support.h"
#include "gpu_bench_support.h"
#include "gpu_fill.h"
#include "vrestore/vrestore.h"

namespace vrestore::gpu_bench {
namespace {

namespace fs = std::filesystem;

struct ModelCase {
  const char* name;
  bool recurrent;
};
const ModelCase kModels[] = {{"edvr_m", false}, {"edvr_l", false}, {"basicvsr", true}, {"realbasicvsr", true}};

// EDVR-L: BasicSR's EDVR_L_x4_SR_REDS configuration.
EdvrConfig edvr_l_config() {
  EdvrConfig cfg;
  cfg.num_feat = 128;
  cfg.num_reconstruct_block = 40;
  return cfg;
}

void write_weights(const fs::path& dir) {
  fs::create_directories(dir);
  bench::write_random_edvr_weights((dir / "edvr_m.safetensors").string(), EdvrConfig{}, 2024);
  bench::write_random_edvr_weights((dir / "edvr_l.safetensors").string(), edvr_l_config(), 2027);
  bench::write_random_basicvsr_weights((dir / "basicvsr.safetensors").string(), bench::BasicVsrConfig{}, 2025);
  bench::write_random_realbasicvsr_weights((dir / "realbasicvsr.safetensors").string(), bench::RealBasicVsrConfig{},
                                           2026);
}

// $VRESTORE_GPU_BENCH_WEIGHTS_DIR, else a directory of random weights written on first use and
// removed at exit.
fs::path weights_dir() {
  static const fs::path dir = [] {
    if (const char* env = std::getenv("VRESTORE_GPU_BENCH_WEIGHTS_DIR"); env && *env) return fs::path(env);
    const fs::path tmp = fs::temp_directory_path() / ("vrestore_gpu_bench_" + std::to_string(getpid()));
    write_weights(tmp);
    std::atexit([] {
      std::error_code ignored;
      fs::remove_all(fs::temp_directory_path() / ("vrestore_gpu_bench_" + std::to_string(getpid())), ignored);
    });
    return tmp;
  }();
  return dir;
}

// Multiply-adds per output frame (convs and DCNs; spec section 9's counting), one cleaning pass
// for RealBasicVSR (what random and trained weights give at the official threshold).
double macs_per_frame(const std::string& name, int64_t t, int64_t h, int64_t w) {
  if (name == "edvr_m") return bench::edvr_macs(EdvrConfig{}, h, w);
  if (name == "edvr_l") return bench::edvr_macs(edvr_l_config(), h, w);
  if (name == "basicvsr") return bench::basicvsr_macs_per_frame(bench::BasicVsrConfig{}, t, h, w);
  return bench::realbasicvsr_macs_per_frame(bench::RealBasicVsrConfig{}, t, h, w, 1);
}

// The input clip as an engine hands it over: device memory of the model's precision, wrapped.
Tensor device_input(const Shape& shape, DType precision) {
  int64_t count = 1;
  for (int64_t d : shape) count *= d;
  cudaStream_t stream = gpu_context().stream;
  std::shared_ptr<void> keep_alive;
  void* data = nullptr;
  if (precision == DType::F16) {
    auto buffer = std::make_shared<DeviceBuffer<__half>>(size_t(count));
    check_cuda(fill_uniform(buffer->get(), count, 0.0f, 1.0f, 7, stream), "fill input");
    data = buffer->get(), keep_alive = buffer;
  } else {
    auto buffer = std::make_shared<DeviceBuffer<float>>(size_t(count));
    check_cuda(fill_uniform(buffer->get(), count, 0.0f, 1.0f, 7, stream), "fill input");
    data = buffer->get(), keep_alive = buffer;
  }
  check_cuda(cudaStreamSynchronize(stream), "fill input");
  return Tensor::wrap(shape, precision, Device::CUDA, data, keep_alive);
}

// The model and input of the case that ran last: Google Benchmark calls a case's function more
// than once (to size its iteration count), and loading + warming up a 720p model each time would
// cost more than the timing. One at a time, so models do not pile up in device memory.
struct LoadedCase {
  std::string key;
  std::unique_ptr<Model> model;
  Tensor input;
};

LoadedCase loaded;

// Before main returns: a model freed after the CUDA runtime's own teardown could fail.
void release_loaded_case() { loaded = LoadedCase{}; }

const LoadedCase& load_case(const ModelCase& m, int h, int w, DType precision, int64_t frames_in) {
  const std::string key = std::string(m.name) + "/" + std::to_string(h) + "x" + std::to_string(w) + "/" +
                          dtype_name(precision);
  if (loaded.key == key) return loaded;
  loaded = LoadedCase{};  // release the previous model first
  ModelOptions options;
  options.device = Device::CUDA;
  options.precision = precision;
  options.stream = gpu_context().stream;
  const fs::path path = weights_dir() / (std::string(m.name) + ".safetensors");
  loaded.model = std::make_unique<Model>(Model::load(path.string(), options));
  loaded.input = device_input({1, frames_in, 3, h, w}, precision);
  {  // warm-up: cuBLAS heuristics, the memory pool's first growth
    Tensor y = loaded.model->forward(loaded.input);
    check_cuda(cudaStreamSynchronize(gpu_context().stream), "warm-up forward");
  }
  loaded.key = key;
  return loaded;
}

void model_case(benchmark::State& state, const ModelCase& m, int h, int w, DType precision) {
  const int64_t frames_in = m.recurrent ? (h <= 180 ? 15 : 5) : 5;
  const int64_t frames_out = m.recurrent ? frames_in : 1;
  const LoadedCase& loaded = load_case(m, h, w, precision, frames_in);
  const Model& model = *loaded.model;
  const Tensor& x = loaded.input;

  model.reset_peak_device_memory();
  time_calls(state, [&] { return model.forward(x); }, /*flush_l2=*/false);
  const DeviceMemoryStats mem = model.device_memory();
  using benchmark::Counter;
  const double frames = double(frames_out);
  state.counters["frames"] = Counter(frames, Counter::kIsIterationInvariantRate);
  state.counters["sec_per_frame"] = Counter(frames, Counter::kIsIterationInvariantRate | Counter::kInvert);
  state.counters["FLOPs"] = Counter(2.0 * macs_per_frame(m.name, frames_in, h, w) * frames,
                                    Counter::kIsIterationInvariantRate);
  state.counters["peak_device_MiB"] = double(mem.peak_bytes) / (1 << 20);
  state.counters["weights_MiB"] = double(mem.weights_bytes) / (1 << 20);
  state.counters["clip_frames"] = double(frames_in);
  state.SetLabel(std::getenv("VRESTORE_GPU_BENCH_WEIGHTS_DIR") ? "weights from VRESTORE_GPU_BENCH_WEIGHTS_DIR"
                                                              : "random official-config weights");
}

void register_model_benchmarks(bool smoke) {
  const int sizes[][2] = {{180, 320}, {720, 1280}};
  for (const auto& size : sizes)
    for (const ModelCase& m : kModels)
      for (DType precision : {DType::F32, DType::F16}) {
        const int h = size[0], w = size[1];
        const std::string name = std::string("model/") + m.name + "/" + std::to_string(h) + "x" + std::to_string(w) +
                                 "/" + dtype_name(precision);
        auto* b = benchmark::RegisterBenchmark(name.c_str(), guarded([m, h, w, precision](benchmark::State& state) {
          model_case(state, m, h, w, precision);
        }));
        b->UseManualTime()->Unit(benchmark::kMillisecond);
        if (smoke) b->Iterations(1);
      }
}

}  // namespace
}  // namespace vrestore::gpu_bench

int main(int argc, char** argv) {
  using namespace vrestore::gpu_bench;
  const Flags flags = take_flags(&argc, argv);
  if (!flags.write_weights.empty()) {
    try {
      write_weights(flags.write_weights);
    } catch (const std::exception& e) {
      std::fprintf(stderr, "--write-weights %s: %s\n", flags.write_weights.c_str(), e.what());
      return 1;
    }
    std::printf("wrote edvr_m, edvr_l, basicvsr, realbasicvsr .safetensors into %s\n", flags.write_weights.c_str());
    return 0;
  }
  register_model_benchmarks(flags.smoke);
  const int status = run_main(argc, argv, flags);
  release_loaded_case();
  return status;
}
